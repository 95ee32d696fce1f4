"""The clip library on disk: a SQLite catalog (the source of truth), feature files, and one
FAISS inner-product index per encoder derived from the catalog.

Layout of a store folder:

    catalog.sqlite                      videos (hash, status, error), segments, embeddings, settings
    features/<video-id>/<encoder>.npy   per-window features (N, D) float32
    features/<video-id>/<encoder>.times.npy   window [start, end) seconds (N, 2) float64
    index-<encoder>.faiss               IndexIDMap2 over L2-normalised clip embeddings (id = segment id)
    ingest.lock                         held (fcntl.flock) by the one process writing the store

Every file is written under a temporary name, fsynced and renamed. A video's segments and
embeddings are committed in one SQLite transaction that also marks it 'done', after its
feature files are durable, so a killed writer leaves either all of a video or none of it.
Indexes are never trusted: on load their id set is compared with the catalog and they are
updated or rebuilt when they differ.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from vidskill.boundaries.base import Segment
from vidskill.encoders.base import Features
from vidskill.errors import DimensionMismatchError, VidskillError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
CATALOG = "catalog.sqlite"
LOCK = "ingest.lock"
POOLINGS = ("mean", "mean+max")
# Index choice and search parameters, measured with bench/retrieval.py on 148-d flow-hof-sized
# clustered embeddings, one query at a time on 2 busy cores: exact "Flat" took 9.3 ms p50 at
# 100k clips, so it is used below 50k only. Above, IVF (nlist ~ 4 sqrt(n)) with nprobe 64 gave
# recall@10 0.99 at 1M in 1.0 ms p50 and built in 93 s; HNSW32 needed efSearch 128 for 0.96
# and 21 min to build.
FLAT_LIMIT = 50_000
IVF_NPROBE = 64
HNSW_EF_SEARCH = 128
HNSW_EF_CONSTRUCTION = 80
# A filter leaving at most this many clips is answered exactly from the catalog's vectors.
EXACT_FILTER_LIMIT = 50_000
# One query at a time gains nothing from OpenMP threads and loses much on a busy machine.
QUERY_THREADS = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS videos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL UNIQUE,
    settings_hash TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    error TEXT,
    kind TEXT NOT NULL DEFAULT 'long',
    label TEXT,
    domain TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    duration REAL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS segments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    video_id INTEGER NOT NULL REFERENCES videos(id),
    ordinal INTEGER NOT NULL,
    start REAL NOT NULL,
    end REAL NOT NULL,
    label TEXT,
    domain TEXT,
    score REAL NOT NULL DEFAULT 1.0,
    metadata TEXT NOT NULL DEFAULT '{}',
    UNIQUE (video_id, ordinal)
);
CREATE INDEX IF NOT EXISTS segments_domain ON segments (domain);
CREATE INDEX IF NOT EXISTS segments_label ON segments (label);
CREATE TABLE IF NOT EXISTS embeddings (
    segment_id INTEGER NOT NULL REFERENCES segments(id),
    encoder TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (encoder, segment_id)
);
"""


class StoreError(VidskillError):
    """The store folder cannot be used as asked."""


class StoreNotFoundError(StoreError, FileNotFoundError):
    """No store exists at the path given."""


class StoreLockedError(StoreError):
    """Another process is writing to the store."""


class StoreSettingsError(StoreError):
    """The settings asked for differ from those the store was built with."""


class SegmentNotFoundError(StoreError, KeyError):
    """No segment has the id given."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Hit:
    """One search result: a clip, where it comes from, and its cosine similarity to the query."""

    segment_id: int
    video_path: str
    start: float
    end: float
    label: str | None
    domain: str | None
    score: float
    metadata: dict = field(default_factory=dict)
    video_id: int = 0

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class VideoRecord:
    """One row of the catalog's videos table."""

    id: int
    path: str
    content_hash: str
    settings_hash: str
    status: str
    error: str | None
    kind: str
    label: str | None
    domain: str | None
    metadata: dict
    duration: float | None


@dataclass(frozen=True)
class SegmentRecord:
    """One clip in the catalog, with its video's path."""

    id: int
    video_id: int
    video_path: str
    ordinal: int
    start: float
    end: float
    label: str | None
    domain: str | None
    score: float
    metadata: dict


# --------------------------------------------------------------------------------------
# clip embeddings


