"""The SBD predictor: a small causal GRU that predicts the next window's features (and action).

"Next window" means the one that starts where the current one ends, `horizon` steps ahead
(window length / stride, measured on the training features): with overlapping windows the
very next step shares most of its frames with the current one and is trivial to predict.

Its per-step error is a negative log-likelihood in nats: a diagonal Gaussian with learned
(per-step, per-dimension) variance over the standardised next feature vector, plus the
categorical NLL of the next action when the corpus has actions. Weights are a plain
`state_dict` (loaded with `weights_only=True`) beside a JSON card holding the settings,
the data it saw and its loss curve. Detection runs the trained GRU in numpy
(`inference.py`), without importing torch.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from vidskill._torch import one_thread_on_cpu, pick_device
from vidskill.boundaries.inference import (
    LOGVAR_RANGE,
    PredictionErrors,
    PredictorConfig,
    TrainedPredictor,
    load_predictor,
)
from vidskill.boundaries.peaks import step_noise
from vidskill.encoders.base import Features
from vidskill.weights import card_paths, data_origin

log = logging.getLogger(__name__)

__all__ = ["FeaturePredictor", "PredictionErrors", "PredictorConfig", "TrainSettings",
           "TrainedPredictor", "load_predictor", "next_window_steps", "train_predictor"]

_LOG2PI = math.log(2 * math.pi)


class FeaturePredictor(nn.Module):
    """GRU over standardised window features (+ one-hot action) -> next features and action."""

    def __init__(self, config: PredictorConfig):
        super().__init__()
        self.config = config
        d, h, a = config.dim, config.hidden, config.n_actions
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("scale", torch.ones(d))
        self.inp = nn.Sequential(nn.Linear(d + a, h), nn.GELU())
        self.gru = nn.GRU(h, h, batch_first=True)
        self.head = nn.Linear(h, 2 * d)
        self.action_head = nn.Linear(h, a) if a else None

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale

    def _inputs(self, z: torch.Tensor, actions: torch.Tensor | None) -> torch.Tensor:
        if self.action_head is None:
            return z
        if actions is None:
            raise ValueError("this predictor was trained with actions; pass the video's actions")
        onehot = nn.functional.one_hot(actions.clamp(min=0), self.config.n_actions).to(z.dtype)
        return torch.cat([z, onehot * (actions >= 0).unsqueeze(-1)], dim=-1)

    def step_errors(
        self,
        z: torch.Tensor,
        actions: torch.Tensor | None = None,
        state: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """NLL (nats) of z[:, h:] given z[:, :-h] (h = horizon) from `state`, shape (B, T-h);
        each step's miss, the squared distance (standardised units) between the predicted
        mean and the window that came, same shape; and the state after consuming z[:, :-h].
        z is standardised (B, T, D); actions (B, T) int, -1 = none."""
        h = self.config.horizon
        prev_a = None if actions is None else actions[:, :-h]
        out, state = self.gru(self.inp(self._inputs(z[:, :-h], prev_a)), state)
        mu, logvar = self.head(out).chunk(2, dim=-1)
        logvar = logvar.clamp(*LOGVAR_RANGE)
        target = z[:, h:]
        miss = (target - mu) ** 2
        nll = 0.5 * (_LOG2PI + logvar + miss * torch.exp(-logvar)).sum(-1)
        if self.action_head is not None and actions is not None:
            nxt = actions[:, h:]
            logp = torch.log_softmax(self.action_head(out), dim=-1)
            act = -logp.gather(-1, nxt.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            nll = nll + act * (nxt >= 0)
        return nll, miss.sum(-1), state


@dataclass
class TrainSettings:
    """How a predictor is trained; defaults train in seconds on a laptop CPU."""

    hidden: int = 64
    steps: int = 400
    batch: int = 32
    seq_len: int = 32
    lr: float = 2e-3
    seed: int = 0
    device: str | None = None


def train_predictor(
    corpus: Sequence[Features],
    actions: Sequence[np.ndarray | None] | None = None,
    settings: TrainSettings | None = None,
) -> TrainedPredictor:
    """Train a predictor on whole unsegmented videos (no labels): random crops of
    `seq_len` windows, each starting from a fresh state as detection does after a reset."""
    s = settings or TrainSettings()
    videos = [f for f in corpus if len(f) >= 2]
    if not videos:
        raise ValueError("training needs at least one video with two or more feature windows")
    dims = {f.dim for f in videos}
    if len(dims) != 1:
        raise ValueError(f"videos have features of different dimensions {sorted(dims)}; "
                         "encode them all with one encoder and settings")
    horizon = next_window_steps(videos)
    keep = [i for i, f in enumerate(videos) if len(f) > horizon]
    if not keep:
        raise ValueError(f"every video is shorter than {horizon + 1} windows (a window and "
                         "the next one); give longer videos")
    acts = _check_actions(videos, actions)
    videos = [videos[i] for i in keep]
    acts = None if acts is None else [acts[i] for i in keep]
    n_actions = 0 if acts is None else int(max(a.max() for a in acts)) + 1
    device = pick_device(s.device)
    gen = torch.Generator().manual_seed(s.seed)
    torch.manual_seed(s.seed)
    model = FeaturePredictor(PredictorConfig(videos[0].dim, s.hidden, n_actions, horizon))
    allx = np.concatenate([f.data for f in videos]).astype(np.float64)
    model.mean.copy_(torch.as_tensor(allx.mean(0), dtype=torch.float32))
    # A dimension that barely moves in training must not explode on new video: floor its
    # scale at a tenth of the typical one.
    std = allx.std(0)
    floor = max(0.1 * float(np.median(std)), 1e-6)
    model.scale.copy_(torch.as_tensor(np.maximum(std, floor), dtype=torch.float32))
    model.to(device)
    zs = [model.normalise(torch.as_tensor(f.data, dtype=torch.float32, device=device))
          for f in videos]
    ats = None if acts is None else [torch.as_tensor(a, device=device) for a in acts]
    lengths = torch.tensor([len(z) for z in zs], dtype=torch.float64)
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s.lr, total_steps=s.steps)
    # A small GRU on the CPU: one thread. Several only spin-wait between its tiny products
    # (fitting on goldeneye: 11.0 -> 6.0 CPU s, wall 10.0 -> 8.6 s with one).
    with one_thread_on_cpu(device):
        curve: list[float] = []
        model.train()
        for _ in range(s.steps):
            zb, ab = _batch(zs, ats, lengths, s.batch, s.seq_len + horizon, gen)
            loss = model.step_errors(zb, ab)[0].mean() / model.config.dim
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            curve.append(float(loss.detach()))
        model.eval()
        per_video = [PredictionErrors(model, f.data, None if acts is None else acts[i]).unreset()[0]
                     for i, f in enumerate(videos)]
    errors = np.concatenate(per_video)
    errors = errors[np.isfinite(errors)]
    card = {
        "kind": "vidskill SBD predictor",
        "config": asdict(model.config),
        "settings": {k: v for k, v in asdict(s).items() if k != "device"},
        "encoder": videos[0].encoder,
        "encoder_settings": videos[0].settings,
        "data": {
            "videos": card_paths([f.source for f in videos]),
            "origin": data_origin([f.source for f in videos]),
            "windows": int(sum(len(f) for f in videos)),
            "seconds": float(sum(f.ends[-1] - f.starts[0] for f in videos)),
            "actions": acts is not None,
        },
        "loss_curve": [round(float(np.mean(curve[i:i + 20])), 4) for i in range(0, len(curve), 20)],
        "loss_unit": "nats per feature dimension, mean over the batch",
        "errors": {"median": float(np.median(errors)) if len(errors) else None,
                   "spread": step_noise(per_video)},
    }
    log.info("trained predictor on %d videos; final loss %.3f", len(videos), curve[-1])
    return TrainedPredictor(model, card)


def next_window_steps(videos: Sequence[Features]) -> int:
    """Steps from a window to the one starting where it ends: window length / stride."""
    lengths = np.concatenate([f.ends - f.starts for f in videos])
    hops = np.concatenate([np.diff(f.starts) for f in videos if len(f) > 1])
    hop = float(np.median(hops)) if len(hops) else 0.0
    if hop <= 0:
        return 1
    return max(1, int(round(float(np.median(lengths)) / hop)))


def _check_actions(videos, actions) -> list[np.ndarray] | None:
    """Per-window integer actions for every video, or None when the corpus has none."""
    if actions is None or all(a is None for a in actions):
        return None
    if len(actions) != len(videos) or any(a is None for a in actions):
        raise ValueError("give actions for every video or for none")
    out = [np.asarray(a, dtype=np.int64) for a in actions]
    for f, a in zip(videos, out, strict=True):
        if a.shape != (len(f),):
            raise ValueError(f"{f.source}: {a.shape} actions for {len(f)} windows; resample "
                             "actions to one per window (see vidskill.boundaries.actions)")
    return out


def _batch(zs, ats, lengths, batch: int, length: int, gen: torch.Generator):
    """Random crops of `length` windows, videos drawn in proportion to their length."""
    vids = torch.multinomial(lengths, batch, replacement=True, generator=gen).tolist()
    span = min(length, min(len(zs[v]) for v in vids))
    zb, ab = [], []
    for v in vids:
        start = int(torch.randint(0, len(zs[v]) - span + 1, (1,), generator=gen))
        zb.append(zs[v][start:start + span])
        if ats is not None:
            ab.append(ats[v][start:start + span])
    return torch.stack(zb), (None if ats is None else torch.stack(ab))
