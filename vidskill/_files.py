"""Writing files atomically: the one way any vidskill file is written.

A file is written under a temporary name in its own folder, flushed and fsynced, renamed
over the target (atomic on POSIX) and the folder fsynced, so a crash, a kill or a full disk
leaves either the old file or the new one, never a torn or empty one. Temporary names
start with a dot and hold `.tmp-<pid>` (a store's writer removes strays it finds); they
keep the target's suffix, so libraries that pick a format from the name (OpenCV,
matplotlib) write the right one.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(path: Path) -> Path:
    """The temporary file a write of `path` goes through."""
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path` durably, on any
    error it is removed and `path` is left as it was. For writers that take a file name
    (faiss.write_index, cv2.imwrite, torch.save, savefig)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "a folder is there; give a file name", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        yield tmp
        _fsync_path(tmp)
        os.replace(tmp, path)
        _fsync_path(path.parent)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if e.errno is not None and e.filename in (None, str(tmp)):  # name the file asked for
            raise type(e)(e.errno, e.strerror, str(path)) from e
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Write `path` through `write(binary file)` atomically; returns the path."""
    path = Path(path)
    with replacing(path) as tmp, open(tmp, "wb") as f:
        write(f)
    return path


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """`data` to `path`, atomically."""
    return atomic_write(path, lambda f: f.write(data))


def write_text(path: str | os.PathLike, text: str) -> Path:
    """UTF-8 `text` to `path`, atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, value: Any, indent: int | None = 1) -> Path:
    """`value` as JSON (with a final newline) to `path`, atomically."""
    return write_text(path, json.dumps(value, indent=indent, default=str) + "\n")


def save_array(path: str | os.PathLike, array: np.ndarray) -> Path:
    """A .npy file (never pickled), atomically."""
    return atomic_write(path, lambda f: np.save(f, array, allow_pickle=False))


@contextmanager
def replacing_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder to fill; on success it is renamed to `path` (which must not
    exist yet), on any error it is removed. For writers that fill a folder
    (transformers' save_pretrained)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        for child in tmp.iterdir():
            _fsync_path(child)
        os.replace(tmp, path)
        _fsync_path(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def user_cache_dir(kind: str = "features") -> Path:
    """The user's cache folder for `kind` ("features", "llm"): $XDG_CACHE_HOME (default
    ~/.cache)/vidskill/KIND; $VIDSKILL_CACHE replaces the feature cache's path."""
    if kind == "features" and os.environ.get("VIDSKILL_CACHE"):
        return Path(os.environ["VIDSKILL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vidskill" / kind
