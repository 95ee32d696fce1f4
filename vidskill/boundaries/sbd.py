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

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_PREDICTOR = MODELS_DIR / "predictor-demo.pt"


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
    predictor: weights file (`vidskill train-predictor`); None = the shipped demo predictor,
        trained on flow-hof features of the demo corpus, or the one `fit` trains.
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

    @property
    def predictor(self) -> TrainedPredictor:
        """The predictor in use, loaded on first need."""
        if self._predictor is None:
            self._predictor = load_predictor(self._predictor_path or DEFAULT_PREDICTOR, self.device)
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
            np.fromiter(self.predictor.errors(f, None if actions is None else actions[i]),
                        np.float64)
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
                spread = self.predictor.card.get("errors", {}).get("spread")
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
        stream = self.predictor.errors(features, actions)
        gap = self.gap_for(np.fromiter(stream, np.float64) if self.gap is None else np.zeros(0))
        # The error of window i is the first to see what window i adds to the window h steps
        # before it (h = horizon), the span [ends[i-h], ends[i]): a boundary found at i is
        # placed in its middle.
        h = self.predictor.model.config.horizon
        ends = features.ends.astype(np.float64)
        cut = np.concatenate([features.times[:h], (ends[h:] + ends[:-h]) / 2])
        result = sbd_rule(stream, cut, gap, self.min_len, self.max_len, self.events,
                          reset=stream.reset)
        return Boundaries(result.times, result.scores, result.errors,
                          features.times.astype(np.float64), start, end)
