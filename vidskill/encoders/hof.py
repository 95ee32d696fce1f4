"""`flow-hof`: histograms of optical flow orientation on a spatial grid (HOF), the default.

Per window: for each grid cell, flow orientations in `bins` sectors weighted by magnitude,
plus a no-motion bin (as in Laptev et al.'s HOF) so a still window is not a zero vector;
then magnitude statistics. Fast and weightless, but tied to the camera's viewpoint (a grid
of directions): use `flow-motion` to match across cameras.
"""

from __future__ import annotations

import numpy as np

from vidskill.encoders.flowbase import FlowEncoder, l2
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
        """Per pair: the (cells x (bins + 1)) histogram per cell area and (mean speed, p90
        speed, moving fraction). One pair at a time in float32 with OpenCV's SIMD polar
        transform: 3-5x less CPU than whole-block float64 temporaries, the same bins up to
        the rounding of angles that fall on a bin edge."""
        import cv2

        p, h, w = flow.data.shape[:3]
        gx, gy = self.grid
        nb = self.bins + 1
        cy = np.minimum(np.arange(h) * gy // h, gy - 1)
        cx = np.minimum(np.arange(w) * gx // w, gx - 1)
        cell = ((cy[:, None] * gx + cx[None, :]) * nb).astype(np.int32).ravel()
        to_bin = np.float32(self.bins / (2 * np.pi))
        dt = np.maximum(np.asarray(flow.dt, np.float64), 1e-6)
        hist = np.empty((p, gx * gy * nb))
        stats = np.empty((p, 3))
        for i in range(p):
            mag, ang = cv2.cartToPolar(flow.data[i, ..., 0], flow.data[i, ..., 1])
            mag = mag.ravel()
            mag *= np.float32(1.0 / (dt[i] * min(h, w)))   # short sides per second
            obin = np.minimum((ang.ravel() * to_bin).astype(np.int32), self.bins - 1)
            moving = mag >= MOVING
            obin[~moving] = self.bins  # the no-motion bin
            weight = np.where(moving, mag, np.float32(MOVING))
            hist[i] = np.bincount(cell + obin, weights=weight, minlength=gx * gy * nb)
            stats[i] = mag.mean(dtype=np.float64), np.percentile(mag, 90), moving.mean()
        hist /= h * w / (gx * gy)
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
