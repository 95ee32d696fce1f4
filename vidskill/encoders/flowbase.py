"""Shared machinery of the encoders over optical flow: one flow per run, windows, units.

Flow is the expensive step, so a flow encoder accepts a precomputed `Flow` (`encode_flow`)
and several encoders with the same flow settings can share it (see `encode_video_multi`).
Flow is turned into velocity in short sides per second (pixels / dt / min(H, W)), so
features do not depend on the frame rate or the resolution the video was decoded at.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np

from vidskill.encoders.base import Encoder, Features, TooShortError
from vidskill.encoders.windows import Windows
from vidskill.flow import Flow, FlowEstimator, get_flow
from vidskill.video import Frames

# Pairs per call of `prepare`: its per-pixel temporaries (several times the flow itself, in
# float64 and complex128) then stay near 100 MB at 160 px instead of growing with the chunk.
PREPARE_PAIRS = 64


def velocity(flow: Flow) -> np.ndarray:
    """(P,H,W,2) flow in short sides per second: comparable across fps and resolutions."""
    h, w = flow.data.shape[1:3]
    dt = np.maximum(np.asarray(flow.dt, np.float64), 1e-6).astype(np.float32)
    return flow.data / (dt[:, None, None, None] * np.float32(min(h, w)))


def make_flow(flow: FlowEstimator | str | dict) -> FlowEstimator:
    """A flow estimator from an instance, a method name ('dis', 'raft') or a settings dict."""
    if isinstance(flow, str):
        return get_flow(flow)
    if isinstance(flow, dict):
        return get_flow(**flow)
    return flow


class FlowEncoder(Encoder):
    """Per-window features from optical flow; subclasses say how to describe and pool pairs."""

    flow: FlowEstimator
    needs_images = False   # True: `prepare(flow, images)` also gets each pair's first frame

    def __init__(self, window: float, stride: float, flow: FlowEstimator | str | dict = "dis"):
        self.windows = Windows(float(window), float(stride))
        self.flow = make_flow(flow)

    @property
    def settings(self) -> dict:
        """Everything that changes the output: keys the feature cache."""
        return {"window": self.windows.length, "stride": self.windows.stride,
                "flow": self.flow.settings, **self.params()}

    @abstractmethod
    def params(self) -> dict:
        """The encoder's own settings (besides windows and flow)."""

    @abstractmethod
    def prepare(self, flow: Flow) -> Any:
        """Per-pair descriptors of a run of flow, shared by windows: an array, or a tuple or
        dict of arrays, with one row per pair, so a run can be prepared in blocks."""

    def prepare_blocks(self, flow: Flow, images: np.ndarray | None = None) -> Any:
        """`prepare` over blocks of PREPARE_PAIRS pairs, joined: the same rows, bounded memory.

        images: the first frame of each pair (P,H,W,3), passed on to `prepare` only by
        encoders that set `needs_images` (e.g. to weight flow by image structure).
        """
        def call(a: int, b: int) -> Any:
            part = flow if (a, b) == (0, len(flow)) else Flow(
                flow.data[a:b], flow.timestamps[a:b], flow.dt[a:b], flow.source)
            return self.prepare(part, images[a:b]) if self.needs_images else self.prepare(part)

        if self.needs_images and (images is None or len(images) != len(flow)):
            raise ValueError(f"{self.name} needs the frames of its flow pairs (encode(frames) "
                             "or encode_flow(flow, frames=...)), one per pair")
        if len(flow) <= PREPARE_PAIRS:
            return call(0, len(flow))
        return join_rows([call(a, min(a + PREPARE_PAIRS, len(flow)))
                          for a in range(0, len(flow), PREPARE_PAIRS)])

    @abstractmethod
    def pool(self, prepared: Any, idx: np.ndarray, dt: np.ndarray) -> np.ndarray:
        """The (dim,) feature of the window made of pairs `idx` (pair durations `dt`)."""

    def encode(self, frames: Frames, origin: float | None = None,
               flow: Flow | None = None) -> Features:
        """Features of every window of `frames` (origin: first window start, default the first
        timestamp); `flow` reuses flow already computed for these frames."""
        if len(frames) < 2:
            raise TooShortError(
                f"{self.name} needs at least 2 frames to compute flow, got {len(frames)} "
                f"from {frames.source or 'frames'}; use a longer clip or a higher fps"
            )
        return self.encode_flow(self.flow(frames) if flow is None else flow, origin,
                                frames=frames)

    def encode_flow(self, flow: Flow, origin: float | None = None,
                    frames: Frames | None = None) -> Features:
        """Features of every window of a precomputed flow run (of `frames`, which encoders
        with `needs_images` require: pair i is frames i and i + 1)."""
        if len(flow) == 0:
            raise TooShortError(f"{self.name} got an empty flow run (fewer than 2 frames)")
        images = frames.data[:len(flow)] if frames is not None else None
        return self.pool_windows(self.prepare_blocks(flow, images), flow.timestamps, flow.dt,
                                 origin, flow.source)

    def pool_windows(self, prepared: Any, starts: np.ndarray, dt: np.ndarray,
                     origin: float | None = None, source: str = "") -> Features:
        """Features of every window over pairs starting at `starts` and lasting `dt`, whose
        `prepare` rows are `prepared`: a streaming caller prepares each pair once and pools
        the windows of a chunk over the rows it carried and the new ones."""
        starts = np.asarray(starts, np.float64)
        dt = np.asarray(dt, np.float64)
        ends = starts + dt
        tol = 0.25 * float(np.median(dt))
        spans = self.windows.spans(float(starts[0]), float(ends[-1]), origin, tol)
        members = self.windows.members(starts, ends, spans, tol)
        keep = [i for i, idx in enumerate(members) if len(idx)]
        rows = [self.pool(prepared, members[i], dt[members[i]]) for i in keep]
        data = np.stack(rows).astype(np.float32) if rows else np.zeros((0, self.dim), np.float32)
        return Features(data, spans[keep, 0], spans[keep, 1], self.name, self.settings, source)


def join_rows(parts: list) -> Any:
    """`prepare` outputs of consecutive runs of pairs (arrays, tuples or dicts of arrays with
    one row per pair) joined into one."""
    first = parts[0]
    if isinstance(first, dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in first}
    if isinstance(first, tuple):
        return tuple(np.concatenate(rows) for rows in zip(*parts, strict=True))
    return np.concatenate(parts)


def take_rows(prepared: Any, index: np.ndarray | slice) -> Any:
    """Rows `index` of a `prepare` output, copied (the rest can be freed)."""
    if isinstance(prepared, dict):
        return {k: np.array(v[index]) for k, v in prepared.items()}
    if isinstance(prepared, tuple):
        return tuple(np.array(v[index]) for v in prepared)
    return np.array(prepared[index])


def l2(x: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """x scaled to unit L2 norm (zero stays zero)."""
    n = float(np.linalg.norm(x))
    return x / n if n > eps else x
