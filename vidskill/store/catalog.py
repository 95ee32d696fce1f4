"""The catalog: a SQLite database that is the store's source of truth.

It holds the videos (content hash, status, error, label, domain), their segments (clips)
and each clip's embedding per encoder, the settings the store was built with, and a
generation counter that every write bumps (indexes compare against it). Feature files live
beside it under features/<video-id>/. One process writes at a time (`lock`); a video's
segments and embeddings are committed in one transaction that also marks it 'done', after
its feature files are durable, so a killed writer leaves either all of a video or none.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidskill._files import save_array
from vidskill.boundaries.base import Segment
from vidskill.encoders.base import Features
from vidskill.encoders.cache import HASH_SCHEME, content_hash
from vidskill.errors import DimensionMismatchError
from vidskill.store.errors import (
    SegmentNotFoundError,
    StoreError,
    StoreLockedError,
    StoreNotFoundError,
    StorePathError,
    StoreSettingsError,
)
from vidskill.store.index import clip_embedding, default_factory

SCHEMA_VERSION = 2
# Older formats this vidskill opens: format 1 lacks segments.kind (added on a writable
# open, read as "" where it is absent).
READABLE_VERSIONS = (1, SCHEMA_VERSION)
# A long video's detector signal, beside its features (times and values, two rows).
SIGNAL_FILE = "signal.npy"
STATUSES = ("pending", "done", "failed")
CATALOG = "catalog.sqlite"
LOCK = "ingest.lock"

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
    kind TEXT NOT NULL DEFAULT '',
    UNIQUE (video_id, ordinal)
);
CREATE INDEX IF NOT EXISTS segments_domain ON segments (domain);
CREATE INDEX IF NOT EXISTS segments_label ON segments (label);
CREATE TABLE IF NOT EXISTS file_hashes (
    path TEXT PRIMARY KEY,
    stat TEXT NOT NULL,
    content_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS embeddings (
    segment_id INTEGER NOT NULL REFERENCES segments(id),
    encoder TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (encoder, segment_id)
);
"""


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
    kind: str = ""   # the boundary that starts it: start, cut, fade, skill ("": not recorded)


