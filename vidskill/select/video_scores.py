"""Video scores for template selection: how alike each template's execution is to the skill.

For every template, each of its execution videos is compared with every human clip of the
skill, and the template's score is the mean of its top-k similarities (k small, so a few
good matches count and odd clips do not), averaged over its execution videos. The
similarity (`similarity.py`) is the encoder's own comparison by default ("encoder": for
window encoders the cosine of mean-pooled windows, the paper's; for flow-profile DTW over
ordered motion profiles), or the cosine of clip embeddings, or DTW over the window
sequences. `evidence` puts the
same scores in units of their own measurement noise (see `top_k_error`), the scale the
"evidence" fusion adds to a text prior's log-probabilities. One scorer per
encoder; the human clips come from video files (`human_clips_from_folder`), from a store by
label (`human_clips_from_store`, `match_label`) or from a store by a query clip
(`human_clips_by_query`). No human clips is an error (`NoHumanClipsError`), never a guess.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidskill.encoders import (
    Encoder,
    Features,
    clip_model,
    encode_video,
    encode_video_multi,
    get_encoder,
)
from vidskill.encoders.cache import FeatureCache, content_hash
from vidskill.errors import ConfigError
from vidskill.select.fusion import NoHumanClipsError
from vidskill.select.similarity import SIMILARITIES, similarities
from vidskill.select.templates import Template
from vidskill.select.text.lexical import lexical_terms
from vidskill.store import ClipStore, StoreError
from vidskill.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

DEFAULT_K = 3
DEFAULT_SIMILARITY = "encoder"
HUMAN = "human"


@dataclass(frozen=True)
class HumanClips:
    """The human clips of one skill as feature sequences of one encoder, with where each is from."""

    skill: str
    clips: tuple[Features, ...]
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.clips:
            raise NoHumanClipsError(self.skill)


@dataclass
class VideoScorer:
    """Scores templates against human clips with one encoder and one similarity."""

    encoder: Encoder
    similarity: str = DEFAULT_SIMILARITY
    k: int = DEFAULT_K
    fps: float = 10.0
    size: int = 160
    cache: FeatureCache | None = None
    _memo: dict[str, Features] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.similarity not in SIMILARITIES:
            raise ConfigError(f"similarity must be one of {', '.join(SIMILARITIES)}, "
                              f"got {self.similarity!r}")
        if self.k < 1:
            raise ConfigError(f"top-k of human clips needs k >= 1, got {self.k}")
        if self.similarity == "dtw" and clip_model(self.encoder.name).own_comparison:
            raise ConfigError(f"{self.encoder.name} compares clips itself (its rows are not "
                              "window descriptors); use similarity 'encoder' or 'cosine'")

    @classmethod
    def build(cls, encoder: str, similarity: str = DEFAULT_SIMILARITY, *, k: int = DEFAULT_K,
              fps: float = 10.0, size: int = 160, cache: str | os.PathLike | None = None,
              **settings) -> VideoScorer:
        """A scorer for a registry encoder name; `cache` is a feature cache folder."""
        return cls(get_encoder(encoder, **settings), similarity, k, fps, size,
                   FeatureCache(cache) if cache is not None else None)

    @classmethod
    def for_store(cls, store: ClipStore, encoder: str | None = None,
                  similarity: str = DEFAULT_SIMILARITY, *, k: int = DEFAULT_K,
                  cache: str | os.PathLike | None = None) -> VideoScorer:
        """A scorer whose features match `store`'s (same encoder settings, fps and size)."""
        encoder = encoder or store.default_encoder()
        if encoder not in store.encoders():
            raise StoreError(f"{store.path} holds no {encoder!r} clips (it has "
                             f"{', '.join(store.encoders()) or 'none'}); pick one of those "
                             "with --encoder or ingest with it")
        recorded = store.settings()
        return cls.build(encoder, similarity, k=k, fps=recorded["fps"], size=recorded["size"],
                         cache=cache, **recorded["encoder_settings"].get(encoder, {}))

    @property
    def source(self) -> str:
        """The score source name: the encoder, with ':cosine' or ':dtw' when the similarity
        is not the encoder's own."""
        return source_name(self.encoder.name, self.similarity)

    def remember(self, path: str | os.PathLike, features: Features) -> None:
        """Keep features computed elsewhere (e.g. by `prime`) for `path`."""
        features.check_dim(self.encoder.dim)
        self._memo[str(Path(path).resolve())] = features

    def features(self, path: str | os.PathLike) -> Features:
        """Features of one video (memoised here, and in the feature cache across runs)."""
        key = str(Path(path).resolve())
        if key not in self._memo:
            self._memo[key] = encode_video(path, self.encoder, fps=self.fps, size=self.size,
                                           cache=self.cache)
        return self._memo[key]

    def similarities(self, templates: Sequence[Template], humans: HumanClips) -> np.ndarray:
        """(templates, human clips) similarity, averaged over each template's videos."""
        rows = []
        for t in templates:
            if not t.videos:
                raise ConfigError(f"template {t.name!r} has no video; video scores need an "
                                  "execution video per template (field 'video')")
            rows.append(np.mean([similarities(self.similarity, self.features(v), humans.clips)
                                 for v in t.videos], axis=0))
        return np.asarray(rows)

    def score(self, templates: Sequence[Template], humans: HumanClips) -> np.ndarray:
        """One score per template: mean of its top-k similarities to the human clips."""
        return top_k_mean(self.similarities(templates, humans), self.k)

    def evidence(self, templates: Sequence[Template], humans: HumanClips) -> np.ndarray:
        """`score` in standard errors (`top_k_error`): same ranking, a noise-aware scale."""
        return evidence_scores(self.similarities(templates, humans), self.k)


