"""Reading video: one `VideoReader` over PyAV, decord, OpenCV and folders of numbered images.

Frames come out as uint8 RGB arrays with the presentation timestamps the container stores
(variable frame rate exists), resampled to a target rate and resized inside the decoder.
This package imports no other vidskill module: it is the bottom of the data flow.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidskill.video.backends import BACKENDS, open_file_backend
from vidskill.video.backends.base import Backend
from vidskill.video.backends.images import ImageFolderBackend
from vidskill.video.errors import NotAVideoError, OutOfRangeError, VideoNotFoundError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frames:
    """A run of decoded frames: uint8 RGB (T,H,W,3), container timestamps (s), native indices."""

    data: np.ndarray
    timestamps: np.ndarray
    indices: np.ndarray
    source: str
    fps: float

    def __post_init__(self) -> None:
        if self.data.ndim != 4 or self.data.shape[-1] != 3 or self.data.dtype != np.uint8:
            raise ValueError(
                f"Frames.data must be uint8 RGB of shape (T,H,W,3), got {self.data.dtype} "
                f"{self.data.shape}; convert grayscale with np.repeat(x[..., None], 3, -1)"
            )
        if not len(self.timestamps) == len(self.indices) == len(self.data):
            raise ValueError("Frames.data, timestamps and indices must have the same length")

    def __len__(self) -> int:
        return len(self.data)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of each frame."""
        return int(self.data.shape[2]), int(self.data.shape[1])

    def slice(self, start: int, stop: int) -> Frames:
        """Frames start..stop-1 as a new value (views, no copy)."""
        return Frames(
            self.data[start:stop], self.timestamps[start:stop], self.indices[start:stop],
            self.source, self.fps,
        )

    @staticmethod
    def concat(parts: Sequence[Frames]) -> Frames:
        """Join consecutive runs of one video into one value."""
        if not parts:
            raise ValueError("Frames.concat needs at least one part")
        return Frames(
            np.concatenate([p.data for p in parts]),
            np.concatenate([p.timestamps for p in parts]),
            np.concatenate([p.indices for p in parts]),
            parts[0].source, parts[0].fps,
        )


def _check_size(size: object) -> None:
    """Reject a size that is not None, a positive int or a pair of positive ints."""
    ok = size is None or (isinstance(size, int) and not isinstance(size, bool) and size > 0) or (
        isinstance(size, tuple | list) and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
    )
    if not ok:
        raise ValueError(
            f"size must be positive: a short side in pixels (e.g. 160) or (width, height), "
            f"got {size!r}"
        )


# Fewest frames per decoder worth a second decoder (opening one, and the run up from the
# keyframe before its first frame, cost about a GOP of decoding).
_MIN_SPLIT = 64


