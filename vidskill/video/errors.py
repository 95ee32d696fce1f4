"""The errors raised while reading video; each names the input and what to do."""

from __future__ import annotations

import os


class VideoError(Exception):
    """Base of every error raised while reading video; `path` names the input."""

    def __init__(self, path: str | os.PathLike, message: str):
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


class VideoNotFoundError(VideoError, FileNotFoundError):
    """The path does not exist."""


class UnreadableVideoError(VideoError, PermissionError):
    """The file exists but this user may not read it."""


class EmptyVideoError(VideoError):
    """The file has zero bytes or the container holds no decodable frame."""


class NotAVideoError(VideoError):
    """The file is not a video any backend can read (wrong format)."""


class CorruptVideoError(VideoError):
    """The file looks like a video container but is truncated or damaged."""


class NoImagesError(EmptyVideoError):
    """A folder given as a video holds no image files."""


class FrameDecodeError(VideoError):
    """A frame inside the video could not be decoded."""


class OutOfRangeError(VideoError, IndexError):
    """A frame index or time lies outside the video."""


class BackendUnavailableError(VideoError):
    """The requested decoding backend is not installed."""