def clip_embedding(features: Features, start: float, end: float, pooling: str = "mean") -> np.ndarray:
    """L2-normalised pooled features of the windows inside [start, end) (mean, or mean ++ max).

    Windows are chosen by centre time; a clip shorter than one window takes the windows that
    overlap it, and failing that the window nearest its middle, so every clip has a vector.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if len(features) == 0:
        raise ValueError(f"no feature windows in {features.source or 'the video'}; it is too short")
    centre = features.times
    keep = (centre >= start) & (centre < end)
    if not keep.any():
        keep = (features.ends > start) & (features.starts < end)
    if not keep.any():
        keep = np.zeros(len(features), bool)
        keep[int(np.argmin(np.abs(centre - (start + end) / 2)))] = True
    x = features.data[keep].astype(np.float32)
    vec = x.mean(0) if pooling == "mean" else np.concatenate([x.mean(0), x.max(0)])
    return _normalise(vec)


def _normalise(vec: np.ndarray) -> np.ndarray:
    vec = np.asarray(vec, np.float32).reshape(-1)
    if not np.all(np.isfinite(vec)):
        raise ValueError("the vector holds NaN or infinite values")
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec


def ivf_lists(n: int) -> int:
    """IVF list count for n vectors: the power of two nearest 4 sqrt(n)."""
    return 2 ** round(math.log2(4 * math.sqrt(max(n, 1))))


def default_factory(n: int) -> str:
    """FAISS factory string for an index over n clips: exact below FLAT_LIMIT, IVF above."""
    return "Flat" if n < FLAT_LIMIT else f"IVF{ivf_lists(n)},Flat"


# --------------------------------------------------------------------------------------
# atomic files


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _publish(tmp: Path, path: Path) -> None:
    """fsync a finished temporary file and rename it over `path` (atomic on POSIX)."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def save_array(path: Path, array: np.ndarray) -> None:
    """Write a .npy file atomically."""
    tmp = _tmp_name(path)
    with open(tmp, "wb") as f:
        np.save(f, array)
    _publish(tmp, path)


def _save_index(index: faiss.Index, path: Path) -> None:
    tmp = _tmp_name(path)
    faiss.write_index(index, str(tmp))
    _publish(tmp, path)


# --------------------------------------------------------------------------------------


