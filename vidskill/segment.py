"""Segment videos end to end: shots first, then skills inside each shot.

`segment(path)` is the library's one-call entry point (as `scenedetect.detect` is);
`segment_videos(paths)` segments several and fits the detector once on all of them.

Per video, one decode: the frames the encoder reads stream through the shot detector too
(hard cuts and fades, `vidskill.shots`), then the features are split by shot, dropping every
window that spans a cut, so no window (nor the flow pairs in it) crosses one. The boundary
detector (SBD by default, its predictor fitted on the videos at hand, self-supervised) runs
on each shot separately, so its state starts fresh at every cut. Every boundary has a
confidence and a kind: 'cut' or 'fade' from the shot stage, 'skill' from the detector.

Frames are decoded chunk by chunk (the file opened once, a thread decoding the next
chunk while flow runs on this one), so memory holds one chunk of frames. The features go to
temporary files as they are made (motion-kin: ~4 KB per window, 20 windows a second, ~80 KB
of disk per second of video) and are read back a block of rows at a time, reduced to what
the detector reads (`vidskill.encoders.spill`), so memory does not grow with the video.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from vidskill.boundaries import get_detector
from vidskill.boundaries.base import Boundaries, BoundaryDetector, Segment
from vidskill.boundaries.io import SegmentList
from vidskill.encoders import FLOW_SIZE, TooShortError, encode_video, get_encoder
from vidskill.encoders.base import Encoder, Features
from vidskill.errors import ConfigError
from vidskill.shots import DEFAULT_SHOTS, ShotDetector, Shots, get_shot_detector
from vidskill.video import PrefetchReader, VideoInfo

# The defaults of `vidskill segment`, `ingest --detector sbd` and the API, in one place.
# Skills in manipulation video change within a few frames, so the default encoder reads
# every native frame (fps None) in short windows (motion-kin: 0.25 s every 0.05 s); other
# encoders keep their own windows at SEGMENT_FPS_OTHER.
SEGMENT_ENCODER = ("motion-kin", {})
SEGMENT_DETECTOR = "sbd"
SEGMENT_SHOTS = DEFAULT_SHOTS
SEGMENT_FPS: float | None = None
# flow-hof for segmenting: a boundary is no more precise than the window stride, so 1 s
# windows start every 0.1 s; at 10 fps (the rate its figures were measured at).
ENCODER_DEFAULTS = {"flow-hof": {"window": 1.0, "stride": 0.1}}
SEGMENT_FPS_OTHER = 10.0
SEGMENT_SIZE = FLOW_SIZE
# A learning detector is fitted on at most this much video: SBD's predictor draws 400
# batches of 32 sequences of 32 windows (~410,000), so 10 minutes of motion-kin windows
# (12,000) are each drawn ~34 times; more video adds little to the fit but costs memory
# (~80 KB per second) and, in `ingest`, a decode. The sample is the first seconds of
# videos taken in an order spread over the corpus (`fit_order`, `FitBudget`), each giving an
# equal share of what is left and at least FIT_VIDEO_SECONDS (a shot or two, not a glimpse).
FIT_SECONDS = 600.0
FIT_VIDEO_SECONDS = 20.0


def segment_encoder(name: str = SEGMENT_ENCODER[0], **settings) -> Encoder:
    """An encoder with the segmenting defaults unless overridden."""
    defaults = SEGMENT_ENCODER[1] if name == SEGMENT_ENCODER[0] else ENCODER_DEFAULTS.get(name, {})
    return get_encoder(name, **{**defaults, **settings})


def default_fps(encoder: Encoder | str) -> float | None:
    """The decode rate segmenting uses for `encoder`: native for the default encoder."""
    name = encoder if isinstance(encoder, str) else encoder.name
    return SEGMENT_FPS if name == SEGMENT_ENCODER[0] else SEGMENT_FPS_OTHER


def video_features(source: str | os.PathLike,
                   encoder: Encoder | str = SEGMENT_ENCODER[0],
                   fps: float | None | str = "default", cache: str | os.PathLike | None = None
                   ) -> Features:
    """Features of a whole video, no shot stage; empty (0 windows) when it is shorter than
    one window."""
    enc = segment_encoder(encoder) if isinstance(encoder, str) else encoder
    rate = default_fps(enc) if fps == "default" else fps
    try:
        return encode_video(source, enc, fps=rate, size=SEGMENT_SIZE, cache=cache)
    except TooShortError:
        return enc.empty(str(source))


@dataclass(frozen=True)
class ShotFeatures:
    """One video decoded once: its info, features, shots, and the features of each shot."""

    source: str
    info: VideoInfo
    features: Features
    shots: Shots
    parts: tuple[Features, ...]

    @property
    def start(self) -> float:
        return float(self.info.start_time)

    @property
    def end(self) -> float:
        return float(self.info.start_time + self.info.duration)


def inside(features: Features, start: float, end: float, frame: float) -> Features:
    """The windows of the shot [start, end) of a video whose frames are `frame` seconds
    apart: those starting at or after its first frame and ending half a frame before its
    end. A window pools the flow pairs that end within a quarter frame of its end, so none
    of these holds the pair from the shot's last frame to the next shot's first."""
    keep = np.flatnonzero((features.starts >= start - 1e-6)
                          & (features.ends <= end - frame / 2 + 1e-6))
    if len(keep) == len(features):
        return features   # one shot: no copy of a long video's features
    if len(keep) and keep[-1] - keep[0] + 1 == len(keep):
        keep = slice(int(keep[0]), int(keep[-1]) + 1)   # a run of rows: views, no copy
    return Features(features.data[keep], features.starts[keep], features.ends[keep],
                    features.encoder, features.settings, features.source)


def split_shots(features: Features, shots: Shots, start: float, end: float, frame: float
                ) -> tuple[Features, ...]:
    """The windows of each shot of a video spanning [start, end), frames `frame` s apart
    (the last shot keeps every window to the video's end: no cut follows it)."""
    spans = shots.spans(start, end)
    return tuple(inside(features, a, b + (frame if k == len(spans) - 1 else 0.0), frame)
                 for k, (a, b) in enumerate(spans))


def shot_features(source: str | os.PathLike, encoder: Encoder | str = SEGMENT_ENCODER[0],
                  shots: ShotDetector | str | None = SEGMENT_SHOTS, *,
                  fps: float | None | str = "default", size: int = SEGMENT_SIZE,
                  spill: bool = True) -> ShotFeatures:
    """Decode `source` once: features, and shots from the same frames (None: no shot stage).
    spill: keep the features in a temporary file, mapped (see the module doc)."""
    enc = segment_encoder(encoder) if isinstance(encoder, str) else encoder
    rate = default_fps(enc) if fps == "default" else fps
    detector = get_shot_detector(shots) if isinstance(shots, str) else shots
    with PrefetchReader(source, fps=rate, size=size) as reader:
        info = reader.info
        if detector is not None:
            detector.reset()
        try:
            features = encode_video(reader, enc, spill=spill,
                                    on_frames=None if detector is None else detector.push)
        except TooShortError:
            features = enc.empty(str(source))
    found = detector.finish() if detector is not None else Shots()
    start, end = float(info.start_time), float(info.start_time + info.duration)
    frame = 1.0 / float(rate or info.native_fps or 30.0)
    return ShotFeatures(str(source), info, features, found,
                        split_shots(features, found, start, end, frame))


def fit_detector(detector: BoundaryDetector, videos: Sequence[ShotFeatures]) -> bool:
    """Fit `detector` on the shots of `videos` when it needs fitting (self-supervised), on
    the sample `fit_order` and `FitBudget` choose (all of it up to FIT_SECONDS); False when
    they hold too little to fit on (each shot then stays one segment)."""
    budget, chosen = FitBudget(len(videos)), {}
    for i in fit_order(len(videos)):
        if budget.spent:
            break
        chosen[i] = fit_parts(videos[i].parts, budget.share())
        budget.spend(videos[i].end - videos[i].start)
    return fit_on_shots(detector, [p for i in sorted(chosen) for p in chosen[i]])


def fit_order(n: int) -> list[int]:
    """0..n-1 in an order spread over the list (0, then the multiples of the largest power
    of two below n, then the odd multiples of each smaller power), so a fit sample that
    stops early still draws on the whole corpus."""
    return [0, *sorted(range(1, n), key=lambda i: (-(i & -i).bit_length(), i))][:n]


class FitBudget:
    """How many seconds from the start of each video in `fit_order` a detector is fitted on:
    an equal share of the FIT_SECONDS left among the videos left, at least FIT_VIDEO_SECONDS
    and at most what is left (a short video leaves the share it does not use to the rest)."""

    def __init__(self, videos: int):
        self.left, self.videos = FIT_SECONDS, videos

    @property
    def spent(self) -> bool:
        return self.left <= 1e-9

    def share(self) -> float:
        return min(self.left, max(FIT_VIDEO_SECONDS, self.left / max(self.videos, 1)))

    def spend(self, duration: float) -> None:
        """A video of `duration` seconds has given its share (or all it had)."""
        self.left -= min(max(duration, 0.0), self.share())
        self.videos -= 1


def fit_parts(parts: Sequence[Features], seconds: float) -> list[Features]:
    """The windows of one video's shots `parts` that end within `seconds` of its first
    window's start (views; windows are in time order)."""
    present = [p for p in parts if len(p)]
    if not present:
        return []
    end = float(present[0].starts[0]) + seconds + 1e-6
    out = []
    for p in present:
        n = int(np.searchsorted(p.ends, end, side="right"))
        if n:
            out.append(p if n == len(p) else Features(p.data[:n], p.starts[:n], p.ends[:n],
                                                       p.encoder, p.settings, p.source))
    return out


def fit_on_shots(detector: BoundaryDetector, parts: Sequence[Features]) -> bool:
    """`fit_detector` on the features of shots."""
    if not detector.needs_fit:
        return True
    corpus = [p for p in parts if len(p) >= detector.min_windows]
    if not corpus:
        return False
    try:
        detector.fit(corpus)
    except ValueError:   # every shot shorter than a window and the next one
        return False
    return True


def shot_segments(parts: Sequence[Features], shots: Shots, start: float, end: float,
                  detector: BoundaryDetector | None) -> tuple[list[Segment], Boundaries]:
    """Segments covering [start, end): the shot boundaries, then `detector`'s inside each
    shot's features `parts` (None: shots only); and the detector's signal over all shots."""
    bounds = [(c.time, c.score, c.kind) for c in shots.cuts if start < c.time < end]
    signal_t, signal = [], []
    for part in parts:
        if detector is None or len(part) < detector.min_windows:
            continue
        found = detector.detect(part)
        bounds += [(float(t), float(s), "skill") for t, s in zip(found.times, found.scores,
                                                                  strict=True)]
        signal_t.append(np.asarray(found.signal_times, np.float64))
        signal.append(np.asarray(found.signal, np.float64))
    bounds = sorted(b for b in bounds if start < b[0] < end)
    edges = [(start, 1.0, "start"), *bounds]
    segments = [Segment(a[0], b, score=a[1], kind=a[2])
                for a, b in zip(edges, [*[e[0] for e in bounds], end], strict=True) if b > a[0]]
    times = np.array([b[0] for b in bounds])
    trace = Boundaries(times, np.array([b[1] for b in bounds]),
                       np.concatenate(signal) if signal else np.zeros(0),
                       np.concatenate(signal_t) if signal_t else np.zeros(0), start, end)
    return segments, trace


def cut_video(video: ShotFeatures, detector: BoundaryDetector | None,
              encoder: Encoder, fps: float | None) -> SegmentList:
    """The segments of one decoded video: its shot boundaries, then `detector`'s inside each
    shot (None: shots only); named by skill when the encoder's features are posteriors."""
    start, end = video.start, video.end
    segments, trace = shot_segments(video.parts, video.shots, start, end, detector)
    if encoder.classes:
        segments = name_segments(segments, video.features, encoder.classes)
    params = {} if detector is None else {
        k: v for k, v in detector.get_params().items()
        if isinstance(v, (int, float, str, bool, type(None)))}
    return SegmentList(
        tuple(segments), video.info.duration, video.info.native_fps, start, video.source,
        detector.name if detector is not None else "shots",
        {"encoder": video.features.encoder, "fps": fps, "shots": video.shots.detector,
         **params},
        signal_times=trace.signal_times, signal=trace.signal,
        cuts=tuple(c.time for c in video.shots.cuts if start < c.time < end))


def segment_videos(
    sources: Sequence[str | os.PathLike],
    detector: BoundaryDetector | str = SEGMENT_DETECTOR,
    encoder: Encoder | str = SEGMENT_ENCODER[0],
    *,
    shots: ShotDetector | str | None = SEGMENT_SHOTS,
    fps: float | None | str = "default",
    **settings: Any,
) -> list[SegmentList]:
    """The segments of several videos; a detector that learns (SBD without a named
    predictor) is fitted once on all their shots, without labels."""
    if isinstance(detector, str):
        detector = get_detector(detector, **settings)
    elif settings:
        raise ConfigError(f"settings {sorted(settings)} are for a detector given by name; "
                          "this one is already built")
    enc = segment_encoder(encoder) if isinstance(encoder, str) else encoder
    detector.check_features(enc.name)
    rate = default_fps(enc) if fps == "default" else fps
    videos = [shot_features(s, enc, shots, fps=rate) for s in sources]
    fitted = fit_detector(detector, videos)
    return [cut_video(v, detector if fitted else None, enc, rate) for v in videos]


def segment(
    source: str | os.PathLike,
    detector: BoundaryDetector | str = SEGMENT_DETECTOR,
    encoder: Encoder | str = SEGMENT_ENCODER[0],
    *,
    shots: ShotDetector | str | None = SEGMENT_SHOTS,
    fps: float | None | str = "default",
    **settings: Any,
) -> SegmentList:
    """The segments of one video in one call (a learning detector fits on this video):
    `detector` is a detector or a registry name built with `settings`; `encoder` an encoder
    or a name (with the segmenting defaults); `shots` a shot detector, a name, or None."""
    return segment_videos([source], detector, encoder, shots=shots, fps=fps, **settings)[0]


def name_segments(segments: list[Segment], features: Features, classes: list[str]
                  ) -> list[Segment]:
    """Label each segment with the class of largest mean posterior over the windows centred
    in it (features are square roots of posteriors); a segment holding no window centre
    stays unlabelled."""
    posterior = np.asarray(features.data, dtype=np.float64) ** 2
    out = []
    for seg in segments:
        within = (features.times >= seg.start) & (features.times < seg.end)
        label = classes[int(posterior[within].mean(0).argmax())] if within.any() else None
        out.append(replace(seg, label=label))
    return out
