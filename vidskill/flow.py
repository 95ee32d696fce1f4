"""Optical flow between consecutive frames: the `Flow` value, DIS (CPU default) and RAFT."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from vidskill._registry import Registry
from vidskill._torch import pick_device
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


class FlowEstimator(ABC):
    """Computes flow for every consecutive pair of a run of frames.

    name: what it is ("dis-medium"); settings: everything that changes its output (keys
    caches and lets encoders share one flow); gpu: whether it runs a network worth a GPU.
    """

    name: str
    gpu: ClassVar[bool] = False

    @property
    @abstractmethod
    def settings(self) -> dict:
        """The method and its options, as JSON-ready values."""

    @abstractmethod
    def __call__(self, frames: Frames) -> Flow:
        """Flow of every consecutive pair of `frames` (zero pairs for fewer than two)."""

    def tune_batch(self, pairs: int) -> None:  # noqa: B027 - optional, default: no batches
        """Pairs per batch on a GPU; only estimators that batch (RAFT) use it."""


def _empty_like(frames: Frames) -> Flow:
    """The flow of a run with fewer than two frames: zero pairs (documented, not an error)."""
    h, w = frames.data.shape[1:3]
    return Flow(np.zeros((0, h, w, 2), np.float32), np.zeros(0), np.zeros(0), frames.source)


def _pair_times(frames: Frames) -> tuple[np.ndarray, np.ndarray]:
    ts = np.asarray(frames.timestamps, dtype=np.float64)
    return ts[:-1].copy(), np.diff(ts)


DIS_PRESETS = ("ultrafast", "fast", "medium")


class DISFlow(FlowEstimator):
    """OpenCV's Dense Inverse Search flow: the CPU default (no weights, ~ms per pair at 160 px).

    preset: 'ultrafast', 'fast' or 'medium' (OpenCV's speed/accuracy trade-offs).
    """

    def __init__(self, preset: str = "medium"):
        if preset not in DIS_PRESETS:
            raise ValueError(f"DIS preset must be one of {DIS_PRESETS}, got {preset!r}")
        import cv2

        self._cv2 = cv2
        self.preset = preset
        code = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
                "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[preset]
        self._code = code
        self.name = f"dis-{preset}"

    @property
    def settings(self) -> dict:
        return {"method": "dis", "preset": self.preset}

    def __call__(self, frames: Frames) -> Flow:
        if len(frames) < 2:
            return _empty_like(frames)
        cv2 = self._cv2
        gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames.data]
        h, w = gray[0].shape
        out = np.empty((len(gray) - 1, h, w, 2), np.float32)
        for i in range(len(gray) - 1):
            # a fresh DIS per pair: OpenCV's keeps state from its last call on some frame
            # sizes (up to 5 px of flow on 64x86 frames), so a pair's flow would depend on the
            # pairs computed before it, and features on chunking and earlier videos; creating
            # one costs nothing measurable (0.6 ms per pair either way at 160 px)
            out[i] = cv2.DISOpticalFlow_create(self._code).calc(gray[i], gray[i + 1], None)
        ts, dt = _pair_times(frames)
        return Flow(out, ts, dt, frames.source)


RAFT_MODELS = ("small", "large")
# RAFT's correlation pyramid needs feature maps of at least 16 x 16 cells of 8 pixels.
RAFT_MIN_SIZE = 128


class RAFTFlow(FlowEstimator):
    """torchvision RAFT (small or large), batched; on a GPU with bf16 autocast.

    weights: "default" (registry: torch hub cache, then models/), a state_dict file path,
    or None for random initialisation (tests and benchmarks only; the flow is meaningless).
    Frames are padded (replicate) to multiples of 8 and at least 128 px (RAFT's minimum),
    and the flow is cropped back to the frame size.
    """

    gpu = True

    def __init__(self, model: str = "small", weights: str | os.PathLike | None = "default",
                 device: str | None = None, batch_size: int = 8, iters: int = 12):
        if model not in RAFT_MODELS:
            raise ValueError(f"RAFT model must be one of {RAFT_MODELS}, got {model!r}")
        import torch
        import torchvision.models.optical_flow as of

        from vidskill.weights import apply_state_dict, load_state_dict

        name = f"raft_{model}"
        state = load_state_dict(name, weights)
        net = (of.raft_small if model == "small" else of.raft_large)(weights=None)
        if state is not None:
            apply_state_dict(net, state, name, weights)
        self.device = pick_device(device)
        self.net = net.eval().to(self.device)
        self.model, self.batch_size, self.iters = model, int(batch_size), int(iters)
        self.random_weights = state is None
        self.name = f"raft-{model}"
        self._torch = torch

    @property
    def settings(self) -> dict:
        return {"method": "raft", "model": self.model, "iters": self.iters,
                "random_weights": self.random_weights}

    def __call__(self, frames: Frames) -> Flow:
        if len(frames) < 2:
            return _empty_like(frames)
        torch = self._torch
        t, h, w = frames.data.shape[:3]
        ph, pw = max(-h % 8, RAFT_MIN_SIZE - h), max(-w % 8, RAFT_MIN_SIZE - w)
        out = np.empty((t - 1, h, w, 2), np.float32)
        use_amp = self.device.startswith("cuda")
        with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16, enabled=use_amp):
            for lo in range(0, t - 1, self.batch_size):
                hi = min(t - 1, lo + self.batch_size)
                x = torch.from_numpy(frames.data[lo:hi + 1]).to(self.device)
                x = x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
                if ph or pw:
                    x = torch.nn.functional.pad(x, (0, pw, 0, ph), mode="replicate")
                flow = self.net(x[:-1].contiguous(), x[1:].contiguous(),
                                num_flow_updates=self.iters)[-1]
                out[lo:hi] = flow[:, :, :h, :w].float().permute(0, 2, 3, 1).cpu().numpy()
        ts, dt = _pair_times(frames)
        return Flow(out, ts, dt, frames.source)

    def tune_batch(self, pairs: int) -> None:
        self.batch_size = max(1, int(pairs))


FLOWS: Registry[FlowEstimator] = Registry("flow method", {"dis": DISFlow, "raft": RAFTFlow})


def get_flow(method: str = "dis", **settings: Any) -> FlowEstimator:
    """A flow estimator by name: 'dis' (preset=...) or 'raft' (model=, weights=, device=...)."""
    return FLOWS.get(method, **settings)
