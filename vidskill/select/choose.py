"""Choose templates for one skill: gather its human clips, score video and text, fuse.

What `vidskill select` runs. The human clips come from a folder (`human`), or from a store
by label (`label`, else the store label the skill names) or by a query clip (`query`). Human
clips of other skills (a `reference` folder, or the store's other human clips) mark down a
template that resembles them all (`video_scores.hubness_of`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from vidskill._files import user_cache_dir
from vidskill.errors import ConfigError
from vidskill.select.fusion import DEFAULT_METHOD, TEXT, Ranking, TemplateSelector, method_rule
from vidskill.select.templates import load_templates
from vidskill.select.text import get_text_scorer
from vidskill.select.video_scores import (
    DEFAULT_K,
    DEFAULT_SIMILARITY,
    HumanClips,
    VideoScorer,
    human_clips_by_query,
    human_clips_from_folder,
    human_clips_from_store,
    source_name,
)
from vidskill.store import ClipStore

# Selection's defaults, read by `vidskill select` and select jobs too: the encoder that
# matched robot executions to human clips across cameras on real footage (MetaWorld renders:
# top-1 0.85 against flow-motion's 0.17, README), with its own comparison
# (DEFAULT_SIMILARITY, "encoder"), and the LLM prior.
DEFAULT_VIDEO_ENCODER = "flow-profile"
DEFAULT_TEXT = "llm"


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
    reference: str | os.PathLike | None = None,
    store: str | os.PathLike | None = None,
    label: str | None = None,
    query: str | os.PathLike | None = None,
    method: str = DEFAULT_METHOD,
    encoder: str | None = None,
    similarity: str = DEFAULT_SIMILARITY,
    text: str = DEFAULT_TEXT,
    k: int = DEFAULT_K,
    cache: str | os.PathLike | None = None,
) -> Choice:
    """Rank the templates of `templates_file` for `skill` with the selector `method`.

    reference: with `human`, a folder of human clips of other skills (`reference_files`);
    with a `store`, its other human clips are the reference.
    encoder: the video encoder; None = DEFAULT_VIDEO_ENCODER, or with a `store` that lacks
    it the store's first encoder (clips are compared as the store encoded them). Features
    go to `cache` (default: `vidskill._files.user_cache_dir()`), so a repeated selection is
    fast.
    """
    if reference is not None and store is not None:
        raise ConfigError("--reference goes with --human: with --store, the store's human "
                          "clips of other skills are the reference")
    cache = user_cache_dir() if cache is None else cache
    templates = load_templates(templates_file)
    encoder = encoder or _default_encoder(store)
    rule = method_rule(method, source_name(encoder, similarity), k)
    humans = None
    video = {}
    if rule.needs_video:
        if (human is None) == (store is None):
            raise ConfigError("give the human clips of the skill: either --human DIR or "
                              "--store S (with --label L or --query CLIP)")
        if human is not None:
            scorer = VideoScorer.build(encoder, similarity, k=k, cache=cache)
            humans = human_clips_from_folder(skill, human, scorer, reference)
        else:
            with ClipStore(store, readonly=True) as clip_store:
                scorer = VideoScorer.for_store(clip_store, encoder, similarity, k=k, cache=cache)
                humans = (human_clips_by_query(skill, query, clip_store, scorer)
                          if query is not None
                          else human_clips_from_store(skill, clip_store, scorer, label))
        score = scorer.evidence if rule.video_scale == "evidence" else scorer.score
        video = {scorer.source: score(templates, humans)}
    prior = get_text_scorer(text) if TEXT in rule.sources([TEXT, *video]) else None
    ranking = TemplateSelector(templates, prior, rule).rank(skill, video)
    return Choice(ranking, humans)


def _default_encoder(store: str | os.PathLike | None) -> str:
    """DEFAULT_VIDEO_ENCODER, unless a store is given that holds no clips of it."""
    if store is None:
        return DEFAULT_VIDEO_ENCODER
    with ClipStore(store) as clip_store:
        held = clip_store.encoders()
    return DEFAULT_VIDEO_ENCODER if DEFAULT_VIDEO_ENCODER in held or not held else held[0]