def source_name(encoder: str, similarity: str) -> str:
    """The score source name of a scorer: the encoder, with ':<similarity>' unless it is
    the encoder's own comparison."""
    return encoder if similarity == DEFAULT_SIMILARITY else f"{encoder}:{similarity}"


def prime(scorers: Sequence[VideoScorer], paths: Sequence[str | os.PathLike]) -> None:
    """Encode `paths` once for all scorers' encoders (one flow per video) into their memos.

    All scorers must share fps, size and cache (as `VideoScorer.build` defaults do).
    """
    if not scorers:
        return
    first = scorers[0]
    if any((sc.fps, sc.size) != (first.fps, first.size) for sc in scorers):
        raise ConfigError("prime: scorers differ in fps or size; prime each group apart")
    distinct = list({sc.source.split(":")[0]: sc.encoder for sc in scorers}.values())
    for path in paths:
        feats = encode_video_multi(path, distinct, fps=first.fps, size=first.size,
                                   cache=first.cache)
        by_name = {f.encoder: f for f in feats}
        for sc in scorers:
            sc.remember(path, by_name[sc.encoder.name])


def top_k_mean(similarities: np.ndarray, k: int) -> np.ndarray:
    """Row-wise mean of the k largest values (all of them when a row has fewer)."""
    ordered = -np.sort(-np.asarray(similarities, np.float64), axis=1)
    return ordered[:, :k].mean(axis=1)


def top_k_error(similarities: np.ndarray, k: int) -> float:
    """Typical standard error of a template's top-k mean: the median over templates of
    std(top-k similarities) / sqrt(k). With a single clip per template (or all clips
    alike) there is no spread to measure, and the spread of the scores across templates
    stands in, which makes `evidence` a z-score."""
    ordered = -np.sort(-np.asarray(similarities, np.float64), axis=1)[:, :k]
    if ordered.shape[1] >= 2:
        error = float(np.median(ordered.std(axis=1, ddof=1))) / np.sqrt(ordered.shape[1])
        if error > 1e-9:
            return error
    spread = float(ordered.mean(axis=1).std())
    return spread if spread > 1e-9 else 1.0


