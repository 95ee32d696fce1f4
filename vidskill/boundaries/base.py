"""The `Boundaries` value, `Segment`, and the `BoundaryDetector` base class."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Self

import numpy as np

from vidskill.encoders.base import Features


@dataclass(frozen=True)
class Segment:
    """One clip: [start, end) in seconds, an optional label, and the confidence and kind of
    the boundary that starts it ('cut', 'fade', 'skill'; 'start' for a video's first)."""

    start: float
    end: float
    label: str | None = None
    score: float = 1.0
    kind: str = "skill"

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Boundaries:
    """Boundary times (s) with a confidence each, and the per-window signal they came from."""

    times: np.ndarray
    scores: np.ndarray
    signal: np.ndarray
    signal_times: np.ndarray
    start: float
    end: float

    @classmethod
    def none(cls, features: Features) -> Boundaries:
        """No boundary over the span of `features` (what a too-short video gets)."""
        start = float(features.starts[0]) if len(features) else 0.0
        end = float(features.ends[-1]) if len(features) else 0.0
        return cls(np.zeros(0), np.zeros(0), np.zeros(len(features)),
                   features.times.astype(np.float64), start, end)

    def segments(self) -> list[Segment]:
        """The clips between consecutive boundaries, covering [start, end)."""
        edges = [self.start, *[float(t) for t in self.times], self.end]
        conf = [1.0, *[float(s) for s in self.scores]]
        kinds = ["start", *["skill"] * len(self.times)]
        return [Segment(a, b, score=c, kind=k)
                for a, b, c, k in zip(edges[:-1], edges[1:], conf, kinds, strict=True) if b > a]

    def trimmed(self, min_len: float, keep: np.ndarray | None = None) -> Boundaries:
        """Without the boundaries that would leave a first or last segment shorter than
        `min_len` seconds (the detectors' minimum applies at the video's ends too); those
        where `keep` is true stay."""
        t = np.asarray(self.times, dtype=np.float64)
        ok = (t - self.start >= min_len - 1e-9) & (self.end - t >= min_len - 1e-9)
        if keep is not None:
            ok |= np.asarray(keep, dtype=bool)
        return replace(self, times=t[ok], scores=np.asarray(self.scores)[ok])


class BoundaryDetector(ABC):
    """scikit-learn / ruptures style: `fit` on a corpus of features, then `detect` on one video.

    Every setting is an explicit keyword argument of `__init__`, kept under the same name
    (the ruptures convention), so `get_params` can report what a detector ran with.
    `min_windows` is the fewest windows a detector needs; with fewer, `detect` returns no
    boundary, the same way for every detector.
    """

    name: ClassVar[str]
    min_windows: ClassVar[int] = 2

    @property
    def needs_fit(self) -> bool:
        """Whether `detect` needs `fit` first (SBD without a named predictor)."""
        return False

    def fit(self, corpus: Iterable[Features]) -> Self:
        """Learn from a corpus of videos' features; nothing to learn by default."""
        return self

    def reduction(self, encoder: str) -> Callable[[Features], Features] | None:
        """A function giving all this (fitted) detector reads of `encoder`'s features, row
        by row, so a caller that keeps features only to cut them can keep that instead;
        None: it reads them whole (the default)."""
        return None

    def check_features(self, encoder: str) -> None:
        """Raise a ConfigError, before any video is read, when this detector cannot cut
        features of `encoder` (SBD without a predictor for them); most can cut any."""
        return None

    def detect(self, features: Features, actions: np.ndarray | None = None) -> Boundaries:
        """Boundaries of one video, times inside [first window start, last window end).
        `actions`: one integer per window, read only by detectors that model actions (SBD)."""
        if len(features) < self.min_windows:
            return Boundaries.none(features)
        return self._detect(features, actions)

    @abstractmethod
    def _detect(self, features: Features, actions: np.ndarray | None) -> Boundaries:
        """`detect` for a video with at least `min_windows` windows."""

    def get_params(self) -> dict[str, Any]:
        """The `__init__` settings this detector holds, by name."""
        names = [p for p in inspect.signature(type(self)).parameters
                 if p not in ("args", "kwargs")]
        return {name: getattr(self, name) for name in names}
