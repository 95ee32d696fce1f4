"""The `Boundaries` value, `Segment`, and the `BoundaryDetector` protocol."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

import numpy as np

from vidskill.encoders.base import Features


@dataclass(frozen=True)
class Segment:
    """One skill clip: [start, end) in seconds, with an optional label and confidence."""

    start: float
    end: float
    label: str | None = None
    score: float = 1.0

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

    def segments(self) -> list[Segment]:
        """The clips between consecutive boundaries, covering [start, end)."""
        edges = [self.start, *[float(t) for t in self.times], self.end]
        conf = [1.0, *[float(s) for s in self.scores]]
        return [Segment(a, b, score=c) for a, b, c in zip(edges[:-1], edges[1:], conf, strict=True) if b > a]

    def trimmed(self, min_len: float, keep: np.ndarray | None = None) -> Boundaries:
        """Without the boundaries that would leave a first or last segment shorter than
        `min_len` seconds (the detectors' minimum applies at the video's ends too); those
        where `keep` is true stay."""
        t = np.asarray(self.times, dtype=np.float64)
        ok = (t - self.start >= min_len - 1e-9) & (self.end - t >= min_len - 1e-9)
        if keep is not None:
            ok |= np.asarray(keep, dtype=bool)
        return replace(self, times=t[ok], scores=np.asarray(self.scores)[ok])


@runtime_checkable
class BoundaryDetector(Protocol):
    """scikit-learn style: `fit` on a corpus of features, then `detect` on one video."""

    name: str

    def fit(self, corpus: Iterable[Features]) -> BoundaryDetector: ...

    def detect(self, features: Features) -> Boundaries: ...
