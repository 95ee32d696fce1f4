"""Video scores for template selection: how alike each template's execution is to the skill.

For every template, each of its execution videos is compared with every human clip of the
skill, and the template's score is the mean of its top-k similarities (k small, so a few
good matches count and odd clips do not), averaged over its execution videos, less half its
hubness (`hubness_of`) where human clips of other skills are at hand (the reference): a template whose
motion resembles every human clip would win skills it does not perform, across cameras
above all. The similarity (`similarity.py`) is the encoder's own comparison by default
("encoder": for window encoders the cosine of mean-pooled windows, the paper's; for
flow-profile DTW over ordered motion profiles), or the cosine of clip embeddings, or DTW
over the window sequences. `evidence` puts the same scores in units of their own
measurement noise (see `top_k_error`), the scale the "evidence" fusion adds to a text
prior's log-probabilities. One scorer per encoder; the human clips come from video files
(`human_clips_from_folder`, with a reference folder), from a store by label
(`human_clips_from_store`, `match_label`) or from a store by a query clip
(`human_clips_by_query`), where the store's other human clips are the reference. No human
clips is an error (`NoHumanClipsError`), never a guess.
"""

from __future__ import annotations

import logging
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
from vidskill.select.similarity import SIMILARITIES, similarity_matrix
from vidskill.select.templates import Template
from vidskill.select.text.lexical import lexical_terms
from vidskill.store import ClipStore, SegmentRecord, StoreError
from vidskill.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

DEFAULT_K = 3
DEFAULT_SIMILARITY = "encoder"
HUMAN = "human"
HUB_K = 10          # hubness: mean similarity to the 10 nearest reference clips (CSLS's K)
HUB_SHARE = 0.5     # share of it taken off a template's score (CSLS's 1/2)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HumanClips:
    """The human clips of one skill as feature sequences of one encoder, with where each is
    from, and human clips of other skills (`reference`) to measure the templates' hubness."""

    skill: str
    clips: tuple[Features, ...]
    names: tuple[str, ...]
    reference: tuple[Features, ...] = ()

    def __post_init__(self) -> None:
        if not self.clips:
            raise NoHumanClipsError(self.skill)

    @property
    def marks_hubs(self) -> bool:
        """Whether the reference holds enough clips (HUB_K) to tell a template near every
        human clip."""
        return len(self.reference) >= HUB_K


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
        return self.against(templates, humans.clips)

    def hubness(self, templates: Sequence[Template], humans: HumanClips) -> np.ndarray | None:
        """`hubness_of` each template against the human clips of other skills (None with
        fewer than HUB_K of them, too few to tell a template near every clip)."""
        if not humans.marks_hubs:   # too few: skip the comparisons
            return None
        return hubness_of(self.against(templates, humans.reference))

    def score(self, templates: Sequence[Template], humans: HumanClips) -> np.ndarray:
        """One score per template: mean of its top-k similarities to the human clips, less
        HUB_SHARE of its hubness."""
        return template_scores(self.similarities(templates, humans), self.k,
                               self.hubness(templates, humans))

    def evidence(self, templates: Sequence[Template], humans: HumanClips) -> np.ndarray:
        """`score` in standard errors (`top_k_error`): same ranking, a noise-aware scale."""
        return evidence_scores(self.similarities(templates, humans), self.k,
                               self.hubness(templates, humans))

    def against(self, templates: Sequence[Template], clips: Sequence[Features]) -> np.ndarray:
        """(templates, clips) similarity, averaged over each template's videos (one matrix:
        each clip's work is done once)."""
        for t in templates:
            if not t.videos:
                raise ConfigError(f"template {t.name!r} has no video; video scores need an "
                                  "execution video per template (field 'video')")
        sims = similarity_matrix(self.similarity,
                                 [self.features(v) for t in templates for v in t.videos], clips)
        ends = np.cumsum([len(t.videos) for t in templates])
        return np.array([sims[end - len(t.videos):end].mean(axis=0)
                         for t, end in zip(templates, ends, strict=True)])


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


def hubness_of(reference_similarities: np.ndarray) -> np.ndarray | None:
    """Each template's mean similarity to its HUB_K most similar reference clips (rows:
    templates, columns: human clips of other skills): how much it resembles human motion
    in general; None with fewer than HUB_K clips, too few to tell. A template that does (a "hub") is near every skill's clips and would win
    skills it does not perform. Taking HUB_SHARE of it off the score is CSLS (Conneau et
    al., "Word translation without parallel data", 2018; one of the normalisations of
    QB-Norm, Bogolin et al. 2022, for text-video retrieval), with its K = 10 and 1/2."""
    if np.shape(reference_similarities)[1] < HUB_K:
        return None
    return top_k_mean(reference_similarities, HUB_K)


