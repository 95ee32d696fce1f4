"""What a report page shows, as plain values the template renders: a timeline per video,
a card per clip (with its nearest neighbours), template rankings, summary figures."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Neighbour:
    """A clip near another one, with the cosine similarity of their embeddings."""

    clip_id: str
    label: str
    score: float
    thumb: str | None


@dataclass(frozen=True)
class ClipView:
    """One clip: where it is, what it is, its files (relative to the page) and neighbours."""

    id: str
    video: str
    index: int
    start: float
    end: float
    label: str | None = None
    domain: str | None = None
    score: float = 1.0
    clip: str | None = None
    thumbs: tuple[str, ...] = ()
    neighbours: tuple[Neighbour, ...] = ()
    still: bool = False  # nothing moves in the clip, so it has no nearest clips


@dataclass(frozen=True)
class Boundary:
    """A boundary on a timeline: its time, kind ("skill", "cut" or "true" for ground
    truth) and, for detected ones, the detector's confidence."""

    time: float
    kind: str
    score: float | None = None


@dataclass(frozen=True)
class TimelineView:
    """One video on a time axis: its clips, boundaries and the detector's signal."""

    name: str
    path: str
    start: float
    end: float
    clips: tuple[ClipView, ...]
    boundaries: tuple[Boundary, ...] = ()
    signal_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    signal: np.ndarray = field(default_factory=lambda: np.zeros(0))
    signal_name: str = ""
    note: str = ""

    def x(self, t: float) -> float:
        """Position of time t across the timeline, in percent."""
        span = self.end - self.start
        return 100.0 * (t - self.start) / span if span > 0 else 0.0

    def signal_points(self, height: float = 60.0) -> str:
        """The signal as SVG polyline points in a 100 x `height` box (top = highest)."""
        v = np.asarray(self.signal, float)
        ok = np.isfinite(v)
        if ok.sum() < 2:
            return ""
        lo, hi = float(v[ok].min()), float(v[ok].max())
        scale = (hi - lo) or 1.0
        return " ".join(f"{self.x(t):.2f},{height - height * (y - lo) / scale:.2f}"
                        for t, y, good in zip(self.signal_times, v, ok, strict=True) if good)


@dataclass(frozen=True)
class ScoreColumn:
    """A column of a ranking table and what its numbers mean, with their unit."""

    name: str
    meaning: str


@dataclass(frozen=True)
class RankingView:
    """One skill's templates, best first, with every score that went into the choice."""

    skill: str
    method: str
    columns: tuple[ScoreColumn, ...]
    rows: tuple[tuple[str, tuple[float | None, ...]], ...]
    correct: str | None = None
    human_clips: tuple[str, ...] = ()
    ties: tuple[tuple[str, ...], ...] = ()   # groups of templates with equal scores
    reference_clips: int = 0   # human clips of other skills the video scores' hubness used

    @property
    def chosen(self) -> str:
        """The first template, or every template tied with it ("a = b")."""
        if not self.rows:
            return ""
        first = self.rows[0][0]
        return " = ".join(next((g for g in self.ties if first in g), (first,)))


@dataclass(frozen=True)
class Figure:
    """A headline number: what was measured, its value, and how to read it."""

    name: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class Table:
    """A free table (e.g. the selection ablation)."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass
class Report:
    """Everything one page shows; empty sections are left out."""

    title: str
    intro: str = ""
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    timelines: list[TimelineView] = field(default_factory=list)
    clips: list[ClipView] = field(default_factory=list)
    rankings: list[RankingView] = field(default_factory=list)

    def labels(self) -> list[str]:
        return sorted({c.label for c in self.clips if c.label})

    def domains(self) -> list[str]:
        return sorted({c.domain for c in self.clips if c.domain})


def fmt(value: float | None, digits: int = 3) -> str:
    """A number for a table; '-' for a missing or dropped one."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}f}"


def colour(label: str | None) -> str:
    """A stable colour per label (grey when unlabelled), for segments and chips."""
    if not label:
        return "#bbb"
    hue = sum(ord(ch) * 31 ** i for i, ch in enumerate(label)) % 360
    return f"hsl({hue}, 60%, 62%)"


def ranking_view(doc: dict, correct: str | None = None, text: str | None = None
                 ) -> RankingView:
    """A `Ranking.as_dict()` (what `vidskill select --json` prints) as a report table."""
    sources = list(doc.get("scores", {}))
    text = text or doc.get("text")
    columns = [ScoreColumn("fused", _fused_meaning(doc.get("method", "")))]
    columns += [ScoreColumn(s, score_meaning(s, doc.get("method", ""), text)) for s in sources]
    rows = tuple(
        (name, (doc["fused"][i], *(doc["scores"][s][i] for s in sources)))
        for i, name in enumerate(doc["templates"]))
    return RankingView(doc["skill"], doc.get("method", ""), tuple(columns), rows, correct,
                       tuple(doc.get("human_clips", ())),
                       tuple(tuple(g) for g in doc.get("ties", ())),
                       int(doc.get("reference_clips", 0)))


_TEXT_MEANINGS = {
    "llm": "LLM prior: mean log-probability per token of the description after the skill, "
           "minus the same after the null skill \"do something\" (nats per token; > 0: the "
           "skill makes the description likelier)",
    "embedding": "cosine similarity of sentence embeddings of skill and description (-1 to 1)",
    "lexical": "overlap of content words after stemming, |S∩D|/sqrt(|S||D|) (0 to 1)",
}


def score_meaning(source: str, method: str, text: str | None) -> str:
    """What one score column of a ranking means, with its unit."""
    if source == "text":
        return _TEXT_MEANINGS.get(text or "", "text prior of the description given the "
                                  "skill (higher fits better)")
    hubness = ("less half its hubness (its mean similarity to its 10 nearest human clips of "
               "other skills) where 10 or more such clips were given")
    if method == "evidence":
        return (f"video ({source}): mean similarity of the template's execution clip to its "
                f"top-k human clips, {hubness}, in standard errors of that mean (how many "
                "times its own noise it lies above zero)")
    return (f"video ({source}): mean of the top-k similarities between the template's "
            f"execution clip and the human clips (at most 1), {hubness}")


def _fused_meaning(method: str) -> str:
    return {
        "evidence": "text + video, each in its unit below, added (higher is better)",
        "weighted": "sum of the sources' z-scores across the templates (unitless)",
        "llm+flow": "the text prior keeps its top k; among them the video score orders "
                    "('-': dropped by the prior)",
        "flow": "the video score alone",
        "llm": "the text prior alone",
    }.get(method, "the fused score the choice was made by (higher is better)")
