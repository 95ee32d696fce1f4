"""`NoveltyDetector` ("novelty"): GEBD's unsupervised "PA" baseline.

At each step t, the distance between the mean feature of the windows in the `context`
seconds before t and of those in the `context` seconds from t; the curve is smoothed and
its peaks above a robust threshold (median + k * 1.4826 * MAD, as for SBD's automatic GAP)
are boundaries, at least `min_len` seconds apart and from either end of the video.
"""

from __future__ import annotations

import numpy as np

from vidskill.boundaries.base import Boundaries, BoundaryDetector
from vidskill.boundaries.peaks import pick_peaks, robust_spread, smooth
from vidskill.encoders.base import Features


class NoveltyDetector(BoundaryDetector):
    """Mean-feature difference before/after each step, peaks of the smoothed curve.

    context = 1 s and smooth = 0.2 s assume skills last a few seconds; min_len as in SBD.
    """

    name = "novelty"
    min_windows = 3

    def __init__(self, context: float = 1.0, smooth: float = 0.2, k: float = 3.5,
                 min_len: float = 1.0):
        if context <= 0 or smooth < 0 or min_len < 0:
            raise ValueError("need context > 0, smooth >= 0 and min_len >= 0 (seconds)")
        self.context = float(context)
        self.smooth = float(smooth)
        self.k = float(k)
        self.min_len = float(min_len)

    def signal(self, features: Features) -> np.ndarray:
        """Cosine distance between the mean features before and after each window start."""
        x = np.asarray(features.data, dtype=np.float64)
        n = len(x)
        hop = float(np.median(np.diff(features.times))) if n > 1 else 1.0
        k = max(1, int(round(self.context / max(hop, 1e-9))))
        csum = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
        t = np.arange(n)
        lo, hi = np.maximum(t - k, 0), np.minimum(t + k, n)
        before = (csum[t] - csum[lo]) / np.maximum(t - lo, 1)[:, None]
        after = (csum[hi] - csum[t]) / np.maximum(hi - t, 1)[:, None]
        num = (before * after).sum(1)
        den = np.linalg.norm(before, axis=1) * np.linalg.norm(after, axis=1)
        dist = 1.0 - num / np.maximum(den, 1e-12)
        dist[(t - lo) == 0] = 0.0
        return smooth(dist, self.smooth / max(hop, 1e-9))

    def _detect(self, features: Features, actions: np.ndarray | None) -> Boundaries:
        """Peaks of the novelty curve; confidence = peak height relative to the threshold."""
        times = features.times.astype(np.float64)
        start, end = float(features.starts[0]), float(features.ends[-1])
        sig = self.signal(features)
        cut = np.concatenate([[times[0]], (times[1:] + times[:-1]) / 2])
        threshold = float(np.median(sig)) + self.k * robust_spread(sig)
        peaks = pick_peaks(sig, cut, threshold, self.min_len)
        excess = sig[peaks] - float(np.median(sig))
        scores = excess / (excess + max(threshold - float(np.median(sig)), 1e-12))
        return Boundaries(cut[peaks], scores, sig, times, start, end).trimmed(self.min_len)
