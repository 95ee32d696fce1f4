"""Template selection ablation on a corpus with ground truth: text, each encoder, and fused.

For every skill of the corpus, the templates are ranked by each text prior alone, each
video encoder alone (its own comparison, and DTW over windows or, for an encoder with its
own comparison, the cosine of its clip embeddings), and the fused selectors (text log-prob
plus flow in standard errors; text keeps the top k and flow picks; weighted z-scores); top-1
success and recall@3 are taken against the corpus's correct template, a tie counting as a
random pick among the tied (`vidskill.metrics.hit_chance`: the correct one tied with two
others at the top counts 1/3). Human clips are the corpus's labelled single-skill human
clips; those of the other skills are each skill's reference (`video_scores.hubness_of`).
Any corpus with ground truth works: the demo corpus, or real footage wrapped as a
`LabelledCorpus`.
Rows that cannot run (no weights, a missing text backend) say why instead of a number.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from vidskill.encoders import clip_model
from vidskill.errors import VidskillError
from vidskill.metrics import recall_at_k, selection_accuracy
from vidskill.select.choose import DEFAULT_VIDEO_ENCODER
from vidskill.select.fusion import TEXT, Ranking, fuse, method_rule
from vidskill.select.templates import Template, load_templates
from vidskill.select.text import TEXT_SCORERS, get_text_scorer
from vidskill.select.video_scores import (
    HumanClips,
    VideoScorer,
    evidence_scores,
    hubness_of,
    prime,
    template_scores,
)
from vidskill.weights import find_weights, missing_message, model_entry

log = logging.getLogger(__name__)

class LabelledCorpus(Protocol):
    """What the ablation needs of a corpus with ground truth (the demo corpus is one)."""

    templates_file: Path
    skills: Sequence[str]

    @property
    def tasks(self) -> Mapping[str, str]:
        """Skill label -> the task as a user would ask for it ("cut the carrot")."""

    @property
    def correct_template(self) -> Mapping[str, str]:
        """Skill label -> the name of the template that performs it."""

    def human_clips(self, skill: str) -> Sequence[Path]:
        """Videos of a person performing `skill`, one skill each."""


FLOW_ENCODERS = ("flow-hof", "flow-motion", "flow-profile", "flow-cnn")
VIDEO_MODELS = ("r3d_18", "s3d")
FUSED_ENCODER = DEFAULT_VIDEO_ENCODER


@dataclass(frozen=True)
class AblationRow:
    """One selector's result: top-1 success, recall@3 and its wrong choices (or why not run)."""

    name: str
    top1: float | None
    recall3: float | None = None
    misses: dict[str, str] = field(default_factory=dict)  # skill -> wrong (or tied) first place
    rankings: dict[str, Ranking] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Ablation:
    """Every selector's row, over `skills`, with chance = 1 / number of templates."""

    rows: tuple[AblationRow, ...]
    skills: tuple[str, ...]
    templates: int

    @property
    def chance(self) -> float:
        """Top-1 success of a uniformly random choice."""
        return 1.0 / self.templates

    def row(self, name: str) -> AblationRow:
        """The row named `name`."""
        return next(r for r in self.rows if r.name == name)

    def table(self) -> list[list[str]]:
        """Printable rows: selector, top-1, recall@3, misses (or the reason it did not run)."""
        out = []
        for r in self.rows:
            if r.top1 is None:
                out.append([r.name, "n/a", "", r.note])
                continue
            misses = " ".join(f"{s}->{c}" for s, c in r.misses.items())
            out.append([r.name, f"{r.top1:.3f}", f"{r.recall3:.3f}", misses])
        return out


