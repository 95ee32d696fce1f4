"""Batch ingest: videos -> features -> segments -> clip store, resumable, over an executor.

`ingest(sources, store, settings, workers=...)` plans (hash every video, skip those already
in the store with the same content and settings), runs `process_video` for the rest on an
`Executor` (`make_executor`: a local process pool, or Ray), and commits each result in
input order under the store's writer lock, so a killed and resumed run assigns the same
ids as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from vidskill._progress import progress_bar
from vidskill.encoders.cache import content_hash, file_signature
from vidskill.ingest.local import Executor, LocalExecutor
from vidskill.ingest.manifest import Source, SourceNotFoundError, resolve_sources
from vidskill.ingest.query import query_features
from vidskill.ingest.stages import (
    DEFAULT_DETECTOR,
    DEFAULT_INGEST_ENCODERS,
    IngestSettings,
    VideoResult,
    encode_source,
    failure_reason,
    fit_on_corpus,
    process_video,
    segment_result,
)
from vidskill.store import ClipStore, VideoRecord
from vidskill.video.prefetch import PrefetchReader, prefetch

log = logging.getLogger(__name__)

ENGINES = ("local", "ray")


@dataclass
class IngestReport:
    """Outcome of one `ingest` run."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[tuple[str, str]] = field(default_factory=list)
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
        lines += [f"  conflict: {path}: {what}" for path, what in self.conflicts]
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
    items = [s for entry in sources for s in (
        [entry] if isinstance(entry, Source)
        else resolve_sources([entry], kind=kind, label=label, domain=domain))]
    if not any(s.error is None for s in items):
        raise SourceNotFoundError("nothing to ingest: " + "; ".join(
            f"{s.path}: {s.error}" for s in items[:3]) + ("" if len(items) <= 3 else "; ..."))
    if settings is not None:
        settings.validate()  # before the store folder is made
    own = not isinstance(store, ClipStore)
    clip_store = ClipStore(store, create=True) if own else store
    try:
        clip_store.lock()
        if settings is None:
            settings = IngestSettings.resolve(clip_store.settings())
            settings.validate()
        clip_store.use_settings(settings.store_settings())
        settings = fit_on_corpus([s for s in items if s.error is None], settings,
                                 clip_store.path)
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
    """Sources still to process and their content hashes; the rest go to the report (and
    sources that cannot be read to the catalog, as failures keyed by their path)."""
    todo, hashes, seen = [], [], {}
    hashed: list[tuple[str, str, str]] = []
    for source in items:
        try:
            if source.error is not None:
                raise SourceNotFoundError(source.error)
            digest = _content_hash(source.path, store, hashed)
        except OSError as e:
            reason = source.error or failure_reason(e)
            _fail(store, source, _path_key(source.path), reason, settings, report)
            continue
        known = store.find_video(digest)
        _changed_file(source, digest, store, report)
        if digest in seen or (known and known.status == "done"
                              and known.settings_hash == settings.digest(source)):
            _kept_labels(source, seen.get(digest), known, store, report)
            report.skipped.append(str(source.path))
            continue
        seen[digest] = source
        todo.append(source)
        hashes.append(digest)
    store.remember_hashes(hashed)
    return todo, hashes


def _content_hash(path: os.PathLike, store: ClipStore,
                  hashed: list[tuple[str, str, str]]) -> str:
    """The file's content hash, read again only when its stat signature changed since the
    store last hashed it (a re-run over a large corpus then reads no video); new hashes are
    appended to `hashed` for the store to remember."""
    key = os.path.abspath(path)
    signature = file_signature(path)
    known = store.known_hash(key, signature) if signature is not None else None
    if known is not None:
        return known
    digest = content_hash(path)
    if signature is not None:
        hashed.append((key, signature, digest))
    return digest


def _path_key(path: os.PathLike) -> str:
    """The catalog key of a path that cannot be hashed (unreadable, missing, not a file)."""
    return "path:" + hashlib.sha256(os.fsencode(os.path.abspath(path))).hexdigest()


def _kept_labels(source: Source, earlier: Source | None, known: VideoRecord | None,
                 store: ClipStore, report: IngestReport) -> None:
    """Report a skipped video whose label or domain this run gives otherwise (it keeps the
    stored one: `vidskill store relabel` changes it)."""
    path = str(source.path)
    for what in ("label", "domain"):
        given = getattr(source, what)
        if given is None:
            continue
        if earlier is not None and getattr(earlier, what) != given:
            report.conflicts.append((path, (
                f"the same content as {earlier.path} with another {what} ({given!r} vs "
                f"{getattr(earlier, what)!r}); it is stored once, as {earlier.path}")))
        elif earlier is None and known is not None and getattr(known, what) != given:
            report.conflicts.append((path, (
                f"already stored as video {known.id} ({known.path}) with {what} "
                f"{getattr(known, what)!r}, kept; to change it: vidskill store relabel "
                f"--store {store.path} --video {known.id} --{what} {given}")))


def _changed_file(source: Source, digest: str, store: ClipStore, report: IngestReport) -> None:
    """Report a path whose content differs from what was stored from it before."""
    for other in store.find_path(str(source.path)):
        if other.content_hash != digest and other.status == "done":
            report.conflicts.append((str(source.path), (
                f"the file changed since it was stored as video {other.id}; the new content "
                f"is added as another video; drop the old one with `vidskill store remove "
                f"--store {store.path} --video {other.id}`")))


def _run(todo: list[Source], hashes: list[str], store: ClipStore, settings: IngestSettings,
         executor: Executor, report: IngestReport, progress: bool) -> None:
    """Process `todo` on the executor and commit results in input order."""
    held: dict[int, VideoResult] = {}
    nxt = 0
    bar = progress_bar(None, progress, total=len(todo), unit="video", desc="ingest")
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
    if result.error is not None:
        _fail(store, source, digest, result.error, settings, report)
        return
    store.add_video(str(source.path), digest, settings.digest(source), result.features,
                    list(result.segments), duration=result.duration, kind=source.kind,
                    label=source.label, domain=source.domain, metadata=source.metadata,
                    cut_by=None if source.whole or not settings.segment
                    else settings.segmenting_encoder,
                    cut_with=None if source.whole or not settings.segment else settings.detector,
                    signal=result.signal)
    report.done.append(str(source.path))
    report.clips += len(result.segments)


def _fail(store: ClipStore, source: Source, key: str, reason: str, settings: IngestSettings,
          report: IngestReport) -> None:
    """Record a failed source in the catalog and the report (its stored clips, if any, stay)."""
    path = str(source.path)
    store.record_failure(path, key, settings.digest(source), reason, kind=source.kind,
                         label=source.label, domain=source.domain, metadata=source.metadata)
    report.failed.append((path, reason))
    log.warning("%s failed: %s", path, reason)


__all__ = [
    "DEFAULT_DETECTOR", "DEFAULT_INGEST_ENCODERS", "ENGINES", "Executor", "IngestReport",
    "IngestSettings", "LocalExecutor", "PrefetchReader", "Source", "VideoResult",
    "encode_source", "ingest", "make_executor", "prefetch", "process_video", "query_features",
    "resolve_sources", "segment_result",
]
