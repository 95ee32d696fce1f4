"""What every decoding backend shares: the `Backend` interface, `VideoInfo`, sizes, logs."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".ts")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class VideoInfo:
    """What the container says: native rate, frame count, size after rotation, rotation.

    Times count from the video stream's first frame, as decord and OpenCV both report
    them: an empty edit before it (delayed_start.mp4 starts 1.075 s into its movie) is
    not added, so `start_time` is 0 for such files.
    """

    path: str
    backend: str
    frame_count: int
    native_fps: float
    duration: float
    width: int
    height: int
    rotation: int = 0
    start_time: float = 0.0
    codec: str = ""
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}


class _StderrSink:
    """fd 2 sent to one temporary file while any thread is inside `_native_stderr_to_log`.
    One redirect for all threads, counted: two decoders redirecting fd 2 each on their own
    would restore it out of order and leave the process's stderr on a temporary file."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.saved = -1
        self.sink = None

    def enter(self) -> None:
        with self.lock:
            if self.depth == 0:
                with contextlib.suppress(AttributeError, ValueError, OSError):
                    sys.stderr.flush()
                self.sink = tempfile.TemporaryFile()  # noqa: SIM115 - closed in exit()
                self.saved = os.dup(2)
                os.dup2(self.sink.fileno(), 2)
            self.depth += 1

    def exit(self) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth:
                return
            os.dup2(self.saved, 2)
            os.close(self.saved)
            sink, self.sink = self.sink, None
        with sink:
            sink.seek(0)
            text = sink.read().decode(errors="replace").strip()
        if text:
            log.debug("decoder output: %s", text)


_STDERR = _StderrSink()


@contextmanager
def _native_stderr_to_log() -> Iterator[None]:
    """Route what C code (decord, FFmpeg, libpng) prints on fd 2 to this module's debug log.

    decord's own logger and the FFmpeg inside OpenCV write straight to the process's stderr,
    which no Python setting silences; a CLI user should see one error line, not their logs.
    """
    _STDERR.enter()
    try:
        yield
    finally:
        _STDERR.exit()


class Backend:
    """A decoder over native frame indices; subclasses fill `timestamps` and `info`."""

    name = ""
    timestamps: np.ndarray
    info: VideoInfo
    out_size: tuple[int, int]

    def decode(self, indices: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        """Release decoder resources."""

    def twin(self) -> Backend | None:
        """A second decoder over the same file and size, to decode another part in parallel
        (same frames, bit for bit), or None when this backend has none."""
        return None


def _output_size(width: int, height: int, size: int | tuple[int, int] | None) -> tuple[int, int]:
    """Size after resizing: an int is the short side (aspect kept, long side even), a pair is (w,h)."""
    if size is None:
        return width, height
    if isinstance(size, int):
        long_side = max(size, round(max(width, height) * size / min(width, height) / 2) * 2)
        return (size, long_side) if width <= height else (long_side, size)
    return int(size[0]), int(size[1])


def _fourcc(cap) -> str:
    """The codec's four-character code as OpenCV reports it ("avc1", "h264", ...), or ""."""
    import cv2

    code = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)
    return "".join(chr((code >> 8 * k) & 0xFF) for k in range(4)).strip("\x00 ")


def _container_meta(path: Path) -> tuple[int, str]:
    """Clockwise display rotation (0, 90, 180, 270) and codec, which decord does not expose."""
    try:
        import cv2
    except ImportError:
        return 0, ""
    with _native_stderr_to_log():
        cap = cv2.VideoCapture(str(path))
        try:
            if not cap.isOpened():
                return 0, ""
            return int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0) % 360, _fourcc(cap)
        finally:
            cap.release()
