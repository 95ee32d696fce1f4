"""`flow-hof`: histograms of optical flow orientation on a spatial grid (HOF), the default.

Per window: for each grid cell, flow orientations in `bins` sectors weighted by magnitude,
plus a no-motion bin (as in Laptev et al.'s HOF) so a still window is not a zero vector;
then magnitude statistics. Fast and weightless, but tied to the camera's viewpoint (a grid
of directions): use `flow-motion` to match across cameras.
"""

from __future__ import annotations

import numpy as np

from vidskill.encoders.flowbase import FlowEncoder, l2, velocity
from vidskill.flow import Flow, FlowEstimator

# Speeds in short sides per second (a hand crossing half the frame in 1 s moves 0.5).
MOVING = 0.02   # below this a pixel counts as still: ~0.3 px/frame at 160 px and 10 fps,
                # above DIS's noise on compressed static texture.
TYPICAL = 0.25  # scale of everyday manipulation speeds, used to squash magnitude statistics.


class HOFEncoder(FlowEncoder):
    """Magnitude-weighted flow orientation histograms per grid cell + magnitude stats, L2-normed."""

    name = "flow-hof"

    def __init__(self, window: float = 1.0, stride: float = 0.5, grid: tuple[int, int] = (4, 4),
                 bins: int = 8, flow: FlowEstimator | str | dict = "dis"):
        super().__init__(window, stride, flow)
        gx, gy = (int(g) for g in grid)
        if gx < 1 or gy < 1 or bins < 2:
            raise ValueError(f"grid cells and bins must be >= 1 and >= 2, got {grid}, {bins}")
        self.grid, self.bins = (gx, gy), int(bins)
        self.dim = gx * gy * (self.bins + 1) + 4

    def params(self) -> dict:
        return {"grid": list(self.grid), "bins": self.bins}

    def prepare(self, flow: Flow) -> tuple[np.ndarray, np.ndarray]:
        v = velocity(flow)
        p, h, w = v.shape[:3]
        gx, gy = self.grid
        mag = np.hypot(v[..., 0], v[..., 1])
        ang = np.arctan2(v[..., 1], v[..., 0]) % (2 * np.pi)
        obin = np.minimum((ang * self.bins / (2 * np.pi)).astype(np.int64), self.bins - 1)
        moving = mag >= MOVING
        obin = np.where(moving, obin, self.bins)  # the no-motion bin
        weight = np.where(moving, mag, MOVING)
        cy = np.minimum(np.arange(h) * gy // h, gy - 1)
        cx = np.minimum(np.arange(w) * gx // w, gx - 1)
        cell = (cy[:, None] * gx + cx[None, :])[None]
        nb = self.bins + 1
        key = (np.arange(p)[:, None, None] * gx * gy + cell) * nb + obin
        hist = np.bincount(key.ravel(), weights=weight.ravel(), minlength=p * gx * gy * nb)
        hist = hist.reshape(p, gx * gy * nb) / (h * w / (gx * gy))
        flat = mag.reshape(p, -1)
        stats = np.stack([flat.mean(1), np.percentile(flat, 90, axis=1),
                          moving.reshape(p, -1).mean(1)], axis=1)
        return hist, stats

    def pool(self, prepared, idx: np.ndarray, dt: np.ndarray) -> np.ndarray:
        hist, stats = prepared
        w = dt / dt.sum()
        h = l2(w @ hist[idx])
        s = stats[idx]
        mean_speed, p90, moving = w @ s[:, 0], w @ s[:, 1], w @ s[:, 2]
        speed_sd = float(np.sqrt(w @ (s[:, 0] - mean_speed) ** 2))
        mags = np.tanh(np.array([mean_speed, p90, speed_sd]) / TYPICAL)
        # stats centred so they move cosine similarity both ways; half the weight of the grid
        extra = 0.5 * l2(np.concatenate([2 * mags - 1, [2 * moving - 1]]))
        return l2(np.concatenate([h, extra]))
