"""The OpenCV backend: counts frames by their timestamps, the fallback when decord fails."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidskill.video.backends.base import (
    Backend,
    VideoInfo,
    _fourcc,
    _native_stderr_to_log,
    _output_size,
)
from vidskill.video.errors import (
    BackendUnavailableError,
    CorruptVideoError,
    EmptyVideoError,
    FrameDecodeError,
    NotAVideoError,
)

# Grabs tried after OpenCV's first failed one: a later success means damage, not the end.
_RESUME_PROBES = 8


class OpenCVBackend(Backend):
    name = "opencv"

    def __init__(self, path: Path, size: int | tuple[int, int] | None):
        try:
            import cv2
        except ImportError as e:
            raise BackendUnavailableError(
                path, "OpenCV is not installed; pip install opencv-python-headless"
            ) from e
        self._cv2 = cv2
        self.path = path
        with _native_stderr_to_log():
            cap = cv2.VideoCapture(str(path))
            try:
                if not cap.isOpened():
                    raise NotAVideoError(path, "OpenCV cannot open it")
                expected = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
                fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
                rotation = int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0) % 360
                codec = _fourcc(cap)
                # One pass of grab() reads every frame's timestamp without converting pixels.
                ok, first = cap.read()
                times = [cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0] if ok else []
                while ok and cap.grab():
                    times.append(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
                resumed = any(cap.grab() for _ in range(_RESUME_PROBES))
            finally:
                cap.release()
        if not times:
            if expected or resumed:
                raise CorruptVideoError(
                    path, "OpenCV opens it but cannot decode a single frame: it is damaged or "
                    "truncated; re-copy it or re-encode it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4",
                )
            raise EmptyVideoError(path, "the container holds no decodable video frames")
        if resumed or expected - len(times) > max(1, 0.02 * expected):
            raise FrameDecodeError(
                path, f"decoding fails after frame {len(times) - 1} (t={times[-1]:.3f}s) of "
                f"{expected}: the file is damaged or truncated there; re-encode it, e.g. "
                f"ffmpeg -i IN -c:v libx264 OUT.mp4, or keep the part before with "
                f"ffmpeg -i IN -t {times[-1]:.3f} -c copy OUT.mp4",
            )
        ts = np.asarray(times, dtype=np.float64)
        # OpenCV applies the display rotation itself (CAP_PROP_ORIENTATION_AUTO).
        disp_h, disp_w = first.shape[:2]
        self.out_size = _output_size(disp_w, disp_h, size)
        self.timestamps = ts
        step = float(np.median(np.diff(ts))) if len(ts) > 1 else (1.0 / fps if fps else 0.0)
        self._tolerance = 0.5 * step if step else 1e-3
        self.info = VideoInfo(
            path=str(path), backend=self.name, frame_count=len(ts),
            native_fps=fps or (1.0 / step if step else 0.0),
            duration=float(ts[-1] - ts[0] + step), width=disp_w, height=disp_h,
            rotation=rotation, start_time=float(ts[0]), codec=codec,
        )
        self._cap = cv2.VideoCapture(str(path))
        self._next = 0

    def _read(self, idx: int) -> np.ndarray | None:
        """Native frame idx (BGR), by grabbing forward or seeking, checked by its timestamp."""
        cv2 = self._cv2
        if idx < self._next or idx - self._next > 64:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, idx)
            self._next = idx
        while self._next < idx:
            self._cap.grab()
            self._next += 1
        ok, frame = self._cap.read()
        self._next += 1
        if ok and abs(self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 - self.timestamps[idx]) > (
            self._tolerance
        ):
            # The seek landed on another frame (possible with variable frame rate):
            # count frames from the start instead, as the timestamp pass did.
            self._cap.release()
            self._cap = cv2.VideoCapture(str(self.path))
            for _ in range(idx):
                self._cap.grab()
            ok, frame = self._cap.read()
            self._next = idx + 1
        return frame if ok else None

    def decode(self, indices: np.ndarray) -> np.ndarray:
        cv2 = self._cv2
        out = np.empty((len(indices), self.out_size[1], self.out_size[0], 3), np.uint8)
        for k, idx in enumerate(indices):
            with _native_stderr_to_log():
                frame = self._read(int(idx))
            if frame is None:
                raise FrameDecodeError(
                    self.path, f"frame {idx} could not be decoded; the file is damaged there: "
                    "re-encode it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4",
                )
            if (frame.shape[1], frame.shape[0]) != self.out_size:
                frame = cv2.resize(frame, self.out_size, interpolation=cv2.INTER_AREA)
            cv2.cvtColor(frame, cv2.COLOR_BGR2RGB, dst=out[k])
        return out

    def close(self) -> None:
        self._cap.release()
