"""The image-folder backend: numbered image files as frames at a rate the user gives."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from vidskill.video.backends.base import (
    IMAGE_SUFFIXES,
    Backend,
    VideoInfo,
    _native_stderr_to_log,
    _output_size,
)
from vidskill.video.errors import FrameDecodeError, NoImagesError


def _natural_key(p: Path) -> list:
    """Sort key that orders frame_2 before frame_10."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


class ImageFolderBackend(Backend):
    """Numbered image files as frames at `image_fps` (robot logs are often stored so)."""

    name = "images"

    def __init__(self, path: Path, size: int | tuple[int, int] | None, image_fps: float):
        import cv2

        self._cv2 = cv2
        self.path = path
        if not (image_fps > 0 and math.isfinite(image_fps)):
            raise ValueError(f"image_fps must be a positive number, got {image_fps}")
        files = sorted(
            (p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
            key=_natural_key,
        )
        if not files:
            raise NoImagesError(
                path, f"the folder holds no images ({', '.join(IMAGE_SUFFIXES)}); "
                "point at a folder of numbered frames or at a video file",
            )
        self.files = files
        first = self._read(files[0])
        h, w = first.shape[:2]
        self.out_size = _output_size(w, h, size)
        self.timestamps = np.arange(len(files), dtype=np.float64) / image_fps
        self.info = VideoInfo(
            path=str(path), backend=self.name, frame_count=len(files), native_fps=image_fps,
            duration=len(files) / image_fps, width=w, height=h, codec="images",
        )

    def _read(self, file: Path) -> np.ndarray:
        with _native_stderr_to_log():
            img = self._cv2.imread(str(file), self._cv2.IMREAD_COLOR)
        if img is None:
            raise FrameDecodeError(
                file, f"this image (frame {self.files.index(file)} of the folder) cannot be "
                "read; replace it or remove it",
            )
        return img

    def decode(self, indices: np.ndarray) -> np.ndarray:
        cv2 = self._cv2
        out = np.empty((len(indices), self.out_size[1], self.out_size[0], 3), np.uint8)
        for k, idx in enumerate(indices):
            img = self._read(self.files[int(idx)])
            if (img.shape[1], img.shape[0]) != self.out_size:
                img = cv2.resize(img, self.out_size, interpolation=cv2.INTER_AREA)
            cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=out[k])
        return out
