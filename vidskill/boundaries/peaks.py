"""Peak picking shared by the signal-based baselines: smoothing, robust threshold, spacing."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def robust_spread(values: np.ndarray) -> float:
    """1.4826 * median absolute deviation: the standard deviation for Gaussian data,
    unmoved by the few large errors at boundaries."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def step_noise(signals: Iterable[np.ndarray]) -> float:
    """Robust standard deviation of the noise in signals (one per video), measured on their
    changes from one sample to the next (`robust_spread` of first differences / sqrt 2, the
    usual noise estimate in change-point detection): a signal that sits at a higher level
    for long stretches (an unsure encoder) does not inflate it. Non-finite samples skipped."""
    steps = [np.diff(x[np.isfinite(x)]) for x in map(np.asarray, signals)]
    return robust_spread(np.concatenate([np.zeros(0), *steps])) / float(np.sqrt(2))


def smooth(signal: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing with `sigma` samples (edges padded with the edge value)."""
    if sigma <= 0 or len(signal) < 2:
        return np.asarray(signal, dtype=np.float64)
    radius = int(np.ceil(3 * sigma))
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    padded = np.pad(np.asarray(signal, dtype=np.float64), radius, mode="edge")
    return np.convolve(padded, kernel / kernel.sum(), mode="valid")


def pick_peaks(signal: np.ndarray, times: np.ndarray, threshold: float,
               min_distance: float) -> np.ndarray:
    """Indices of local maxima above `threshold`, at least `min_distance` s apart, strongest
    kept first (non-maximum suppression), returned in time order."""
    s = np.asarray(signal, dtype=np.float64)
    if len(s) < 3:
        return np.zeros(0, dtype=np.int64)
    inner = (s[1:-1] > s[:-2]) & (s[1:-1] >= s[2:]) & (s[1:-1] > threshold)
    cand = np.flatnonzero(inner) + 1
    kept: list[int] = []
    for i in cand[np.argsort(-s[cand], kind="stable")]:
        if all(abs(times[i] - times[j]) >= min_distance for j in kept):
            kept.append(int(i))
    return np.array(sorted(kept), dtype=np.int64)
