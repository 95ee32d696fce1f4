"""Feature cache: features keyed by (video content hash, encoder name, settings) on disk.

Layout: <root>/<hash[:2]>/<hash>/<encoder>-<settings digest>.npy (N,D float32), .times.npy
(N,2 window start/end) and .json (settings, dim, source). Arrays load with
allow_pickle=False; writes are atomic (vidskill._files). Other settings mean
another file (a miss); a file whose dimension disagrees with the encoder raises
DimensionMismatchError instead of returning wrong features.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import stat
from pathlib import Path

import numpy as np

from vidskill._files import save_array, write_json
from vidskill.encoders.base import Features
from vidskill.errors import DimensionMismatchError, VidskillError

log = logging.getLogger(__name__)

# Content hashes read whole files: BLAKE2b streams at about 1 GB/s on one core (README:
# Reliability), and hashing only some bytes let a copy with a damaged middle pass for the
# original (and reuse its cached features).
HASH_SCHEME = "blake2b"
_BLOCK = 1 << 20


class NotAVideoFileError(VidskillError, OSError):
    """A path names a FIFO, socket or device, which cannot be hashed or decoded."""

    def __init__(self, message: str, path: str):
        super().__init__(errno.EINVAL, message, path)

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def content_hash(path: str | os.PathLike) -> str:
    """BLAKE2b of a video's size and every byte; a folder of images hashes each file's name,
    size and bytes in name order. Raises OSError (PermissionError, IsADirectoryError...) for
    what cannot be read, and NotAVideoFileError for things that are no file to hash."""
    p = Path(path)
    h = hashlib.blake2b(digest_size=32)
    if p.is_dir():
        for f in sorted(f for f in p.iterdir() if f.is_file()):
            h.update(f"{f.name}:{f.stat().st_size}:".encode())
            _update(h, f)
        return h.hexdigest()
    mode = p.stat().st_mode
    if not stat.S_ISREG(mode):
        raise NotAVideoFileError(f"not a regular file (a {_kind(mode)}); give a video file", str(p))
    h.update(f"{p.stat().st_size}:".encode())
    _update(h, p)
    return h.hexdigest()


def file_signature(path: str | os.PathLike) -> str | None:
    """What changes whenever a regular file's bytes do: device, inode, size, modification
    and status-change times (ctime cannot be set back by tools that keep mtime), or None
    for what is not a regular file (a folder of images is hashed every time)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        return None
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def _update(h, path: Path) -> None:
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def settings_digest(encoder: str, settings: dict) -> str:
    """Stable digest of an encoder name and its settings (canonical JSON)."""
    text = json.dumps({"encoder": encoder, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _canonical(settings: dict) -> dict:
    return json.loads(json.dumps(settings, sort_keys=True, default=str))


class FeatureCache:
    """Features on disk keyed by video content, encoder name and settings."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _base(self, video_hash: str, encoder: str, settings: dict) -> Path:
        return (self.root / video_hash[:2] / video_hash
                / f"{encoder}-{settings_digest(encoder, settings)}")

    def get(self, video_hash: str, encoder: str, settings: dict,
            dim: int | None = None) -> Features | None:
        """Cached features, or None on a miss; `dim` (the encoder's) is checked when given."""
        base = self._base(video_hash, encoder, settings)
        meta_path = base.with_suffix(".json")
        if not meta_path.is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("encoder") != encoder or meta.get("settings") != _canonical(settings):
                return None
            data = np.load(base.with_suffix(".npy"), allow_pickle=False)
            times = np.load(base.with_suffix(".times.npy"), allow_pickle=False)
            if times.ndim != 2 or len(times) != len(data):
                raise ValueError(f"{len(times)} window times for {len(data)} windows")
        except (OSError, EOFError, ValueError) as e:  # damaged: recompute rather than fail
            log.warning("cached features %s.* are unreadable (%s); recomputing them", base,
                        str(e).splitlines()[0] if str(e) else type(e).__name__)
            return None
        found = data.shape[1] if data.ndim == 2 else None
        for expected, what in ((meta.get("dim"), "its sidecar"), (dim, f"encoder {encoder!r}")):
            if expected is not None and found != expected:
                raise DimensionMismatchError(
                    f"cached features {base}.npy have shape {data.shape} but {what} expects "
                    f"dimension {expected}: the file was written by another version or settings "
                    f"of {encoder!r}; delete {base}.* (or the cache folder) to recompute"
                )
        return Features(data.astype(np.float32, copy=False), times[:, 0], times[:, 1], encoder,
                        meta["settings"], meta.get("source", ""))

    def put(self, video_hash: str, features: Features, settings: dict) -> Path:
        """Store `features` (computed with `settings`) atomically; returns the .npy path."""
        base = self._base(video_hash, features.encoder, settings)
        base.parent.mkdir(parents=True, exist_ok=True)
        times = np.stack([features.starts, features.ends], axis=1).astype(np.float64)
        save_array(base.with_suffix(".npy"), features.data)
        save_array(base.with_suffix(".times.npy"), times)
        meta = {"encoder": features.encoder, "settings": _canonical(settings),
                "dim": features.dim, "n": len(features), "source": features.source,
                "video_hash": video_hash}
        write_json(base.with_suffix(".json"), meta, indent=None)
        return base.with_suffix(".npy")
