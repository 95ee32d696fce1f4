"""Video input: `open_video` → `VideoReader` → `Frames`, over PyAV, decord, OpenCV or image
folders.

The bottom of the data flow: nothing here imports another vidskill module.
"""

from vidskill.video.backends import BACKENDS
from vidskill.video.backends.base import IMAGE_SUFFIXES, VIDEO_SUFFIXES, VideoInfo
from vidskill.video.errors import (
    BackendUnavailableError,
    CorruptVideoError,
    EmptyVideoError,
    FrameDecodeError,
    NoImagesError,
    NotAVideoError,
    OutOfRangeError,
    VideoError,
    VideoNotFoundError,
)
from vidskill.video.prefetch import PrefetchReader
from vidskill.video.reader import Frames, VideoReader, open_video, read_video

__all__ = [
    "BACKENDS", "IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "BackendUnavailableError",
    "CorruptVideoError", "EmptyVideoError", "FrameDecodeError", "Frames", "NoImagesError",
    "NotAVideoError", "OutOfRangeError", "PrefetchReader", "VideoError", "VideoInfo", "VideoNotFoundError",
    "VideoReader", "open_video", "read_video",
]