def template_scores(similarities: np.ndarray, k: int,
                    hubs: np.ndarray | None = None) -> np.ndarray:
    """Top-k mean similarities, less HUB_SHARE of the templates' hubness when known."""
    scores = top_k_mean(similarities, k)
    return scores if hubs is None else scores - HUB_SHARE * np.asarray(hubs, np.float64)


def evidence_scores(similarities: np.ndarray, k: int,
                    hubs: np.ndarray | None = None) -> np.ndarray:
    """`template_scores` in units of the top-k mean's standard error (`top_k_error`)."""
    return template_scores(similarities, k, hubs) / top_k_error(similarities, k)


def video_files(folder: str | os.PathLike) -> list[Path]:
    """Video files, and folders of numbered images, directly inside `folder`, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of human clips")
    return sorted(p for p in folder.iterdir()
                  if (p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
                  or (p.is_dir() and any(f.suffix.lower() in IMAGE_SUFFIXES for f in p.iterdir())))


def human_clips_from_folder(skill: str, folder: str | os.PathLike, scorer: VideoScorer,
                            reference: str | os.PathLike | None = None) -> HumanClips:
    """Every video in `folder` is one human clip of `skill`; the clips of the `reference`
    folder (`reference_files`), less these, are human clips of other skills."""
    paths = video_files(folder)
    if not paths:
        raise NoHumanClipsError(skill, f"{folder} holds no videos ({', '.join(VIDEO_SUFFIXES)})")
    others = [] if reference is None else reference_files(reference, exclude=paths)
    if reference is not None and len(others) < HUB_K:
        log.warning("%s holds %d clips of other skills, fewer than %d: too few to tell a "
                    "template near every human clip, so none is marked down", reference,
                    len(others), HUB_K)
    return HumanClips(skill, tuple(scorer.features(p) for p in paths),
                      tuple(p.name for p in paths), tuple(scorer.features(p) for p in others))


def reference_files(folder: str | os.PathLike, exclude: Sequence[Path] = ()) -> list[Path]:
    """The clips of a reference folder, human clips of many skills: its videos and those of
    its subfolders (one folder per skill, as `--human` takes them), less `exclude`."""
    folder = Path(folder)
    found = video_files(folder)
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p not in found):
        found += video_files(sub)
    skip = {p.resolve() for p in exclude}
    return [p for p in found if p.resolve() not in skip]


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
    """The store's `domain` clips labelled `label` (default: the label the skill names); its
    `domain` clips of every other label are the reference."""
    label = label or match_label(skill, store_labels(store, domain))
    everything = store.segments(domain=domain)
    segments = [s for s in everything if s.label == label]
    if not segments:
        raise NoHumanClipsError(skill, f"{store.path} has no {domain} clips labelled {label!r}")
    return HumanClips(skill, _stored_clips(store, segments, scorer),
                      tuple(f"{Path(s.video_path).name}@{s.start:.1f}-{s.end:.1f}s"
                            for s in segments),
                      _stored_clips(store, [s for s in everything if s.label != label], scorer))


def human_clips_by_query(skill: str, query: str | os.PathLike, store: ClipStore,
                         scorer: VideoScorer, n: int = 5, domain: str = HUMAN) -> HumanClips:
    """The query clip and the `n` `domain` clips of the store nearest to it; clips cut from
    the query file itself (the same content already in the store) are not counted twice.
    The store's other `domain` clips are the reference."""
    feats = scorer.features(query)
    own = store.find_video(content_hash(query))
    exclude = [c.id for c in store.segments(video_id=own.id)] if own else []
    hits = store.search(feats, n, encoder=scorer.encoder.name, domain=domain, exclude=exclude)
    clips = [feats, *(store.clip_features(store.segment(h.segment_id), scorer.encoder.name)
                      for h in hits)]
    names = [Path(query).name, *(f"{Path(h.video_path).name}@{h.start:.1f}-{h.end:.1f}s"
                                 for h in hits)]
    used = {*exclude, *(h.segment_id for h in hits)}
    rest = [s for s in store.segments(domain=domain) if s.id not in used]
    return HumanClips(skill, tuple(clips), tuple(names), _stored_clips(store, rest, scorer))


def _stored_clips(store: ClipStore, segments: Sequence[SegmentRecord],
                  scorer: VideoScorer) -> tuple[Features, ...]:
    """The scorer encoder's rows of stored segments (each video's features read once)."""
    videos: dict[int, Features] = {}
    for s in segments:
        if s.video_id not in videos:
            videos[s.video_id] = store.features(s.video_id, scorer.encoder.name)
    return tuple(videos[s.video_id].clip(s.start, s.end) for s in segments)