class VideoReader:
    """Random access, resampling and streaming over one video, whatever the backend.

    `fps` is the target sampling rate (None keeps every native frame); sampling never
    repeats a frame, so the output rate is at most the native one. `size` is the short
    side in pixels or a (width, height) pair, applied inside the decoder where it can be.
    """

    def __init__(
        self,
        source: str | os.PathLike,
        fps: float | None = None,
        size: int | tuple[int, int] | None = None,
        backend: str = "auto",
        image_fps: float = 30.0,
    ):
        path = Path(source).expanduser()
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if fps is not None and not (fps > 0 and math.isfinite(fps)):
            raise ValueError(f"fps must be a positive number, got {fps}")
        _check_size(size)
        if not path.exists():
            raise VideoNotFoundError(path, "no such file or folder; check the path")
        if path.is_dir() or backend == "images":
            if not path.is_dir():
                raise NotAVideoError(path, "backend 'images' needs a folder of image files")
            self._backend: Backend = ImageFolderBackend(path, size, image_fps)
        else:
            self._backend = open_file_backend(path, backend, size)
        self.path = path
        self.source = str(path)
        self.fps = fps
        self.size = self._backend.out_size
        self.info = self._backend.info
        self.native_timestamps = self._backend.timestamps
        ts = self.native_timestamps
        step = float(np.median(np.diff(ts))) if len(ts) > 1 else 1.0 / (fps or 1.0)
        # Timestamps are compared with this slack: decord stores them as float32, which is
        # off by ~1e-4 s after half an hour, and a frame lasts `step`.
        self.eps = max(1e-6, 1e-3 * step)
        self._step = step
        self.sample_indices = self._sample(ts, fps, step, self.eps)

    @staticmethod
    def _sample(ts: np.ndarray, fps: float | None, step: float, eps: float) -> np.ndarray:
        """Native indices shown at times t0 + k/fps (the frame on screen at each instant)."""
        if fps is None or len(ts) == 0:
            return np.arange(len(ts))
        end = ts[-1] + step
        # Every instant t0 + k/fps before the end of the last frame, end exclusive; `eps`
        # absorbs the float32 rounding of container timestamps (decord stores them so).
        grid = ts[0] + np.arange(int(math.ceil((end - ts[0] - eps) * fps))) / fps
        idx = np.searchsorted(ts, grid + eps, side="right") - 1
        return np.unique(np.clip(idx, 0, len(ts) - 1))

    def sampled_at(self, fps: float) -> np.ndarray:
        """The native indices a reader of this video at `fps` gives (those among this
        reader's own): one decode at a high rate then feeds consumers at lower ones."""
        picks = self._sample(self.native_timestamps, fps, self._step, self.eps)
        return np.intersect1d(picks, self.sample_indices)

    def __len__(self) -> int:
        """Number of frames at the target rate."""
        return len(self.sample_indices)

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._backend.close()

    @property
    def timestamps(self) -> np.ndarray:
        """Container timestamps (s) of the frames at the target rate."""
        return self.native_timestamps[self.sample_indices]

    def _frames(self, native: np.ndarray) -> Frames:
        data = self._backend.decode(native)
        rate = self.fps or self.info.native_fps
        return Frames(data, self.native_timestamps[native], native.astype(np.int64), self.source, rate)

    def _check_index(self, i: int, n: int, what: str) -> int:
        if not -n <= i < n:
            raise OutOfRangeError(
                self.path, f"{what} {i} is past the end: the video has {n} {what}s (0..{n - 1})"
            )
        return i % n

    def get_frame(self, index: int) -> Frames:
        """One native frame by its index in the container (0-based)."""
        i = self._check_index(int(index), self.info.frame_count, "frame")
        return self._frames(np.array([i]))

    def get_frames(self, indices: Sequence[int]) -> Frames:
        """Native frames by index, in the order given."""
        n = self.info.frame_count
        idx = np.array([self._check_index(int(i), n, "frame") for i in indices], dtype=np.int64)
        return self._frames(idx)

    def index_at(self, t: float) -> int:
        """Native index of the frame on screen at time t (seconds, container clock)."""
        ts = self.native_timestamps
        end = self.info.start_time + self.info.duration
        if not ts[0] - self.eps <= t < end - self.eps:
            raise OutOfRangeError(
                self.path, f"time {t:.3f}s is outside the video ({ts[0]:.3f}s to {end:.3f}s)"
            )
        return int(np.searchsorted(ts, t + self.eps, side="right") - 1)

    def frame_at(self, t: float) -> Frames:
        """The frame on screen at time t (seconds)."""
        return self._frames(np.array([self.index_at(t)]))

    def read(self, start: float | None = None, end: float | None = None) -> Frames:
        """Sampled frames with start <= timestamp < end (seconds; None = from/to the edge)."""
        sel = self._select(start, end)
        if len(sel) == 0:
            raise OutOfRangeError(
                self.path, f"no frame between {start}s and {end}s (the video lasts "
                f"{self.info.duration:.3f}s from {self.info.start_time:.3f}s)",
            )
        return self._frames(sel)

    def _select(self, start: float | None, end: float | None) -> np.ndarray:
        ts = self.timestamps
        lo = 0 if start is None else int(np.searchsorted(ts, start - self.eps, side="left"))
        hi = len(ts) if end is None else int(np.searchsorted(ts, end - self.eps, side="left"))
        return self.sample_indices[lo:hi]

    def _frames_parallel(self, native: np.ndarray, decoders: int) -> Frames:
        """`_frames(native)` decoded as `decoders` consecutive parts on parallel decoders (one
        thread each; the decoders release the GIL): the same frames, sooner, on idle cores."""
        parts = [p for p in np.array_split(native, decoders) if len(p)]
        twins: list[Backend | None] = []
        try:
            twins = [self._backend.twin() for _ in parts[1:]]
        except Exception:  # a second decoder is an optimisation: decode on the one open
            log.debug("no second decoder for %s", self.path, exc_info=True)
        if not twins or any(t is None for t in twins):
            for twin in twins:
                if twin is not None:
                    twin.close()
            return self._frames(native)
        try:
            data = np.empty((len(native), self.size[1], self.size[0], 3), np.uint8)
            bounds = np.cumsum([0] + [len(p) for p in parts])

            def run(k: int) -> None:
                backend = self._backend if k == 0 else twins[k - 1]
                data[bounds[k]:bounds[k + 1]] = backend.decode(parts[k])

            with ThreadPoolExecutor(len(parts), thread_name_prefix="vidskill-decode") as pool:
                for done in [pool.submit(run, k) for k in range(len(parts))]:
                    done.result()
        finally:
            for twin in twins:
                if twin is not None:
                    twin.close()
        rate = self.fps or self.info.native_fps
        return Frames(data, self.native_timestamps[native], native.astype(np.int64), self.source,
                      rate)

    def chunks(self, seconds: float = 10.0, overlap: float = 0.0, *,
               first_decoders: int = 1) -> Iterator[Frames]:
        """Stream sampled frames in runs of `seconds` of container time, memory one run at a time.

        Run k holds the frames with t0 + k*seconds <= timestamp < t0 + (k+1)*seconds (runs
        with no frame, in gaps of a variable-rate video, are skipped); with `overlap`, each
        run after the first starts again with the previous run's frames from its last
        `overlap` seconds, so windowed features see across the border. `first_decoders`
        decodes the first run on that many decoders at once (where the backend has a second
        decoder): for a consumer that overlaps decoding with its work from the second run
        on, the first is the one it waits for with cores idle.
        """
        if not (seconds > 0 and 0 <= overlap < seconds):
            raise ValueError(
                f"need seconds > 0 and 0 <= overlap < seconds, got {seconds}, {overlap}"
            )
        ts = self.timestamps
        if len(ts) == 0:
            return
        run = np.floor((ts - ts[0] + self.eps) / seconds).astype(np.int64)
        starts = np.flatnonzero(np.r_[True, run[1:] != run[:-1]])
        ends = np.r_[starts[1:], len(ts)]
        previous: Frames | None = None
        for k, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
            if k and overlap:
                border = ts[0] + run[lo] * seconds
                lo = max(starts[k - 1], int(np.searchsorted(ts, border - overlap - self.eps)))
            native = self.sample_indices[lo:hi]
            if k == 0 and first_decoders > 1 and len(native) >= _MIN_SPLIT * first_decoders:
                previous = self._frames_parallel(native, first_decoders)
            else:
                previous = self._after(previous, native)
            yield previous

    def _after(self, previous: Frames | None, native: np.ndarray) -> Frames:
        """Frames `native`, the ones `previous` ends with (a run's overlap) taken from it:
        decoding them again would mean seeking back to a keyframe before them."""
        shared = 0 if previous is None else int(np.count_nonzero(previous.indices >= native[0]))
        if not shared or not np.array_equal(previous.indices[-shared:], native[:shared]):
            return self._frames(native)
        kept = previous.slice(len(previous) - shared, len(previous))
        return Frames.concat([kept, self._frames(native[shared:])]) if shared < len(native) else kept


def open_video(
    source: str | os.PathLike,
    fps: float | None = None,
    size: int | tuple[int, int] | None = None,
    backend: str = "auto",
    image_fps: float = 30.0,
) -> VideoReader:
    """Open a video file or a folder of numbered images for reading.

    fps: target sampling rate (None = native); size: short side or (w, h); backend:
    'auto' (PyAV, then decord, then OpenCV), 'pyav', 'decord', 'opencv' or 'images'; image_fps: the rate
    of an image folder, which stores none.
    """
    return VideoReader(source, fps=fps, size=size, backend=backend, image_fps=image_fps)


def read_video(source: str | os.PathLike, **kwargs) -> Frames:
    """All sampled frames of a short video at once (use `chunks` for long ones)."""
    with open_video(source, **kwargs) as reader:
        return reader.read()
