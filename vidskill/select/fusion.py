"""Template selection: fuse a text prior with video similarities into a ranking of templates.

Scores arrive per source, one float per template, higher = better: "text" from a
`TextScorer` over the template descriptions, and one array per video source (e.g.
"flow-motion") computed elsewhere from the templates' execution videos and the human clips
of the skill. Two fusion rules, as in "Skills Made to Order":

- `TopKFusion`: the text prior keeps the top k templates, a video source picks among them
  (the paper's best selector: LLM + optical flow).
- `WeightedFusion`: a weighted sum of per-source z-scores; `{"text": 1}` alone is the
  text-only selector.
- `EvidenceFusion`: a sum of scores already on evidence scales: the text prior's
  log-probability per token (nats) plus the video similarity in standard errors
  (`VideoScorer.evidence`). A source counts by how far it separates the templates relative
  to its own noise, so a prior that barely tells templates apart breaks the video's near-ties
  instead of outvoting it (z-scores would give it equal say whatever its reliability).

Every `Ranking` carries the per-source scores that produced it. Templates whose scores are
equal (fused score and the rule's tie-break) are a tie: a ranking lists them in library
order but reports them as one group (`Ranking.groups`), and evaluation credits a tie as a
random pick among its members (`vidskill.metrics.recall_at_k`), so a template's place in the
file never decides a measured result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from vidskill._registry import Registry
from vidskill.errors import ConfigError, VidskillError
from vidskill.select.templates import Template
from vidskill.select.text import TextScorer

TEXT = "text"


class NoHumanClipsError(VidskillError, LookupError):
    """A video-based selector was asked about a skill with no human clips to compare with."""

    def __init__(self, skill: str, detail: str = "") -> None:
        super().__init__(
            f"no human clips for skill {skill!r}{': ' + detail if detail else ''}: give "
            "--human DIR (videos of a person doing it) or --store S with --label L "
            "(ingest labelled clips)"
        )
        self.skill = skill


@dataclass(frozen=True)
class Ranking:
    """Templates best first, with the fused score and every source's scores in that order.

    `fused` is -inf for templates a rule dropped (e.g. outside the text prior's top k).
    `groups` splits `templates` into runs of equal scores (a tie), best first; templates
    inside a tie are listed in library order, which means nothing.
    """

    skill: str
    templates: tuple[str, ...]
    fused: np.ndarray
    scores: Mapping[str, np.ndarray]
    method: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    groups: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if not self.groups:
            object.__setattr__(self, "groups", tuple((t,) for t in self.templates))
        if tuple(t for g in self.groups for t in g) != tuple(self.templates):
            raise ValueError("a ranking's tie groups must list its templates in order")

    @property
    def best(self) -> str:
        """The chosen template: the first listed (see `tied` when the first place is shared)."""
        return self.templates[0]

    @property
    def tied(self) -> tuple[str, ...]:
        """Every template sharing the first place (just `best` when nothing ties with it)."""
        return self.groups[0]

    @property
    def ties(self) -> tuple[tuple[str, ...], ...]:
        """The groups of two or more templates with equal scores."""
        return tuple(g for g in self.groups if len(g) > 1)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form; non-finite scores (dropped templates) become null."""

        def clean(values: np.ndarray) -> list[float | None]:
            return [float(v) if np.isfinite(v) else None for v in values]

        return {
            "skill": self.skill,
            "method": self.method,
            "settings": dict(self.settings),
            "templates": list(self.templates),
            "fused": clean(self.fused),
            "scores": {source: clean(v) for source, v in self.scores.items()},
            "ties": [list(g) for g in self.ties],
        }


def zscore(values: np.ndarray) -> np.ndarray:
    """(x - mean) / std; all zeros when the source does not tell the templates apart."""
    values = np.asarray(values, dtype=np.float64)
    std = values.std()
    return np.zeros_like(values) if std == 0 else (values - values.mean()) / std


class FusionRule(Protocol):
    """Turns per-source scores into one fused score per template (-inf = dropped)."""

    name: str
    video_scale: ClassVar[str]   # how video scores must come: "similarity" or "evidence"

    @property
    def needs_video(self) -> bool: ...

    def sources(self, available: Sequence[str]) -> tuple[str, ...]: ...

    def fuse(self, scores: Mapping[str, np.ndarray]) -> np.ndarray: ...

    def tiebreak(self, scores: Mapping[str, np.ndarray]) -> np.ndarray: ...

    def settings(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TopKFusion:
    """The prior keeps its top k templates (and any tied with the k-th); the picker's
    score orders them (ties: prior)."""

    k: int = 3
    prior: str = TEXT
    picker: str | None = None  # None: the only source other than `prior`
    name: str = field(default="topk", init=False)
    video_scale: ClassVar[str] = "similarity"

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ConfigError(f"top-k fusion needs k >= 1, got {self.k}")

    @property
    def needs_video(self) -> bool:
        """Always: the picker is a video source."""
        return True

    def sources(self, available: Sequence[str]) -> tuple[str, ...]:
        """The prior and the picker; the picker may be implied when only one other exists."""
        if self.picker is not None:
            return (self.prior, self.picker)
        others = [s for s in available if s != self.prior]
        if len(others) != 1:
            raise ConfigError(
                f"top-k fusion: name the source that picks (picker=...) among "
                f"{', '.join(others) or 'no video sources'}"
            )
        return (self.prior, others[0])

    def fuse(self, scores: Mapping[str, np.ndarray]) -> np.ndarray:
        """Picker score for the k best by prior (all of a tie at the k-th place), -inf for
        the rest."""
        prior, picker = self.sources(list(scores))
        keep: list[int] = []
        for group in _ranked(scores[prior]):
            if len(keep) >= self.k:
                break
            keep += group
        fused = np.full(len(scores[prior]), -np.inf)
        fused[keep] = scores[picker][keep]
        return fused

    def tiebreak(self, scores: Mapping[str, np.ndarray]) -> np.ndarray:
        """Dropped templates (and picker ties) are ordered by the prior."""
        return np.asarray(scores[self.prior], dtype=np.float64)

    def settings(self) -> dict[str, Any]:
        """What to record with a ranking."""
        return {"k": self.k, "prior": self.prior, "picker": self.picker}


@dataclass(frozen=True)
class WeightedFusion:
    """Sum of weight x z-score over sources (z-scored across the candidate templates)."""

    weights: Mapping[str, float] = field(default_factory=lambda: {TEXT: 1.0})
    name: str = field(default="weighted", init=False)
    video_scale: ClassVar[str] = "similarity"

    def __post_init__(self) -> None:
        if not self.weights or not any(w != 0 for w in self.weights.values()):
            raise ConfigError(f"{self.name} fusion needs at least one source with a non-zero "
                              "weight")

    @property
    def needs_video(self) -> bool:
        """True unless the text prior is the only source."""
        return any(s != TEXT for s in self.weights)

    def sources(self, available: Sequence[str]) -> tuple[str, ...]:
        """The weighted sources."""
        return tuple(self.weights)

    def scaled(self, values: np.ndarray) -> np.ndarray:
        """One source's scores on the common scale: z-scores across the templates."""
        return zscore(values)

    def fuse(self, scores: Mapping[str, np.ndarray]) -> np.ndarray:
        """Weighted sum of the scaled scores."""
        return sum(w * self.scaled(scores[s]) for s, w in self.weights.items())

    def tiebreak(self, scores: Mapping[str, np.ndarray]) -> np.ndarray:
        """None: equal fused scores are a tie."""
        return np.zeros(len(next(iter(scores.values()))))

    def settings(self) -> dict[str, Any]:
        """What to record with a ranking."""
        return {"weights": dict(self.weights)}


@dataclass(frozen=True)
class EvidenceFusion(WeightedFusion):
    """Weighted sum of scores on evidence scales, taken as they are (see the module doc)."""

    name: str = field(default="evidence", init=False)
    video_scale: ClassVar[str] = "evidence"

    def scaled(self, values: np.ndarray) -> np.ndarray:
        """The scores themselves: the sources already share a scale."""
        return np.asarray(values, np.float64)


FUSION_RULES: Registry[FusionRule] = Registry(
    "fusion rule", {"topk": TopKFusion, "weighted": WeightedFusion, "evidence": EvidenceFusion})


def get_fusion(name: str, **settings: Any) -> FusionRule:
    """Build a fusion rule by name ("topk", "weighted", "evidence") with its settings."""
    return FUSION_RULES.get(name, **settings)


# Scores closer than this (relative) are equal: what separates them is float rounding (a sum
# taken in another order), not evidence for either template.
TIE_TOLERANCE = 1e-12


def _equal(a: float, b: float) -> bool:
    if a == b:
        return True  # also two dropped (-inf) templates
    return bool(np.isfinite(a) and np.isfinite(b)
                and abs(a - b) <= TIE_TOLERANCE * max(abs(a), abs(b)))


def _ranked(values: np.ndarray, tiebreak: np.ndarray | None = None) -> list[list[int]]:
    """Indices by descending value, then descending tiebreak, as groups of equal (value,
    tiebreak) pairs: the ties, each in library order."""
    values = np.asarray(values, dtype=np.float64)
    second = np.zeros_like(values) if tiebreak is None else np.asarray(tiebreak, np.float64)
    groups: list[list[int]] = []
    for i in np.lexsort((np.arange(len(values)), -second, -values)).tolist():
        if groups and _equal(values[i], values[groups[-1][0]]) \
                and _equal(second[i], second[groups[-1][0]]):
            groups[-1].append(i)
        else:
            groups.append([i])
    return [sorted(g) for g in groups]


def fuse(
    skill: str,
    templates: Sequence[str],
    scores: Mapping[str, np.ndarray],
    rule: FusionRule,
) -> Ranking:
    """Rank `templates` for `skill` from per-source scores (each aligned with `templates`)."""
    needed = rule.sources(list(scores))
    missing = [s for s in needed if s not in scores]
    if missing:
        raise ConfigError(
            f"{rule.name} fusion needs scores from {', '.join(missing)}; "
            f"have {', '.join(scores) or 'none'}"
        )
    checked: dict[str, np.ndarray] = {}
    for source, values in scores.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (len(templates),):
            raise ValueError(
                f"scores from {source!r} have shape {values.shape}, expected one per template "
                f"({len(templates)})"
            )
        if not np.all(np.isfinite(values)):
            raise ValueError(f"scores from {source!r} contain NaN or infinity")
        checked[source] = values
    fused = rule.fuse(checked)
    groups = _ranked(fused, rule.tiebreak(checked))
    order = [i for g in groups for i in g]
    return Ranking(
        skill=skill,
        templates=tuple(templates[i] for i in order),
        fused=fused[order],
        scores={source: values[order] for source, values in checked.items()},
        method=rule.name,
        settings=rule.settings(),
        groups=tuple(tuple(templates[i] for i in g) for g in groups),
    )


@dataclass
class TemplateSelector:
    """Ranks a template library for a skill: text prior from `text`, video scores given."""

    templates: Sequence[Template]
    text: TextScorer | None = None
    rule: FusionRule = field(default_factory=TopKFusion)

    def __post_init__(self) -> None:
        if not self.templates:
            raise ConfigError("a template selector needs at least one template")

    @property
    def names(self) -> list[str]:
        """Template names in library order (the order every score array follows)."""
        return [t.name for t in self.templates]

    def text_scores(self, skill: str) -> np.ndarray:
        """The text prior for every template description."""
        if self.text is None:
            raise ConfigError(
                f"the {self.rule.name} fusion uses the text prior: give a text scorer "
                "(llm, embedding or lexical)"
            )
        return np.asarray(self.text.score(skill, [t.description for t in self.templates]))

    def rank(self, skill: str, video: Mapping[str, np.ndarray] | None = None) -> Ranking:
        """Rank the templates for `skill`; `video` holds one similarity array per source.

        Raises `NoHumanClipsError` when the rule needs video similarity and none was given
        (the skill has no human clips), rather than ranking at random.
        """
        video = dict(video or {})
        if TEXT in video:
            raise ConfigError(f"{TEXT!r} is the text prior's source name; rename that video source")
        if not video and self.rule.needs_video:
            raise NoHumanClipsError(skill)
        needed = self.rule.sources([TEXT, *video])
        scores = dict(video)
        if TEXT in needed:
            scores = {TEXT: self.text_scores(skill), **video}
        return fuse(skill, self.names, scores, self.rule)


METHODS = ("evidence", "llm+flow", "weighted", "flow", "llm")
DEFAULT_METHOD = "evidence"


def method_rule(method: str, video: str, k: int = 3) -> FusionRule:
    """The fusion rule of a named selector; `video` is the video source it uses.

    evidence: the text prior's log-probability plus `video` in standard errors (the default:
    the best measured); llm+flow: the text prior keeps its top k, `video` picks (the paper's
    best); weighted: equal-weight z-scores of both; flow: `video` alone; llm: the text prior
    alone (whichever text scorer was given). `evidence` expects `video`'s scores from
    `VideoScorer.evidence`, the others from `VideoScorer.score`.
    """
    if method == "evidence":
        return EvidenceFusion({TEXT: 1.0, video: 1.0})
    if method == "llm+flow":
        return TopKFusion(k=k, prior=TEXT, picker=video)
    if method == "weighted":
        return WeightedFusion({TEXT: 1.0, video: 1.0})
    if method == "flow":
        return WeightedFusion({video: 1.0})
    if method == "llm":
        return WeightedFusion({TEXT: 1.0})
    raise ConfigError(f"unknown selection method {method!r}; choose one of {', '.join(METHODS)}")
