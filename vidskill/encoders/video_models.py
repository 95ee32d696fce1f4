"""torchvision video classifiers as encoders: penultimate-layer features per window.

Each model gets `clip_len` frames sampled evenly from each window, prepared by the
transforms of its torchvision weights enum (resize, centre crop, normalise), and outputs the
feature before the classification layer, L2-normalised. Weights follow the registry rules
(vidskill.weights): "default" = torch hub cache or models/, a path, or None (random
initialisation, for tests and benchmarks only).
"""

from __future__ import annotations

import os

import numpy as np

from vidskill._torch import pick_device
from vidskill.encoders.base import Encoder, Features, TooShortError
from vidskill.encoders.windows import Windows
from vidskill.flow import Flow
from vidskill.video import Frames
from vidskill.weights import DEFAULT, apply_state_dict, load_state_dict, model_entry


class TorchvisionVideoEncoder(Encoder):
    """Base of the torchvision video encoders; subclasses name the model and its feature size."""

    gpu_model = True
    clip_len: int = 16

    def __init__(self, weights: str | os.PathLike | None = DEFAULT, window: float = 1.6,
                 stride: float = 0.8, device: str | None = None, batch_size: int = 4):
        import torch
        import torchvision.models.video as tvv

        entry = model_entry(self.name)
        self.weights_enum = entry.weights_enum()
        state = load_state_dict(self.name, weights)
        net = getattr(tvv, self.name)(weights=None)
        if state is not None:
            apply_state_dict(net, state, self.name, weights)
        self._drop_head(net, torch.nn.Identity())
        self.device = pick_device(device)
        self.net = net.eval().to(self.device)
        self.transform = self.weights_enum.transforms()
        self.windows = Windows(float(window), float(stride))
        self.batch_size = int(batch_size)
        self.random_weights = state is None
        self._torch = torch

    @staticmethod
    def _drop_head(net, identity) -> None:
        """Replace the classification layer with identity (ResNet-style `fc`)."""
        net.fc = identity

    @property
    def settings(self) -> dict:
        return {"window": self.windows.length, "stride": self.windows.stride,
                "clip_len": self.clip_len, "random_weights": self.random_weights}

    def tune_batches(self, raft_pairs: int, frames: int, fps: float) -> None:
        """Clips per batch: as many whole clips of one window as `frames` allows."""
        self.batch_size = max(1, frames // max(1, round(self.windows.length * fps)))

    def encode(self, frames: Frames, origin: float | None = None,
               flow: Flow | None = None) -> Features:
        """Features of every window of `frames` (origin: first window start; `flow` unused:
        these models read pixels)."""
        if len(frames) < 2:
            raise TooShortError(f"{self.name} needs at least 2 frames, got {len(frames)}")
        ts = np.asarray(frames.timestamps, np.float64)
        step = float(np.median(np.diff(ts)))
        spans = self.windows.spans(float(ts[0]), float(ts[-1]) + step, origin, 0.25 * step)
        members = self.windows.members(ts, ts + step, spans, 0.25 * step)
        keep = [i for i, m in enumerate(members) if len(m)]
        clips = [m[np.linspace(0, len(m) - 1, self.clip_len).round().astype(int)]
                 for m in (members[i] for i in keep)]
        torch = self._torch
        rows = []
        use_amp = self.device.startswith("cuda")
        with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16, enabled=use_amp):
            for lo in range(0, len(clips), self.batch_size):
                batch = np.stack([frames.data[c] for c in clips[lo:lo + self.batch_size]])
                x = torch.from_numpy(batch).permute(0, 1, 4, 2, 3)  # N,T,C,H,W
                x = self.transform(x).to(self.device)
                y = self.net(x).float()
                rows.append(torch.nn.functional.normalize(y, dim=1).cpu().numpy())
        data = np.concatenate(rows) if rows else np.zeros((0, self.dim), np.float32)
        return Features(data.astype(np.float32), spans[keep, 0], spans[keep, 1], self.name,
                        self.settings, frames.source)


class R3D18(TorchvisionVideoEncoder):
    """ResNet3D-18 (Kinetics-400): 512-d, 112 px crops."""

    name, dim = "r3d_18", 512


class R2Plus1D18(TorchvisionVideoEncoder):
    """R(2+1)D-18 (Kinetics-400): 512-d, 112 px crops."""

    name, dim = "r2plus1d_18", 512


class MC318(TorchvisionVideoEncoder):
    """MC3-18 (Kinetics-400): 512-d, 112 px crops."""

    name, dim = "mc3_18", 512


class S3D(TorchvisionVideoEncoder):
    """S3D (Kinetics-400): 1024-d, 224 px crops; needs at least 14 frames per clip."""

    name, dim = "s3d", 1024

    @staticmethod
    def _drop_head(net, identity) -> None:
        net.classifier = identity


class MViTV2S(TorchvisionVideoEncoder):
    """MViT-V2-S (Kinetics-400): 768-d, 224 px crops, exactly 16 frames per clip."""

    name, dim = "mvit_v2_s", 768

    @staticmethod
    def _drop_head(net, identity) -> None:
        net.head = identity
