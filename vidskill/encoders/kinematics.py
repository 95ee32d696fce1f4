"""`motion-kin`: how fast and which way the moving part of the scene goes, plus what it looks
like, in short windows at the native frame rate: what SBD reads to find skills in a shot.

A skill in a manipulation video ends where one movement ends and the next begins: the arm
slows, stops or turns, an object starts moving. Those changes last a few frames, so the
windows are short (0.25 s every 0.05 s; flow-hof's 1 s windows blur a change over a second)
and the default decode is every native frame. Per flow pair:

- kinematics (7): the squashed mean speed of moving pixels and 90th percentile of all
  speeds (log1p(speed / MOVING), so slow and fast scenes weigh alike), sqrt of the moving
  area, the mean moving velocity as a direction (cos, sin) times its coherence (|mean
  vector| / mean speed), the squashed magnitude of that mean vector, and the coherence;
- appearance (32 x 32 = 1024): the grey thumbnail of the window's first frame, zero-mean and
  unit-norm (a brightness change does not dominate); SBD reduces it with a PCA fitted on the
  corpus at hand (`blocks` in the settings say how, see `boundaries.signal`).

A pixel moves when its speed is above MOVING (0.02 short sides/s, as flow-hof) and it moved
more than `still_px` = 0.5 px in the pair (DIS's noise floor on compressed video).

Flow is DIS `ultrafast` (KIN_FLOW). Chosen on MetaWorld long videos (phase F1@0.5 s, seeds
held out: README, Segmenting real footage). Assumes the camera is still within a shot (pans read as the scene's motion, as for
every flow feature here) and one agent's movement dominates the moving pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from vidskill.encoders.flowbase import FlowEncoder
from vidskill.flow import Flow, FlowEstimator

MOVING = 0.02     # short sides per second (as flow-hof)
STILL_PX = 0.5    # pixels per pair: the flow's noise floor on compressed video
KINEMATICS = ("speed", "p90", "area", "dir_x", "dir_y", "mean_velocity", "coherence")
THUMB = 32        # appearance thumbnail side (pixels)
APPEARANCE_PCA = 8   # dimensions SBD keeps of the appearance block (PCA on the corpus)
# DIS `ultrafast`: these are whole-frame statistics of the flow, which the coarse preset
# gives as well as `medium` at a third of the cost (README: Figures, segmenting speed).
KIN_FLOW = {"method": "dis", "preset": "ultrafast"}


def _squash(x: np.ndarray) -> np.ndarray:
    return np.log1p(x / MOVING)


def _p90(x: np.ndarray) -> float:
    """np.percentile(x, 90) (linear interpolation) from one partition of a copy: 0.04 ms
    against numpy's 0.7 on a 284x160 field, and it runs once per flow pair."""
    pos = 0.9 * (x.size - 1)
    lo = int(pos)
    hi = min(lo + 1, x.size - 1)
    part = np.partition(x, hi)
    below = float(part[:hi].max()) if hi > lo else float(part[hi])  # the lo-th smallest
    return below + (pos - lo) * (float(part[hi]) - below)


class KinematicsEncoder(FlowEncoder):
    """Per-pair motion kinematics averaged over short windows, plus the appearance of the
    window's first frame (see module doc); `appearance=False` keeps the 7 kinematics only."""

    name = "motion-kin"
    needs_images = True

    def __init__(self, window: float = 0.25, stride: float = 0.05, still_px: float = STILL_PX,
                 appearance: bool = True, thumb: int = THUMB,
                 flow: FlowEstimator | str | dict = KIN_FLOW):
        super().__init__(window, stride, flow)
        if still_px < 0:
            raise ValueError(f"still_px must be >= 0 pixels, got {still_px}")
        if not (isinstance(thumb, int) and thumb >= 2):
            raise ValueError(f"thumb must be an integer >= 2 pixels, got {thumb!r}")
        self.still_px = float(still_px)
        self.appearance = bool(appearance)
        self.thumb = thumb
        self.dim = len(KINEMATICS) + (thumb * thumb if self.appearance else 0)

    def params(self) -> dict:
        blocks = [["kinematics", len(KINEMATICS), 0]]
        if self.appearance:
            blocks.append(["appearance", self.thumb * self.thumb, APPEARANCE_PCA])
        return {"still_px": self.still_px, "thumb": self.thumb, "blocks": blocks, "version": 1}

    def prepare(self, flow: Flow, images: np.ndarray) -> dict[str, np.ndarray]:
        p, h, w = flow.data.shape[:3]
        dt = np.maximum(np.asarray(flow.dt, np.float64), 1e-6)
        unit = 1.0 / (dt * min(h, w))   # pixels per pair -> short sides per second
        floor = np.maximum(MOVING, self.still_px * unit)
        kin = np.empty((p, len(KINEMATICS)), np.float32)
        # One pair at a time: the temporaries are one flow field's, not a block's (48 MiB
        # at 64 pairs of 284x160), and it is faster (74 vs 134 ms per 64 pairs). The sums
        # over moving pixels are products with the 0/1 mask (BLAS), 10x numpy's `where=`.
        for i in range(p):
            xy = flow.data[i].reshape(-1, 2)
            sq = xy * xy
            mag = np.sqrt(sq[:, 0] + sq[:, 1])
            mag *= np.float32(unit[i])
            moving = mag >= floor[i]
            count = int(np.count_nonzero(moving))
            n = max(count, 1)
            mask = moving.astype(np.float32)
            sum_x, sum_y = mask @ xy
            mean_moving = float(mag @ mask) / n
            vx = float(sum_x) * unit[i] / n
            vy = float(sum_y) * unit[i] / n
            speed = float(np.hypot(vx, vy))
            coherence = speed / max(mean_moving, 1e-6)
            kin[i] = (_squash(mean_moving), _squash(_p90(mag)),
                      np.sqrt(count / mag.size), vx / max(speed, 1e-9) * coherence,
                      vy / max(speed, 1e-9) * coherence, _squash(speed), coherence)
        if not self.appearance:
            return {"kin": kin}
        side = (self.thumb, self.thumb)
        thumbs = np.stack([cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), side,
                                      interpolation=cv2.INTER_AREA) for f in images])
        return {"kin": kin, "app": thumbs.reshape(len(thumbs), -1)}   # uint8: 1 KB a frame

    def pool(self, prepared: dict[str, np.ndarray], idx: np.ndarray, dt: np.ndarray
             ) -> np.ndarray:
        kin = (dt / dt.sum()) @ prepared["kin"][idx]
        if not self.appearance:
            return kin.astype(np.float32)
        x = prepared["app"][idx[0]].astype(np.float32) / 255.0
        x -= x.mean()
        x /= max(float(np.linalg.norm(x)), 1e-6)
        return np.r_[kin, x].astype(np.float32)
