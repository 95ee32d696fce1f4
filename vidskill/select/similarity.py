"""Similarity between two feature sequences: mean-pool cosine and dynamic time warping.

Mean pooling forgets order; DTW aligns the two window sequences (allowing different speeds
and durations) and averages the cosine similarity along the best alignment.
"""

from __future__ import annotations

import numpy as np

from vidskill.encoders.base import Features


def _array(x: Features | np.ndarray) -> np.ndarray:
    a = x.data if isinstance(x, Features) else np.asarray(x, dtype=np.float32)
    return a[None] if a.ndim == 1 else a


def _check(a: np.ndarray, b: np.ndarray) -> None:
    from vidskill.errors import DimensionMismatchError

    if a.shape[-1] != b.shape[-1]:
        raise DimensionMismatchError(
            f"cannot compare features of dimension {a.shape[-1]} and {b.shape[-1]}: "
            "they come from different encoders or settings"
        )
    if len(a) == 0 or len(b) == 0:
        raise ValueError("cannot compare an empty feature sequence (no windows)")


def mean_pool(x: Features | np.ndarray) -> np.ndarray:
    """One L2-normalised vector for a clip: the mean of its window features."""
    v = _array(x).astype(np.float64).mean(0)
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def cosine(a: Features | np.ndarray, b: Features | np.ndarray) -> float:
    """Cosine similarity of the mean-pooled sequences (or of two vectors), in [-1, 1]."""
    x, y = _array(a), _array(b)
    _check(x, y)
    return float(mean_pool(x) @ mean_pool(y))


def _unit(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def dtw_similarity(a: Features | np.ndarray, b: Features | np.ndarray) -> float:
    """Mean cosine similarity along the best monotonic alignment of two window sequences.

    Cost is 1 - cosine; the path cost is divided by the path length, so long and short
    clips are comparable. Returns a value in [-1, 1] (1 = same sequence up to timing).
    """
    x, y = _array(a), _array(b)
    _check(x, y)
    cost = 1.0 - _unit(x) @ _unit(y).T
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    steps = np.zeros((n + 1, m + 1))
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            choices = ((acc[i - 1, j - 1], steps[i - 1, j - 1]), (acc[i - 1, j], steps[i - 1, j]),
                       (acc[i, j - 1], steps[i, j - 1]))
            best, length = min(choices, key=lambda c: c[0] / max(c[1], 1))
            acc[i, j] = best + cost[i - 1, j - 1]
            steps[i, j] = length + 1
    return float(1.0 - acc[n, m] / steps[n, m])


SIMILARITIES = {"cosine": cosine, "dtw": dtw_similarity}
