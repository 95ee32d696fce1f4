"""Decoding backends by name, one file each (as PySceneDetect keys its `VideoStream`s).

`open_file_backend` opens a video file with the backend asked for; "auto" tries PyAV
(FFmpeg: the least CPU per frame, only the frames asked for converted, at the target size),
then decord, then OpenCV. A folder is read by the
"images" backend.
"""

from __future__ import annotations

import logging
from pathlib import Path

from vidskill.video.backends.base import VIDEO_SUFFIXES, Backend
from vidskill.video.backends.decord import DecordBackend
from vidskill.video.backends.images import ImageFolderBackend
from vidskill.video.backends.opencv import OpenCVBackend
from vidskill.video.backends.pyav import PyAVBackend
from vidskill.video.errors import (
    BackendUnavailableError,
    CorruptVideoError,
    EmptyVideoError,
    FrameDecodeError,
    NotAVideoError,
    UnreadableVideoError,
    VideoError,
)

log = logging.getLogger(__name__)

AVAILABLE: dict[str, type[Backend]] = {
    cls.name: cls for cls in (PyAVBackend, DecordBackend, OpenCVBackend, ImageFolderBackend)
}
FILE_BACKENDS = ("pyav", "decord", "opencv")  # the order "auto" tries them in
BACKENDS = ("auto", *AVAILABLE)
# Leading bytes of containers we know: a file that starts like one but will not open is damaged.
_CONTAINER_MAGIC = (b"\x1a\x45\xdf\xa3", b"RIFF", b"OggS", b"\x00\x00\x01\xba", b"FLV")
# What decord says of a container it parsed that has no video stream (0-frame or audio-only).
_NO_VIDEO_STREAM = "cannot find video stream"


def open_file_backend(path: Path, backend: str, size) -> Backend:
    """Open a video file with the requested backend; 'auto' tries them in FILE_BACKENDS order."""
    if path.stat().st_size == 0:
        raise EmptyVideoError(path, "the file is empty (0 bytes); re-copy or re-record it")
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except PermissionError:
        raise UnreadableVideoError(path, "permission denied; make the file readable (chmod a+r) "
                                   "or run as a user who can read it") from None
    order = FILE_BACKENDS if backend == "auto" else (backend,)
    errors: list[str] = []
    for name in order:
        try:
            return AVAILABLE[name](path, size)
        except (EmptyVideoError, FrameDecodeError):
            raise
        except BackendUnavailableError as e:
            if backend != "auto":
                raise
            errors.append(str(e))
        except VideoError as e:
            errors.append(f"{name}: {e}")
        except Exception as e:  # decord raises bare DECORDError/RuntimeError on unreadable input
            errors.append(f"{name}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    log.debug("could not open %s: %s", path, "; ".join(errors))
    if any(_NO_VIDEO_STREAM in e for e in errors):
        raise EmptyVideoError(
            path, "the container opens but holds no video stream (no frames: audio only, or a "
            "recording that never got a frame); give a file with video in it",
        )
    if head[4:8] == b"ftyp" or head.startswith(_CONTAINER_MAGIC):
        raise CorruptVideoError(
            path, "it looks like a video container but cannot be decoded: it is probably "
            "truncated or damaged; re-copy it or repair it with ffmpeg -i IN -c copy OUT.mp4",
        )
    raise NotAVideoError(
        path, "no backend can decode it; it is not a video in a supported format "
        f"({', '.join(VIDEO_SUFFIXES)}) or a folder of images",
    )
