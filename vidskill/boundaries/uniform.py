"""`UniformDetector` ("uniform"): a boundary every `length` seconds, the trivial baseline."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from vidskill.boundaries.base import Boundaries
from vidskill.encoders.base import Features


class UniformDetector:
    """Fixed-length segments; length = 5 s is a typical duration of one manipulation skill."""

    name = "uniform"

    def __init__(self, length: float = 5.0):
        if not length > 0:
            raise ValueError(f"length must be positive seconds, got {length}")
        self.length = float(length)

    def fit(self, corpus: Iterable[Features]) -> UniformDetector:
        """Nothing to learn."""
        return self

    def detect(self, features: Features) -> Boundaries:
        """Boundaries at start + length, start + 2*length, ... before the end."""
        start = float(features.starts[0]) if len(features) else 0.0
        end = float(features.ends[-1]) if len(features) else 0.0
        times = np.arange(start + self.length, end - 1e-9, self.length)
        return Boundaries(times, np.full(len(times), 0.5), np.zeros(len(features)),
                          features.times.astype(np.float64), start, end)
