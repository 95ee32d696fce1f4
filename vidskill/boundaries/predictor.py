"""The SBD predictor's training: a small causal GRU that predicts the next window's features
(and action), fitted in numpy on the corpus at hand.

"Next window" means the one that starts where the current one ends, `horizon` steps ahead
(window length / stride, measured on the training features): with overlapping windows the
very next step shares most of its frames with the current one and is trivial to predict.

Its per-step error is a negative log-likelihood in nats: a diagonal Gaussian with learned
(per-step, per-dimension) variance over the standardised next feature vector, plus the
categorical NLL of the next action when the corpus has actions. The network is torch's
Linear + GELU, GRU and linear heads, with torch's initialisation, AdamW and one-cycle
schedule, written in numpy with its gradients by hand (checked against torch's autograd in
the tests): `vidskill segment` fits one on every call, and importing torch for a
64-unit GRU cost ~870 MB and ~1.6 CPU s per process. Weights are a plain `state_dict` in
torch's format beside a JSON card holding the settings, the data it saw and its loss curve;
detection runs it in `inference.py`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from vidskill.boundaries.inference import (
    LOGVAR_RANGE,
    NumpyPredictor,
    PredictionErrors,
    PredictorConfig,
    TrainedPredictor,
    load_predictor,
    normal_cdf,
    sigmoid,
)
from vidskill.boundaries.peaks import step_noise
from vidskill.boundaries.signal import SignalTransform
from vidskill.encoders.base import Features
from vidskill.weights import card_paths, data_origin

log = logging.getLogger(__name__)

__all__ = ["PredictionErrors", "PredictorConfig", "TrainSettings", "TrainedPredictor",
           "init_weights", "load_predictor", "loss_and_grads", "next_window_steps",
           "train_predictor"]

_LOG2PI = math.log(2 * math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)


@dataclass
class TrainSettings:
    """How a predictor is trained; defaults train in seconds on one CPU core."""

    hidden: int = 64
    steps: int = 400
    batch: int = 32
    seq_len: int = 32
    lr: float = 2e-3
    seed: int = 0


def init_weights(config: PredictorConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """torch's default initialisation of the network, by torch's parameter names: every
    weight and bias uniform in +-1/sqrt(fan_in) (Linear; GRU: fan_in = hidden)."""
    d, h, a = config.dim, config.hidden, config.n_actions
    shapes = {"inp.0.weight": (h, d + a), "inp.0.bias": (h,),
              "gru.weight_ih_l0": (3 * h, h), "gru.weight_hh_l0": (3 * h, h),
              "gru.bias_ih_l0": (3 * h,), "gru.bias_hh_l0": (3 * h,),
              "head.weight": (2 * d, h), "head.bias": (2 * d,)}
    if a:
        shapes |= {"action_head.weight": (a, h), "action_head.bias": (a,)}
    fan_in = {"inp.0": d + a, "gru": h, "head": h, "action_head": h}
    out = {}
    for name, shape in shapes.items():
        bound = 1.0 / math.sqrt(fan_in[name.rsplit(".", 1)[0]])
        out[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    return out


def _gelu_grad(x: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """d GELU / dx = Phi(x) + x phi(x), given cdf = Phi(x) from the forward pass."""
    return cdf + x * np.exp(-0.5 * x * x) / _SQRT_2PI


def _outer(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Sum over every leading axis of dy[..., k] x[..., h]: a layer's weight gradient."""
    return dy.reshape(-1, dy.shape[-1]).T @ x.reshape(-1, x.shape[-1])


