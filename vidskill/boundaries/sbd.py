"""`PredictionErrorDetector` ("sbd"): boundaries where the next-window prediction error jumps."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vidskill.boundaries.base import Boundaries, BoundaryDetector
from vidskill.boundaries.bursts import Change, ChangeTest, ErrorBursts, keep_apart
from vidskill.boundaries.inference import TrainedPredictor, load_predictor
from vidskill.boundaries.peaks import step_noise
from vidskill.boundaries.rule import sbd_rule
from vidskill.boundaries.signal import VIEWED, SignalTransform
from vidskill.encoders.base import Features
from vidskill.errors import ConfigError, WeightsNotFoundError
from vidskill.weights import find_weights, missing_message, registry

if TYPE_CHECKING:  # the trainer is imported when `fit` trains
    from vidskill.boundaries.predictor import TrainSettings


def shipped_predictor(encoder: str) -> Path:
    """The shipped predictor file for features of `encoder` (models/registry.toml entries
    with `features = encoder`, trained on the demo corpus; README: Model weights)."""
    shipped = {e.features: e for e in registry().values() if e.features}
    if encoder not in shipped:
        raise ConfigError(
            f"no SBD predictor is shipped for {encoder!r} features (only for "
            f"{', '.join(sorted(shipped))}); train one with `vidskill train-predictor "
            f"--encoder {encoder} VIDEOS --out P.pt` and pass predictor=P.pt (--predictor)")
    entry = shipped[encoder]
    path = find_weights(entry.name)
    if path is None:
        raise WeightsNotFoundError(missing_message(entry))
    return path


SHIPPED = "shipped"   # predictor= this name: the demo-trained predictor for the encoder


class PredictionErrorDetector(BoundaryDetector):
    """Skill Boundary Detection: the published rule over the errors of a next-step predictor
    fitted on the corpus at hand (`fit`, self-supervised; `vidskill segment` and `ingest` fit
    it on the videos they are given). With `refine`, each burst of error is one candidate,
    kept when the features after it have moved away from what the segment before predicts
    (see `bursts`): set on the demo's class-posterior features, it rejects real skill changes
    on motion features (a short pause or turn between two movements), so it is off by default.

    gap: nats of error above the running segment mean that flag a boundary; None = automatic,
        `k` robust standard deviations of the error's noise (`step_noise`: 1.4826 * MAD of
        its window-to-window changes / sqrt 2), measured on this video
        (`calibration="video"`, which needs no tuning per camera since it is scale-free) or
        on the corpus given to `fit` (`calibration="corpus"`). Changes, not levels: where
        the encoder is unsure for long stretches the error sits higher there, and the MAD
        of the levels would grow past the jumps at boundaries. k = 3.5 is the usual
        modified-z-score outlier cut (Iglewicz & Hoaglin); it assumes that boundaries are a
        small fraction of windows, so the MAD measures the error's noise, not its jumps.
    min_gap: floor of the automatic GAP in nats, ln 10 by default: a boundary needs a window
        at least ten times less likely than its segment's mean ("strong" evidence on
        Jeffreys' scale). It matters where the errors are nearly constant (saturated
        features), so their noise collapses and any wobble would pass k times it.
    refine: burst merging, the persistence test (`min_shift`) and least-squares placement
        after the rule; False (default) = the published rule alone, which led on real
        footage (MetaWorld phase F1@0.5 s 0.56 against 0.40 with it; README).
    min_shift: how far the features must move across a burst for it to be a boundary, as a
        fraction of the mean squared distance between two independent windows (2 D in the
        predictor's standardised units). 0.15 assumes that a skill change moves the features
        at least that far and a transient one (a flicker of the encoder, a brief occlusion)
        comes back; on the demo's skill-tcn features 95% of true changes moved 0.9 or more,
        about half of the other candidates under 0.1 (README: Defaults). 0 keeps every burst.
    min_len, max_len: segment length bounds in seconds. min_len = 0.5 s assumes that no
        skill of interest is shorter than half a second (chosen on MetaWorld seeds 0-5 between
        0.25, 0.5 and 1 s; 1 s merged a robot's contact and success phases); max_len = 600 s forces a cut every ten minutes
        of uninterrupted activity (the paper's 12,800 steps are ~10 min at 20 steps/s).
    events: external event times (s) that always start a segment (the paper's "info").
    predictor: None = the one `fit` trains on the corpus at hand (detect before fit is an
        error); a weights file (`vidskill train-predictor`); or "shipped", the demo-trained
        predictor for the features' encoder (models/registry.toml), used only when named.
    """

    name = "sbd"

    def __init__(
        self,
        gap: float | None = None,
        k: float = 3.5,
        min_gap: float = math.log(10),
        min_shift: float = 0.15,
        min_len: float = 0.5,
        refine: bool = False,
        max_len: float | None = 600.0,
        events: Sequence[float] = (),
        calibration: str = "video",
        predictor: str | os.PathLike | TrainedPredictor | None = None,
        train: TrainSettings | None = None,
    ):
        if calibration not in ("video", "corpus"):
            raise ValueError(f"calibration must be 'video' or 'corpus', got {calibration!r}")
        if gap is not None and not gap > 0:
            raise ValueError(f"gap must be positive or None (automatic), got {gap}")
        if not min_gap >= 0:
            raise ValueError(f"min_gap must be >= 0 nats, got {min_gap}")
        if not min_shift >= 0:
            raise ValueError(f"min_shift must be >= 0, got {min_shift}")
        if not min_len >= 0 or (max_len is not None and not max_len > min_len):
            raise ValueError(f"need 0 <= min_len < max_len seconds, got {min_len}, {max_len}")
        self.gap = gap
        self.k = float(k)
        self.min_gap = float(min_gap)
        self.min_shift = float(min_shift)
        self.min_len = float(min_len)
        self.refine = bool(refine)
        self.max_len = max_len
        self.events = tuple(events)
        self.calibration = calibration
        self.train = train
        self.predictor = predictor
        self._predictor = predictor if isinstance(predictor, TrainedPredictor) else None
        self._predictor_path = None if isinstance(predictor, TrainedPredictor) else predictor
        self.corpus_spread_: float | None = None

    @property
    def needs_fit(self) -> bool:
        """True until a predictor is fitted, given or named."""
        return self._predictor is None and self._predictor_path is None

    def predictor_for(self, encoder: str) -> TrainedPredictor:
        """The predictor for features of `encoder`, loaded on first need; a predictor trained
        on another encoder's features is refused (its errors would mean nothing)."""
        if self._predictor is None:
            if self._predictor_path is None:
                raise ConfigError(
                    "the SBD detector has no predictor: fit it on the corpus first "
                    "(detector.fit(features); `vidskill segment` and `ingest` do), or name "
                    "one with predictor=FILE or predictor=shipped (the demo-trained one)")
            path = (shipped_predictor(encoder) if str(self._predictor_path) == SHIPPED
                    else self._predictor_path)
            self._predictor = load_predictor(path)
        trained_on = self._predictor.card.get("encoder")
        if trained_on and trained_on != encoder:
            raise ConfigError(
                f"the SBD predictor was trained on {trained_on!r} features but these are "
                f"{encoder!r}; segment with --encoder {trained_on} or train a predictor on "
                f"{encoder} features (`vidskill train-predictor --encoder {encoder}`)")
        return self._predictor

    def check_features(self, encoder: str) -> None:
        """SBD cuts a video by its predictor's errors: a named one (a file, or shipped for
        that encoder) must exist and fit `encoder`'s features (loaded here once); one that
        `fit` will train always does."""
        if not self.needs_fit:
            self.predictor_for(encoder)

    def view(self, features: Features) -> Features:
        """`features` as the predictor reads them (its card's signal transform, if any;
        features it has already transformed pass as they are)."""
        if features.settings.get(VIEWED):
            return features
        doc = self.predictor_for(features.encoder).card.get("signal")
        return SignalTransform.from_dict(doc).apply(features) if doc else features

    def reduction(self, encoder: str) -> Callable[[Features], Features] | None:
        """The predictor's signal transform (motion-kin: 15 values a window of its 1031)."""
        if self.needs_fit:
            return None
        doc = self.predictor_for(encoder).card.get("signal")
        return SignalTransform.from_dict(doc).apply if doc else None

    def fit(
        self,
        corpus: Iterable[Features],
        actions: Sequence[np.ndarray | None] | None = None,
    ) -> PredictionErrorDetector:
        """Train a predictor on the corpus (unless one was given) and measure its error spread."""
        videos = list(corpus)
        if self.needs_fit:
            from vidskill.boundaries.predictor import train_predictor

            self._predictor = train_predictor(videos, actions, self.train)
        videos = [self.view(f) for f in videos]
        errors = [self.predictor_for(f.encoder).errors(
            f, None if actions is None else actions[i]).unreset()[0]
            for i, f in enumerate(videos)]
        finite = sum(int(np.isfinite(e).sum()) for e in errors)
        self.corpus_spread_ = step_noise(errors) if finite > 1 else None
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
            spread = step_noise([errors])
        return max(self.k * float(spread), self.min_gap, 1e-6)

    def _detect(self, features: Features, actions: np.ndarray | None) -> Boundaries:
        """Boundaries of one video; `signal` is the per-window error the rule saw."""
        start, end = float(features.starts[0]), float(features.ends[-1])
        predictor = self.predictor_for(features.encoder)
        features = self.view(features)
        stream = predictor.errors(features, actions)
        raw, miss = stream.unreset()  # for calibration and placement
        gap = self.gap_for(raw)
        # Window i's error compares it with window i-h (h = horizon), the one that ends where
        # window i starts, so step i is dated at that junction.
        h = predictor.model.config.horizon
        junction = np.concatenate([features.times[:h], features.ends[:-h]]).astype(np.float64)
        result = sbd_rule(stream, junction, gap, self.min_len, self.max_len, self.events,
                          reset=stream.reset)
        if not self.refine:
            found = Boundaries(result.times, result.scores, result.errors,
                               features.times.astype(np.float64), start, end)
            event = np.array(result.causes, dtype=object) == "event"
            return found.trimmed(self.min_len, keep=event)
        event = np.array(result.causes, dtype=object) == "event"
        bursts = ErrorBursts.above_gap(raw, junction, gap, horizon=h, limit=2 * self.min_len)
        test = ChangeTest(stream, miss, features.times.astype(np.float64), junction,
                          context=int(predictor.card.get("settings", {}).get("seq_len", 32)),
                          settle=self.min_len)
        changes: list[Change] = []
        for burst in bursts.merge(result.indices[~event], result.scores[~event]):
            change = test(burst, since=changes[-1].at if changes else 0)
            if change.shift > self.min_shift:
                changes.append(change)
        changes = keep_apart(changes, self.min_len)
        times = np.r_[[c.time for c in changes], result.times[event]]
        scores = np.r_[[c.confidence for c in changes], result.scores[event]]
        keep = np.r_[np.zeros(len(changes), bool), np.ones(int(event.sum()), bool)]  # events
        order = np.argsort(times, kind="stable")
        found = Boundaries(times[order], scores[order], result.errors,
                           features.times.astype(np.float64), start, end)
        return found.trimmed(self.min_len, keep=keep[order])
