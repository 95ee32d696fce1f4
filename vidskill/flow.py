"""Optical flow between consecutive frames: the `Flow` value and the `FlowEstimator` protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from vidskill.video import Frames


@dataclass(frozen=True)
class Flow:
    """Displacement (pixels) from frame t to t+1: (T-1,H,W,2) float32 (dx, dy), with the
    timestamp of each pair's first frame and the seconds between the two frames."""

    data: np.ndarray
    timestamps: np.ndarray
    dt: np.ndarray
    source: str = ""

    def __post_init__(self) -> None:
        if self.data.ndim != 4 or self.data.shape[-1] != 2:
            raise ValueError(f"Flow.data must be (T-1,H,W,2), got shape {self.data.shape}")
        if not len(self.timestamps) == len(self.dt) == len(self.data):
            raise ValueError("Flow.data, timestamps and dt must have the same length")

    def __len__(self) -> int:
        return len(self.data)


@runtime_checkable
class FlowEstimator(Protocol):
    """Computes flow for every consecutive pair of a run of frames."""

    name: str

    def __call__(self, frames: Frames) -> Flow: ...
