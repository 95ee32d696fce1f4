"""Choose templates for one skill: gather its human clips, score video and text, fuse.

What `vidskill select` runs. The human clips come from a folder (`human`), or from a store
by label (`label`, else the store label the skill names) or by a query clip (`query`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vidskill.errors import ConfigError
from vidskill.select import DEFAULT_METHOD, TEXT, Ranking, TemplateSelector, method_rule
from vidskill.store import ClipStore
from vidskill.templates import load_templates
from vidskill.text import get_text_scorer
from vidskill.video_scores import (
    DEFAULT_K,
    HumanClips,
    VideoScorer,
    human_clips_by_query,
    human_clips_from_folder,
    human_clips_from_store,
)


@dataclass(frozen=True)
class Choice:
    """A ranking of the templates for a skill and the human clips its video scores used."""

    ranking: Ranking
    humans: HumanClips | None


def choose(
    skill: str,
    templates_file: str | os.PathLike,
    *,
    human: str | os.PathLike | None = None,
    store: str | os.PathLike | None = None,
    label: str | None = None,
    query: str | os.PathLike | None = None,
    method: str = DEFAULT_METHOD,
    encoder: str = "flow-motion",
    similarity: str = "cosine",
    text: str = "llm",
    k: int = DEFAULT_K,
    cache: str | os.PathLike | None = None,
) -> Choice:
    """Rank the templates of `templates_file` for `skill` with the selector `method`.

    Features go to `cache` (default: `default_cache()`), so a repeated selection is fast.
    """
    cache = default_cache() if cache is None else cache
    templates = load_templates(templates_file)
    rule = method_rule(method, _source(encoder, similarity), k)
    humans = None
    video = {}
    if rule.needs_video:
        if (human is None) == (store is None):
            raise ConfigError("give the human clips of the skill: either --human DIR or "
                              "--store S (with --label L or --query CLIP)")
        if human is not None:
            scorer = VideoScorer.build(encoder, similarity, k=k, cache=cache)
            humans = human_clips_from_folder(skill, human, scorer)
        else:
            with ClipStore(store) as clip_store:
                scorer = VideoScorer.for_store(clip_store, encoder, similarity, k=k, cache=cache)
                humans = (human_clips_by_query(skill, query, clip_store, scorer)
                          if query is not None
                          else human_clips_from_store(skill, clip_store, scorer, label))
        score = scorer.evidence if rule.video_scale == "evidence" else scorer.score
        video = {scorer.source: score(templates, humans)}
    prior = get_text_scorer(text) if TEXT in rule.sources([TEXT, *video]) else None
    ranking = TemplateSelector(templates, prior, rule).rank(skill, video)
    return Choice(ranking, humans)


def _source(encoder: str, similarity: str) -> str:
    """The score source name a `VideoScorer` with these settings reports."""
    return encoder if similarity == "cosine" else f"{encoder}:{similarity}"


def default_cache() -> Path:
    """The user's feature cache: $VIDSKILL_CACHE, else $XDG_CACHE_HOME (~/.cache)/vidskill."""
    if os.environ.get("VIDSKILL_CACHE"):
        return Path(os.environ["VIDSKILL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vidskill" / "features"
