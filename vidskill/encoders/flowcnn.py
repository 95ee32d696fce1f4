"""`flow-cnn`: a small CNN over stacked flow fields, trained self-supervised on your corpus.

Input per window: `pairs` flow fields sampled evenly from the window, each resized to
`grid` x `grid`, in short sides per second with the camera's median motion removed, stacked
as 2*pairs channels. Output: a `dim`-d L2-normalised embedding. Training (`train_flow_cnn`,
`vidskill train-encoder`) is temporal contrastive (InfoNCE): a window and another window of
the same video less than `positive_seconds` away are positives, all other windows in the
batch negatives; each view gets an independent random rotation by a multiple of 90 degrees
and mirror (flow vectors rotated with the grid), so the embedding learns to ignore the
camera's roll and handedness. Weights are a state_dict (torch.save) with a JSON model card
beside it holding the architecture settings, the data, and the loss curve.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vidskill.encoders.flowbase import FlowEncoder, velocity
from vidskill.errors import WeightsNotFoundError
from vidskill.flow import Flow, FlowEstimator
from vidskill.weights import (
    DEFAULT,
    apply_state_dict,
    card_path,
    card_paths,
    data_origin,
    find_weights,
    load_state_dict,
    models_dir,
    save_weights,
)

log = logging.getLogger(__name__)
ARCH = {"pairs": 8, "grid": 32, "width": 32, "dim": 64}


def build_net(pairs: int = 8, grid: int = 32, width: int = 32, dim: int = 64):
    """The flow CNN: three strided conv blocks, global average pooling, a linear projection."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(2 * pairs, width, 3, stride=2, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1), nn.BatchNorm2d(2 * width),
        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, dim),
    )


def _default_weights() -> Path:
    path = find_weights("flow-cnn")
    return path if path is not None else models_dir() / "flow-cnn-demo.pt"


def flow_stack(v: np.ndarray, grid: int) -> np.ndarray:
    """(P,H,W,2) velocity -> (P,2,grid,grid) float32, camera median motion removed."""
    import cv2

    p = len(v)
    v = v - np.median(v.reshape(p, -1, 2), axis=1)[:, None, None, :]
    small = np.stack([cv2.resize(f, (grid, grid), interpolation=cv2.INTER_AREA) for f in v])
    return small.transpose(0, 3, 1, 2).astype(np.float32)


def window_input(stack: np.ndarray, idx: np.ndarray, pairs: int) -> np.ndarray:
    """(2*pairs, grid, grid): `pairs` flow fields sampled evenly from the window's pairs."""
    pick = idx[np.linspace(0, len(idx) - 1, pairs).round().astype(int)]
    return stack[pick].reshape(-1, *stack.shape[2:])


class FlowCNNEncoder(FlowEncoder):
    """Embeddings of stacked flow from a CNN trained on the user's corpus."""

    name = "flow-cnn"

    def __init__(self, weights: str | os.PathLike | None = DEFAULT, window: float = 1.0,
                 stride: float = 0.5, flow: FlowEstimator | str | dict = "dis"):
        import torch

        super().__init__(window, stride, flow)
        state = load_state_dict("flow-cnn", weights)
        source = _default_weights() if weights == DEFAULT else weights
        arch = dict(ARCH)
        if state is not None:
            card = card_path(source)
            if not card.is_file():
                raise WeightsNotFoundError(
                    f"{card} (the model card of {source}) is missing: it holds the network's "
                    "settings; keep it beside the weights as written by `vidskill train-encoder`"
                )
            arch.update(json.loads(card.read_text())["arch"])
        self.arch = arch
        self.net = build_net(**arch).eval()
        if state is not None:
            apply_state_dict(self.net, state, "flow-cnn", source)
        self.dim = arch["dim"]
        self.weights_id = Path(source).name if state is not None else None
        self._torch = torch

    def params(self) -> dict:
        return {"arch": self.arch, "weights": self.weights_id}

    def prepare(self, flow: Flow) -> np.ndarray:
        return flow_stack(velocity(flow), self.arch["grid"])

    def pool(self, prepared: np.ndarray, idx: np.ndarray, dt: np.ndarray) -> np.ndarray:
        torch = self._torch
        x = torch.from_numpy(window_input(prepared, idx, self.arch["pairs"]))[None]
        with torch.inference_mode():
            y = torch.nn.functional.normalize(self.net(x), dim=1)
        return y[0].numpy()


