"""Segment a video end to end: stream its features, detect boundaries, list the segments.

`segment(path)` is the library's one-call entry point (as `scenedetect.detect` is).

Frames are decoded chunk by chunk by the encoder's streaming helper, so memory holds one
chunk of frames and the (small) features of the whole video, whatever its length. The file
is opened once, and a thread decodes the next chunk while flow runs on this one.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import numpy as np

from vidskill.boundaries import get_detector
from vidskill.boundaries.base import BoundaryDetector, Segment
from vidskill.boundaries.io import SegmentList
from vidskill.encoders import FLOW_SIZE, TooShortError, encode_video, get_encoder
from vidskill.encoders.base import Encoder, Features
from vidskill.errors import ConfigError
from vidskill.video import PrefetchReader, VideoReader

# Segmenting needs finer steps than retrieval: a boundary is no more precise than the window
# stride, so windows of 1 s start every 0.1 s (10 windows per second of video).
SEGMENT_ENCODER = ("flow-hof", {"window": 1.0, "stride": 0.1})
SEGMENT_DETECTOR = "sbd"


def segment_encoder(name: str = SEGMENT_ENCODER[0], **settings) -> Encoder:
    """An encoder with the segmenting defaults (`SEGMENT_ENCODER`) unless overridden."""
    defaults = SEGMENT_ENCODER[1] if name == SEGMENT_ENCODER[0] else {}
    return get_encoder(name, **{**defaults, **settings})


def video_features(source: str | os.PathLike | VideoReader,
                   encoder: Encoder | str = SEGMENT_ENCODER[0], fps: float = 10.0,
                   cache: str | os.PathLike | None = None) -> Features:
    """Features of a whole video (a path, or a reader open at its fps and size); empty (0
    windows) when it is shorter than one window."""
    enc = segment_encoder(encoder) if isinstance(encoder, str) else encoder
    try:
        return encode_video(source, enc, fps=fps, cache=cache)
    except TooShortError:
        return enc.empty(source.source if isinstance(source, VideoReader) else str(source))


def segment_video(
    source: str | os.PathLike,
    detector: BoundaryDetector,
    encoder: Encoder | str = SEGMENT_ENCODER[0],
    fps: float = 10.0,
    cache: str | os.PathLike | None = None,
) -> SegmentList:
    """Segments covering the whole video (one segment when it is too short to encode); named
    by their skill when the encoder's features are class posteriors (`classes`, skill-tcn)."""
    enc = segment_encoder(encoder) if isinstance(encoder, str) else encoder
    with PrefetchReader(source, fps=fps, size=FLOW_SIZE) as reader:
        info = reader.info
        features = video_features(reader, enc, fps, cache)
    boundaries = detector.detect(features)
    start, end = info.start_time, info.start_time + info.duration
    inside = (boundaries.times > start) & (boundaries.times < end)
    boundaries = replace(boundaries, times=boundaries.times[inside],
                         scores=boundaries.scores[inside], start=start, end=end)
    settings = {k: v for k, v in detector.get_params().items()
                if isinstance(v, (int, float, str, bool, type(None)))}
    segments = boundaries.segments()
    if enc.classes:
        segments = name_segments(segments, features, enc.classes)
    return SegmentList(tuple(segments), info.duration, info.native_fps, start,
                       str(source), detector.name, {"encoder": features.encoder, "fps": fps,
                                                    **settings},
                       signal_times=np.asarray(boundaries.signal_times, np.float64),
                       signal=np.asarray(boundaries.signal, np.float64))


def segment(
    source: str | os.PathLike,
    detector: BoundaryDetector | str = SEGMENT_DETECTOR,
    encoder: Encoder | str = SEGMENT_ENCODER[0],
    *,
    fps: float = 10.0,
    cache: str | os.PathLike | None = None,
    **settings: Any,
) -> SegmentList:
    """The segments of a video in one call: `detector` is a detector or a registry name built
    with `settings`; `encoder` an encoder or a name (with the segmenting defaults)."""
    if isinstance(detector, str):
        detector = get_detector(detector, **settings)
    elif settings:
        raise ConfigError(f"settings {sorted(settings)} are for a detector given by name; "
                          "this one is already built")
    return segment_video(source, detector, encoder, fps, cache)


def name_segments(segments: list[Segment], features: Features, classes: list[str]
                  ) -> list[Segment]:
    """Label each segment with the class of largest mean posterior over the windows centred
    in it (features are square roots of posteriors); a segment holding no window centre
    stays unlabelled."""
    posterior = np.asarray(features.data, dtype=np.float64) ** 2
    out = []
    for seg in segments:
        inside = (features.times >= seg.start) & (features.times < seg.end)
        label = classes[int(posterior[inside].mean(0).argmax())] if inside.any() else None
        out.append(replace(seg, label=label))
    return out