class ClipStore:
    """A library of skill clips in one folder; see the module docstring for the layout.

    Open an existing store with `ClipStore(path)`; `create=True` makes the folder when it is
    missing. Reading needs no lock; writers hold `store.lock()` (the pipeline does).
    """

    exact_filter_limit = EXACT_FILTER_LIMIT

    def __init__(self, path: str | os.PathLike, *, create: bool = False):
        self.path = Path(path).expanduser()
        if not (self.path / CATALOG).exists():
            if not create:
                raise StoreNotFoundError(
                    f"{self.path}: no clip store here (no {CATALOG}); create one with "
                    f"`vidskill ingest VIDEOS --store {self.path}`"
                )
            self.path.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path / CATALOG, isolation_level=None, timeout=60.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._create_schema()
        self._indexes: dict[str, tuple[int, faiss.Index]] = {}
        self._lock_fd: int | None = None

    def _create_schema(self) -> None:
        with self._transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?), ('generation', '0')",
                    (str(SCHEMA_VERSION),),
                )
            elif int(row["value"]) != SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: store format {row['value']} is not supported by this vidskill "
                    f"(format {SCHEMA_VERSION}); re-ingest into a new store"
                )

    # -- housekeeping ------------------------------------------------------------------

    def close(self) -> None:
        """Release the writer lock (if held) and the database connection."""
        self.unlock()
        self._db.close()

    def __enter__(self) -> ClipStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _bump_generation(self) -> None:
        self._db.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
        )

    @property
    def generation(self) -> int:
        """Counter bumped by every write to videos or segments (indexes compare against it)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row["value"])

    def lock(self) -> None:
        """Become the one writer of this store, or raise StoreLockedError naming the holder."""
        if self._lock_fd is not None:
            return
        path = self.path / LOCK
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreLockedError(
                f"{self.path}: another ingest (pid {holder}) is writing to this store; wait for "
                "it to finish, or stop it and run the same command again to resume"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        os.fsync(fd)
        self._lock_fd = fd
        for stale in self.path.rglob(".*.tmp-*"):
            stale.unlink(missing_ok=True)

    def unlock(self) -> None:
        """Give up the writer lock (the kernel also drops it when the process dies)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _require_lock(self) -> None:
        if self._lock_fd is None:
            raise StoreError("writing to a store needs its lock: call store.lock() first")

    # -- settings ----------------------------------------------------------------------

    def settings(self) -> dict:
        """The settings the store was built with ({} for a new store)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
        return json.loads(row["value"]) if row else {}

    def use_settings(self, settings: dict) -> None:
        """Record `settings` in a new store, or check they equal the recorded ones."""
        canon = json.dumps(settings, sort_keys=True)
        current = self.settings()
        if current and json.dumps(current, sort_keys=True) != canon:
            diff = sorted(k for k in set(current) | set(settings) if current.get(k) != settings.get(k))
            raise StoreSettingsError(
                f"{self.path} was built with other settings ({', '.join(diff)}: "
                f"{ {k: current.get(k) for k in diff} }); use those settings, or a new --store"
            )
        if not current:
            self._require_lock()
            with self._transaction():
                self._db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('settings', ?)", (canon,)
                )

    @property
    def pooling(self) -> str:
        return self.settings().get("pooling", "mean")

    def encoders(self) -> list[str]:
        """Encoders with clip embeddings in this store, in the order they were configured."""
        configured = list(self.settings().get("encoders", []))
        present = [r[0] for r in self._db.execute("SELECT DISTINCT encoder FROM embeddings")]
        return configured + sorted(set(present) - set(configured))

    def dim(self, encoder: str) -> int | None:
        """Clip embedding dimension of `encoder`, or None when it has no clips yet."""
        row = self._db.execute(
            "SELECT length(vector) FROM embeddings WHERE encoder = ? LIMIT 1", (encoder,)
        ).fetchone()
        return int(row[0]) // 4 if row else None

    def set_index_factory(self, encoder: str, factory: str | None) -> None:
        """Force the FAISS factory string for `encoder` (None: chosen by corpus size)."""
        with self._transaction():
            key = f"index_factory/{encoder}"
            if factory is None:
                self._db.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, factory)
                )

    def index_factory(self, encoder: str, n: int | None = None) -> str:
        """The factory string the index of `encoder` is built with."""
        row = self._db.execute(
            "SELECT value FROM meta WHERE key = ?", (f"index_factory/{encoder}",)
        ).fetchone()
        if row:
            return str(row["value"])
        return default_factory(self._count(encoder) if n is None else n)

    # -- videos ------------------------------------------------------------------------

    def find_video(self, content_hash: str) -> VideoRecord | None:
        """The catalog row of the video with this content hash, if any."""
        row = self._db.execute(
            "SELECT * FROM videos WHERE content_hash = ?", (content_hash,)
        ).fetchone()
        return _video(row) if row else None

    def videos(self, status: str | None = None) -> list[VideoRecord]:
        """Videos in id order, optionally only those with `status`."""
        if status is None:
            rows = self._db.execute("SELECT * FROM videos ORDER BY id")
        else:
            rows = self._db.execute("SELECT * FROM videos WHERE status = ? ORDER BY id", (status,))
        return [_video(r) for r in rows]

    def _reserve(self, path: str, content_hash: str, info: dict) -> int:
        """The id of this video's row, inserting a 'pending' row when there is none."""
        with self._transaction():
            row = self._db.execute(
                "SELECT id FROM videos WHERE content_hash = ?", (content_hash,)
            ).fetchone()
            if row:
                return int(row["id"])
            cur = self._db.execute(
                "INSERT INTO videos (path, content_hash, status, kind, label, domain, metadata,"
                " updated) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?)",
                (path, content_hash, info.get("kind", "long"), info.get("label"),
                 info.get("domain"), json.dumps(info.get("metadata") or {}), time.time()),
            )
            return int(cur.lastrowid)

    def feature_path(self, video_id: int, encoder: str) -> Path:
        return self.path / "features" / str(video_id) / f"{encoder}.npy"

    def add_video(
        self,
        path: str,
        content_hash: str,
        settings_hash: str,
        features: dict[str, Features],
        segments: Sequence[Segment],
        *,
        kind: str = "long",
        label: str | None = None,
        domain: str | None = None,
        metadata: dict | None = None,
        duration: float | None = None,
    ) -> int:
        """Store one video's features and clips; returns its id. All or nothing on a crash.

        A video already in the catalog (same content) is replaced: its old clips go in the
        same transaction that adds the new ones.
        """
        self._require_lock()
        if not features:
            raise ValueError("add_video needs the features of at least one encoder")
        pooling = self.pooling
        info = {"kind": kind, "label": label, "domain": domain, "metadata": metadata}
        video_id = self._reserve(path, content_hash, info)
        vectors: dict[str, np.ndarray] = {}
        for encoder, feats in features.items():
            vectors[encoder] = np.stack(
                [clip_embedding(feats, s.start, s.end, pooling) for s in segments]
            ) if segments else np.zeros((0, feats.dim), np.float32)
            self._check_dim(encoder, vectors[encoder].shape[1] if segments else None)
            folder = self.path / "features" / str(video_id)
            folder.mkdir(parents=True, exist_ok=True)
            save_array(folder / f"{encoder}.npy", np.ascontiguousarray(feats.data, np.float32))
            save_array(folder / f"{encoder}.times.npy", np.stack([feats.starts, feats.ends], 1)
                       .astype(np.float64))
        with self._transaction():
            self._delete_segments(video_id)
            self._db.execute(
                "UPDATE videos SET path = ?, settings_hash = ?, status = 'done', error = NULL,"
                " kind = ?, label = ?, domain = ?, metadata = ?, duration = ?, updated = ?"
                " WHERE id = ?",
                (path, settings_hash, kind, label, domain, json.dumps(metadata or {}), duration,
                 time.time(), video_id),
            )
            for ordinal, seg in enumerate(segments):
                cur = self._db.execute(
                    "INSERT INTO segments (video_id, ordinal, start, end, label, domain, score,"
                    " metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (video_id, ordinal, float(seg.start), float(seg.end), seg.label or label,
                     domain, float(seg.score), json.dumps(metadata or {})),
                )
                seg_id = int(cur.lastrowid)
                self._db.executemany(
                    "INSERT INTO embeddings (segment_id, encoder, vector) VALUES (?, ?, ?)",
                    [(seg_id, enc, vec[ordinal].astype("<f4").tobytes())
                     for enc, vec in vectors.items()],
                )
            self._bump_generation()
        return video_id

    def record_failure(
        self, path: str, content_hash: str, settings_hash: str, error: str, *,
        kind: str = "long", label: str | None = None, domain: str | None = None,
        metadata: dict | None = None,
    ) -> int:
        """Mark a video failed with the reason (its earlier clips, if any, are removed)."""
        self._require_lock()
        info = {"kind": kind, "label": label, "domain": domain, "metadata": metadata}
        video_id = self._reserve(path, content_hash, info)
        with self._transaction():
            self._delete_segments(video_id)
            self._db.execute(
                "UPDATE videos SET path = ?, settings_hash = ?, status = 'failed', error = ?,"
                " updated = ? WHERE id = ?",
                (path, settings_hash, error, time.time(), video_id),
            )
            self._bump_generation()
        return video_id

    def _delete_segments(self, video_id: int) -> None:
        self._db.execute(
            "DELETE FROM embeddings WHERE segment_id IN (SELECT id FROM segments WHERE video_id = ?)",
            (video_id,),
        )
        self._db.execute("DELETE FROM segments WHERE video_id = ?", (video_id,))

    def _check_dim(self, encoder: str, dim: int | None) -> None:
        have = self.dim(encoder)
        if dim is not None and have is not None and have != dim:
            raise DimensionMismatchError(
                f"encoder {encoder!r} gives {dim}-dimensional clips but the store holds "
                f"{have}-dimensional ones; use the store's encoder settings or a new --store"
            )

    def features(self, video_id: int, encoder: str) -> Features:
        """The per-window features stored for one video."""
        path = self.feature_path(video_id, encoder)
        if not path.exists():
            raise StoreError(f"{path}: no {encoder!r} features for video {video_id} in this store")
        times = np.load(path.with_name(f"{encoder}.times.npy"))
        row = self._db.execute("SELECT path FROM videos WHERE id = ?", (video_id,)).fetchone()
        return Features(np.load(path), times[:, 0], times[:, 1], encoder,
                        source=row["path"] if row else "")

    # -- segments ----------------------------------------------------------------------

    def segments(
        self, *, video_id: int | None = None, domain: str | None = None, label: str | None = None
    ) -> list[SegmentRecord]:
        """Clips in id order, optionally of one video, domain or label."""
        where, params = _filters(video_id=video_id, domain=domain, label=label)
        rows = self._db.execute(
            "SELECT s.*, v.path AS video_path FROM segments s"
            f" JOIN videos v ON v.id = s.video_id {where} ORDER BY s.id", params,
        )
        return [_segment(r) for r in rows]

    def segment(self, segment_id: int) -> SegmentRecord:
        """One clip by id."""
        row = self._db.execute(
            "SELECT s.*, v.path AS video_path FROM segments s"
            " JOIN videos v ON v.id = s.video_id WHERE s.id = ?", (int(segment_id),),
        ).fetchone()
        if row is None:
            raise SegmentNotFoundError(
                f"no segment {segment_id} in {self.path}; list them with store.segments()"
            )
        return _segment(row)

    def embedding(self, segment_id: int, encoder: str | None = None) -> np.ndarray:
        """The stored clip embedding of one segment."""
        encoder = encoder or self.default_encoder()
        row = self._db.execute(
            "SELECT vector FROM embeddings WHERE segment_id = ? AND encoder = ?",
            (int(segment_id), encoder),
        ).fetchone()
        if row is None:
            self.segment(segment_id)
            raise StoreError(f"segment {segment_id} has no {encoder!r} embedding in {self.path}")
        return np.frombuffer(row["vector"], "<f4").copy()

    def vectors(
        self, encoder: str, *, domain: str | None = None, label: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of the clips of `encoder` in id order, optionally filtered."""
        where, params = _filters(domain=domain, label=label)
        rows = self._db.execute(
            "SELECT e.segment_id, e.vector FROM embeddings e JOIN segments s ON s.id = e.segment_id"
            f" {where + ' AND' if where else 'WHERE'} e.encoder = ? ORDER BY e.segment_id",
            (*params, encoder),
        ).fetchall()
        dim = self.dim(encoder) or 0
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        vecs = np.frombuffer(b"".join(r[1] for r in rows), "<f4").reshape(len(rows), dim)
        return ids, vecs

    def _count(self, encoder: str) -> int:
        return int(self._db.execute(
            "SELECT count(*) FROM embeddings WHERE encoder = ?", (encoder,)
        ).fetchone()[0])

    def default_encoder(self) -> str:
        encoders = self.encoders()
        if not encoders:
            raise StoreError(f"{self.path} holds no clips yet; ingest videos first")
        return encoders[0]

    # -- indexes -----------------------------------------------------------------------

    def index_path(self, encoder: str) -> Path:
        return self.path / f"index-{encoder}.faiss"

    def rebuild_index(self, encoder: str, factory: str | None = None) -> faiss.Index:
        """Build the index of `encoder` from the catalog and write it; `factory` forces its type."""
        if factory is not None:
            _check_factory(factory)
            self.set_index_factory(encoder, factory)
        generation = self.generation
        ids, vecs = self.vectors(encoder)
        index = self._build(encoder, ids, vecs)
        self._persist(encoder, index)
        self._indexes[encoder] = (generation, index)
        return index

    def sync_indexes(self) -> None:
        """Bring every encoder's index file in line with the catalog."""
        for encoder in self.encoders():
            self.index(encoder)

    def index(self, encoder: str) -> faiss.Index:
        """The index of `encoder`, loaded and brought up to date with the catalog."""
        generation = self.generation
        cached = self._indexes.get(encoder)
        if cached and cached[0] == generation:
            return cached[1]
        index = cached[1] if cached else self._load(encoder)
        ids, vecs = self.vectors(encoder)
        factory = self.index_factory(encoder, len(ids))
        if index is not None and _same_kind(index, factory, vecs.shape[1]):
            have = np.sort(faiss.vector_to_array(index.id_map))
            if np.array_equal(have, ids):
                self._indexes[encoder] = (generation, index)
                return index
            if len(have) < len(ids) and np.isin(have, ids).all():
                new = ~np.isin(ids, have)
                index.add_with_ids(np.ascontiguousarray(vecs[new]), ids[new])
                log.info("index %s: added %d clips", encoder, int(new.sum()))
                self._persist(encoder, index)
                self._indexes[encoder] = (generation, index)
                return index
        log.info("index %s: rebuilding over %d clips (%s)", encoder, len(ids), factory)
        index = self._build(encoder, ids, vecs)
        self._persist(encoder, index)
        self._indexes[encoder] = (generation, index)
        return index

    def _load(self, encoder: str) -> faiss.Index | None:
        path = self.index_path(encoder)
        if not path.exists():
            return None
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as e:
            log.warning("%s is unreadable (%s); rebuilding it from the catalog", path, e)
            return None
        if not isinstance(index, faiss.IndexIDMap2):
            log.warning("%s is not an id-mapped index; rebuilding it from the catalog", path)
            return None
        _set_search_params(index)
        return index

    def _build(self, encoder: str, ids: np.ndarray, vecs: np.ndarray) -> faiss.Index:
        factory = self.index_factory(encoder, len(ids))
        dim = vecs.shape[1] if len(vecs) else (self.dim(encoder) or 1)
        index = _new_index(factory, dim)
        if not index.is_trained:
            if len(vecs) == 0:
                return _new_index("Flat", dim)
            sample = vecs
            if len(vecs) > 200_000:
                pick = np.random.default_rng(0).choice(len(vecs), 200_000, replace=False)
                sample = vecs[np.sort(pick)]
            try:
                index.train(np.ascontiguousarray(sample))
            except RuntimeError as e:
                raise StoreError(
                    f"cannot train index {factory!r} on {len(vecs)} clips ({e}); force a "
                    "smaller index, e.g. 'Flat', with store.rebuild_index(encoder, 'Flat')"
                ) from None
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(vecs), ids)
        return index

    def _persist(self, encoder: str, index: faiss.Index) -> None:
        """Write the index file when this process holds the lock (readers keep it in memory)."""
        if self._lock_fd is not None:
            _save_index(index, self.index_path(encoder))

    # -- search ------------------------------------------------------------------------

    def query_vector(self, query: np.ndarray | Features | int, encoder: str) -> np.ndarray:
        """A unit query vector from a vector, a clip's Features, or a segment id."""
        if isinstance(query, Features):
            if query.encoder and query.encoder != encoder:
                raise DimensionMismatchError(
                    f"the query features come from encoder {query.encoder!r} but the search is "
                    f"over {encoder!r} clips; encode the query with {encoder!r}"
                )
            vec = clip_embedding(query, -np.inf, np.inf, self.pooling)
        elif isinstance(query, (int, np.integer)):
            vec = self.embedding(int(query), encoder)
        else:
            vec = np.asarray(query, np.float32)
            if vec.ndim != 1 and not (vec.ndim == 2 and vec.shape[0] == 1):
                raise ValueError(f"a query vector must be 1-D, got shape {vec.shape}")
        vec = _normalise(vec)
        dim = self.dim(encoder)
        if dim is not None and len(vec) != dim:
            raise DimensionMismatchError(
                f"the query has dimension {len(vec)} but {encoder!r} clips in {self.path} have "
                f"dimension {dim}; build the query with the store's encoder and settings "
                f"({self.settings().get('encoder_settings', {})})"
            )
        return vec

    def search(
        self,
        query: np.ndarray | Features | int,
        k: int = 10,
        *,
        encoder: str | None = None,
        domain: str | None = None,
        label: str | None = None,
        exclude: Sequence[int] = (),
    ) -> list[Hit]:
        """The k clips most similar to `query` (vector, Features of a clip, or segment id).

        `domain` and `label` keep only matching clips; a segment-id query excludes itself.
        Filtered searches return k hits whenever k matching clips exist.
        """
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        encoder = encoder or self.default_encoder()
        vec = self.query_vector(query, encoder)
        excluded = {int(i) for i in exclude}
        if isinstance(query, (int, np.integer)):
            excluded.add(int(query))
        if domain is None and label is None:
            ids, scores = self._search_index(encoder, vec, k + len(excluded), None)
        else:
            allowed, vecs = self.vectors(encoder, domain=domain, label=label)
            if len(allowed) <= self.exact_filter_limit:
                ids, scores = _exact(vecs, allowed, vec, k + len(excluded))
            else:
                ids, scores = self._search_index(encoder, vec, k + len(excluded), allowed)
        keep = [(i, s) for i, s in zip(ids, scores, strict=True) if int(i) not in excluded][:k]
        return self._hits(keep)

    def _search_index(
        self, encoder: str, vec: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k from the index; with `allowed`, over-fetch until k allowed clips are found."""
        index = self.index(encoder)
        total = index.ntotal
        if total == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        fetch = k if allowed is None else min(total, 2 * k * -(-total // max(1, len(allowed))))
        while True:
            scores, ids = _index_search(index, vec, min(fetch, total))
            valid = ids >= 0
            ids, scores = ids[valid], scores[valid]
            if allowed is None:
                return ids, scores
            ok = np.isin(ids, allowed)
            if ok.sum() >= k or fetch >= total:
                break
            fetch *= 4
        if ok.sum() < min(k, len(allowed)):
            all_ids, all_vecs = self.vectors(encoder)
            return _exact(all_vecs[np.isin(all_ids, allowed)], allowed, vec, k)
        return ids[ok][:k], scores[ok][:k]

    def _hits(self, ranked: list[tuple[int, float]]) -> list[Hit]:
        hits = []
        for seg_id, score in ranked:
            s = self.segment(int(seg_id))
            hits.append(Hit(s.id, s.video_path, s.start, s.end, s.label, s.domain, float(score),
                            s.metadata, s.video_id))
        return hits


# --------------------------------------------------------------------------------------
# helpers


def _filters(**conditions) -> tuple[str, tuple]:
    """A parameterised WHERE clause over segments `s` for the conditions that are not None."""
    columns = {"video_id": "s.video_id", "domain": "s.domain", "label": "s.label"}
    used = [(columns[k], v) for k, v in conditions.items() if v is not None]
    if not used:
        return "", ()
    return "WHERE " + " AND ".join(f"{c} = ?" for c, _ in used), tuple(v for _, v in used)


def _video(row: sqlite3.Row) -> VideoRecord:
    return VideoRecord(
        row["id"], row["path"], row["content_hash"], row["settings_hash"], row["status"],
        row["error"], row["kind"], row["label"], row["domain"], json.loads(row["metadata"]),
        row["duration"],
    )


def _segment(row: sqlite3.Row) -> SegmentRecord:
    return SegmentRecord(
        row["id"], row["video_id"], row["video_path"], row["ordinal"], row["start"], row["end"],
        row["label"], row["domain"], row["score"], json.loads(row["metadata"]),
    )


def _check_factory(factory: str) -> None:
    try:
        faiss.index_factory(8, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as e:
        raise StoreError(
            f"{factory!r} is not a FAISS index factory string ({str(e).splitlines()[-1]}); "
            "try 'Flat', 'HNSW32' or 'IVF1024,Flat'"
        ) from None


def _new_index(factory: str, dim: int) -> faiss.IndexIDMap2:
    inner = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    hnsw = getattr(faiss.downcast_index(inner), "hnsw", None)
    if hnsw is not None:
        hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index = faiss.IndexIDMap2(inner)
    _set_search_params(index)
    return index


def _set_search_params(index: faiss.IndexIDMap2) -> None:
    inner = faiss.downcast_index(index.index)
    if hasattr(inner, "hnsw"):
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    with contextlib.suppress(RuntimeError):
        faiss.extract_index_ivf(inner).nprobe = IVF_NPROBE


def _same_kind(index: faiss.Index, factory: str, dim: int) -> bool:
    """Whether a loaded index is of the type `factory` builds, over vectors of `dim`."""
    if index.d != dim:
        return False
    want = faiss.downcast_index(faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT))
    have = faiss.downcast_index(index.index)
    return type(want) is type(have) and getattr(want, "nlist", 0) == getattr(have, "nlist", 0)


def _index_search(index: faiss.Index, vec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """One query; HNSW explores at least k candidates so that k results can come back."""
    params = None
    if hasattr(faiss.downcast_index(index.index), "hnsw"):
        params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k))
    with query_threads():
        scores, ids = index.search(vec.reshape(1, -1), k, params=params)
    return scores[0], ids[0]


@contextlib.contextmanager
def query_threads() -> Iterator[None]:
    """Run FAISS with QUERY_THREADS OpenMP threads inside the block."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(QUERY_THREADS)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _exact(vecs: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k by inner product over explicit vectors, ties broken by id."""
    if len(ids) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    scores = vecs @ query
    order = np.lexsort((ids, -scores))[:k]
    return ids[order], scores[order]
