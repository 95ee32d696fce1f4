"""The `Features` value and the `Encoder` protocol every encoder implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from vidskill.errors import DimensionMismatchError, VidskillError
from vidskill.video import Frames


class TooShortError(VidskillError, ValueError):
    """A clip has too few frames for the encoder (flow needs at least two)."""


@dataclass(frozen=True)
class Features:
    """Per-window features of one video: (N,D) float32 plus each window's start/end (s)."""

    data: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    encoder: str
    settings: dict = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        if self.data.ndim != 2:
            raise ValueError(f"Features.data must be (N, D), got shape {self.data.shape}")
        if not len(self.starts) == len(self.ends) == len(self.data):
            raise ValueError("Features.data, starts and ends must have the same length")

    def __len__(self) -> int:
        return len(self.data)

    @property
    def dim(self) -> int:
        return int(self.data.shape[1])

    @property
    def times(self) -> np.ndarray:
        """Centre time (s) of each window."""
        return (self.starts + self.ends) / 2.0

    def between(self, start: float, end: float) -> Features:
        """Windows whose centre lies in [start, end)."""
        keep = (self.times >= start) & (self.times < end)
        return Features(
            self.data[keep], self.starts[keep], self.ends[keep], self.encoder, self.settings,
            self.source,
        )

    def check_dim(self, dim: int) -> None:
        """Raise a clear error when these features cannot go where `dim` is expected."""
        if self.dim != dim:
            raise DimensionMismatchError(
                f"features from encoder {self.encoder!r} have dimension {self.dim}, but {dim} "
                "is expected: the store or model was built with another encoder or settings; "
                "use the same encoder settings or rebuild"
            )


@runtime_checkable
class Encoder(Protocol):
    """Turns frames into per-window features. `name` is the registry key."""

    name: str
    dim: int

    def encode(self, frames: Frames) -> Features: ...
