"""Thumbnails: N still images per clip, as JPEG files."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from vidskill._files import write_bytes
from vidskill.video import open_video

JPEG_QUALITY = 85  # OpenCV's default is 95; 85 halves the files with no visible loss at thumb size


def thumbnail_times(start: float, end: float, n: int) -> list[float]:
    """The centres of n equal parts of [start, end): never the first or last frame, which
    at a boundary may still show the neighbouring clip."""
    return [start + (j + 0.5) * (end - start) / n for j in range(n)]


def write_thumbnails(source: str | os.PathLike, start: float, end: float,
                     paths: list[Path], height: int | None = None) -> list[Path]:
    """One JPEG per path, taken at `thumbnail_times(start, end, len(paths))`, `height`
    pixels high (None: the source's size)."""
    with open_video(source, size=height) as reader:
        first, last = float(reader.native_timestamps[0]), float(reader.native_timestamps[-1])
        for path, t in zip(paths, thumbnail_times(start, end, len(paths)), strict=True):
            image = reader.frame_at(min(max(t, first), last)).data[0]
            write_jpeg(path, image)
    return paths


def write_jpeg(path: str | os.PathLike, image: np.ndarray) -> Path:
    """An RGB image as a JPEG file, atomically."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError(f"{path}: the image could not be encoded as JPEG")
    return write_bytes(path, data.tobytes())
