"""Clip files: one video file per segment, playable in a browser.

A clip holds the source frames whose timestamps lie in [start, end) (what a segment list
means). When those frames begin and end at keyframes of a stream that browsers play in MP4
(H.264, VP9, AV1) and the video is not rotated, the packets are copied unchanged (fast,
lossless). Otherwise the frames are decoded and re-encoded as H.264 MP4 (libx264,
yuv420p, +faststart), which Chromium, Firefox and Safari all play; the PyAV wheel ships
libx264 and libvpx-vp9, and H.264 is the one of the two that Safari plays too.
Clips carry no audio.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from vidskill._files import replacing
from vidskill.errors import VidskillError
from vidskill.video import VideoError, open_video

# Codecs every current browser decodes from an MP4 file; others (MPEG-4 part 2, HEVC,
# ProRes, ...) are re-encoded.
BROWSER_CODECS = ("h264", "vp9", "av1")
CODEC = "libx264"
# libx264 settings: CRF 23 is x264's own default quality; "veryfast" encodes a 1080p frame
# in a few ms on one core at a modest size cost; yuv420p is the only chroma layout all
# browsers decode.
X264_OPTIONS = {"crf": "23", "preset": "veryfast"}
TIME_BASE = Fraction(1, 1000)  # ms: exact enough for any frame rate, and VFR-safe
READ_SECONDS = 2.0  # frames decoded at a time while re-encoding (bounds memory)


class ClipExportError(VidskillError):
    """A clip could not be written (bad range, unreadable source, encoder failure)."""


@dataclass(frozen=True)
class ClipFile:
    """One written clip: where, which span of the source, how many frames, copied or not."""

    path: Path
    start: float
    end: float
    frames: int
    copied: bool


def write_clip(source: str | os.PathLike, start: float, end: float, out: str | os.PathLike,
               *, copy: bool = True, height: int | None = None) -> ClipFile:
    """Write the frames of `source` with start <= timestamp < end to `out` (.mp4).

    `copy=False` always re-encodes; `height` scales a taller source down to that many
    pixels (re-encoding it; None keeps the source size).
    """
    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise ClipExportError(f"{out}: clips are written as .mp4 (H.264); name the file .mp4")
    if not end > start:
        raise ClipExportError(f"{source}: empty clip range [{start}, {end}) s")
    try:
        with open_video(source) as reader:
            ts = reader.native_timestamps
            info = reader.info
            inside = np.flatnonzero((ts >= start - 1e-6) & (ts < end - 1e-6))
            if len(inside) == 0:
                raise ClipExportError(
                    f"{source}: no frame between {start:.3f} s and {end:.3f} s (the video "
                    f"lasts {info.duration:.3f} s from {info.start_time:.3f} s)")
            first, last = int(inside[0]), int(inside[-1])
            after = float(ts[last + 1]) if last + 1 < len(ts) else None
            scale = height is not None and height < reader.size[1]
            if copy and not scale and info.rotation == 0 and Path(source).is_file():
                codec, keys = _stream(str(Path(source).resolve()), os.stat(source).st_mtime_ns)
                if (codec in BROWSER_CODECS and _is_key(keys, float(ts[first]))
                        and (after is None or _is_key(keys, after))):
                    _copy_packets(Path(source), float(ts[first]), after, out)
                    return ClipFile(out, start, end, len(inside), True)
            _encode(reader, float(ts[first]), float(ts[last]), out, height, info.native_fps)
    except VideoError as e:
        raise ClipExportError(f"cannot cut a clip from {source}: {e}") from e
    return ClipFile(out, start, end, len(inside), False)


@lru_cache(maxsize=64)
def _stream(path: str, _mtime: int) -> tuple[str, np.ndarray]:
    """The video stream's codec name and its keyframes' presentation times (s), read from
    the packets alone (no decoding); cached per file version for the clips of one video."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        keys = [float(p.pts * p.time_base) for p in container.demux(stream)
                if p.is_keyframe and p.pts is not None]
        return stream.codec_context.name, np.array(sorted(keys))


def _is_key(keys: np.ndarray, t: float) -> bool:
    return bool(len(keys)) and float(np.min(np.abs(keys - t))) < 1e-4


def _copy_packets(source: Path, first: float, after: float | None, out: Path) -> None:
    """Copy the packets of the GOPs from the keyframe at `first` up to the one at `after`."""
    import av

    with av.open(str(source)) as src, replacing(out) as tmp:
        stream = src.streams.video[0]
        tb = stream.time_base
        offset = int(round(first / tb))
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as dst:
            copy = dst.add_stream_from_template(stream)
            src.seek(offset, stream=stream, backward=True, any_frame=False)
            for packet in src.demux(stream):
                if packet.pts is None or packet.dts is None:
                    continue
                t = float(packet.pts * tb)
                if after is not None and packet.is_keyframe and t >= after - 1e-4:
                    break
                if t < first - 1e-4:
                    continue
                packet.pts -= offset
                packet.dts -= offset
                packet.stream = copy
                dst.mux(packet)


def _frames(reader, first: float, last: float) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(images, timestamps) of the native frames first..last, a few seconds at a time."""
    t = first
    while t <= last:
        part = reader.read(t, min(t + READ_SECONDS, last + 1e-3))
        yield part.data, part.timestamps
        t += READ_SECONDS


def _encode(reader, first: float, last: float, out: Path, height: int | None,
            fps: float) -> None:
    """Re-encode the native frames first..last as H.264 MP4, timestamps kept (from 0)."""
    import av

    w, h = reader.size
    if height is not None and height < h:
        w, h = w * height / h, height
    w, h = max(2, int(round(w / 2)) * 2), max(2, int(round(h / 2)) * 2)  # yuv420p: even sides
    try:
        with replacing(out) as tmp, av.open(str(tmp), "w", format="mp4",
                                            options={"movflags": "+faststart"}) as dst:
            stream = dst.add_stream(CODEC, rate=Fraction(fps).limit_denominator(1001),
                                    options=X264_OPTIONS)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.codec_context.time_base = TIME_BASE
            last_pts = -1
            for images, times in _frames(reader, first, last):
                for image, t in zip(images, times, strict=True):
                    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), "rgb24")
                    frame = frame.reformat(w, h, "yuv420p")
                    last_pts = max(last_pts + 1, int(round((t - first) / TIME_BASE)))
                    frame.pts, frame.time_base = last_pts, TIME_BASE
                    for packet in stream.encode(frame):
                        dst.mux(packet)
            for packet in stream.encode():
                dst.mux(packet)
    except av.FFmpegError as e:
        raise ClipExportError(f"{out}: encoding failed ({e})") from e
