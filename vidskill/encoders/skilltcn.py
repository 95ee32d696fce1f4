"""`skill-tcn`: per-window skill posteriors from a temporal conv net over the motion path.

Each flow pair is reduced to one sample of the moving subject's path: the mean moving flow
(as in flow-motion: camera motion removed, weighted by image structure), its magnitude, the
log motion energy and the centroid of the moving pixels. Velocities are divided by the
local mean energy (±NORM_STEPS pairs) and the centroid is taken relative to its local mean,
so camera distance and where in the frame the work happens do not matter, only how the
motion changes. A dilated 1-D conv net (receptive field ±16 pairs) maps that sequence to
per-pair class posteriors, and a window's feature is the square root of its mean posterior:
a unit vector whose Euclidean distances are Hellinger distances between class mixtures, so
the SBD predictor's Gaussian errors and cosine search both treat every class alike.

It is trained with labels (`train_skill_tcn`, `vidskill train-encoder --model skill-tcn`) on
videos that have a JSON beside them (`<stem>.json`, `{"segments": [{"label", "start",
"end"}, ...]}` in seconds, as `vidskill synth` writes), so it knows only the classes and the
kind of footage it was trained on: the shipped weights know the demo corpus's eight skills.
Training mirrors the path and rotates it by up to ±20 degrees (a camera's roll and
handedness) but keeps up and down, which tell a downward stroke from a sideways one.
Assumes the frame rate it was trained at (the card's `fps`; 10 by default); flow at any
other rate is resampled to it (`prepare_blocks`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vidskill.encoders.flowbase import FlowEncoder
from vidskill.encoders.motion import moving_flow
from vidskill.errors import ConfigError, WeightsNotFoundError
from vidskill.flow import Flow, FlowEstimator
from vidskill.weights import (
    DEFAULT,
    apply_state_dict,
    card_path,
    card_paths,
    data_origin,
    find_weights,
    load_state_dict,
    save_weights,
)

log = logging.getLogger(__name__)

NORM_STEPS = 100               # local mean energy and centroid over ±100 pairs (±10 s at 10 fps)
DILATIONS = (1, 2, 4, 8, 1)     # kernel 3 each: receptive field ±sum(DILATIONS) = ±16 pairs
WIDTH = 64
INPUTS = 6                      # u, v, |z|, log energy, centroid x, centroid y
CONTEXT_STEPS = NORM_STEPS + sum(DILATIONS)   # pairs either side a posterior depends on
MAX_ROLL = math.radians(20.0)   # training rotation of the path, either way
VERSION = 2                     # 2: convolutions pad by repeating the run's first/last pair


def build_net(classes: int, width: int = WIDTH):
    """Dilated 1-D conv net: (B, INPUTS, T) standardised inputs -> (B, classes, T) logits.
    Padding repeats the edge, so the start and end of a video do not look like a stop."""
    import torch
    from torch import nn

    class SkillTCN(nn.Module):
        def __init__(self):
            super().__init__()
            layers, ch = [], INPUTS
            for d in DILATIONS:
                layers += [nn.Conv1d(ch, width, 3, padding=d, dilation=d, padding_mode="replicate"),
                           nn.GELU()]
                ch = width
            self.body = nn.Sequential(*layers)
            self.head = nn.Conv1d(width, classes, 1)
            self.register_buffer("mean", torch.zeros(INPUTS))
            self.register_buffer("std", torch.ones(INPUTS))

        def forward(self, x):
            x = (x - self.mean[:, None]) / self.std[:, None]
            return self.head(self.body(x))

    return SkillTCN()


def path_samples(flow: Flow, images: np.ndarray) -> np.ndarray:
    """(P, 5) per pair: mean moving flow (x, y), energy, moving centroid (x, y) in short sides."""
    u, v, mag, wgt = moving_flow(flow, images)
    p, h, w = u.shape
    total = wgt.reshape(p, -1).sum(1) + 1e-12
    yy, xx = np.mgrid[0:h, 0:w] / float(min(h, w))

    def weighted(a: np.ndarray) -> np.ndarray:
        return (wgt * a).reshape(p, -1).sum(1) / total

    return np.stack([weighted(u), weighted(v), mag.reshape(p, -1).mean(1), weighted(xx),
                     weighted(yy)], 1)


def _local_mean(x: np.ndarray, half: int) -> np.ndarray:
    """Mean of x over ±half rows (fewer at the ends), per column."""
    c = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, 0)])
    i = np.arange(len(x))
    lo, hi = np.maximum(i - half, 0), np.minimum(i + half + 1, len(x))
    return (c[hi] - c[lo]) / (hi - lo)[:, None]


def step_inputs(samples: np.ndarray) -> np.ndarray:
    """(P, INPUTS) network inputs from `path_samples`: scale- and position-free."""
    s = np.asarray(samples, np.float64)
    scale = _local_mean(s[:, 2:3], NORM_STEPS)[:, 0] + 1e-6
    u, v = s[:, 0] / scale, s[:, 1] / scale
    centre = s[:, 3:5] - _local_mean(s[:, 3:5], NORM_STEPS)
    return np.stack([u, v, np.hypot(u, v), np.log(s[:, 2] / scale + 1e-3),
                     centre[:, 0], centre[:, 1]], 1).astype(np.float32)


class SkillTCNEncoder(FlowEncoder):
    """Skill posteriors per window from a TCN trained on labelled videos (module docstring)."""

    name = "skill-tcn"
    needs_images = True   # the mean moving flow is weighted by image structure

    def __init__(self, weights: str | os.PathLike | None = DEFAULT, window: float = 0.5,
                 stride: float = 0.1, flow: FlowEstimator | str | dict = "dis"):
        import torch

        super().__init__(window, stride, flow)
        if weights is None:
            raise WeightsNotFoundError(
                "skill-tcn has no untrained form (its classes come from training); train one "
                "with `vidskill train-encoder --model skill-tcn VIDEOS --out W.pt` or pass "
                "weights='default' for the demo weights")
        state = load_state_dict("skill-tcn", weights)   # raises a clear error when missing
        source = (find_weights("skill-tcn") if isinstance(weights, str) and weights == DEFAULT
                  else Path(weights))
        card = card_path(source)
        if not card.is_file():
            raise WeightsNotFoundError(
                f"{card} (the model card of {source}) is missing: it names the classes; keep "
                "it beside the weights as written by `vidskill train-encoder`")
        meta = json.loads(card.read_text())
        try:
            self.classes = [str(c) for c in meta["classes"]]
            self.fps = float(meta["settings"]["fps"])
        except (KeyError, TypeError) as e:
            raise ConfigError(f"{card} is not a skill-tcn model card (missing {e}); "
                              "re-train with `vidskill train-encoder --model skill-tcn`") from e
        self.net = build_net(len(self.classes)).eval()
        apply_state_dict(self.net, state, "skill-tcn", source)
        self.dim = len(self.classes)
        self.context = CONTEXT_STEPS / self.fps
        # name and content digest: the feature cache must not mix two trainings of one name
        self.weights_id = f"{Path(source).name}:{hashlib.sha256(Path(source).read_bytes()).hexdigest()[:12]}"
        self._torch = torch

    def params(self) -> dict:
        return {"weights": self.weights_id, "classes": self.classes, "version": VERSION}

    def prepare(self, flow: Flow, images: np.ndarray) -> np.ndarray:
        return path_samples(flow, images)

    def prepare_blocks(self, flow: Flow, images: np.ndarray | None = None) -> np.ndarray:
        """Per-pair class posteriors (P, classes) of the whole run: the net needs neighbours,
        so it runs after the per-pair samples of all blocks are joined. Flow at another rate
        than the weights' (25 fps, variable frame rate) is resampled: each pair's motion is
        scaled to one training step (1 / fps), interpolated onto a regular grid at the
        training rate, and each pair takes the posterior of its nearest grid step."""
        samples = super().prepare_blocks(flow, images)
        step = 1.0 / self.fps
        dt = np.asarray(flow.dt, np.float64)
        if len(flow) < 2 or np.all(np.abs(dt / step - 1.0) <= 0.2):
            return self.posteriors(samples)   # the rate it was trained at
        scaled = np.array(samples, np.float64)
        scaled[:, :3] *= (step / np.maximum(dt, 1e-6))[:, None]   # flow x, y and energy
        centres = np.asarray(flow.timestamps, np.float64) + dt / 2
        grid = centres[0] + np.arange(int(np.floor((centres[-1] - centres[0]) / step)) + 1) * step
        regular = np.stack([np.interp(grid, centres, scaled[:, k])
                            for k in range(scaled.shape[1])], 1)
        nearest = np.clip(np.round((centres - grid[0]) / step).astype(np.int64), 0, len(grid) - 1)
        return self.posteriors(regular)[nearest]

    def posteriors(self, samples: np.ndarray) -> np.ndarray:
        """(P, classes) class probabilities per pair from `path_samples` rows."""
        torch = self._torch
        x = torch.from_numpy(step_inputs(samples).T.copy())[None]
        with torch.inference_mode():
            return torch.softmax(self.net(x), 1)[0].T.numpy().astype(np.float64)

    def pool(self, prepared: np.ndarray, idx: np.ndarray, dt: np.ndarray) -> np.ndarray:
        return np.sqrt(prepared[idx].mean(0))


def labels_file(video: str | os.PathLike) -> Path:
    """Where a training video's labels live: `<stem>.json` beside it."""
    return Path(video).with_suffix(".json")


