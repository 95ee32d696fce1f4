"""What every decoding backend shares: the `Backend` interface, `VideoInfo`, sizes, logs."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
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


@contextmanager
def _native_stderr_to_log() -> Iterator[None]:
    """Route what C code (decord, FFmpeg, libpng) prints on fd 2 to this module's debug log.

    decord's own logger and the FFmpeg inside OpenCV write straight to the process's stderr,
    which no Python setting silences; a CLI user should see one error line, not their logs.
    """
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode(errors="replace").strip()
            if text:
                log.debug("decoder output: %s", text)


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
