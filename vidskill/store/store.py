"""The clip library on disk: a SQLite catalog (the source of truth), feature files, and one
FAISS inner-product index per encoder derived from the catalog.

Layout of a store folder:

    catalog.sqlite                      videos (hash, status, error), segments, embeddings, settings
    features/<video-id>/<encoder>.npy   per-window features (N, D) float32
    features/<video-id>/<encoder>.times.npy   window [start, end) seconds (N, 2) float64
    index-<encoder>.faiss               IndexIDMap2 over L2-normalised clip embeddings (id = segment id)
    ingest.lock                         held (fcntl.flock) by the one process writing the store

Every file is written under a temporary name, fsynced and renamed (vidskill._files). The
catalog (`Catalog`) is the source of truth; indexes are never trusted: on load their id
set is compared with the catalog and they are updated or rebuilt when they differ.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from vidskill._files import replacing
from vidskill.encoders.base import Features
from vidskill.encoders.registry import clip_model
from vidskill.errors import DimensionMismatchError
from vidskill.store.catalog import Catalog, SegmentRecord
from vidskill.store.errors import EmptyQueryError, StoreError
from vidskill.store.index import (
    EXACT_FILTER_LIMIT,
    _check_factory,
    _exact,
    _index_search,
    _new_index,
    _normalise,
    _same_kind,
    _set_search_params,
    clip_embedding,
)

log = logging.getLogger(__name__)

# An encoder with its own comparison (`Encoder.own_comparison`) is searched in two steps:
# the index's inner product picks a shortlist, the encoder's `compare` re-ranks it. For
# flow-profile the inner product is the lockstep (no-warping) form of `compare`, a lower
# bound within one gate kind; on MetaWorld renders the best clip by `compare` was within the
# first 12 of 48 by the index, so 100 (or 10 per hit asked for) leaves room (bench/real_matching.py).
RERANK_SHORTLIST = 100
RERANK_FACTOR = 10


@dataclass(frozen=True)
class Hit:
    """One search result: a clip, where it comes from, and its similarity to the query (the
    cosine of the index vectors, or the encoder's own `compare` where it has one)."""

    segment_id: int
    video_path: str
    start: float
    end: float
    label: str | None
    domain: str | None
    score: float
    metadata: dict = field(default_factory=dict)
    video_id: int = 0
    kind: str = ""   # the boundary that starts the clip: start, cut, fade, skill
    confidence: float = 1.0   # that boundary's confidence (not the similarity: `score`)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class ClipStore(Catalog):
    """A library of skill clips in one folder: the catalog plus one index per encoder.

    Open an existing store with `ClipStore(path)`; `create=True` makes the folder when it is
    missing; `readonly=True` never writes (a store on a read-only mount or owned by another
    user). Reading needs no lock; writers hold `store.lock()` (ingest does).
    """

    exact_filter_limit = EXACT_FILTER_LIMIT

    def __init__(self, path: str | os.PathLike, *, create: bool = False,
                 readonly: bool = False):
        super().__init__(path, create=create, readonly=readonly)
        self._indexes: dict[str, tuple[int, faiss.Index]] = {}

    def __enter__(self) -> ClipStore:
        return self

    # -- indexes -----------------------------------------------------------------------

    def index_path(self, encoder: str) -> Path:
        return self.path / f"index-{encoder}.faiss"

    def rebuild_index(self, encoder: str, factory: str | None = None) -> faiss.Index:
        """Build the index of `encoder` from the catalog and write it; `factory` forces its type."""
        if factory is not None:
            _check_factory(factory)
            self.set_index_factory(encoder, factory)
        generation = self.generation
        ids, vecs = self.vectors(encoder)
        index = self._build(encoder, ids, vecs)
        self._persist(encoder, index)
        self._indexes[encoder] = (generation, index)
        return index

    def sync_indexes(self) -> None:
        """Bring every encoder's index file in line with the catalog."""
        for encoder in self.encoders():
            self.index(encoder)

    def index(self, encoder: str) -> faiss.Index:
        """The index of `encoder`, loaded and brought up to date with the catalog."""
        generation = self.generation
        cached = self._indexes.get(encoder)
        if cached and cached[0] == generation:
            return cached[1]
        index = cached[1] if cached else self._load(encoder)
        ids, vecs = self.vectors(encoder)
        factory = self.index_factory(encoder, len(ids))
        if index is not None and _same_kind(index, factory, vecs.shape[1]):
            have = np.sort(faiss.vector_to_array(index.id_map))
            if np.array_equal(have, ids):
                self._indexes[encoder] = (generation, index)
                return index
            if len(have) < len(ids) and np.isin(have, ids).all():
                new = ~np.isin(ids, have)
                index.add_with_ids(np.ascontiguousarray(vecs[new]), ids[new])
                log.info("index %s: added %d clips", encoder, int(new.sum()))
                self._persist(encoder, index)
                self._indexes[encoder] = (generation, index)
                return index
        log.info("index %s: rebuilding over %d clips (%s)", encoder, len(ids), factory)
        index = self._build(encoder, ids, vecs)
        self._persist(encoder, index)
        self._indexes[encoder] = (generation, index)
        return index

    def _load(self, encoder: str) -> faiss.Index | None:
        path = self.index_path(encoder)
        if not path.exists():
            return None
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as e:
            log.warning("%s is unreadable (%s); rebuilding it from the catalog", path, e)
            return None
        if not isinstance(index, faiss.IndexIDMap2):
            log.warning("%s is not an id-mapped index; rebuilding it from the catalog", path)
            return None
        _set_search_params(index)
        return index

    def _build(self, encoder: str, ids: np.ndarray, vecs: np.ndarray) -> faiss.Index:
        factory = self.index_factory(encoder, len(ids))
        dim = vecs.shape[1] if len(vecs) else (self.dim(encoder) or 1)
        index = _new_index(factory, dim)
        if not index.is_trained:
            if len(vecs) == 0:
                return _new_index("Flat", dim)
            sample = vecs
            if len(vecs) > 200_000:
                pick = np.random.default_rng(0).choice(len(vecs), 200_000, replace=False)
                sample = vecs[np.sort(pick)]
            try:
                index.train(np.ascontiguousarray(sample))
            except RuntimeError as e:
                raise StoreError(
                    f"cannot train index {factory!r} on {len(vecs)} clips ({e}); force a "
                    "smaller index, e.g. 'Flat', with store.rebuild_index(encoder, 'Flat')"
                ) from None
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(vecs), ids)
        return index

    def _persist(self, encoder: str, index: faiss.Index) -> None:
        """Write the index file when this process holds the lock (readers keep it in memory)."""
        if self._lock_fd is not None:
            with replacing(self.index_path(encoder)) as tmp:
                faiss.write_index(index, str(tmp))

    # -- search ------------------------------------------------------------------------

    def query_vector(self, query: np.ndarray | Features | int, encoder: str) -> np.ndarray:
        """A unit query vector from a vector, a clip's Features, or a segment id."""
        if isinstance(query, Features):
            if query.encoder and query.encoder != encoder:
                raise DimensionMismatchError(
                    f"the query features come from encoder {query.encoder!r} but the search is "
                    f"over {encoder!r} clips; encode the query with {encoder!r}"
                )
            vec = clip_embedding(query, -np.inf, np.inf, self.pooling)
        elif isinstance(query, (int, np.integer)):
            vec = self.embedding(int(query), encoder)
        else:
            vec = np.asarray(query, np.float32)
            if vec.ndim != 1 and not (vec.ndim == 2 and vec.shape[0] == 1):
                raise ValueError(f"a query vector must be 1-D, got shape {vec.shape}")
        vec = _normalise(vec)
        if not vec.any():
            raise EmptyQueryError("the query vector is all zeros (a clip without motion gives no "
                             "flow features), so every clip is as near as any other; query "
                             "with a clip in which something moves")
        dim = self.dim(encoder)
        if dim is not None and len(vec) != dim:
            raise DimensionMismatchError(
                f"the query has dimension {len(vec)} but {encoder!r} clips in {self.path} have "
                f"dimension {dim}; build the query with the store's encoder and settings "
                f"({self.settings().get('encoder_settings', {})}), or re-ingest into a new "
                "--store if it was made by another version of the encoder"
            )
        return vec

    def search(
        self,
        query: np.ndarray | Features | int,
        k: int = 10,
        *,
        encoder: str | None = None,
        domain: str | None = None,
        label: str | None = None,
        exclude: Sequence[int] = (),
    ) -> list[Hit]:
        """The k clips most similar to `query` (vector, Features of a clip, or segment id).

        `domain` and `label` keep only matching clips; a segment-id query excludes itself.
        Filtered searches return k hits whenever k matching clips exist.
        """
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        encoder = encoder or self.default_encoder()
        self.check_encoder(encoder)
        vec = self.query_vector(query, encoder)
        excluded = {int(i) for i in exclude}
        if isinstance(query, (int, np.integer)):
            excluded.add(int(query))
        model = clip_model(encoder)
        rows = self._query_rows(query, encoder) if model.own_comparison else None
        fetch = k if rows is None else max(k, RERANK_SHORTLIST, RERANK_FACTOR * k)
        fetch += len(excluded)
        if domain is None and label is None:
            ids, scores = self._search_index(encoder, vec, fetch, None)
        else:
            allowed, vecs = self.vectors(encoder, domain=domain, label=label)
            if len(allowed) <= self.exact_filter_limit:
                ids, scores = _exact(vecs, allowed, vec, fetch)
            else:
                ids, scores = self._search_index(encoder, vec, fetch, allowed)
        keep = [(int(i), float(s)) for i, s in zip(ids, scores, strict=True)
                if int(i) not in excluded]
        if rows is not None and keep:
            keep = self._rerank(model, rows, keep, encoder)
        return self._hits(keep[:k])

    def _query_rows(self, query: np.ndarray | Features | int, encoder: str) -> Features | None:
        """The query clip's rows for re-ranking (None for a bare vector: index order)."""
        if isinstance(query, Features):
            return query
        if isinstance(query, (int, np.integer)):
            return self.clip_features(self.segment(int(query)), encoder)
        return None

    def clip_features(self, segment: SegmentRecord, encoder: str) -> Features:
        """The windows of one stored clip (`Features.clip` of its video's features)."""
        return self.features(segment.video_id, encoder).clip(segment.start, segment.end)

    def _rerank(self, model: type, rows: Features, shortlist: list[tuple[int, float]],
                encoder: str) -> list[tuple[int, float]]:
        """The shortlist ordered by the encoder's own `compare` with the query (ties by id)."""
        segments = [self.segment(i) for i, _ in shortlist]
        videos = {s.video_id: self.features(s.video_id, encoder) for s in segments}
        clips = [videos[s.video_id].clip(s.start, s.end) for s in segments]
        scores = model.compare_many(rows, clips)
        order = np.lexsort(([s.id for s in segments], -scores))
        return [(segments[i].id, float(scores[i])) for i in order]

    def _search_index(
        self, encoder: str, vec: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k from the index; with `allowed`, over-fetch until k allowed clips are found."""
        index = self.index(encoder)
        total = index.ntotal
        if total == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        fetch = k if allowed is None else min(total, 2 * k * -(-total // max(1, len(allowed))))
        while True:
            scores, ids = _index_search(index, vec, min(fetch, total))
            valid = ids >= 0
            ids, scores = ids[valid], scores[valid]
            if allowed is None:
                return ids, scores
            ok = np.isin(ids, allowed)
            if ok.sum() >= k or fetch >= total:
                break
            fetch *= 4
        if ok.sum() < min(k, len(allowed)):
            all_ids, all_vecs = self.vectors(encoder)
            return _exact(all_vecs[np.isin(all_ids, allowed)], allowed, vec, k)
        return ids[ok][:k], scores[ok][:k]

    def _hits(self, ranked: list[tuple[int, float]]) -> list[Hit]:
        hits = []
        for seg_id, score in ranked:
            s = self.segment(int(seg_id))
            hits.append(Hit(s.id, s.video_path, s.start, s.end, s.label, s.domain, float(score),
                            s.metadata, s.video_id, s.kind, s.score))
        return hits
