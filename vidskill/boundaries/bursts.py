"""Error bursts: which of the SBD rule's declarations are skill changes, and where each one is.

A change shows as a burst of prediction error. The rule declares at a burst's onset, again
inside it once `min_len` has passed, and sometimes right after its own reset (the fresh
GRU's warm-up), so `ErrorBursts` groups declarations by burst in the never-reset errors and
drops those with no burst there. A burst is a change only if it persists: `ChangeTest`
asks the predictor, having read the segment before the burst, how far the windows after the
burst lie from what it expects (a transient flip of the features comes back to where it
was), and places the boundary where the burst's windows split best between the two sides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from vidskill.boundaries.inference import PredictionErrors


@dataclass(frozen=True)
class Burst:
    """Steps [start, stop) of one burst and the largest confidence declared inside it."""

    start: int
    stop: int
    confidence: float


@dataclass(frozen=True)
class ErrorBursts:
    """Declarations grouped by burst of the unreset error (NLL) `errors`.

    A burst is the declared step, the `horizon` steps after it, and on while the error stays
    above `level` (the video's median error + GAP), at most `limit` seconds past its first
    declaration; declarations inside it join it.
    """

    errors: np.ndarray
    times: np.ndarray
    level: float
    horizon: int
    limit: float

    @classmethod
    def above_gap(cls, errors: np.ndarray, times: np.ndarray, gap: float, horizon: int,
                  limit: float) -> ErrorBursts:
        """Bursts rise above the video's median error by more than `gap`: what the rule
        counts as surprise, measured against the typical error rather than a segment's mean."""
        finite = errors[np.isfinite(errors)]
        level = float(np.median(finite)) + gap if len(finite) else np.inf
        return cls(errors, times, level, horizon, limit)

    def merge(self, declared: np.ndarray, scores: np.ndarray) -> list[Burst]:
        """One `Burst` per group of declarations; those whose burst never rises above
        `level` in the unreset errors (reset echoes) are dropped."""
        e = np.where(np.isfinite(self.errors), self.errors, -np.inf)
        bursts = []
        k = 0
        while k < len(declared):
            first = int(declared[k])
            stop, best, j = first + self.horizon + 1, float(scores[k]), first
            while j < len(e) and (j < stop or (
                    e[j] > self.level and self.times[j] - self.times[first] <= self.limit)):
                j += 1
                while k + 1 < len(declared) and declared[k + 1] < j:
                    k += 1
                    best = max(best, float(scores[k]))
                    stop = max(stop, int(declared[k]) + self.horizon + 1)
            if e[first:j].max(initial=-np.inf) > self.level:
                bursts.append(Burst(first, j, best))
            k += 1
        return bursts


@dataclass(frozen=True)
class Change:
    """A boundary: its time (s), `at` (the first window of the new segment), confidence, and
    `shift`, how far the features moved (squared distance over 2 D, see `ChangeTest`)."""

    time: float
    at: int
    confidence: float
    shift: float


@dataclass(frozen=True)
class ChangeTest:
    """The change a burst makes, measured with the predictor of `stream`.

    "After" is `horizon` windows from the burst's end, or from `settle` seconds (min_len)
    after its start if that is later: by then a new skill is still on, while a flicker
    shorter than `settle`, which may span two bursts (onset and return), is over. With
    `context` windows (at most; none before the previous boundary) before the burst and
    those after it, the shift is the predictor's miss across the gap (it reads the windows
    before, skips the gap, and predicts those after) and the boundary splits the gap's
    windows between the means before and after (least squares). Without them (at the ends
    of a video), the burst's largest unreset miss and its step. Shifts
    are divided by 2 D, the mean squared distance between two independent windows of
    standardised D-dimensional features: a skill change moves the features a good part of
    that, a transient flip comes back to where it was.
    """

    stream: PredictionErrors
    misses: np.ndarray
    centres: np.ndarray
    junctions: np.ndarray
    context: int
    settle: float

    @cached_property
    def standardised(self) -> np.ndarray:
        """The video's features in the predictor's units, fetched once (from the GPU, say)."""
        return self.stream.standardised()

    def __call__(self, burst: Burst, since: int) -> Change:
        h = self.stream.model.config.horizon
        z = self.standardised
        scale = 2.0 * z.shape[1]
        before = max(since, burst.start - self.context)
        after = max(burst.stop, int(np.searchsorted(
            self.junctions, self.junctions[burst.start] + self.settle - 1e-9)))
        if burst.start - before < h or after + h > len(z):
            m = self.misses[burst.start:burst.stop]
            step = burst.start + int(np.argmax(np.where(np.isfinite(m), m, -np.inf)))
            return Change(float(self.junctions[step]), step, burst.confidence,
                          float(np.nan_to_num(self.misses[step])) / scale)
        shift = self.stream.miss_across(before, burst.start, after) / scale
        lo = max(burst.start - h, before + 1)
        at = lo + split_point(z[lo:after], z[burst.start - h:burst.start].mean(0),
                              z[after:after + h].mean(0))
        time = (self.centres[at - 1] + self.centres[min(at, len(z) - 1)]) / 2
        return Change(float(time), at, burst.confidence, shift)


def split_point(windows: np.ndarray, before: np.ndarray, after: np.ndarray) -> int:
    """k in 1 .. len(windows)-1 that splits `windows` best into a part near the mean
    `before` and a part near `after` (least squares); the index of the first `after` one."""
    if len(windows) < 2:
        return len(windows)
    to_before = ((windows - before) ** 2).sum(1)
    to_after = ((windows - after) ** 2).sum(1)
    cost = np.cumsum(to_before)[:-1] + (to_after.sum() - np.cumsum(to_after)[:-1])
    return 1 + int(np.argmin(cost))


def keep_apart(changes: Sequence[Change], min_len: float) -> list[Change]:
    """Of two changes closer than `min_len` seconds (placement can move a boundary by up to
    a burst), the one whose features moved more."""
    kept: list[Change] = []
    for c in changes:
        if kept and c.time - kept[-1].time < min_len - 1e-9:
            if c.shift > kept[-1].shift:
                kept[-1] = c
            continue
        kept.append(c)
    return kept
