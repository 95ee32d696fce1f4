"""`UVDDetector` ("uvd"): the Universal Visual Decomposer (Zhang et al., ICRA 2024).

Within one demonstration, walk back from the last window, the first goal: the embedding
distance from every earlier window to the goal should fall as the demonstration approaches
it. The curve is smoothed (Nadaraya-Watson regression with an RBF kernel over time, as the
authors' `KernelRegression`) and its latest local maximum at least `min_interval` before the
goal (and after the start) is where the previous subgoal was reached: a boundary, and the
next goal. The walk repeats until no such maximum is left. This is `embedding_decomp` of
the authors' code (`uvd/decomp/decomp.py`), on any encoder's features.

Published defaults (`DEFAULT_DECOMP_KWARGS["embed"]`) are in steps of the embeddings:
min_interval = 18 steps and RBF gamma = 0.08 / step^2 (sigma = 1 / sqrt(2 gamma) = 2.5
steps), set on FrankaKitchen at 12.5 steps per second (frame skip 40 x 2 ms). Here they are
seconds so they mean the same at any fps and window stride: min_interval = 18 / 12.5 =
1.44 s and sigma = 2.5 / 12.5 = 0.2 s. `normalize_curve` is left out: dividing the curve by
a constant moves no maximum.

A boundary's score is the topographic prominence of its maximum on the smoothed curve
divided by the curve's range (0..1): how clearly the demonstration moved away from the goal
before reaching that subgoal. The signal is that curve, piece by piece: in each segment the
smoothed distance to the segment's own goal, scaled to 0..1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import argrelextrema, peak_prominences

from vidskill.boundaries.base import Boundaries, BoundaryDetector
from vidskill.encoders.base import Features

PUBLISHED_RATE = 12.5        # steps/s of FrankaKitchen, where the published steps were set
PUBLISHED_MIN_INTERVAL = 18  # steps
PUBLISHED_GAMMA = 0.08       # RBF gamma, 1 / steps^2


def kernel_smooth(y: np.ndarray, sigma: float) -> np.ndarray:
    """Nadaraya-Watson regression of y on its index with a Gaussian kernel of `sigma` steps:
    the kernel-weighted mean at each index, edges renormalised (kernel cut at 4 sigma,
    where its weight is below 1e-3 of the centre's)."""
    y = np.asarray(y, dtype=np.float64)
    if sigma <= 0 or len(y) < 2:
        return y
    num = gaussian_filter1d(y, sigma, mode="constant", cval=0.0)
    den = gaussian_filter1d(np.ones_like(y), sigma, mode="constant", cval=0.0)
    return num / den


@dataclass(frozen=True)
class Walk:
    """One step of the walk back: the goal's index, the smoothed distance curve to it (one
    value per window up to the goal) and the subgoal found on it (-1: none, the walk ends)."""

    goal: int
    curve: np.ndarray
    found: int


def decompose(embeddings: np.ndarray, min_interval: int, sigma: float) -> list[Walk]:
    """UVD's walk back over one demonstration (steps), last goal first."""
    e = np.asarray(embeddings, dtype=np.float64)
    goal, walks = len(e) - 1, []
    while goal > min_interval:
        curve = kernel_smooth(np.linalg.norm(e[:goal + 1] - e[goal], axis=1), sigma)
        maxima = argrelextrema(curve, np.greater)[0]
        ok = maxima[(goal - maxima > min_interval) & (maxima > min_interval)]
        found = int(ok[-1]) if len(ok) else -1
        walks.append(Walk(goal, curve, found))
        if found < 0:
            break
        goal = found
    return walks


class UVDDetector(BoundaryDetector):
    """UVD subgoals as boundaries (see the module doc); training-free, one video at a time.

    min_interval: seconds a subgoal needs on each side, from the goal and from the start
    (published: 18 steps at 12.5 steps/s = 1.44 s). sigma: the smoothing kernel's width in
    seconds (published: gamma 0.08 / step^2 at 12.5 steps/s = 0.2 s). Both assume subgoals
    of a few seconds, as in tabletop manipulation; the walk needs curves that fall towards
    each goal, so features that change with progress (appearance, visual representations),
    not per-window motion alone.
    """

    name = "uvd"
    min_windows = 3

    def __init__(self, min_interval: float = PUBLISHED_MIN_INTERVAL / PUBLISHED_RATE,
                 sigma: float = 1.0 / np.sqrt(2.0 * PUBLISHED_GAMMA) / PUBLISHED_RATE):
        if not (min_interval > 0 and sigma >= 0):
            raise ValueError(f"need min_interval > 0 and sigma >= 0 (seconds), got "
                             f"{min_interval}, {sigma}")
        self.min_interval = float(min_interval)
        self.sigma = float(sigma)

    def _detect(self, features: Features, actions: np.ndarray | None) -> Boundaries:
        """Subgoal ends; a boundary lies halfway between the subgoal's window and the next."""
        times = features.times.astype(np.float64)
        start, end = float(features.starts[0]), float(features.ends[-1])
        hop = float(np.median(np.diff(times)))
        steps = max(1, int(round(self.min_interval / hop)))
        walks = decompose(features.data, steps, self.sigma / hop)
        signal = np.zeros(len(features))
        for w in walks:
            top = float(w.curve.max())
            signal[w.found + 1:w.goal + 1] = w.curve[w.found + 1:] / top if top > 0 else 0.0
        found = [w for w in walks if w.found >= 0][::-1]
        at = np.array([(times[w.found] + times[w.found + 1]) / 2 for w in found])
        scores = np.array([_prominence(w.curve, w.found) for w in found])
        return Boundaries(at.reshape(-1), scores.reshape(-1), signal, times, start, end)


def _prominence(curve: np.ndarray, peak: int) -> float:
    """Prominence of the maximum at `peak` relative to the curve's range, 0..1."""
    span = float(curve.max() - curve.min())
    if span <= 0:
        return 0.0
    return float(np.clip(peak_prominences(curve, [peak])[0][0] / span, 0.0, 1.0))