def evaluate_selection(
    corpus: LabelledCorpus,
    *,
    text: Sequence[str] | None = None,
    encoders: Sequence[str] = FLOW_ENCODERS,
    video_models: Sequence[str] = VIDEO_MODELS,
    fused_encoder: str = FUSED_ENCODER,
    k: int = 3,
    cache: str | os.PathLike | None = None,
    text_settings: dict[str, dict] | None = None,
) -> Ablation:
    """Rank the corpus's templates for every skill with every selector; see the module doc."""
    text = TEXT_SCORERS.names() if text is None else text
    templates = load_templates(corpus.templates_file)
    skills = tuple(corpus.skills)
    correct = [corpus.correct_template[s] for s in skills]
    tasks = corpus.tasks
    rows: list[AblationRow] = []

    text_scores: dict[str, list[np.ndarray]] = {}
    for name in text:
        try:
            scorer = get_text_scorer(name, **(text_settings or {}).get(name, {}))
            text_scores[name] = [np.asarray(scorer.score(tasks[s], [t.description
                                                                      for t in templates]))
                                 for s in skills]
        except (VidskillError, ImportError, OSError) as e:
            rows.append(AblationRow(f"text: {name}", None, note=f"n/a ({e})"))
            continue
        rows.append(_row(f"text: {name}", templates, skills, correct,
                         [{TEXT: v} for v in text_scores[name]], "llm", ""))

    scorers = [VideoScorer.build(e, sim, k=k, cache=cache) for e in encoders
               for sim in ("encoder", "cosine" if clip_model(e).own_comparison else "dtw")]
    humans = _human_clips(corpus, skills, scorers)
    video: dict[str, list[np.ndarray]] = {}
    evidence: dict[str, list[np.ndarray]] = {}  # the same scores in standard errors
    for scorer in scorers:
        per_skill = _skill_similarities(scorer, templates, humans[scorer.encoder.name], skills)
        video[scorer.source] = [template_scores(x, scorer.k, h) for x, h in per_skill]
        evidence[scorer.source] = [evidence_scores(x, scorer.k, h) for x, h in per_skill]
        rows.append(_row(f"video: {scorer.source}", templates, skills, correct,
                         [{scorer.source: v} for v in video[scorer.source]], "flow",
                         scorer.source))
    for name in video_models:
        if find_weights(name) is None:
            entry = model_entry(name)
            places = " or ".join(str(p.parent) for p in entry.candidates())
            rows.append(AblationRow(f"video: {name}", None,
                                    note=f"n/a (no weights: put {entry.file} in {places})"))
            log.info(missing_message(entry))
            continue
        scorer = VideoScorer.build(name, k=k, cache=cache)
        per_skill = _skill_similarities(scorer, templates,
                                        _human_clips(corpus, skills, [scorer])[name], skills)
        scores = [{name: template_scores(x, scorer.k, h)} for x, h in per_skill]
        rows.append(_row(f"video: {name}", templates, skills, correct, scores, "flow", name))

    if text_scores and fused_encoder in video:
        prior = next(iter(text_scores))
        per_skill = [{TEXT: t, fused_encoder: v}
                     for t, v in zip(text_scores[prior], video[fused_encoder], strict=True)]
        per_skill_evidence = [{TEXT: t, fused_encoder: v} for t, v in
                              zip(text_scores[prior], evidence[fused_encoder], strict=True)]
        for method, scores in (("evidence", per_skill_evidence), ("llm+flow", per_skill),
                               ("weighted", per_skill)):
            label = f"fused: {method} ({prior} + {fused_encoder})"
            rows.append(_row(label, templates, skills, correct, scores, method,
                             fused_encoder, k))
    return Ablation(tuple(rows), skills, len(templates))


def _human_clips(corpus: LabelledCorpus, skills: Sequence[str],
                 scorers: Sequence[VideoScorer]) -> dict[str, dict[str, HumanClips]]:
    """Encoder -> skill -> the corpus's labelled human clips (flow shared across encoders)."""
    clips = {s: list(corpus.human_clips(s)) for s in skills}
    templates = load_templates(corpus.templates_file)
    prime(scorers, [p for c in clips.values() for p in c]
          + [p for t in templates for p in t.videos])
    return {sc.encoder.name: {s: HumanClips(s, tuple(sc.features(p) for p in clips[s]),
                                            tuple(p.name for p in clips[s]))
                              for s in skills} for sc in scorers}


def _skill_similarities(scorer: VideoScorer, templates: Sequence[Template],
                        humans: Mapping[str, HumanClips], skills: Sequence[str]
                        ) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Per skill: the (templates, its human clips) similarities and the templates' hubness
    against the other skills' clips (its reference), both cut from one matrix of every
    clip, so each template and clip is compared once whatever the number of skills."""
    every = [c for s in skills for c in humans[s].clips]
    owner = np.repeat(np.arange(len(skills)), [len(humans[s].clips) for s in skills])
    sims = scorer.against(templates, every)
    return [(sims[:, owner == i], hubness_of(sims[:, owner != i]))
            for i in range(len(skills))]


def _row(name: str, templates: Sequence[Template], skills: Sequence[str],
         correct: Sequence[str], scores: Sequence[dict], method: str, video: str,
         k: int = 3) -> AblationRow:
    """Rank every skill's templates with `method` and score the choices."""
    rule = method_rule(method, video, k)
    names = [t.name for t in templates]
    rankings = [fuse(s, names, sc, rule) for s, sc in zip(skills, scores, strict=True)]
    groups = [r.groups for r in rankings]
    return AblationRow(name, selection_accuracy(groups, correct), recall_at_k(groups, correct, 3),
                       {s: _shown(r.tied) for s, r, t in zip(skills, rankings, correct,
                                                              strict=True) if r.tied != (t,)},
                       dict(zip(skills, rankings, strict=True)))


def _shown(tied: tuple[str, ...]) -> str:
    """A wrong or shared first place for the table: the template, or the tie."""
    if len(tied) <= 3:
        return "=".join(tied)
    return f"{len(tied)}-way tie"