def read_labels(video: str | os.PathLike) -> list[tuple[str, float, float]]:
    """(label, start s, end s) per labelled segment of `video`, from its labels file."""
    path = labels_file(video)
    if not path.is_file():
        raise ConfigError(f"{video}: no labels file {path}; write {{\"segments\": [{{\"label\": "
                          "..., \"start\": s, \"end\": s}}, ...]}} beside the video")
    try:
        segs = json.loads(path.read_text())["segments"]
        out = [(str(s["label"]), float(s["start"]), float(s["end"])) for s in segs]
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{path}: expected {{\"segments\": [{{\"label\", \"start\", \"end\"}}, "
                          f"...]}} ({type(e).__name__}: {e})") from None
    if not out:
        raise ConfigError(f"{path}: no segments; label at least one")
    return out


def _video_steps(path: str | os.PathLike, estimator: FlowEstimator, fps: float, size: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(path samples (P,5), pair centre times (P,)) of a whole video, decoded in chunks."""
    from vidskill.video import open_video

    samples, times, last = [], [], -np.inf
    with open_video(path, fps=fps, size=size) as reader:
        for chunk in reader.chunks(60.0, 2.0 / fps):
            if len(chunk) < 2:
                continue
            fl = estimator(chunk)
            centre = np.asarray(fl.timestamps) + np.asarray(fl.dt) / 2
            new = centre > last + 0.25 / fps
            if new.any():
                samples.append(path_samples(fl, chunk.data[:len(fl)])[new])
                times.append(centre[new])
                last = float(centre[new][-1])
    if not samples:
        raise ConfigError(f"{path}: fewer than 2 frames at {fps:g} fps; cannot train on it")
    return np.concatenate(samples), np.concatenate(times)


def _augment(x, gen):
    """Random mirror and roll (±MAX_ROLL) of the path channels of (B, INPUTS, T) inputs."""
    import torch

    b = x.shape[0]
    theta = (torch.rand(b, generator=gen) * 2 - 1) * MAX_ROLL
    flip = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0)
    c, s = torch.cos(theta)[:, None], torch.sin(theta)[:, None]
    out = x.clone()
    for a, bb in ((0, 1), (4, 5)):   # (u, v) and (centroid x, y)
        px, py = x[:, a] * flip[:, None], x[:, bb]
        out[:, a], out[:, bb] = c * px - s * py, s * px + c * py
    return out


def train_skill_tcn(
    videos: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    steps: int = 3000,
    fps: float = 10.0,
    size: int = 160,
    crop: int = 128,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    flow: FlowEstimator | str | dict = "dis",
) -> Path:
    """Train the skill TCN on labelled `videos` (labels JSON beside each); write `out` and its
    model card. Pairs outside every labelled segment are not trained on."""
    import torch

    from vidskill.encoders.flowbase import make_flow

    estimator = make_flow(flow)
    labelled = [(v, read_labels(v)) for v in videos]
    classes = sorted({lab for _, segs in labelled for lab, _, _ in segs})
    if len(classes) < 2:
        raise ConfigError(f"need at least two labels to train a classifier, got {classes}")
    xs, ys = [], []
    for video, segs in labelled:
        samples, times = _video_steps(video, estimator, fps, size)
        y = np.full(len(times), -100, np.int64)
        for lab, a, b in segs:
            y[(times >= a) & (times < b)] = classes.index(lab)
        xs.append(step_inputs(samples))
        ys.append(y)
    span = min(crop, min(len(x) for x in xs))
    allx = np.concatenate(xs)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = build_net(len(classes))
    net.mean.copy_(torch.from_numpy(allx.mean(0)))
    net.std.copy_(torch.from_numpy(np.maximum(allx.std(0), 1e-6)))
    tx = [torch.from_numpy(x.T.copy()) for x in xs]
    ty = [torch.from_numpy(y) for y in ys]
    weights = torch.tensor([len(x) for x in xs], dtype=torch.float64)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    curve, losses = [], []
    t0 = time.perf_counter()
    net.train()
    for it in range(steps):
        pick = torch.multinomial(weights, batch_size, replacement=True, generator=gen).tolist()
        starts = [int(torch.randint(0, len(ty[v]) - span + 1, (1,), generator=gen)) for v in pick]
        xb = torch.stack([tx[v][:, s:s + span] for v, s in zip(pick, starts, strict=True)])
        yb = torch.stack([ty[v][s:s + span] for v, s in zip(pick, starts, strict=True)])
        if (yb < 0).all():
            continue
        loss = torch.nn.functional.cross_entropy(net(_augment(xb, gen)), yb, ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if (it + 1) % 100 == 0:
            curve.append(round(float(np.mean(losses)), 4))
            losses = []
    out = Path(out)
    card = {
        "model": "skill-tcn", "weights": out.name, "classes": classes,
        "objective": "per-pair cross-entropy on labelled segments; mirror and ±20 degree roll "
                     "augmentation",
        "arch": {"inputs": INPUTS, "width": WIDTH, "dilations": list(DILATIONS),
                 "padding": "replicate", "norm_steps": NORM_STEPS},
        "data": {"videos": card_paths(list(videos)), "origin": data_origin(list(videos)),
                 "pairs": int(len(allx)),
                 "labelled_pairs": int(sum((y >= 0).sum() for y in ys))},
        "settings": {"steps": steps, "fps": fps, "size": size, "crop": crop,
                     "batch_size": batch_size, "lr": lr, "seed": seed,
                     "flow": estimator.settings},
        "loss_curve": curve, "loss_unit": "nats per labelled pair, mean of 100 steps",
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
    save_weights(out, net.eval().state_dict(), card)
    log.info("skill-tcn: %d classes, %d pairs, final loss %s", len(classes), len(allx),
             curve[-1:] or "-")
    return out
