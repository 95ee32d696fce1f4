"""Batch ingest: videos -> features -> segments -> clip store, resumable, over a process pool.

`ingest(sources, store, settings, workers=...)` plans (hash every video, skip those already
in the store with the same content and settings), runs `process_video` for the rest on an
`Executor`, and commits each result in input order under the store's writer lock, so a
killed and resumed run assigns the same ids as an uninterrupted one. `process_video` is a
pure function of (source, settings): a process pool (`LocalExecutor`) or a Ray task can run it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Protocol, TypeVar

from tqdm import tqdm

from vidskill.boundaries import get_detector
from vidskill.boundaries.base import Segment
from vidskill.encoders import Features, encode_video_multi, get_encoder
from vidskill.encoders.cache import content_hash
from vidskill.manifest import Source, resolve_sources
from vidskill.store import POOLINGS, ClipStore
from vidskill.video import Frames, VideoReader

log = logging.getLogger(__name__)

DEFAULT_DETECTOR = "novelty"
# A store is searched across cameras (human video vs robot recordings), so its default
# embedding is the view-robust flow descriptor, not the viewpoint-bound flow-hof grid.
DEFAULT_INGEST_ENCODER = "flow-motion"
ENGINES = ("local", "ray")
T = TypeVar("T")


@dataclass(frozen=True)
class IngestSettings:
    """How videos become clips. The first encoder's features drive segmentation.

    encoders/encoder_settings, fps, size and pooling fix the embedding space and are
    recorded in the store (a store holds one); the detector applies to 'long' videos only.
    """

    encoders: tuple[str, ...] = (DEFAULT_INGEST_ENCODER,)
    encoder_settings: dict = field(default_factory=dict)
    detector: str = DEFAULT_DETECTOR
    detector_settings: dict = field(default_factory=dict)
    fps: float = 10.0
    size: int = 160
    pooling: str = "mean"
    segment: bool = True
    chunk_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.encoders:
            raise ValueError("IngestSettings needs at least one encoder")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        unknown = set(self.encoder_settings) - set(self.encoders)
        if unknown:
            raise ValueError(f"encoder_settings names encoders not in use: {sorted(unknown)}")

    def store_settings(self) -> dict:
        """The settings that fix the embedding space, as recorded in the store."""
        return {
            "encoders": list(self.encoders),
            "encoder_settings": {e: self.encoder_settings.get(e, {}) for e in self.encoders},
            "fps": self.fps, "size": self.size, "pooling": self.pooling,
        }

    @classmethod
    def resolve(cls, recorded: dict, **given) -> IngestSettings:
        """Options given (None = not given) over a store's recorded settings over defaults."""
        base = {
            "encoders": tuple(recorded["encoders"]),
            "encoder_settings": {k: v for k, v in recorded["encoder_settings"].items() if v},
            "fps": recorded["fps"], "size": recorded["size"], "pooling": recorded["pooling"],
        } if recorded else {}
        return cls(**{**base, **{k: v for k, v in given.items() if v is not None}})

    def segmentation(self, source: Source) -> dict:
        """How this source is cut into clips."""
        if source.whole or not self.segment:
            return {"segment": "whole"}
        return {"detector": self.detector, "detector_settings": self.detector_settings}

    def digest(self, source: Source) -> str:
        """Hash of everything that decides this source's clips (skip when unchanged)."""
        text = json.dumps([self.store_settings(), self.segmentation(source)], sort_keys=True,
                          default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class VideoResult:
    """What `process_video` made of one source: features, clips, or the reason it failed."""

    source: Source
    features: dict[str, Features] = field(default_factory=dict)
    segments: tuple[Segment, ...] = ()
    duration: float | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class IngestReport:
    """Outcome of one `ingest` run."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    clips: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """A few lines for people: counts, then each failure with its reason."""
        lines = [
            f"ingested {len(self.done)} video(s) ({self.clips} clips), skipped {len(self.skipped)} "
            f"already in the store, {len(self.failed)} failed, in {self.seconds:.1f} s"
        ]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


# --------------------------------------------------------------------------------------
# per video: a pure function of (source, settings)


def _encoders(settings: IngestSettings) -> list:
    """The settings' encoders, built once per process."""
    return _encoders_for(json.dumps([settings.encoders, settings.encoder_settings], default=str))


def _detector(settings: IngestSettings):
    """The settings' boundary detector, built once per process (only for long videos)."""
    return _detector_for(json.dumps([settings.detector, settings.detector_settings], default=str))


@lru_cache(maxsize=4)
def _encoders_for(key: str) -> list:
    names, options = json.loads(key)
    return [get_encoder(e, **options.get(e, {})) for e in names]


@lru_cache(maxsize=4)
def _detector_for(key: str):
    name, options = json.loads(key)
    return get_detector(name, **options)


def encode(path: str | os.PathLike, settings: IngestSettings) -> tuple[dict[str, Features], float]:
    """Per-window features of a whole video for each of the settings' encoders, and its length (s)."""
    encoders = _encoders(settings)
    with PrefetchReader(path, fps=settings.fps, size=settings.size) as reader:
        feats = encode_video_multi(reader, encoders, chunk_seconds=settings.chunk_seconds)
        duration = float(reader.info.duration)
    return {e: f for e, f in zip(settings.encoders, feats, strict=True)}, duration


class PrefetchReader(VideoReader):
    """A VideoReader whose chunks a thread decodes `depth` ahead, overlapping decode and compute.

    Nothing overlaps the first chunk (10 s by default: about 0.7 s of decoding at 720p and
    30 fps, where the compute on its frames waits), so it is decoded on `first_decoders` decoders at once.
    """

    depth = 2
    first_decoders = min(2, os.cpu_count() or 1)

    def chunks(self, seconds: float = 10.0, overlap: float = 0.0, *,
               first_decoders: int | None = None) -> Iterator[Frames]:
        decoders = self.first_decoders if first_decoders is None else first_decoders
        return prefetch(super().chunks(seconds, overlap, first_decoders=decoders), self.depth)


def prefetch(items: Iterator[T], depth: int) -> Iterator[T]:
    """Yield `items` while a thread produces up to `depth` of them ahead (errors re-raised here)."""
    if depth < 1:
        raise ValueError(f"prefetch depth must be at least 1, got {depth}")
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def feed() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as e:  # handed to the consumer, raised there
            put((_END, e))
            return
        put((_END, None))

    thread = threading.Thread(target=feed, name="vidskill-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        thread.join()


_END = object()


def encode_source(source: Source, settings: IngestSettings) -> VideoResult:
    """Decode and encode one video: the first, GPU-capable half of `process_video`."""
    t0 = time.perf_counter()
    try:
        features, duration = encode(source.path, settings)
        if len(features[settings.encoders[0]]) == 0:
            raise ValueError("no feature window fits in the video: it is too short to encode")
    except Exception as e:  # one bad video must not stop the batch: its reason is recorded
        log.debug("failed on %s", source.path, exc_info=True)
        return VideoResult(source, error=_reason(e), seconds=time.perf_counter() - t0)
    return VideoResult(source, features, duration=duration, seconds=time.perf_counter() - t0)


def segment_result(result: VideoResult, settings: IngestSettings) -> VideoResult:
    """Cut an encoded video into clips: the second, CPU half of `process_video`."""
    if result.error is not None:
        return result
    t0 = time.perf_counter()
    first = result.features[settings.encoders[0]]
    try:
        if settings.segmentation(result.source).get("segment") == "whole":
            segments: tuple[Segment, ...] = (Segment(float(first.starts[0]), float(first.ends[-1])),)
        else:
            segments = tuple(_detector(settings).detect(first).segments())
    except Exception as e:  # one bad video must not stop the batch: its reason is recorded
        log.debug("failed on %s", result.source.path, exc_info=True)
        return VideoResult(result.source, error=_reason(e),
                           seconds=result.seconds + time.perf_counter() - t0)
    return replace(result, segments=segments, seconds=result.seconds + time.perf_counter() - t0)


def process_video(source: Source, settings: IngestSettings) -> VideoResult:
    """Decode, encode and segment one video; any failure is returned as its reason."""
    return segment_result(encode_source(source, settings), settings)


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else 'no message'}"


# --------------------------------------------------------------------------------------
# executors: run process_video over many sources


class Executor(Protocol):
    """Runs `fn(item, settings)` for every item; yields (position, result) as each finishes."""

    def map(self, fn: Callable[[Source, IngestSettings], VideoResult], items: Sequence[Source],
            settings: IngestSettings) -> Iterator[tuple[int, VideoResult]]: ...


class LocalExecutor:
    """In this process (workers <= 1) or on a pool of `workers` spawned processes.

    At most `window` videos past the oldest unfinished one are in flight, which bounds the
    results held back for in-order commits. When a worker dies the pool is restarted: the
    first video reported lost is recorded as failed and the others in flight run again.
    """

    def __init__(self, workers: int = 1, window: int | None = None):
        self.workers = max(1, int(workers))
        self.window = window or 4 * self.workers

    def map(self, fn, items, settings) -> Iterator[tuple[int, VideoResult]]:
        if self.workers == 1:
            for i, item in enumerate(items):
                yield i, fn(item, settings)
            return
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(self.workers, mp_context=context)
        running: dict[Future, int] = {}
        nxt = 0
        try:
            while nxt < len(items) or running:
                oldest = min([*running.values(), nxt])
                while nxt < len(items) and nxt < oldest + self.window:
                    running[pool.submit(fn, items[nxt], settings)] = nxt
                    nxt += 1
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    i = running.pop(future, None)
                    if i is None:  # resubmitted after the pool broke
                        continue
                    try:
                        yield i, future.result()
                    except BrokenProcessPool:
                        pool.shutdown(wait=False, cancel_futures=True)
                        pool = ProcessPoolExecutor(self.workers, mp_context=context)
                        for f, j in list(running.items()):
                            running.pop(f)
                            running[pool.submit(fn, items[j], settings)] = j
                        yield i, VideoResult(items[i], error=(
                            "a worker process died while this video was being processed (a "
                            "decoder crash or out of memory); check it with `vidskill info`"))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def make_executor(engine: str = "local", *, workers: int | None = None,
                  address: str | None = None, **resources) -> Executor:
    """The executor for an engine name: 'local' (process pool of `workers`, default 1) or
    'ray' (Ray Data on the cluster at `address`, or a local Ray; `workers` caps tasks;
    `resources`: gpus/cpus per task, see RayExecutor)."""
    if engine == "local":
        if address is not None or resources:
            raise ValueError("--address and resources are for --engine ray; local runs here")
        return LocalExecutor(workers or 1)
    if engine == "ray":
        from vidskill.ray_engine import RayExecutor

        return RayExecutor(address=address, workers=workers, **resources)
    raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")


# --------------------------------------------------------------------------------------


def ingest(
    sources: Sequence[str | os.PathLike | Source],
    store: ClipStore | str | os.PathLike,
    settings: IngestSettings | None = None,
    *,
    workers: int = 1,
    executor: Executor | None = None,
    index_factory: str | None = None,
    progress: bool = False,
    kind: str = "long",
    label: str | None = None,
    domain: str | None = None,
) -> IngestReport:
    """Add videos to a clip store; returns what was done, skipped and why any failed.

    sources: paths, folders, globs, manifests, or `Source` values; kind/label/domain apply
    to those a manifest does not describe. settings: None uses the store's recorded settings
    (or the defaults for a new store). index_factory forces the FAISS index type. Raises
    StoreLockedError when another ingest holds the store. Re-running a killed run resumes it.
    """
    t0 = time.perf_counter()
    own = not isinstance(store, ClipStore)
    clip_store = ClipStore(store, create=True) if own else store
    try:
        clip_store.lock()
        if settings is None:
            settings = IngestSettings.resolve(clip_store.settings())
        clip_store.use_settings(settings.store_settings())
        items = [s for entry in sources for s in (
            [entry] if isinstance(entry, Source)
            else resolve_sources([entry], kind=kind, label=label, domain=domain))]
        report = IngestReport()
        todo, hashes = _plan(items, clip_store, settings, report)
        _run(todo, hashes, clip_store, settings, executor or LocalExecutor(workers), report,
             progress)
        if index_factory is not None:
            for encoder in settings.encoders:
                clip_store.rebuild_index(encoder, index_factory)
        clip_store.sync_indexes()
    finally:
        clip_store.unlock()
        if own:
            clip_store.close()
    report.seconds = time.perf_counter() - t0
    return report


def _plan(items: list[Source], store: ClipStore, settings: IngestSettings,
          report: IngestReport) -> tuple[list[Source], list[str]]:
    """Sources still to process and their content hashes; the rest go to the report."""
    todo, hashes, seen = [], [], set()
    for source in items:
        try:
            digest = content_hash(source.path)
        except OSError as e:
            report.failed.append((str(source.path), _reason(e)))
            continue
        known = store.find_video(digest)
        if digest in seen or (known and known.status == "done"
                              and known.settings_hash == settings.digest(source)):
            report.skipped.append(str(source.path))
            continue
        seen.add(digest)
        todo.append(source)
        hashes.append(digest)
    return todo, hashes


def _run(todo: list[Source], hashes: list[str], store: ClipStore, settings: IngestSettings,
         executor: Executor, report: IngestReport, progress: bool) -> None:
    """Process `todo` on the executor and commit results in input order."""
    held: dict[int, VideoResult] = {}
    nxt = 0
    bar = tqdm(total=len(todo), unit="video", file=sys.stderr, disable=not progress,
               dynamic_ncols=True)
    try:
        for i, result in executor.map(process_video, todo, settings):
            held[i] = result
            while nxt in held:
                _commit(held.pop(nxt), hashes[nxt], store, settings, report)
                nxt += 1
                bar.set_postfix(failed=len(report.failed), clips=report.clips, refresh=False)
                bar.update(1)
    finally:
        bar.close()


def _commit(result: VideoResult, digest: str, store: ClipStore, settings: IngestSettings,
            report: IngestReport) -> None:
    source = result.source
    info = {"kind": source.kind, "label": source.label, "domain": source.domain,
            "metadata": source.metadata}
    path = str(source.path)
    if result.error is not None:
        store.record_failure(path, digest, settings.digest(source), result.error, **info)
        report.failed.append((path, result.error))
        log.warning("%s failed: %s", path, result.error)
        return
    store.add_video(path, digest, settings.digest(source), result.features,
                    list(result.segments), duration=result.duration, **info)
    report.done.append(path)
    report.clips += len(result.segments)


def query_features(
    path: str | os.PathLike, store: ClipStore, start: float | None = None,
    end: float | None = None,
) -> dict[str, Features]:
    """Features of a query clip (or of [start, end) of a video) under the store's settings."""
    features, _ = encode(Path(path), IngestSettings.resolve(store.settings()))
    if start is None and end is None:
        return features
    lo = -float("inf") if start is None else float(start)
    hi = float("inf") if end is None else float(end)
    return {name: f.between(lo, hi) for name, f in features.items()}
