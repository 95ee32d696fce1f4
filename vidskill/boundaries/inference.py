"""The SBD predictor at detection time, without torch: its weights read from the state_dict
file, its forward pass (Linear + GELU, GRU, Gaussian head) in numpy, per-window errors.

Detection runs a 64-unit GRU over one window per 0.05-0.1 s: milliseconds of numpy.
Importing torch for it cost 1.6 CPU s and ~870 MB of memory per process, more than the rest
of `vidskill segment` holds. Training (`predictor.py`) is numpy too.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidskill.encoders.base import Features
from vidskill.errors import ConfigError, WeightsNotFoundError
from vidskill.statedict import read_state_dict
from vidskill.weights import card_path, save_weights

_LOG2PI = math.log(2 * math.pi)
# log-variance is clamped so one near-constant dimension cannot dominate the error.
LOGVAR_RANGE = (-4.0, 4.0)


@dataclass(frozen=True)
class PredictorConfig:
    """Shape of a predictor: feature dimension, hidden size, discrete actions, steps ahead."""

    dim: int
    hidden: int = 64
    n_actions: int = 0
    horizon: int = 1


# ---------------------------------------------------------------------------------------
# the forward pass


def erf(x: np.ndarray) -> np.ndarray:
    """erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32's resolution
    near 1): numpy has none, and scipy is not needed for it."""
    u = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * u)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                          + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-u * u))


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x), the standard normal's distribution function."""
    return 0.5 * (1.0 + erf(x / np.asarray(math.sqrt(2.0), x.dtype)))


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, x * Phi(x), as torch's nn.GELU()."""
    return (x * normal_cdf(x)).astype(x.dtype)


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b on this thread. These products are small (tens of windows by 64), and OpenBLAS
    splits them over its threads, whose spin-waiting cost 6x the CPU of the whole detection
    on a busy 2-core machine (0.46 vs 0.07 s for 1200 windows)."""
    return np.einsum("ij,jk->ik", a, b)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class NumpyPredictor:
    """The predictor's forward pass (torch's Linear + GELU, GRU and heads, by their state_dict
    names) in numpy."""

    def __init__(self, config: PredictorConfig, state: dict[str, np.ndarray]):
        self.config = config
        d, h, a = config.dim, config.hidden, config.n_actions
        need = {"mean": (d,), "scale": (d,), "inp.0.weight": (h, d + a), "inp.0.bias": (h,),
                "gru.weight_ih_l0": (3 * h, h), "gru.weight_hh_l0": (3 * h, h),
                "gru.bias_ih_l0": (3 * h,), "gru.bias_hh_l0": (3 * h,),
                "head.weight": (2 * d, h), "head.bias": (2 * d,)}
        if a:
            need |= {"action_head.weight": (a, h), "action_head.bias": (a,)}
        bad = [k for k, shape in need.items() if k not in state or state[k].shape != shape]
        if bad:
            raise ConfigError(f"predictor weights do not fit its card's config {config}: "
                              f"{', '.join(bad)} missing or of another shape; re-train")
        self._state = {k: np.asarray(state[k], np.float32) for k in need}
        s = self._state
        self.mean, self.scale = s["mean"], s["scale"]
        self._w_in, self._b_in = s["inp.0.weight"].T.copy(), s["inp.0.bias"]
        self._w_ih, self._b_ih = s["gru.weight_ih_l0"].T.copy(), s["gru.bias_ih_l0"]
        self._w_hh, self._b_hh = s["gru.weight_hh_l0"].T.copy(), s["gru.bias_hh_l0"]
        self._w_head, self._b_head = s["head.weight"].T.copy(), s["head.bias"]
        self._w_act = s["action_head.weight"].T.copy() if a else None
        self._b_act = s["action_head.bias"] if a else None

    def state_dict(self) -> dict[str, np.ndarray]:
        """The weights by their torch names, for `save_weights`."""
        return dict(self._state)

    def normalise(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float32) - self.mean) / self.scale).astype(np.float32)

    def _inputs(self, z: np.ndarray, actions: np.ndarray | None) -> np.ndarray:
        a = self.config.n_actions
        if not a:
            return z
        if actions is None:
            raise ValueError("this predictor was trained with actions; pass the video's actions")
        onehot = np.zeros((len(z), a), np.float32)
        known = actions >= 0
        onehot[np.flatnonzero(known), actions[known]] = 1.0
        return np.concatenate([z, onehot], axis=1)

    def step_errors(self, z: np.ndarray, actions: np.ndarray | None = None,
                    state: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """NLL (nats) of z[h:] given z[:-h] (h = horizon) from `state`, shape (T-h,); each
        step's miss (squared standardised distance of the predicted mean to what came);
        the GRU state after z[:-h]. z: standardised (T, D); actions (T,) int, -1 = none."""
        hz = self.config.horizon
        hidden = self.config.hidden
        prev_a = None if actions is None else actions[:-hz]
        x = gelu(_matmul(self._inputs(z[:-hz], prev_a), self._w_in) + self._b_in)
        gates_x = _matmul(x, self._w_ih) + self._b_ih
        h = np.zeros(hidden, np.float32) if state is None else state
        out = np.empty((len(x), hidden), np.float32)
        for t in range(len(x)):
            gh = h @ self._w_hh + self._b_hh
            gx = gates_x[t]
            r = sigmoid(gx[:hidden] + gh[:hidden])
            u = sigmoid(gx[hidden:2 * hidden] + gh[hidden:2 * hidden])
            n = np.tanh(gx[2 * hidden:] + r * gh[2 * hidden:])
            h = (1.0 - u) * n + u * h
            out[t] = h
        mu, logvar = np.split(_matmul(out, self._w_head) + self._b_head, 2, axis=1)
        logvar = np.clip(logvar, *LOGVAR_RANGE)
        miss = (z[hz:] - mu) ** 2
        nll = 0.5 * (_LOG2PI + logvar + miss * np.exp(-logvar)).sum(1)
        if self._w_act is not None and actions is not None:
            nxt = actions[hz:]
            logits = _matmul(out, self._w_act) + self._b_act
            top = logits.max(1, keepdims=True)
            logp = logits - top - np.log(np.exp(logits - top).sum(1, keepdims=True))
            act = -logp[np.arange(len(nxt)), np.maximum(nxt, 0)]
            nll = nll + act * (nxt >= 0)
        return nll.astype(np.float32), miss.sum(1).astype(np.float32), h


# ---------------------------------------------------------------------------------------
# per-window errors


class PredictionErrors:
    """Lazy per-window errors of one video with `reset(i)`: restart the GRU from window i.

    Iterating yields one error per window; NaN for the first 2 `horizon` windows of a
    segment: nothing in the segment predicts the first h, and the next h are predicted by a
    GRU that has read less than one window's span of the segment, whose errors are warm-up,
    not surprise (a fresh GRU can miss by hundreds of nats and would poison the segment's
    mean). The GRU runs over chunks of windows for speed; a reset drops what was computed
    past the reset point.
    """

    def __init__(self, model: NumpyPredictor, data: np.ndarray, actions: np.ndarray | None = None,
                 chunk: int = 32):
        self.model = model
        self._z = self.model.normalise(data)
        self._a = None if actions is None else np.asarray(actions, dtype=np.int64)
        self.chunk = max(1, int(chunk))
        self._restart: int | None = None

    def __len__(self) -> int:
        return len(self._z)

    def reset(self, i: int) -> None:
        """Forget the state: the next error is predicted from window i alone."""
        self._restart = int(i)

    def _acts(self, lo: int, hi: int) -> np.ndarray | None:
        return None if self._a is None else self._a[lo:hi]

    def unreset(self, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """Per-window NLL and miss (see `NumpyPredictor.step_errors`) with the state never
        reset, in one pass of `chunk` windows at a time; NaN for the first 2 `horizon`
        (nothing predicts, then warm-up, as when iterating)."""
        n, h = len(self), self.model.config.horizon
        nll, miss = np.full(n, np.nan), np.full(n, np.nan)
        state = None
        for lo in range(0, max(n - h, 0), chunk):
            hi = min(lo + chunk, n - h) + h
            e, m, state = self.model.step_errors(self._z[lo:hi], self._acts(lo, hi), state)
            nll[lo + h:hi], miss[lo + h:hi] = e, m
        nll[:2 * h], miss[:2 * h] = np.nan, np.nan
        return nll, miss

    def standardised(self) -> np.ndarray:
        """The windows' features as the predictor sees them (N, D), in training-set units."""
        return self._z

    def miss_across(self, before: int, start: int, stop: int) -> float:
        """Mean miss of windows stop .. stop+h-1 (h = horizon) predicted by the GRU that has
        read windows before .. start-1 and skips start .. stop-1: how far the features after
        a burst lie from what the segment before it predicts. Needs start - before >= h and
        stop + h <= len(self)."""
        h = self.model.config.horizon
        if start - before < h or stop + h > len(self):
            raise ValueError(f"need {h} windows before {start} (from {before}) and {h} from "
                             f"{stop} (of {len(self)})")
        z = np.concatenate([self._z[before:start], self._z[stop:stop + h]])
        acts = None if self._a is None else np.concatenate(
            [self._a[before:start], self._a[stop:stop + h]])
        _, miss, _ = self.model.step_errors(z, acts)
        return float(miss[-h:].mean())

    def __iter__(self) -> Iterator[float]:
        n, h = len(self), self.model.config.horizon
        self._restart = None
        start = consumed = 0  # segment start; inputs start..consumed-1 are in `state`
        state = None
        errors: dict[int, float] = {}
        for j in range(n):
            if j < start + 2 * h:
                yield math.nan
            else:
                if j not in errors:
                    stop = min(n - h, max(consumed + self.chunk, j - h + 1))
                    errs, _, state = self.model.step_errors(
                        self._z[consumed:stop + h], self._acts(consumed, stop + h), state)
                    errors = dict(zip(range(consumed + h, stop + h), errs.tolist(),
                                      strict=True))
                    consumed = stop
                yield errors[j]
            if self._restart is not None:
                start = consumed = self._restart
                state, errors, self._restart = None, {}, None


