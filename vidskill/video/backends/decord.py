"""The decord backend: decodes at the target size inside the decoder (the fast default)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np

from vidskill.video.backends.base import (
    Backend,
    VideoInfo,
    _container_meta,
    _native_stderr_to_log,
    _output_size,
)
from vidskill.video.errors import BackendUnavailableError, EmptyVideoError, FrameDecodeError

_DECORD_PREFIX = re.compile(r"\[\d\d:\d\d:\d\d\] \S+?:\d+: |Check failed: .*?\(-?\d+ vs\. -?\d+\)\s*")


def _decord_reason(e: Exception) -> str:
    """The human part of a decord error: its first line without source locations."""
    lines = [_DECORD_PREFIX.sub("", line).strip() for line in str(e).splitlines()]
    return next((line for line in lines if line), type(e).__name__)


class DecordBackend(Backend):
    name = "decord"

    def __init__(self, path: Path, size: int | tuple[int, int] | None):
        try:
            import decord
        except ImportError as e:
            raise BackendUnavailableError(path, "decord is not installed; pip install decord") from e
        decord.logging.set_level(decord.logging.QUIET)
        self._decord = decord
        self.path = path
        with _native_stderr_to_log():
            probe = decord.VideoReader(str(path), num_threads=1)
            n = len(probe)
            if n == 0:
                raise EmptyVideoError(path, "the container holds no video frames")
            # decord 0.6.0 applies the container's display rotation itself: frame 0 has display size.
            disp_h, disp_w = probe[0].shape[:2]
            ts = probe.get_frame_timestamp(np.arange(n))
            fps = float(probe.get_avg_fps())
            del probe
        self.out_size = _output_size(disp_w, disp_h, size)
        self._resize = self.out_size != (disp_w, disp_h)
        self._vr = self._open()
        self.timestamps = np.asarray(ts[:, 0], dtype=np.float64)
        rotation, codec = _container_meta(path)
        self.info = VideoInfo(
            path=str(path), backend=self.name, frame_count=n, native_fps=fps,
            duration=float(ts[-1, 1] - ts[0, 0]), width=disp_w, height=disp_h,
            rotation=rotation, start_time=float(ts[0, 0]), codec=codec,
        )

    def _open(self):
        """A fresh decord reader that resizes inside the decoder when a size was asked for."""
        w, h = self.out_size
        kwargs = {"width": w, "height": h} if self._resize else {}
        with _native_stderr_to_log():
            return self._decord.VideoReader(str(self.path), num_threads=0, **kwargs)

    def _park(self) -> None:
        """Stop decord's decoder thread from reading ahead after a batch.

        After `get_batch`, decord 0.6.0's decoder thread goes on decoding the rest of the
        video into an unbounded queue (dmlc/decord#157, #208) while the caller works on the
        frames: ~300 MB/s at 160 px, so a slow consumer such as optical flow held 0.6-1.5 GB
        after one 30 s chunk, and the wasted decoding took CPU from it. Seeking flushes that
        queue and parks the thread; the next batch seeks to its first frame anyway.
        """
        with _native_stderr_to_log():
            self._vr.seek(0)

    def decode(self, indices: np.ndarray) -> np.ndarray:
        try:
            with _native_stderr_to_log():
                out = self._vr.get_batch([int(i) for i in indices]).asnumpy()
            self._park()
            return out
        except self._decord.DECORDError:
            # Read-ahead can fail a batch whose frames each decode alone, and a failed reader
            # stays broken: decode one frame at a time on fresh readers to find the bad one.
            self._vr = None
            self._vr = self._open()
        out = np.empty((len(indices), self.out_size[1], self.out_size[0], 3), np.uint8)
        for k, idx in enumerate(indices):
            try:
                with _native_stderr_to_log():
                    out[k] = self._vr.get_batch([int(idx)]).asnumpy()[0]
            except self._decord.DECORDError as e:
                self._vr = None
                self._vr = self._open()
                raise FrameDecodeError(
                    self.path, f"decoding fails around frame {idx} (t={self.timestamps[idx]:.3f}s: "
                    f"{_decord_reason(e)}); the file is damaged or truncated there: re-encode "
                    "it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4, or read only the part before",
                ) from None
        self._park()
        return out

    def close(self) -> None:
        self._vr = None

    def twin(self) -> DecordBackend:
        other = copy.copy(self)  # shares the probed timestamps and info
        other._vr = other._open()
        return other
