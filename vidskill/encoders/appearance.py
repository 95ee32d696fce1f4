"""`appearance`: tiny grey thumbnails of the frames, the cheapest embedding there is.

Per window: the mean of its frames' `size` x `size` grey thumbnails (area-averaged), minus
its own mean, L2-normalised (so lighting level and contrast drop out). No weights, no flow:
it says what the scene looks like, so a detector that follows progress towards a goal
(`uvd`) or clusters similar-looking stretches (`twfinch`) can run on it. Tied to the camera:
a moving camera or another viewpoint changes it as much as the task does.
"""

from __future__ import annotations

import numpy as np

from vidskill.encoders.base import Encoder, Features, TooShortError
from vidskill.encoders.windows import Windows
from vidskill.flow import Flow
from vidskill.video import Frames


class AppearanceEncoder(Encoder):
    """Mean grey size x size thumbnail per window, centred and L2-normalised.

    size = 32: 1024 values, enough to see where the arm and objects are, small enough to be
    blind to texture and compression noise. window = stride = 0.1 s: one frame per window at
    the default 10 fps (several frames are averaged at higher rates).
    """

    name = "appearance"

    def __init__(self, size: int = 32, window: float = 0.1, stride: float = 0.1):
        if int(size) < 2:
            raise ValueError(f"size must be at least 2 pixels, got {size}")
        self.size = int(size)
        self.dim = self.size * self.size
        self.windows = Windows(float(window), float(stride))

    @property
    def settings(self) -> dict:
        return {"size": self.size, "window": self.windows.length,
                "stride": self.windows.stride}

    def thumbnails(self, frames: Frames) -> np.ndarray:
        """(T, size*size) float32 grey thumbnails in 0..1."""
        import cv2

        rows = [cv2.resize(cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY),
                           (self.size, self.size), interpolation=cv2.INTER_AREA)
                for f in frames.data]
        return np.stack(rows).reshape(len(rows), -1).astype(np.float32) / 255.0

    def encode(self, frames: Frames, origin: float | None = None,
               flow: Flow | None = None) -> Features:
        """Features of every window of `frames` (`flow` unused: this reads pixels)."""
        if len(frames) < 2:
            raise TooShortError(
                f"{self.name} needs at least 2 frames to time its windows, got {len(frames)} "
                f"from {frames.source or 'frames'}; use a longer clip or a higher fps")
        ts = np.asarray(frames.timestamps, np.float64)
        step = float(np.median(np.diff(ts)))
        spans = self.windows.spans(float(ts[0]), float(ts[-1]) + step, origin, 0.25 * step)
        members = self.windows.members(ts, ts + step, spans, 0.25 * step)
        keep = [i for i, m in enumerate(members) if len(m)]
        thumbs = self.thumbnails(frames)
        data = np.zeros((len(keep), self.dim), np.float32)
        for row, i in enumerate(keep):
            x = thumbs[members[i]].mean(0)
            x = x - x.mean()
            data[row] = x / max(float(np.linalg.norm(x)), 1e-6)
        return Features(data, spans[keep, 0], spans[keep, 1], self.name, self.settings,
                        frames.source)
