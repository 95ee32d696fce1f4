"""The PyAV backend (FFmpeg through PyAV): the default, the cheapest decoder per frame.

Every native frame must be decoded (H.264 frames refer to each other), but only the frames
asked for are converted to RGB at the target size; FFmpeg's frame threads decode in parallel.
Where the output is a quarter of the native size or less, the decoder skips its in-loop
deblocking filter (edges of 4-8 px blocks that the resize averages away). 4:2:0 frames are
shrunk plane by plane before the colour matrix (`yuv420_to_rgb`): cheaper than swscale's
AREA, closer to a true area average of the RGB frame, and without the GIL. Frame timestamps
come from the packet index (no decoding at open), and decoding goes on from where the last
call stopped, so a stream of consecutive chunks decodes the file once.
"""

from __future__ import annotations

import copy
import functools
import os
from array import array
from pathlib import Path

import numpy as np

from vidskill.video.backends.base import Backend, VideoInfo, _native_stderr_to_log, _output_size
from vidskill.video.errors import (
    BackendUnavailableError,
    CorruptVideoError,
    EmptyVideoError,
    FrameDecodeError,
)

# Frames ahead of the decoder's position beyond which a seek (to the keyframe before the
# frame wanted) beats decoding forward: about two GOPs of common camera files.
SEEK_AHEAD = 120
# Deblocking is skipped where the output is at most this fraction of the native width and
# height: an 8 px block edge is then 2 px or less of the output, averaged away by the resize
# (measured at 160 px: 0.5-1.3 grey levels from the filtered decode, mean over frames).
SKIP_DEBLOCK_BELOW = 0.25
# FFmpeg's frame threads: its automatic count is cores + 1 (at most 16), raised to 8 where
# 8 frames fit in FRAME_BUDGET bytes. The thread that takes decoded frames also converts
# them, and more frames in flight keep the cores busy meanwhile (720p30 at 160 px on 2
# cores: `segment`'s decode and features 9.3 s with 3 threads, 8.3 s with 8, +20 MiB of
# peak); 4K frames (12 MB each) keep FFmpeg's count.
AUTO_THREADS = min(16, (os.cpu_count() or 1) + 1)
FRAME_BUDGET = 32 << 20