@dataclass
class TrainedPredictor:
    """A predictor and its card (settings, data, loss curve, calibration)."""

    model: NumpyPredictor
    card: dict = field(default_factory=dict)

    def errors(self, features: Features, actions: np.ndarray | None = None) -> PredictionErrors:
        """Per-window errors of `features`, resettable (see `PredictionErrors`)."""
        features.check_dim(self.model.config.dim)
        return PredictionErrors(self.model, features.data, actions)

    def save(self, path: str | os.PathLike) -> Path:
        """Write `<path>` (state_dict) and its card beside it atomically; return the path."""
        return save_weights(path, self.model.state_dict(), self.card)


def load_predictor(path: str | os.PathLike) -> TrainedPredictor:
    """Load weights (plain tensors only, never pickled code) and the card beside them, for
    detection in numpy."""
    path = Path(path)
    card_file = card_path(path)
    if not path.is_file() or not card_file.is_file():
        raise WeightsNotFoundError(
            f"predictor weights {path} or card {card_file} missing; train one with "
            "`vidskill train-predictor VIDEOS --out models/predictor.pt` or pass its path"
        )
    card = json.loads(card_file.read_text())
    try:
        config = PredictorConfig(**card["config"])
    except (KeyError, TypeError) as e:
        raise ConfigError(f"{card_file} has no valid 'config' entry ({e}); re-train") from e
    return TrainedPredictor(NumpyPredictor(config, read_state_dict(path)), card)