def loss_and_grads(w: dict[str, np.ndarray], config: PredictorConfig, z: np.ndarray,
                   actions: np.ndarray | None = None) -> tuple[float, dict[str, np.ndarray]]:
    """Mean NLL per step and feature dimension of z[:, h:] given z[:, :-h] (h = horizon),
    each sequence from a fresh state, and its gradient by every weight (backpropagation
    through time). z: standardised (B, T, D); actions (B, T) int, -1 = none."""
    hz, hid, dim, n_act = config.horizon, config.hidden, config.dim, config.n_actions
    x = z[:, :-hz]
    if n_act:
        prev = actions[:, :-hz]
        onehot = (prev[..., None] == np.arange(n_act)).astype(z.dtype)
        x = np.concatenate([x, onehot], axis=-1)
    b, steps = x.shape[:2]
    pre = x @ w["inp.0.weight"].T + w["inp.0.bias"]
    cdf = normal_cdf(pre)
    g = (pre * cdf).astype(pre.dtype)   # gelu(pre), its Phi kept for the backward pass
    gx = g @ w["gru.weight_ih_l0"].T + w["gru.bias_ih_l0"]
    w_hh, b_hh = w["gru.weight_hh_l0"].T, w["gru.bias_hh_l0"]
    hs = np.zeros((steps + 1, b, hid), z.dtype)   # hs[t] = state before step t
    r_, u_, n_, ghn_ = (np.empty((steps, b, hid), z.dtype) for _ in range(4))
    for t in range(steps):
        gh = hs[t] @ w_hh + b_hh
        ru = sigmoid(gx[:, t, :2 * hid] + gh[:, :2 * hid])   # reset and update gates
        r, u = ru[:, :hid], ru[:, hid:]
        n = np.tanh(gx[:, t, 2 * hid:] + r * gh[:, 2 * hid:])
        hs[t + 1] = (1 - u) * n + u * hs[t]
        r_[t], u_[t], n_[t], ghn_[t] = r, u, n, gh[:, 2 * hid:]
    out = hs[1:].transpose(1, 0, 2)                  # (B, steps, H)
    head = out @ w["head.weight"].T + w["head.bias"]
    mu, raw = head[..., :dim], head[..., dim:]
    logvar = np.clip(raw, *LOGVAR_RANGE)
    inv = np.exp(-logvar)
    diff = z[:, hz:] - mu
    nll = 0.5 * (_LOG2PI + logvar + diff * diff * inv).sum(-1)
    c = 1.0 / (b * steps * dim)
    grads: dict[str, np.ndarray] = {}
    dhead = np.concatenate([-diff * inv, 0.5 * (1 - diff * diff * inv) * (
        (raw >= LOGVAR_RANGE[0]) & (raw <= LOGVAR_RANGE[1]))], axis=-1) * c
    grads["head.weight"] = _outer(dhead, out)
    grads["head.bias"] = dhead.sum((0, 1))
    dout = dhead @ w["head.weight"]
    if n_act:
        nxt = actions[:, hz:]
        logits = out @ w["action_head.weight"].T + w["action_head.bias"]
        logits = logits - logits.max(-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        known = nxt >= 0
        picked = np.take_along_axis(logp, np.maximum(nxt, 0)[..., None], -1)[..., 0]
        nll = nll - picked * known
        dlogits = (np.exp(logp) - (nxt[..., None] == np.arange(n_act))) * (known[..., None] * c)
        grads["action_head.weight"] = _outer(dlogits, out)
        grads["action_head.bias"] = dlogits.sum((0, 1))
        dout = dout + dlogits @ w["action_head.weight"]
    dgx = np.empty((b, steps, 3 * hid), z.dtype)
    dgh = np.empty((steps, b, 3 * hid), z.dtype)
    dh = np.zeros((b, hid), z.dtype)
    w_hh_t = w["gru.weight_hh_l0"]
    for t in range(steps - 1, -1, -1):
        dh = dh + dout[:, t]
        r, u, n = r_[t], u_[t], n_[t]
        dn = dh * (1 - u) * (1 - n * n)
        du = dh * (hs[t] - n) * u * (1 - u)
        dr = dn * ghn_[t] * r * (1 - r)
        dgx[:, t, :hid], dgx[:, t, hid:2 * hid], dgx[:, t, 2 * hid:] = dr, du, dn
        dgh[t, :, :hid], dgh[t, :, hid:2 * hid], dgh[t, :, 2 * hid:] = dr, du, dn * r
        dh = dh * u + dgh[t] @ w_hh_t
    grads["gru.weight_hh_l0"] = _outer(dgh, hs[:-1])
    grads["gru.bias_hh_l0"] = dgh.sum((0, 1))
    grads["gru.weight_ih_l0"] = _outer(dgx, g)
    grads["gru.bias_ih_l0"] = dgx.sum((0, 1))
    dpre = (dgx @ w["gru.weight_ih_l0"]) * _gelu_grad(pre, cdf)
    grads["inp.0.weight"] = _outer(dpre, x)
    grads["inp.0.bias"] = dpre.sum((0, 1))
    return float(nll.sum() * c), grads


class _AdamW:
    """torch.optim.AdamW (decoupled weight decay) under OneCycleLR's default schedule: the
    rate rises from lr/25 to lr over the first 30% of steps and falls to lr/25e4 (cosine),
    while beta1 falls from 0.95 to 0.85 and rises back."""

    def __init__(self, w: dict[str, np.ndarray], lr: float, steps: int, decay: float = 1e-4):
        self.w, self.lr, self.steps, self.decay = w, lr, steps, decay
        self.m = {k: np.zeros_like(v) for k, v in w.items()}
        self.v = {k: np.zeros_like(v) for k, v in w.items()}
        self.t = 0

    def _schedule(self) -> tuple[float, float]:
        peak = 0.3 * self.steps - 1
        first, low = self.lr / 25, self.lr / 25 / 1e4
        if self.t <= peak:
            f = self.t / peak if peak > 0 else 1.0
            a, b, m0, m1 = first, self.lr, 0.95, 0.85
        else:
            f = (self.t - peak) / max(self.steps - 1 - peak, 1e-9)
            a, b, m0, m1 = self.lr, low, 0.85, 0.95
        cos = (1 + math.cos(math.pi * min(f, 1.0))) / 2
        return b + (a - b) * cos, m1 + (m0 - m1) * cos

    def step(self, grads: dict[str, np.ndarray], beta2: float = 0.999, eps: float = 1e-8) -> None:
        lr, beta1 = self._schedule()
        self.t += 1
        for k, g in grads.items():
            p, m, v = self.w[k], self.m[k], self.v[k]
            p *= 1 - lr * self.decay
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            step = lr / (1 - beta1 ** self.t)
            p -= step * m / (np.sqrt(v / (1 - beta2 ** self.t)) + eps)


def _clip(grads: dict[str, np.ndarray], limit: float = 1.0) -> None:
    """Scale the gradients down to a total norm of `limit` (torch's clip_grad_norm_)."""
    norm = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
    if norm > limit:
        for g in grads.values():
            g *= limit / (norm + 1e-6)


def train_predictor(
    corpus: Sequence[Features],
    actions: Sequence[np.ndarray | None] | None = None,
    settings: TrainSettings | None = None,
) -> TrainedPredictor:
    """Train a predictor on whole unsegmented videos or shots (no labels): random crops of
    `seq_len` windows, each starting from a fresh state as detection does after a reset.
    Features whose encoder declares blocks are read through a `SignalTransform` fitted
    here, kept in the card."""
    s = settings or TrainSettings()
    corpus = list(corpus)
    transform = SignalTransform.fit(corpus)
    if transform is not None:
        corpus = [transform.apply(f) for f in corpus]
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
    config = PredictorConfig(videos[0].dim, s.hidden, n_actions, horizon)
    rng = np.random.default_rng(s.seed)
    w = init_weights(config, rng)
    n = sum(len(f) for f in videos)
    mean = sum(f.data.sum(0, dtype=np.float64) for f in videos) / n
    std = np.sqrt(sum(((f.data - mean) ** 2).sum(0) for f in videos) / n)
    # A dimension that barely moves in training must not explode on new video: floor its
    # scale at a tenth of the typical one.
    floor = max(0.1 * float(np.median(std)), 1e-6)
    w["mean"], w["scale"] = mean.astype(np.float32), np.maximum(std, floor).astype(np.float32)
    zs = [((f.data - w["mean"]) / w["scale"]).astype(np.float32) for f in videos]
    lengths = np.array([len(z) for z in zs], np.float64)
    trained = {k: v for k, v in w.items() if k not in ("mean", "scale")}
    opt = _AdamW(trained, s.lr, s.steps)
    curve: list[float] = []
    # One BLAS thread: these products are small, and a second thread spin-waits between
    # them (on the MetaWorld corpus: 5.8 CPU s for 2.9 s wall with two, 3.2 s with one),
    # taking the core that decodes the next video.
    with threadpool_limits(1, user_api="blas"):
        for _ in range(s.steps):
            zb, ab = _batch(zs, acts, lengths, s.batch, s.seq_len + horizon, rng)
            loss, grads = loss_and_grads(trained, config, zb, ab)
            _clip(grads)
            opt.step(grads)
            curve.append(loss)
    model = NumpyPredictor(config, w)
    per_video = [PredictionErrors(model, f.data, None if acts is None else acts[i]).unreset()[0]
                 for i, f in enumerate(videos)]
    errors = np.concatenate(per_video)
    errors = errors[np.isfinite(errors)]
    card = {
        "kind": "vidskill SBD predictor",
        "config": asdict(config),
        "settings": asdict(s),
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
    if transform is not None:
        card["signal"] = transform.to_dict()
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


def _batch(zs, acts, lengths, batch: int, length: int, rng: np.random.Generator):
    """Random crops of `length` windows, videos drawn in proportion to their length."""
    vids = rng.choice(len(zs), size=batch, p=lengths / lengths.sum())
    span = min(length, min(len(zs[v]) for v in vids))
    starts = [int(rng.integers(0, len(zs[v]) - span + 1)) for v in vids]
    zb = np.stack([zs[v][a:a + span] for v, a in zip(vids, starts, strict=True)])
    ab = None if acts is None else np.stack(
        [acts[v][a:a + span] for v, a in zip(vids, starts, strict=True)])
    return zb, ab
