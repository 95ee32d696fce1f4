"""The `Features` value and the `Encoder` base class: the whole contract of an encoder."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from vidskill.encoders.windows import Windows
from vidskill.errors import DimensionMismatchError, VidskillError
from vidskill.flow import Flow, FlowEstimator
from vidskill.video import Frames

# How the default `Encoder.embed` pools a clip's windows into one vector (a store setting).
POOLINGS = ("mean", "mean+max")


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

    @classmethod
    def empty(cls, dim: int, encoder: str, settings: dict | None = None,
              source: str = "") -> Features:
        """No windows at all (a video shorter than one window, or than two frames)."""
        return cls(np.zeros((0, dim), np.float32), np.zeros(0), np.zeros(0), encoder,
                   dict(settings or {}), source)

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

    def clip(self, start: float, end: float) -> Features:
        """The windows of the clip [start, end): those centred in it; for a clip shorter than
        one window those overlapping it, and failing that the window nearest its middle, so
        every clip has at least one window."""
        if len(self) == 0:
            raise ValueError(f"no feature windows in {self.source or 'the video'}; it is too short")
        keep = (self.times >= start) & (self.times < end)
        if not keep.any():
            keep = (self.ends > start) & (self.starts < end)
        if not keep.any():
            keep = np.zeros(len(self), bool)
            keep[int(np.argmin(np.abs(self.times - (start + end) / 2)))] = True
        return self.subset(keep)

    def subset(self, keep: np.ndarray) -> Features:
        """The windows where `keep` (a boolean mask or indices), with the same metadata."""
        return Features(self.data[keep], self.starts[keep], self.ends[keep], self.encoder,
                        self.settings, self.source)

    def check_dim(self, dim: int) -> None:
        """Raise a clear error when these features cannot go where `dim` is expected."""
        if self.dim != dim:
            raise DimensionMismatchError(
                f"features from encoder {self.encoder!r} have dimension {self.dim}, but {dim} "
                "is expected: the store or model was built with another encoder or settings; "
                "use the same encoder settings or rebuild"
            )


def check_comparable(query: Features, others: Sequence[Features]) -> None:
    """Raise a clear error unless every clip has windows and the query's dimension."""
    for f in (query, *others):
        if f.dim != query.dim:
            raise DimensionMismatchError(
                f"cannot compare features of dimension {query.dim} and {f.dim}: they come "
                "from different encoders or settings")
        if len(f) == 0:
            raise ValueError(f"cannot compare an empty clip ({f.source or 'no windows'})")


class Encoder(ABC):
    """Turns frames into per-window features. This is everything the streaming code, the
    store and the executors rely on, so a new encoder is one subclass and one registry line.

    name: the registry key. dim: the feature size. windows: window length and stride (s).
    context: seconds of video either side of a window that its feature also depends on (a
    temporal network's receptive field; chunked encoding overlaps chunks by it). flow: the
    optical-flow estimator of an encoder that reads flow (encoders with equal flow settings
    share one flow computation), None for one that reads pixels. classes: the class names
    when the features are class posteriors (segments are then named by class), else None.
    gpu_model: whether it runs a network worth a GPU (the Ray engine gives it one).

    A clip (all the rows of a `Features`) is turned into its index vector by `embed` and two
    clips are compared by `compare`; both are class methods that read only the features (and
    their `settings`), so a store or a scorer never has to build the encoder (which can load
    weights). The default is the mean of the clip's windows, L2-normalised, and the cosine
    of those vectors. own_comparison: `compare` is the encoder's own and not the inner
    product of `embed` vectors, so a store re-ranks its index's shortlist with `compare`;
    its rows are then not window descriptors, and window-by-window DTW does not apply.
    """

    name: ClassVar[str]
    gpu_model: ClassVar[bool] = False
    own_comparison: ClassVar[bool] = False
    dim: int
    windows: Windows
    context: float = 0.0
    flow: FlowEstimator | None = None
    classes: list[str] | None = None

    @property
    @abstractmethod
    def settings(self) -> dict:
        """Everything that changes the output (keys the feature cache and the store)."""

    @abstractmethod
    def encode(self, frames: Frames, origin: float | None = None,
               flow: Flow | None = None) -> Features:
        """Features of every window of `frames`; windows start at origin + k * stride
        (default origin: the first timestamp); `flow` is these frames' flow when the caller
        already has it (flow encoders only)."""

    def empty(self, source: str = "") -> Features:
        """Features with no window, of this encoder's dimension and settings."""
        return Features.empty(self.dim, self.name, self.settings, source)

    def tune_batches(self, raft_pairs: int, frames: int, fps: float) -> None:
        """Set GPU batch sizes (RAFT pairs, frames per batch of clips) from the memory free;
        they never change the features. Default: only the flow estimator's."""
        if self.flow is not None:
            self.flow.tune_batch(raft_pairs)

    @classmethod
    def embed(cls, features: Features, pooling: str = "mean") -> np.ndarray:
        """The unit vector of a clip for the index: the mean of its windows (or the mean
        followed by the max with pooling 'mean+max'), L2-normalised, float32."""
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if len(features) == 0:
            raise ValueError(f"no feature windows in {features.source or 'the clip'}; "
                             "it is too short")
        x = features.data.astype(np.float64)
        vec = x.mean(0) if pooling == "mean" else np.concatenate([x.mean(0), x.max(0)])
        norm = float(np.linalg.norm(vec))
        return (vec / norm if norm > 0 else vec).astype(np.float32)

    @classmethod
    def compare_many(cls, query: Features, others: Sequence[Features]) -> np.ndarray:
        """Similarity in [-1, 1] of the clip `query` to each clip of `others` (default: the
        cosine of their `embed` vectors)."""
        if not others:
            return np.zeros(0)
        check_comparable(query, others)
        q = cls.embed(query).astype(np.float64)
        return np.array([float(q @ cls.embed(o).astype(np.float64)) for o in others])

    @classmethod
    def compare_matrix(cls, queries: Sequence[Features],
                       others: Sequence[Features]) -> np.ndarray:
        """(queries, others) similarities, a row of `compare_many` per query; an encoder
        with work per clip to share (flow-profile's signature) does it once per clip."""
        return np.array([cls.compare_many(q, others) for q in queries],
                        np.float64).reshape(len(queries), len(others))

    @classmethod
    def compare(cls, a: Features, b: Features) -> float:
        """Similarity in [-1, 1] of two clips (`compare_many` of one)."""
        return float(cls.compare_many(a, [b])[0])