def _augment(x, generator):
    """Random 90-degree rotation and mirror of stacked flow (B, 2P, G, G), vectors included."""
    import torch

    b, c, g, _ = x.shape
    x = x.view(b, c // 2, 2, g, g)
    out = torch.empty_like(x)
    for i in range(b):
        f = x[i]
        if torch.rand(1, generator=generator).item() < 0.5:  # mirror left-right: u -> -u
            f = torch.stack([-f[:, 0].flip(-1), f[:, 1].flip(-1)], 1)
        for _ in range(int(torch.randint(0, 4, (1,), generator=generator))):
            # rot90 over (H, W) maps (x, y) -> (y, W-1-x), so (u, v) -> (v, -u)
            f = torch.stack([f[:, 1].rot90(1, (-2, -1)), -f[:, 0].rot90(1, (-2, -1))], 1)
        out[i] = f
    return out.view(b, c, g, g)


def train_flow_cnn(
    videos: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    epochs: int = 30,
    fps: float = 10.0,
    size: int = 120,
    window: float = 1.0,
    stride: float = 0.5,
    positive_seconds: float = 1.0,
    batch_size: int = 64,
    temperature: float = 0.1,
    lr: float = 2e-3,
    seed: int = 0,
    arch: dict | None = None,
    flow: FlowEstimator | str | dict = "dis",
) -> Path:
    """Train the flow CNN on `videos` and write `out` (state_dict) and its JSON model card."""
    import torch

    from vidskill.encoders.flowbase import make_flow
    from vidskill.encoders.windows import Windows
    from vidskill.video import open_video

    arch = {**ARCH, **(arch or {})}
    estimator = make_flow(flow)
    wins = Windows(window, stride)
    inputs, video_ids, centres = [], [], []
    for vid, path in enumerate(videos):
        with open_video(path, fps=fps, size=size) as reader:
            for chunk in reader.chunks(60.0, window + 2.0 / fps):
                fl = estimator(chunk)
                if len(fl) == 0:
                    continue
                stack = flow_stack(velocity(fl), arch["grid"])
                starts = np.asarray(fl.timestamps)
                ends = starts + np.asarray(fl.dt)
                spans = wins.spans(float(starts[0]), float(ends[-1]), None, 0.25 / fps)
                for (a, b), idx in zip(spans, wins.members(starts, ends, spans, 0.25 / fps),
                                       strict=True):
                    if len(idx) and b - a >= window - 0.25 / fps:
                        inputs.append(window_input(stack, idx, arch["pairs"]))
                        video_ids.append(vid)
                        centres.append((a + b) / 2)
    if len(inputs) < 4:
        raise ValueError(f"need at least 4 windows of {window}s to train, got {len(inputs)}; "
                         "give more or longer videos")
    x_all = torch.from_numpy(np.stack(inputs))
    vids, times = np.array(video_ids), np.array(centres)
    # positives: other windows of the same video whose centres are close in time
    close = (vids[:, None] == vids[None]) & (np.abs(times[:, None] - times[None]) <= positive_seconds)
    np.fill_diagonal(close, False)
    partners = [np.flatnonzero(row) for row in close]
    usable = np.array([i for i, p in enumerate(partners) if len(p)])
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = build_net(**arch)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    curve = []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(usable)
        losses = []
        net.train()
        for lo in range(0, len(order) - 1, batch_size):
            a = order[lo:lo + batch_size]
            if len(a) < 2:
                continue
            p = np.array([rng.choice(partners[i]) for i in a])
            za = torch.nn.functional.normalize(net(_augment(x_all[a], gen)), dim=1)
            zp = torch.nn.functional.normalize(net(_augment(x_all[p], gen)), dim=1)
            logits = za @ zp.T / temperature
            # windows of the same video near in time are not negatives of each other
            same = torch.from_numpy(close[np.ix_(a, p)] & ~np.eye(len(a), dtype=bool))
            logits = logits.masked_fill(same, float("-inf"))
            target = torch.arange(len(a))
            loss = (torch.nn.functional.cross_entropy(logits, target)
                    + torch.nn.functional.cross_entropy(logits.T, target)) / 2
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        curve.append(float(np.mean(losses)))
        log.info("flow-cnn epoch %d/%d loss %.4f", epoch + 1, epochs, curve[-1])
    out = Path(out)
    card = {
        "model": "flow-cnn", "weights": out.name, "arch": arch,
        "objective": "temporal InfoNCE (positives: same video within positive_seconds), "
                     "90-degree rotation + mirror augmentation",
        "data": {"videos": card_paths(list(videos)), "origin": data_origin(list(videos)),
                 "windows": len(inputs)},
        "settings": {"epochs": epochs, "fps": fps, "size": size, "window": window,
                     "stride": stride, "positive_seconds": positive_seconds,
                     "batch_size": batch_size, "temperature": temperature, "lr": lr,
                     "seed": seed, "flow": estimator.settings},
        "loss_curve": curve, "train_seconds": round(time.perf_counter() - t0, 1),
    }
    return save_weights(out, net.eval().state_dict(), card)