def evidence_scores(similarities: np.ndarray, k: int) -> np.ndarray:
    """Top-k mean similarities in units of their standard error (`top_k_error`)."""
    return top_k_mean(similarities, k) / top_k_error(similarities, k)


def video_files(folder: str | os.PathLike) -> list[Path]:
    """Video files, and folders of numbered images, directly inside `folder`, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of human clips")
    return sorted(p for p in folder.iterdir()
                  if (p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
                  or (p.is_dir() and any(f.suffix.lower() in IMAGE_SUFFIXES for f in p.iterdir())))


def human_clips_from_folder(skill: str, folder: str | os.PathLike,
                            scorer: VideoScorer) -> HumanClips:
    """Every video in `folder` is one human clip of `skill`."""
    paths = video_files(folder)
    if not paths:
        raise NoHumanClipsError(skill, f"{folder} holds no videos ({', '.join(VIDEO_SUFFIXES)})")
    return HumanClips(skill, tuple(scorer.features(p) for p in paths),
                      tuple(p.name for p in paths))


def store_labels(store: ClipStore, domain: str = HUMAN) -> list[str]:
    """The distinct labels of `domain` clips in the store."""
    return sorted({s.label for s in store.segments(domain=domain) if s.label})


def match_label(skill: str, labels: Sequence[str]) -> str:
    """The store label a skill text names: exact, else the one label sharing its words."""
    if skill in labels:
        return skill
    words = lexical_terms(skill)
    shared = [label for label in labels if lexical_terms(label.replace("_", " ")) & words]
    if len(shared) == 1:
        return shared[0]
    found = f"labels {', '.join(shared)} all match" if shared else "no label matches"
    raise NoHumanClipsError(skill, f"{found}; pick one with --label "
                            f"({', '.join(labels) or 'the store has no labelled human clips'})")


def human_clips_from_store(skill: str, store: ClipStore, scorer: VideoScorer,
                           label: str | None = None, domain: str = HUMAN) -> HumanClips:
    """The store's `domain` clips labelled `label` (default: the label the skill names)."""
    label = label or match_label(skill, store_labels(store, domain))
    segments = store.segments(domain=domain, label=label)
    if not segments:
        raise NoHumanClipsError(skill, f"{store.path} has no {domain} clips labelled {label!r}")
    return HumanClips(skill, tuple(store.clip_features(s, scorer.encoder.name)
                                   for s in segments),
                      tuple(f"{Path(s.video_path).name}@{s.start:.1f}-{s.end:.1f}s"
                            for s in segments))


def human_clips_by_query(skill: str, query: str | os.PathLike, store: ClipStore,
                         scorer: VideoScorer, n: int = 5, domain: str = HUMAN) -> HumanClips:
    """The query clip and the `n` `domain` clips of the store nearest to it; clips cut from
    the query file itself (the same content already in the store) are not counted twice."""
    feats = scorer.features(query)
    own = store.find_video(content_hash(query))
    exclude = [c.id for c in store.segments(video_id=own.id)] if own else []
    hits = store.search(feats, n, encoder=scorer.encoder.name, domain=domain, exclude=exclude)
    clips = [feats, *(store.clip_features(store.segment(h.segment_id), scorer.encoder.name)
                      for h in hits)]
    names = [Path(query).name, *(f"{Path(h.video_path).name}@{h.start:.1f}-{h.end:.1f}s"
                                 for h in hits)]
    return HumanClips(skill, tuple(clips), tuple(names))


def video_scores(templates: Sequence[Template], humans: dict[str, HumanClips],
                 scorers: Sequence[VideoScorer]) -> dict[str, np.ndarray]:
    """Source name -> one score per template, for each scorer (its encoder's human clips)."""
    return {s.source: s.score(templates, humans[s.encoder.name]) for s in scorers}