class Catalog:
    """The SQLite catalog of a store folder, with its writer lock and feature files.

    Open an existing store with `Catalog(path)`; `create=True` makes the folder when it is
    missing. Reading needs no lock; writers hold `lock()` (ingest does).
    """

    def __init__(self, path: str | os.PathLike, *, create: bool = False, readonly: bool = False):
        self.path = Path(path).expanduser()
        self.readonly = readonly
        self._lock_fd: int | None = None
        if self.path.exists() and not self.path.is_dir():
            raise StorePathError(f"{self.path} is a file, not a store folder; give --store a folder "
                             "(it is created when missing)")
        if not (self.path / CATALOG).exists():
            if not create or readonly:
                raise StoreNotFoundError(
                    f"{self.path}: no clip store here (no {CATALOG}); create one with "
                    f"`vidskill ingest VIDEOS --store {self.path}`"
                )
            self.path.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._connect()
            if readonly:
                self._check_schema()
            else:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute("PRAGMA foreign_keys=ON")
                self._create_schema()
        except sqlite3.DatabaseError as e:
            raise StoreError(describe_sqlite(e, self.path / CATALOG)) from None

    def _connect(self) -> sqlite3.Connection:
        """The catalog connection; read-only opens never write (journal mode, locks, files),
        so a store on a read-only mount or owned by another user can be searched."""
        db_path = self.path / CATALOG
        if not self.readonly:
            db = sqlite3.connect(db_path, isolation_level=None, timeout=60.0)
        else:
            uri = f"{db_path.resolve().as_uri()}?mode=ro"
            db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=60.0)
            try:
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError:
                # a WAL catalog whose -shm file cannot be created here (read-only folder):
                # SQLite can only read it as an immutable file, which no writer is changing
                db.close()
                db = sqlite3.connect(f"{uri}&immutable=1", uri=True, isolation_level=None)
            db.execute("PRAGMA query_only=ON")
        db.row_factory = sqlite3.Row
        return db

    def _create_schema(self) -> None:
        with self._transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?), ('generation', '0'),"
                    " ('hash', ?)", (str(SCHEMA_VERSION), HASH_SCHEME),
                )
            elif row["value"] == "1":   # format 1: segments gain the kind of their boundary
                self._db.execute("ALTER TABLE segments ADD COLUMN kind TEXT NOT NULL DEFAULT ''")
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema'",
                                 (str(SCHEMA_VERSION),))
        self._check_schema()

    def _check_schema(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None or int(row["value"]) not in READABLE_VERSIONS:
            raise StoreError(
                f"{self.path}: store format {row['value'] if row else 'unknown'} is not "
                f"supported by this vidskill (format {SCHEMA_VERSION}); re-ingest into a new store"
            )

    # -- housekeeping ------------------------------------------------------------------

    def close(self) -> None:
        """Release the writer lock (if held) and the database connection."""
        self.unlock()
        self._db.close()

    def __enter__(self) -> Catalog:
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
        if self.readonly:
            self._require_lock()
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
        self._migrate_hashes()

    def unlock(self) -> None:
        """Give up the writer lock (the kernel also drops it when the process dies)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _migrate_hashes(self) -> None:
        """Re-key videos hashed by the former sampled hash (stores without meta 'hash') by
        whole-file hashes, so re-running an ingest skips them instead of doubling them."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'hash'").fetchone()
        if row is not None and row["value"] == HASH_SCHEME:
            return
        for video in self.videos():
            path = Path(video.path)
            try:
                if _sampled_hash(path) != video.content_hash:
                    continue
                digest = content_hash(path)
            except OSError:  # gone or unreadable: it keeps its old key
                continue
            with self._transaction():
                if self._db.execute("SELECT 1 FROM videos WHERE content_hash = ?",
                                    (digest,)).fetchone() is None:
                    self._db.execute("UPDATE videos SET content_hash = ? WHERE id = ?",
                                     (digest, video.id))
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('hash', ?)",
                             (HASH_SCHEME,))

    def _require_lock(self) -> None:
        if self.readonly:
            raise StoreError(f"{self.path} was opened read-only; open it without readonly=True "
                             "to change it")
        if self._lock_fd is None:
            raise StoreError("writing to a store needs its lock: call store.lock() first")

    # -- settings ----------------------------------------------------------------------

    def settings(self) -> dict:
        """The settings the store was built with ({} for a new store); a record changed by
        hand (it no longer matches its digest) is refused rather than silently used."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
        if row is None:
            return {}
        digest = self._db.execute("SELECT value FROM meta WHERE key = 'settings_digest'"
                                  ).fetchone()
        if digest is not None and digest["value"] != _digest(row["value"]):
            raise StoreSettingsError(
                f"{self.path}: the settings recorded in {CATALOG} were changed after the clips "
                f"were made ({row['value']}); the clips would not match queries encoded with "
                "them: restore the original values, or re-ingest into a new --store")
        try:
            return json.loads(row["value"])
        except json.JSONDecodeError as e:
            raise StoreSettingsError(f"{self.path}: the recorded settings are not JSON ({e}); "
                                     "re-ingest into a new --store") from None

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
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('settings', ?),"
                    " ('settings_digest', ?)", (canon, _digest(canon)))

    @property
    def pooling(self) -> str:
        return self.settings().get("pooling", "mean")

    def encoders(self) -> list[str]:
        """Encoders with clip embeddings in this store, in the order they were configured."""
        configured = list(self.settings().get("encoders", []))
        present = [r[0] for r in self._db.execute("SELECT DISTINCT encoder FROM embeddings")]
        return configured + sorted(set(present) - set(configured))

    def check_encoder(self, encoder: str) -> None:
        """Raise StoreError unless the store holds clips embedded by `encoder`."""
        if encoder not in self.encoders():
            raise StoreError(f"{self.path} holds no {encoder!r} clips (it holds "
                             f"{', '.join(self.encoders()) or 'none yet'}); pick one of those")

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
        cut_by: str | None = None,
        cut_with: str | None = None,
        signal: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> int:
        """Store one video's features and clips; returns its id. All or nothing on a crash.

        A video already in the catalog (same content) is replaced: its old clips go in the
        same transaction that adds the new ones, as do failures recorded for the same path.
        cut_by: the encoder whose features a detector cut the video with (`cut_by_encoder`);
        cut_with: that detector's name; signal: its per-window signal (times, values), kept
        for reports (`signal`), as the encoder that cut may be one the store does not keep.
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
        kept = self.path / "features" / str(video_id) / SIGNAL_FILE
        if signal is not None:
            save_array(kept, np.stack([np.asarray(signal[0], np.float64),
                                       np.asarray(signal[1], np.float64)]))
        else:
            kept.unlink(missing_ok=True)   # a re-cut without a signal: the old one is outdated
        with self._transaction():
            self._delete_segments(video_id)
            # earlier failures at this path (unreadable then, or other content) are outdated
            self._db.execute("DELETE FROM videos WHERE path = ? AND status = 'failed' AND id != ?",
                             (path, video_id))
            self._db.executemany(  # what a stored clip's features were made with
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                [(f"feature_settings/{enc}", json.dumps(f.settings, sort_keys=True, default=str))
                 for enc, f in features.items()])
            for key, value in (("cut_by", cut_by), ("cut_with", cut_with)):
                if value is not None:
                    self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                     (key, value))
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
                    " metadata, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (video_id, ordinal, float(seg.start), float(seg.end), seg.label or label,
                     domain, float(seg.score), json.dumps(metadata or {}), seg.kind),
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
        """Record why a video failed. A video with clips keeps them (and its settings, so the
        next run tries again): only a committed replacement removes a video's clips."""
        self._require_lock()
        info = {"kind": kind, "label": label, "domain": domain, "metadata": metadata}
        video_id = self._reserve(path, content_hash, info)
        with self._transaction():
            self._db.execute(
                "UPDATE videos SET path = ?, settings_hash = ?, status = 'failed', error = ?,"
                " updated = ? WHERE id = ? AND status != 'done'",
                (path, settings_hash, error, time.time(), video_id),
            )
            self._db.execute(
                "UPDATE videos SET error = ?, updated = ? WHERE id = ? AND status = 'done'",
                (f"a re-run failed, the clips stored before are kept: {error}", time.time(),
                 video_id),
            )
            self._bump_generation()
        return video_id

    def known_hash(self, path: str, signature: str) -> str | None:
        """The content hash recorded for `path` if its stat signature (`file_signature`) is
        unchanged since it was hashed."""
        row = self._db.execute("SELECT content_hash FROM file_hashes WHERE path = ? AND stat = ?",
                               (path, signature)).fetchone()
        return row["content_hash"] if row else None

    def remember_hashes(self, entries: Sequence[tuple[str, str, str]]) -> None:
        """Record (path, stat signature, content hash) of files hashed, in one transaction."""
        self._require_lock()
        if entries:
            with self._transaction():
                self._db.executemany("INSERT OR REPLACE INTO file_hashes (path, stat,"
                                     " content_hash) VALUES (?, ?, ?)", entries)

    def find_path(self, path: str) -> list[VideoRecord]:
        """Videos recorded under this path (one per content that was ingested from it)."""
        rows = self._db.execute("SELECT * FROM videos WHERE path = ? ORDER BY id", (path,))
        return [_video(r) for r in rows]

    # -- management: fixes to metadata that need no re-encoding ---------------------------

    def relabel(self, video_ids: Sequence[int], label: str | None = None, *,
                domain: str | None = None) -> int:
        """Set the label and/or domain of videos and their clips; returns how many clips they
        hold. Clips named by the detector (skill-tcn names each clip by its skill) keep their
        own label; clips that carried the video's label take the new one."""
        self._require_lock()
        if label is None and domain is None:
            raise ValueError("relabel needs a new label or a new domain")
        ids = self._existing(video_ids)
        with self._transaction():
            for video_id in ids:
                if label is not None:
                    self._db.execute(
                        "UPDATE segments SET label = ? WHERE video_id = ? AND (label IS NULL OR"
                        " label IS (SELECT label FROM videos WHERE id = ?))",
                        (label, video_id, video_id))
                    self._db.execute("UPDATE videos SET label = ?, updated = ? WHERE id = ?",
                                     (label, time.time(), video_id))
                if domain is not None:
                    self._db.execute("UPDATE segments SET domain = ? WHERE video_id = ?",
                                     (domain, video_id))
                    self._db.execute("UPDATE videos SET domain = ?, updated = ? WHERE id = ?",
                                     (domain, time.time(), video_id))
            self._bump_generation()
        counts = self.clip_counts()
        return sum(counts.get(i, 0) for i in ids)

    def remove(self, video_ids: Sequence[int]) -> int:
        """Delete videos, their clips and feature files; returns the clips removed. Indexes
        follow at their next sync (the catalog is the source of truth)."""
        self._require_lock()
        ids = self._existing(video_ids)
        with self._transaction():
            removed = 0
            for video_id in ids:
                removed += self._delete_segments(video_id)
                self._db.execute("DELETE FROM videos WHERE id = ?", (video_id,))
            self._bump_generation()
        for video_id in ids:
            folder = self.path / "features" / str(video_id)
            for f in folder.glob("*"):
                f.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                folder.rmdir()
        return removed

    def _existing(self, video_ids: Sequence[int]) -> list[int]:
        """The ids given, checked to name videos of this store."""
        ids = [int(i) for i in video_ids]
        known = {int(r[0]) for r in self._db.execute("SELECT id FROM videos")}
        missing = [i for i in ids if i not in known]
        if missing:
            raise StoreError(f"{self.path} has no video {', '.join(map(str, missing))}; list "
                             f"them with `vidskill store list --store {self.path}`")
        return ids

    def stats(self) -> dict:
        """Counts of videos by status, clips by label and domain, and the embedding spaces."""
        one = lambda sql: [tuple(r) for r in self._db.execute(sql)]  # noqa: E731
        return {
            "videos": dict(one("SELECT status, count(*) FROM videos GROUP BY status")),
            "clips": int(self._db.execute("SELECT count(*) FROM segments").fetchone()[0]),
            "labels": dict(one("SELECT coalesce(label, '-'), count(*) FROM segments"
                               " GROUP BY label ORDER BY count(*) DESC, label")),
            "domains": dict(one("SELECT coalesce(domain, '-'), count(*) FROM segments"
                                " GROUP BY domain ORDER BY count(*) DESC, domain")),
            "encoders": {e: {"dim": self.dim(e), "clips": self._count(e)}
                         for e in self.encoders()},
            "settings": self.settings(),
        }

    def clip_counts(self) -> dict[int, int]:
        """Number of clips of each video that has any."""
        return {int(r[0]): int(r[1]) for r in self._db.execute(
            "SELECT video_id, count(*) FROM segments GROUP BY video_id")}

    def _delete_segments(self, video_id: int) -> int:
        self._db.execute(
            "DELETE FROM embeddings WHERE segment_id IN (SELECT id FROM segments WHERE video_id = ?)",
            (video_id,),
        )
        return self._db.execute("DELETE FROM segments WHERE video_id = ?", (video_id,)).rowcount

    def _check_dim(self, encoder: str, dim: int | None) -> None:
        have = self.dim(encoder)
        if dim is not None and have is not None and have != dim:
            raise DimensionMismatchError(
                f"encoder {encoder!r} gives {dim}-dimensional clips but the store holds "
                f"{have}-dimensional ones; use the store's encoder settings or a new --store "
                "(a store made by another version of the encoder needs a new --store too)"
            )

    def features(self, video_id: int, encoder: str) -> Features:
        """The per-window features stored for one video."""
        path = self.feature_path(video_id, encoder)
        if not path.exists():
            raise StoreError(f"{path}: no {encoder!r} features for video {video_id} in this store")
        try:
            times = np.load(path.with_name(f"{encoder}.times.npy"), allow_pickle=False)
            data = np.load(path, allow_pickle=False)
        except (OSError, EOFError, ValueError) as e:
            raise StoreError(f"{path}: stored features are damaged ({str(e).splitlines()[0]}); "
                             f"re-ingest the video ({video_id}) after `vidskill store remove "
                             f"--store {self.path} --video {video_id}`") from None
        row = self._db.execute("SELECT path FROM videos WHERE id = ?", (video_id,)).fetchone()
        settings = self._db.execute("SELECT value FROM meta WHERE key = ?",
                                    (f"feature_settings/{encoder}",)).fetchone()
        return Features(data, times[:, 0], times[:, 1], encoder,
                        json.loads(settings["value"]) if settings else {},
                        source=row["path"] if row else "")

    def signal(self, video_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The detector's signal (times, values) kept when the video was cut; None when the
        video was not cut by a detector or was stored by a vidskill that did not keep it."""
        path = self.path / "features" / str(video_id) / SIGNAL_FILE
        try:
            times, values = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, EOFError, ValueError) as e:
            raise StoreError(f"{path}: the stored signal is damaged ({str(e).splitlines()[0]}); "
                             f"re-ingest the video ({video_id}) after `vidskill store remove "
                             f"--store {self.path} --video {video_id}`") from None
        return times, values

    def cut_with(self) -> str:
        """The detector that cut the store's long videos ("" for stores that did not record it)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'cut_with'").fetchone()
        return str(row["value"]) if row else ""

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

    def cut_by_encoder(self) -> str:
        """The encoder whose features cut the store's long videos (the last ingest's
        `segment_with`; the first encoder for stores that did not record it)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'cut_by'").fetchone()
        return str(row["value"]) if row else self.default_encoder()

    def default_encoder(self) -> str:
        encoders = self.encoders()
        if not encoders:
            raise StoreError(f"{self.path} holds no clips yet; ingest videos first")
        return encoders[0]



def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def describe_sqlite(e: sqlite3.Error, path: Path) -> str:
    """One line for a SQLite failure on the catalog at `path`, saying what to do."""
    text = str(e)
    if "full" in text or ("I/O error" in text and _nearly_full(path)):
        return (f"{path}: no space left on the device ({text}); free some space and run the "
                "same command again (what was stored is kept)")
    if "readonly" in text or "read-only" in text:
        return (f"{path}: the catalog cannot be written ({text}); check the folder's "
                "permissions, or query it (queries open stores read-only)")
    if "locked" in text or "busy" in text:
        return f"{path}: the catalog is busy ({text}); wait for the other process and retry"
    if "not a database" in text or "malformed" in text:
        return (f"{path}: the catalog is damaged ({text}); restore it from a backup, or "
                "re-ingest into a new --store")
    return (f"{path}: the catalog cannot be used ({text}); check the disk, the path and its "
            "permissions")


def _nearly_full(path: Path) -> bool:
    """Whether the disk holding `path` has under 1 MiB free (SQLite reports a failed write
    of its shared-memory file as a plain I/O error)."""
    try:
        return shutil.disk_usage(path.parent if path.parent.exists() else ".").free < 1 << 20
    except OSError:
        return False


def _sampled_hash(path: Path) -> str:
    """The key of stores made before whole-file hashes: sha256 of the size and the whole file
    up to 3 MiB, else of its first, middle and last MiB (only `_migrate_hashes` reads it)."""
    sample = 1 << 20
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(f for f in path.iterdir() if f.is_file()):
            h.update(f"{f.name}:{f.stat().st_size}".encode())
            with open(f, "rb") as fh:
                h.update(fh.read(sample))
        return h.hexdigest()
    size = path.stat().st_size
    h.update(f"{size}".encode())
    with open(path, "rb") as fh:
        offsets = (0,) if size <= 3 * sample else (0, size // 2, size - sample)
        for offset in offsets:
            fh.seek(offset)
            h.update(fh.read(3 * sample if len(offsets) == 1 else sample))
    return h.hexdigest()


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
        row["kind"] if "kind" in row.keys() else "",  # noqa: SIM118 (a Row iterates values)
    )
