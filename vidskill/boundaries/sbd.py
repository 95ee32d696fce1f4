"""`PredictionErrorDetector` ("sbd"): boundaries where the next-window prediction error jumps."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from vidskill.boundaries.base import Boundaries
from vidskill.boundaries.predictor import (
    TrainedPredictor,
    TrainSettings,
    load_predictor,
    robust_spread,
    train_predictor,
)
from vidskill.boundaries.rule import sbd_rule
from vidskill.encoders.base import Features
from vidskill.errors import ConfigError

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
# The shipped predictor for each encoder, trained on the demo corpus (README: Model weights).
SHIPPED_PREDICTORS = {"flow-hof": "predictor-demo.pt", "skill-tcn": "predictor-skill-tcn-demo.pt"}


def shipped_predictor(encoder: str) -> Path:
    """The shipped predictor file for features of `encoder`."""
    if encoder not in SHIPPED_PREDICTORS:
        raise ConfigError(
            f"no SBD predictor is shipped for {encoder!r} features (only for "
            f"{', '.join(sorted(SHIPPED_PREDICTORS))}); train one with `vidskill train-predictor "
            f"--encoder {encoder} VIDEOS --out P.pt` and pass predictor=P.pt (--predictor)")
    return MODELS_DIR / SHIPPED_PREDICTORS[encoder]


class PredictionErrorDetector:
    """Skill Boundary Detection: the published rule over a learned predictor's errors.

    gap: nats of error above the running segment mean that flag a boundary; None = automatic,
        `k` robust standard deviations (1.4826 * MAD) of the error, measured on this video
        (`calibration="video"`, which needs no tuning per camera since it is scale-free) or
        on the corpus given to `fit` (`calibration="corpus"`). k = 3.5 is the usual
        modified-z-score outlier cut (Iglewicz & Hoaglin); it assumes that boundaries are a
        small fraction of windows, so the MAD measures the error's noise, not its jumps.
    min_len, max_len: segment length bounds in seconds. min_len = 1 s assumes that no skill
        of interest is shorter than a second; max_len = 600 s forces a cut every ten minutes
        of uninterrupted activity (the paper's 12,800 steps are ~10 min at 20 steps/s).
    events: external event times (s) that always start a segment (the paper's "info").
    predictor: weights file (`vidskill train-predictor`); None = the one `fit` trains, else
        the shipped demo predictor for the features' encoder (`SHIPPED_PREDICTORS`).
    """

    name = "sbd"

    def __init__(
        self,
        gap: float | None = None,
        k: float = 3.5,
        min_len: float = 1.0,
        max_len: float | None = 600.0,
        events: Sequence[float] = (),
        calibration: str = "video",
        predictor: str | os.PathLike | TrainedPredictor | None = None,
        train: TrainSettings | None = None,
        device: str | None = None,
    ):
        if calibration not in ("video", "corpus"):
            raise ValueError(f"calibration must be 'video' or 'corpus', got {calibration!r}")
        if gap is not None and not gap > 0:
            raise ValueError(f"gap must be positive or None (automatic), got {gap}")
        self.gap = gap
        self.k = float(k)
        self.min_len = float(min_len)
        self.max_len = max_len
        self.events = tuple(events)
        self.calibration = calibration
        self.train = train
        self.device = device
        self._predictor = predictor if isinstance(predictor, TrainedPredictor) else None
        self._predictor_path = None if isinstance(predictor, TrainedPredictor) else predictor
        self.corpus_spread_: float | None = None

    def predictor_for(self, encoder: str) -> TrainedPredictor:
        """The predictor for features of `encoder`, loaded on first need; a predictor trained
        on another encoder's features is refused (its errors would mean nothing)."""
        if self._predictor is None:
            path = self._predictor_path or shipped_predictor(encoder)
            self._predictor = load_predictor(path, self.device)
        trained_on = self._predictor.card.get("encoder")
        if trained_on and trained_on != encoder:
            raise ConfigError(
                f"the SBD predictor was trained on {trained_on!r} features but these are "
                f"{encoder!r}; segment with --encoder {trained_on} or train a predictor on "
                f"{encoder} features (`vidskill train-predictor --encoder {encoder}`)")
        return self._predictor

    def fit(
        self,
        corpus: Iterable[Features],
        actions: Sequence[np.ndarray | None] | None = None,
    ) -> PredictionErrorDetector:
        """Train a predictor on the corpus (unless one was given) and measure its error spread."""
        videos = list(corpus)
        if self._predictor is None and self._predictor_path is None:
            self._predictor = train_predictor(videos, actions, self.train)
        errors = np.concatenate([np.zeros(0)] + [
            np.fromiter(self.predictor_for(f.encoder).errors(
                f, None if actions is None else actions[i]), np.float64)
            for i, f in enumerate(videos)
        ])
        errors = errors[np.isfinite(errors)]
        self.corpus_spread_ = robust_spread(errors) if len(errors) else None
        return self

    def gap_for(self, errors: np.ndarray) -> float:
        """The GAP used on a video whose unreset errors are `errors`."""
        if self.gap is not None:
            return float(self.gap)
        if self.calibration == "corpus":
            spread = self.corpus_spread_
            if spread is None:
                spread = (self._predictor.card.get("errors", {}).get("spread")
                          if self._predictor is not None else None)
            if spread is None:
                raise ValueError("calibration='corpus' needs fit(corpus) or a predictor card "
                                 "with an error spread; or use calibration='video'")
        else:
            spread = robust_spread(errors[np.isfinite(errors)])
        return max(self.k * float(spread), 1e-6)

    def detect(self, features: Features, actions: np.ndarray | None = None) -> Boundaries:
        """Boundaries of one video; `signal` is the per-window error the rule saw."""
        start = float(features.starts[0]) if len(features) else 0.0
        end = float(features.ends[-1]) if len(features) else 0.0
        if len(features) < 2:
            return Boundaries(np.zeros(0), np.zeros(0), np.zeros(len(features)),
                              features.times.astype(np.float64), start, end)
        predictor = self.predictor_for(features.encoder)
        stream = predictor.errors(features, actions)
        raw = np.fromiter(stream, np.float64)   # unreset: for calibration and placement
        gap = self.gap_for(raw)
        # Window i's error compares it with window i-h (h = horizon), the one that ends where
        # window i starts, so step i is dated at that junction. The rule declares a boundary
        # at the first step that sees a change; the change lies at the junction when the
        # error peaks, within the next h steps.
        h = predictor.model.config.horizon
        junction = np.concatenate([features.times[:h], features.ends[:-h]]).astype(np.float64)
        result = sbd_rule(stream, junction, gap, self.min_len, self.max_len, self.events,
                          reset=stream.reset)
        event = np.array(result.causes) == "event"
        steps = np.where(event, result.indices, peak_steps(raw, result.indices, h))
        found = Boundaries(junction[steps], result.scores, result.errors,
                           features.times.astype(np.float64), start, end)
        return found.trimmed(self.min_len, keep=event)


def peak_steps(errors: np.ndarray, declared: np.ndarray, horizon: int) -> np.ndarray:
    """For each declared step i, the step of largest error in [i, i + horizon], stopping
    before the next declared step: where the change sits between the compared windows."""
    e = np.where(np.isfinite(errors), errors, -np.inf)
    out = []
    for k, i in enumerate(declared):
        stop = min(int(i) + horizon + 1, len(e))
        if k + 1 < len(declared):
            stop = min(stop, int(declared[k + 1]))
        out.append(int(i) + int(np.argmax(e[i:stop])))
    return np.array(out, dtype=np.int64)
