"""Windows in seconds over a run of frames or flow pairs, on a grid anchored at an origin.

Windows start at origin + k * stride; anchoring every chunk of a long video at the video's
first timestamp puts windows of all chunks on one grid, so chunked and whole-video encoding
give the same windows. A run shorter than one window gets one shorter window over all of it
(so a short clip still gets an embedding); `Features.ends - Features.starts` tells which.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Windows:
    """Window length and stride in seconds."""

    length: float = 1.0
    stride: float = 0.5

    def __post_init__(self) -> None:
        if not (self.length > 0 and self.stride > 0):
            raise ValueError(
                f"window length and stride must be positive seconds, got {self.length}, "
                f"{self.stride}"
            )

    def spans(self, t_first: float, t_last: float, origin: float | None = None,
              tol: float = 1e-6) -> np.ndarray:
        """(N,2) start/end of the full windows inside [t_first, t_last]; one short window
        [t_first, t_last] when none fits."""
        origin = t_first if origin is None else origin
        k0 = int(np.ceil((t_first - origin - tol) / self.stride))
        k1 = int(np.floor((t_last - self.length - origin + tol) / self.stride))
        if k1 < k0:
            return np.array([[t_first, t_last]]) if t_last > t_first else np.zeros((0, 2))
        starts = origin + np.arange(k0, k1 + 1) * self.stride
        return np.stack([starts, starts + self.length], axis=1)

    def members(self, starts: np.ndarray, ends: np.ndarray, spans: np.ndarray,
                tol: float) -> list[np.ndarray]:
        """Indices of the items (start/end times) that lie inside each span."""
        return [np.flatnonzero((starts >= a - tol) & (ends <= b + tol)) for a, b in spans]


@dataclass(frozen=True)
class Steps(Windows):
    """Windows that each take the items whose midpoint lies in them ([start, end)), so every
    item (flow pair) goes to exactly one window even when pairs are longer than a window (a
    low frame rate): then every pair gives one row and the steps between get none. Steps
    tile time: the length is the stride."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.length != self.stride:
            raise ValueError(f"steps tile time: length {self.length} must equal stride "
                             f"{self.stride}")

    def members(self, starts: np.ndarray, ends: np.ndarray, spans: np.ndarray,
                tol: float) -> list[np.ndarray]:
        if len(spans) == 0:
            return []
        first = float(spans[0, 0])
        # the step index of each window and of each midpoint, so that float rounding of the
        # window grid can neither drop nor repeat a pair whose midpoint is on a boundary
        span_k = np.round((spans[:, 0] - first) / self.stride).astype(int)
        mid = (np.asarray(starts) + np.asarray(ends)) / 2
        item_k = np.floor((mid - first) / self.stride + 1e-6).astype(int)
        return [np.flatnonzero(item_k == k) for k in span_k]