def frame_threads(width: int, height: int) -> int:
    """Frame threads for a stream of 8-bit 4:2:0 frames of this size (see FRAME_BUDGET)."""
    return max(AUTO_THREADS, min(8, FRAME_BUDGET // max(width * height * 3 // 2, 1)))


# Y'CbCr -> R'G'B' weights (Kr, Kb) by FFmpeg colorspace number; others read as BT.601,
# which is what swscale assumes for an unspecified one.
_KR_KB = {1: (0.2126, 0.0722), 9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}
_PLANAR_420 = ("yuv420p", "yuvj420p")
# A container index may promise a frame or two more than the packets hold (edit lists);
# more missing than this is a truncated file.
_MISSING_SLACK = 0.02


def _repair_hint(t: float) -> str:
    return ("the file is damaged or truncated there; re-encode it, e.g. ffmpeg -i IN -c:v "
            f"libx264 OUT.mp4, or keep the part before with ffmpeg -i IN -t {t:.3f} -c copy "
            "OUT.mp4")


@functools.lru_cache(maxsize=16)
def yuv_matrix(colorspace: int, full_range: bool) -> np.ndarray:
    """The 3x4 affine map from (Y', Cb, Cr) codes to R'G'B' (ITU-R BT.601/709/2020)."""
    kr, kb = _KR_KB.get(int(colorspace), (0.299, 0.114))
    kg = 1.0 - kr - kb
    ys, cs, y0 = (1.0, 1.0, 0.0) if full_range else (255 / 219, 255 / 224, 16.0)
    m = np.array([[ys, 0.0, cs * 2 * (1 - kr)],
                  [ys, -cs * 2 * (1 - kb) * kb / kg, -cs * 2 * (1 - kr) * kr / kg],
                  [ys, cs * 2 * (1 - kb), 0.0]])
    return np.hstack([m, (-m @ np.array([y0, 128.0, 128.0]))[:, None]]).astype(np.float32)


def shrink(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    """`plane` at (width, height): halved by 2x2 means while it is twice that or more (the
    area average at its cheapest), then bilinear over the last factor, under 2."""
    import cv2

    while plane.shape[1] >= 2 * width and plane.shape[0] >= 2 * height:
        plane = cv2.resize(plane, (plane.shape[1] // 2, plane.shape[0] // 2),
                           interpolation=cv2.INTER_AREA)
    if plane.shape[:2] == (height, width):
        return plane
    return cv2.resize(plane, (width, height), interpolation=cv2.INTER_LINEAR)


def yuv420_to_rgb(frame, width: int, height: int) -> np.ndarray:
    """A planar 4:2:0 frame as uint8 RGB of (width, height): each plane shrunk to that size
    first (`shrink`; OpenCV releases the GIL), then the colour matrix per output pixel."""
    import cv2

    planes = [shrink(np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, :p.width],
                     width, height) for p in frame.planes[:3]]
    full = frame.format.name == "yuvj420p" or int(frame.color_range) == 2
    return cv2.transform(cv2.merge(planes), yuv_matrix(int(frame.colorspace), full))


class PyAVBackend(Backend):
    """FFmpeg through PyAV: frame threads, timestamps from the packet index, and only the
    frames asked for converted (at the target size)."""

    name = "pyav"

    def __init__(self, path: Path, size: int | tuple[int, int] | None):
        try:
            import av
        except ImportError as e:
            raise BackendUnavailableError(path, "PyAV is not installed; pip install av") from e
        self._av = av
        self.path = path
        with _native_stderr_to_log():
            container = av.open(str(path))
        try:
            if not container.streams.video:
                raise EmptyVideoError(
                    path, "the container opens but holds no video stream (no frames: audio "
                    "only, or a recording that never got a frame); give a file with video in it")
            stream = container.streams.video[0]
            pts, end = self._index(container, stream)
            tb = float(stream.time_base)
            expected = int(stream.frames or 0)
            if expected - len(pts) > max(1, _MISSING_SLACK * expected):
                t = float((pts[-1] - pts[0]) * tb)
                raise FrameDecodeError(
                    path, f"decoding fails after frame {len(pts) - 1} (t={t:.3f}s) of "
                    f"{expected}: {_repair_hint(t)}")
            container.seek(0, stream=stream)
            with _native_stderr_to_log():
                first = next(container.decode(stream), None)
            if first is None:
                raise EmptyVideoError(path, "the container holds no decodable video frames")
            rate = stream.average_rate or stream.guessed_rate
        finally:
            container.close()
        # FFmpeg leaves the display rotation to the player: applied here, as decord does.
        self._turns = int(round((first.rotation or 0) / 90)) % 4
        w, h = first.width, first.height
        disp_w, disp_h = (h, w) if self._turns % 2 else (w, h)
        self.out_size = _output_size(disp_w, disp_h, size)
        self._threads = frame_threads(w, h)
        self._small = (self.out_size[0] <= SKIP_DEBLOCK_BELOW * disp_w
                       and self.out_size[1] <= SKIP_DEBLOCK_BELOW * disp_h)
        self._pts = pts   # sorted: a frame's index is found by bisection, with no dict
        self.timestamps = (pts - pts[0]).astype(np.float64) * tb
        step = float(np.median(np.diff(self.timestamps))) if len(pts) > 1 else 0.0
        fps = float(rate) if rate else (1.0 / step if step else 0.0)
        duration = float((end - pts[0]) * tb) if end > pts[-1] else float(
            self.timestamps[-1] + (step or (1.0 / fps if fps else 0.0)))
        self.info = VideoInfo(
            path=str(path), backend=self.name, frame_count=len(pts), native_fps=fps,
            duration=duration, width=disp_w, height=disp_h, rotation=(-90 * self._turns) % 360,
            start_time=0.0, codec=stream.codec_context.name,
        )
        self._open()

    def _index(self, container, stream) -> tuple[np.ndarray, int]:
        """Sorted presentation timestamps of the stream's packets (time_base units), and
        where the last one ends: read from the index and packet headers, nothing decoded."""
        pts, end = array("q"), 0   # 8 bytes a packet, not a Python int
        try:
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                pts.append(packet.pts)
                end = max(end, packet.pts + (packet.duration or 0))
        except self._av.error.FFmpegError:
            if not pts:
                raise
        if not pts:  # a video stream is declared but none of it can be read
            raise CorruptVideoError(self.path, "the video stream holds no readable packet")
        return np.unique(np.frombuffer(pts, np.int64)), end

    def _open(self) -> None:
        """A decoding container with FFmpeg's frame threads, before the first frame."""
        with _native_stderr_to_log():
            self._container = self._av.open(str(self.path))
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._stream.codec_context.thread_count = self._threads
        if self._small:
            self._stream.codec_context.options = {"skip_loop_filter": "all"}
        self._frames = None   # the decode iterator, from the last seek on
        self._next = 0        # index of the next frame it yields (None: unknown)

    def _seek(self, index: int) -> None:
        """Position the decoder on the keyframe at or before native frame `index`."""
        self._container.seek(int(self._pts[index]), stream=self._stream, backward=True)
        self._frames = self._container.decode(self._stream)
        self._next = None

    def _convert(self, frame) -> np.ndarray:
        """uint8 RGB at the output size, display rotation applied."""
        w, h = self.out_size
        if self._turns % 2:
            w, h = h, w
        if frame.format.name in _PLANAR_420 and w < frame.width and h < frame.height:
            rgb = yuv420_to_rgb(frame, w, h)
        else:
            rgb = frame.to_ndarray(width=w, height=h, format="rgb24", interpolation="AREA")
        return np.ascontiguousarray(np.rot90(rgb, self._turns)) if self._turns else rgb

    def decode(self, indices: np.ndarray) -> np.ndarray:
        out = np.empty((len(indices), self.out_size[1], self.out_size[0], 3), np.uint8)
        order = np.argsort(indices, kind="stable")
        k = 0
        # No fd-2 redirect here: PyAV drops FFmpeg's log lines by default (av.logging level
        # None), and one held across a chunk would also swallow the main thread's progress.
        while k < len(order):
            want = int(indices[order[k]])
            frame = self._decode_to(want)
            row = self._convert(frame)
            while k < len(order) and int(indices[order[k]]) == want:
                out[order[k]] = row
                k += 1
        return out

    def _decode_to(self, want: int):
        """The decoded native frame `want`, decoding forward from the current position or
        from a seek; frames on the way are decoded but not converted."""
        if self._frames is None or self._next is None or want < self._next or (
                want - self._next > SEEK_AHEAD):
            self._seek(want)
        try:
            for frame in self._frames:
                i = self._index_of(frame.pts)
                if i is None:
                    continue
                self._next = i + 1
                if i == want:
                    return frame
                if i > want:
                    break
        except self._av.error.FFmpegError as e:
            self._frames = None
            t = float(self.timestamps[want])
            raise FrameDecodeError(
                self.path, f"decoding fails around frame {want} (t={t:.3f}s: {e}); "
                f"{_repair_hint(t)}") from None
        self._frames = None
        t = float(self.timestamps[want])
        raise FrameDecodeError(
            self.path, f"decoding fails around frame {want} (t={t:.3f}s: the decoder gives "
            f"no frame there); {_repair_hint(t)}")

    def _index_of(self, pts: int | None) -> int | None:
        """The native index of the packet with presentation time `pts`, if any."""
        if pts is None:
            return None
        i = int(np.searchsorted(self._pts, pts))
        return i if i < len(self._pts) and self._pts[i] == pts else None

    def close(self) -> None:
        self._frames = None
        if getattr(self, "_container", None) is not None:
            self._container.close()
            self._container = None

    def twin(self) -> PyAVBackend:
        other = copy.copy(self)  # shares the index, timestamps and info
        other._open()
        return other
