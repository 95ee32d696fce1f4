"""`UniformDetector` ("uniform"): a boundary every `length` seconds, the trivial baseline."""

from __future__ import annotations

import numpy as np

from vidskill.boundaries.base import Boundaries, BoundaryDetector
from vidskill.encoders.base import Features


class UniformDetector(BoundaryDetector):
    """Fixed-length segments; length = 5 s is a typical duration of one manipulation skill."""

    name = "uniform"
    min_windows = 1

    def __init__(self, length: float = 5.0):
        if not length > 0:
            raise ValueError(f"length must be positive seconds, got {length}")
        self.length = float(length)

    def _detect(self, features: Features, actions: np.ndarray | None) -> Boundaries:
        """Boundaries at start + length, start + 2*length, ... before the end."""
        start, end = float(features.starts[0]), float(features.ends[-1])
        times = np.arange(start + self.length, end - 1e-9, self.length)
        return Boundaries(times, np.full(len(times), 0.5), np.zeros(len(features)),
                          features.times.astype(np.float64), start, end)
