"""Reading video: one `VideoReader` over decord, OpenCV and folders of numbered images.

Frames come out as uint8 RGB arrays with the presentation timestamps the container stores
(variable frame rate exists), resampled to a target rate and resized inside the decoder.
This module imports no other vidskill module: it is the bottom of the data flow.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".ts")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
BACKENDS = ("auto", "decord", "opencv", "images")
# Leading bytes of containers we know: a file that starts like one but will not open is damaged.
_CONTAINER_MAGIC = (b"\x1a\x45\xdf\xa3", b"RIFF", b"OggS", b"\x00\x00\x01\xba", b"FLV")


class VideoError(Exception):
    """Base of every error raised while reading video; `path` names the input."""

    def __init__(self, path: str | os.PathLike, message: str):
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


class VideoNotFoundError(VideoError, FileNotFoundError):
    """The path does not exist."""


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


# --------------------------------------------------------------------------------------
# backends: each opens one source and decodes native frame indices at one output size


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


class _Backend:
    """A decoder over native frame indices; subclasses fill `timestamps` and `info`."""

    name = ""
    timestamps: np.ndarray
    info: VideoInfo
    out_size: tuple[int, int]

    def decode(self, indices: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        """Release decoder resources."""

    def twin(self) -> _Backend | None:
        """A second decoder over the same file and size, to decode another part in parallel
        (same frames, bit for bit), or None when this backend has none."""
        return None


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


_DECORD_PREFIX = re.compile(r"\[\d\d:\d\d:\d\d\] \S+?:\d+: |Check failed: .*?\(-?\d+ vs\. -?\d+\)\s*")


def _decord_reason(e: Exception) -> str:
    """The human part of a decord error: its first line without source locations."""
    lines = [_DECORD_PREFIX.sub("", line).strip() for line in str(e).splitlines()]
    return next((line for line in lines if line), type(e).__name__)


class _DecordBackend(_Backend):
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

    def twin(self) -> _DecordBackend:
        other = copy.copy(self)  # shares the probed timestamps and info
        other._vr = other._open()
        return other


# Grabs tried after OpenCV's first failed one: a later success means damage, not the end.
_RESUME_PROBES = 8


class _OpenCVBackend(_Backend):
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


def _natural_key(p: Path) -> list:
    """Sort key that orders frame_2 before frame_10."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


class _ImageFolderBackend(_Backend):
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


def _open_file_backend(path: Path, backend: str, size) -> _Backend:
    """Open a video file with the requested backend; 'auto' tries decord, then OpenCV."""
    if path.stat().st_size == 0:
        raise EmptyVideoError(path, "the file is empty (0 bytes); re-copy or re-record it")
    order = {"auto": ("decord", "opencv"), "decord": ("decord",), "opencv": ("opencv",)}[backend]
    errors: list[str] = []
    for name in order:
        try:
            return _DecordBackend(path, size) if name == "decord" else _OpenCVBackend(path, size)
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
    with open(path, "rb") as f:
        head = f.read(12)
    if head[4:8] == b"ftyp" or head.startswith(_CONTAINER_MAGIC):
        raise CorruptVideoError(
            path, "it looks like a video container but cannot be decoded: it is probably "
            "truncated or damaged; re-copy it or repair it with ffmpeg -i IN -c copy OUT.mp4",
        )
    raise NotAVideoError(
        path, "no backend can decode it; it is not a video in a supported format "
        f"({', '.join(VIDEO_SUFFIXES)}) or a folder of images",
    )


# --------------------------------------------------------------------------------------

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
            self._backend: _Backend = _ImageFolderBackend(path, size, image_fps)
        else:
            self._backend = _open_file_backend(path, backend, size)
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
        self._eps = max(1e-6, 1e-3 * step)
        self.sample_indices = self._sample(ts, fps, step, self._eps)

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
        if not ts[0] - self._eps <= t < end - self._eps:
            raise OutOfRangeError(
                self.path, f"time {t:.3f}s is outside the video ({ts[0]:.3f}s to {end:.3f}s)"
            )
        return int(np.searchsorted(ts, t + self._eps, side="right") - 1)

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
        lo = 0 if start is None else int(np.searchsorted(ts, start - self._eps, side="left"))
        hi = len(ts) if end is None else int(np.searchsorted(ts, end - self._eps, side="left"))
        return self.sample_indices[lo:hi]

    def _frames_parallel(self, native: np.ndarray, decoders: int) -> Frames:
        """`_frames(native)` decoded as `decoders` consecutive parts on parallel decoders (one
        thread each; the decoders release the GIL): the same frames, sooner, on idle cores."""
        parts = [p for p in np.array_split(native, decoders) if len(p)]
        twins: list[_Backend | None] = []
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
        run = np.floor((ts - ts[0] + self._eps) / seconds).astype(np.int64)
        starts = np.flatnonzero(np.r_[True, run[1:] != run[:-1]])
        ends = np.r_[starts[1:], len(ts)]
        for k, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
            if k and overlap:
                border = ts[0] + run[lo] * seconds
                lo = max(starts[k - 1], int(np.searchsorted(ts, border - overlap - self._eps)))
            native = self.sample_indices[lo:hi]
            if k == 0 and first_decoders > 1 and len(native) >= _MIN_SPLIT * first_decoders:
                yield self._frames_parallel(native, first_decoders)
            else:
                yield self._frames(native)


def open_video(
    source: str | os.PathLike,
    fps: float | None = None,
    size: int | tuple[int, int] | None = None,
    backend: str = "auto",
    image_fps: float = 30.0,
) -> VideoReader:
    """Open a video file or a folder of numbered images for reading.

    fps: target sampling rate (None = native); size: short side or (w, h); backend:
    'auto' (decord, then OpenCV), 'decord', 'opencv' or 'images'; image_fps: the rate
    of an image folder, which stores none.
    """
    return VideoReader(source, fps=fps, size=size, backend=backend, image_fps=image_fps)


def read_video(source: str | os.PathLike, **kwargs) -> Frames:
    """All sampled frames of a short video at once (use `chunks` for long ones)."""
    with open_video(source, **kwargs) as reader:
        return reader.read()
