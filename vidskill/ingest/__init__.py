"""Batch ingest: videos -> features -> segments -> clip store, resumable, over an executor.

`ingest(sources, store, settings, workers=...)` plans (hash every video, skip those already
in the store with the same content and settings), runs `process_video` for the rest on an
`Executor` (`make_executor`: a local process pool, or Ray), and commits each result in
input order under the store's writer lock, so a killed and resumed run assigns the same
ids as an uninterrupted one.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from tqdm import tqdm

from vidskill.encoders.cache import content_hash
from vidskill.ingest.local import Executor, LocalExecutor
from vidskill.ingest.manifest import Source, resolve_sources
from vidskill.ingest.query import query_features
from vidskill.ingest.stages import (
    DEFAULT_DETECTOR,
    DEFAULT_INGEST_ENCODER,
    IngestSettings,
    PrefetchReader,
    VideoResult,
    encode_source,
    failure_reason,
    prefetch,
    process_video,
    segment_result,
)
from vidskill.store import ClipStore

log = logging.getLogger(__name__)

ENGINES = ("local", "ray")


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
        from vidskill.ingest.ray import RayExecutor

        return RayExecutor(address=address, workers=workers, **resources)
    raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")


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
            report.failed.append((str(source.path), failure_reason(e)))
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


__all__ = [
    "DEFAULT_DETECTOR", "DEFAULT_INGEST_ENCODER", "ENGINES", "Executor", "IngestReport",
    "IngestSettings", "LocalExecutor", "PrefetchReader", "Source", "VideoResult",
    "encode_source", "ingest", "make_executor", "prefetch", "process_video", "query_features",
    "resolve_sources", "segment_result",
]
