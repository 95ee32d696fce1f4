"""Ray engine: ingest's per-video stages as Ray Data steps, on a cluster or a local Ray.

A video is one row. Step `features` decodes and encodes it (`encode_source`: decode,
flow, encoders, streamed chunk by chunk inside the worker, so frames never cross the
object store): CPU tasks, or a pool of GPU actors when the settings use RAFT flow or a
torchvision video model (models load once per actor; RAFT and clip batch sizes follow
the GPU's free memory). Step `segments` runs the boundary detector (`segment_result`) as
CPU tasks. Results stream back to the driver, where `ingest` commits them in input order
exactly as with the local engine: the same store, resumability and dedup.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from vidskill.encoders import encoder_class
from vidskill.errors import VidskillError
from vidskill.flow import FLOWS
from vidskill.ingest.manifest import Source
from vidskill.ingest.stages import (
    IngestSettings,
    VideoResult,
    _encoders,
    encode_source,
    process_video,
    segment_result,
)

log = logging.getLogger(__name__)

# Rough GPU memory per batch item at bf16 for a 16:9 frame with short side `size` (bytes
# per output pixel): RAFT keeps its correlation pyramid and update state per pair; a 3D
# CNN keeps activations for every frame of a clip. Half of the free memory is budgeted.
RAFT_BYTES_PER_PIXEL = 2_000
VIDEO_MODEL_BYTES_PER_PIXEL = 600
MAX_BATCH = 64


class RayUnavailableError(VidskillError, ImportError):
    """The ray engine was asked for but Ray is not installed."""


def _ray():
    """The `ray` module, or an error naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401  (the engine needs Ray Data, not only Ray core)
    except ImportError as e:
        raise RayUnavailableError(
            "the ray engine needs Ray Data: pip install 'vidskill[ray]' (or use --engine local)"
        ) from e
    return ray


def uses_gpu_models(settings: IngestSettings) -> bool:
    """Whether the settings run a flow network (RAFT) or a video model (worth a GPU)."""
    for name in settings.encoders:
        flow = settings.encoder_settings.get(name, {}).get("flow")
        method = flow.get("method") if isinstance(flow, dict) else flow
        if (method in FLOWS and FLOWS.cls(method).gpu) or encoder_class(name).gpu_model:
            return True
    return False


def fit_batches(settings: IngestSettings, free_bytes: int) -> dict[str, int]:
    """Batch size per GPU model (RAFT pairs, video clips) that fits in half of `free_bytes`."""
    pixels = settings.size * settings.size * 16 / 9
    budget = 0.5 * free_bytes
    raft = int(np.clip(budget // (RAFT_BYTES_PER_PIXEL * pixels), 1, MAX_BATCH))
    frames = int(np.clip(budget // (VIDEO_MODEL_BYTES_PER_PIXEL * pixels), 1, 16 * MAX_BATCH))
    return {"raft": raft, "frames": frames}


def _tune_for_gpu(settings: IngestSettings) -> None:
    """Set this process's encoders' batch sizes from the GPU's free memory (batch sizes do
    not change the features, so the store's settings stay the same)."""
    import torch

    if not torch.cuda.is_available():
        return
    free, _ = torch.cuda.mem_get_info()
    sizes = fit_batches(settings, free)
    for enc in _encoders(settings, settings.encoder_names):
        enc.tune_batches(sizes["raft"], sizes["frames"], settings.fps)
    log.info("GPU batch sizes for %.1f GiB free: %s", free / 2**30, sizes)


def _rows(fn: Callable, batch: dict, settings: IngestSettings) -> dict:
    """Apply a stage to every row of a batch ({'pos', 'blob'}: pickled inputs/results)."""
    out = [pickle.dumps(fn(pickle.loads(blob), settings)) for blob in batch["blob"]]
    return {"pos": batch["pos"], "blob": np.array(out, dtype=object)}


def _stage(fn: Callable) -> Callable:
    """A Ray Data task function running `fn` on each row."""
    def task(batch: dict, settings: IngestSettings) -> dict:
        return _rows(fn, batch, settings)

    task.__name__ = getattr(fn, "__name__", "stage")
    return task


class _GPUStage:
    """A Ray Data actor running `fn` with models kept on its GPU between videos."""

    def __init__(self, fn: Callable, settings: IngestSettings):
        self.fn, self.settings = fn, settings
        _tune_for_gpu(settings)

    def __call__(self, batch: dict) -> dict:
        return _rows(self.fn, batch, self.settings)


class RayExecutor:
    """Runs ingest's stages on Ray Data; an `Executor` for `vidskill.ingest.ingest`.

    address: a cluster ('auto', 'ray://host:10001', 'host:6379'); None starts a local Ray
    unless one is running. workers: the most encode tasks or GPU actors at once (None:
    as many as the cluster has CPUs, or GPUs). gpus: GPUs per encode actor (None: 1 when
    the settings use GPU models and the cluster has GPUs, else CPU tasks). cpus: CPUs per
    task. Ray started here is shut down when the run ends.
    """

    def __init__(self, address: str | None = None, workers: int | None = None,
                 gpus: float | None = None, cpus: float = 1.0):
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.address, self.workers, self.gpus, self.cpus = address, workers, gpus, cpus

    def map(self, fn: Callable[[Source, IngestSettings], VideoResult], items: Sequence[Source],
            settings: IngestSettings) -> Iterator[tuple[int, VideoResult]]:
        """Yield (position, result) per item as Ray finishes it; `process_video` runs as its
        two stages (features, segments), any other function as one step."""
        if not items:
            return
        ray = _ray()
        started = not ray.is_initialized()
        if started:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        try:
            ds = self._dataset(ray, fn, items, settings)
            for row in ds.iter_rows():
                yield int(row["pos"]), pickle.loads(row["blob"])
        finally:
            if started:
                ray.shutdown()

    def _dataset(self, ray, fn: Callable, items: Sequence[Source], settings: IngestSettings):
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        rows = [{"pos": i, "blob": pickle.dumps(s)} for i, s in enumerate(items)]
        ds = ray.data.from_items(rows, override_num_blocks=len(rows))
        first, rest = (encode_source, [segment_result]) if fn is process_video else (fn, [])
        ds = self._encode_step(ray, ds, first, settings)
        for stage in rest:
            ds = ds.map_batches(_stage(stage), batch_size=1, batch_format="numpy",
                                num_cpus=self.cpus, fn_kwargs={"settings": settings})
        return ds

    def _encode_step(self, ray, ds, fn: Callable, settings: IngestSettings):
        """The decode + encode step: GPU actors when they pay, else CPU tasks."""
        gpus = self.gpus
        cluster_gpus = ray.cluster_resources().get("GPU", 0)
        if gpus is None:
            gpus = 1.0 if cluster_gpus and uses_gpu_models(settings) else 0.0
        if gpus > 0:
            actors = self.workers or max(1, int(cluster_gpus // gpus))
            log.info("encode step: %d GPU actor(s) with %g GPU each", actors, gpus)
            return ds.map_batches(_GPUStage, batch_size=1, batch_format="numpy",
                                  fn_constructor_args=(fn, settings), num_gpus=gpus,
                                  num_cpus=self.cpus, concurrency=actors)
        if uses_gpu_models(settings):
            log.warning("the settings use GPU models but the cluster has no GPU: running on CPUs")
        return ds.map_batches(_stage(fn), batch_size=1, batch_format="numpy",
                              num_cpus=self.cpus, concurrency=self.workers,
                              fn_kwargs={"settings": settings})
