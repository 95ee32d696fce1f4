"""The Skill Boundary Detection (SBD) rule, as published, on a stream of prediction errors.

Deng et al. 2025 ("Open-World Skill Discovery from Unsegmented Demonstrations",
segmentation.py): for each step the error is appended to the history of the current
segment; once the history holds two or more errors, the step *flags* a boundary when
`error - mean(history including this error) > gap`. The flag stays raised until a boundary
is declared, which happens at the first step whose distance from the segment start is at
least `min_len` and which is flagged, carries an external event, or reaches `max_len`.
At a boundary the history is cleared and the caller's predictor state is reset (the
`reset` callback), so the next error is predicted from the new segment only. The error of
the very first step (nothing to predict it from) is skipped, as in the published code.

Here lengths are in seconds rather than steps, and several external events that fall
before one boundary are all consumed by it (the published code pops one per boundary,
which turns a burst of events into a burst of minimum-length segments).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RuleResult:
    """Boundaries found by the rule: step index, time (s), confidence and cause of each."""

    indices: np.ndarray
    times: np.ndarray
    scores: np.ndarray
    causes: tuple[str, ...]
    errors: np.ndarray


def boundary_confidence(excess: float, gap: float) -> float:
    """Map the largest `error - mean` seen in a segment to (0, 1): 0.5 at exactly `gap`."""
    if excess <= 0:
        return 0.0
    return float(excess / (excess + gap))


class SBDRule:
    """The SBD rule as an incremental state machine: `push(error, time)` per step."""

    def __init__(
        self,
        gap: float,
        min_len: float,
        max_len: float | None = None,
        events: Sequence[float] = (),
    ):
        if not gap > 0:
            raise ValueError(f"gap must be positive (nats of error above the mean), got {gap}")
        if min_len < 0 or (max_len is not None and max_len < min_len):
            raise ValueError(
                f"need 0 <= min_len <= max_len seconds, got min_len={min_len}, max_len={max_len}"
            )
        self.gap = float(gap)
        self.min_len = float(min_len)
        self.max_len = None if max_len is None else float(max_len)
        self._events = sorted(float(e) for e in events)
        self._history: list[float] = []
        self._start: float | None = None
        self._flag = False
        self._excess = 0.0

    def push(self, error: float, time: float) -> tuple[str, float] | None:
        """Feed one step; return (cause, confidence) when it starts a new segment, else None.
        A NaN error (nothing in the segment predicts this step yet) is skipped."""
        if math.isnan(error):
            return None
        if self._start is None:  # the first step has nothing to be predicted from
            self._start = time
            while self._events and self._events[0] <= time:
                self._events.pop(0)
            return None
        event = bool(self._events) and time >= self._events[0]
        self._history.append(float(error))
        if len(self._history) > 1:
            excess = float(error) - sum(self._history) / len(self._history)
            self._excess = max(self._excess, excess)
            if excess > self.gap:
                self._flag = True
        length = time - self._start
        if length < self.min_len - 1e-9:
            return None
        if self._flag:
            cause = "error"
        elif event:
            cause = "event"
        elif self.max_len is not None and length >= self.max_len - 1e-9:
            cause = "max_len"
        else:
            return None
        score = 1.0 if cause == "event" else boundary_confidence(self._excess, self.gap)
        while self._events and self._events[0] <= time:
            self._events.pop(0)
        self._history.clear()
        self._start = time
        self._flag = False
        self._excess = 0.0
        return cause, score


def sbd_rule(
    errors: Iterable[float],
    times: Sequence[float],
    gap: float,
    min_len: float,
    max_len: float | None = None,
    events: Sequence[float] = (),
    reset: Callable[[int], None] | None = None,
) -> RuleResult:
    """Run the SBD rule over per-step errors at `times` (s); `reset(i)` is called at each
    boundary i before the next error is read, so a lazy `errors` iterator can restart its
    predictor from step i (the published state reset)."""
    rule = SBDRule(gap, min_len, max_len, events)
    seen: list[float] = []
    found: list[tuple[int, str, float]] = []
    for i, error in enumerate(errors):
        if i >= len(times):
            raise ValueError(f"got more errors than times ({len(times)}); pass one time per error")
        seen.append(float(error))
        hit = rule.push(error, float(times[i]))
        if hit is not None:
            found.append((i, *hit))
            if reset is not None:
                reset(i)
    idx = np.array([f[0] for f in found], dtype=np.int64)
    return RuleResult(
        indices=idx,
        times=np.asarray(times, dtype=np.float64)[idx] if len(idx) else np.zeros(0),
        scores=np.array([f[2] for f in found], dtype=np.float64),
        causes=tuple(f[1] for f in found),
        errors=np.asarray(seen, dtype=np.float64),
    )
