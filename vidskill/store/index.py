"""Clip vectors and their FAISS indexes: embedding, the index type by corpus size, search.

Every index is an inner-product `IndexIDMap2` over L2-normalised clip embeddings, keyed by
segment id, so a search returns cosine similarities and catalog ids.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import faiss
import numpy as np

from vidskill.encoders.base import Features
from vidskill.encoders.registry import clip_model
from vidskill.store.errors import StoreError

# Index choice and search parameters, measured with bench/retrieval.py on 148-d flow-hof-sized
# clustered embeddings, one query at a time on 2 busy cores: exact "Flat" took 9.3 ms p50 at
# 100k clips, so it is used below 50k only. Above, IVF (nlist ~ 4 sqrt(n)) with nprobe 64 gave
# recall@10 0.99 at 1M in 1.0 ms p50 and built in 93 s; HNSW32 needed efSearch 128 for 0.96
# and 21 min to build.
FLAT_LIMIT = 50_000
IVF_NPROBE = 64
HNSW_EF_SEARCH = 128
HNSW_EF_CONSTRUCTION = 80
# A filter leaving at most this many clips is answered exactly from the catalog's vectors.
EXACT_FILTER_LIMIT = 50_000
# One query at a time gains nothing from OpenMP threads and loses much on a busy machine.
QUERY_THREADS = 1


def clip_embedding(features: Features, start: float, end: float, pooling: str = "mean") -> np.ndarray:
    """The index vector of the clip [start, end) of a video's features: its encoder's
    `embed` of the clip's windows (`Features.clip`), L2-normalised; by default the mean of
    the windows (or mean ++ max)."""
    return _normalise(clip_model(features.encoder).embed(features.clip(start, end), pooling))


def _normalise(vec: np.ndarray) -> np.ndarray:
    vec = np.asarray(vec, np.float32).reshape(-1)
    if not np.all(np.isfinite(vec)):
        raise ValueError("the vector holds NaN or infinite values")
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec


def ivf_lists(n: int) -> int:
    """IVF list count for n vectors: the power of two nearest 4 sqrt(n)."""
    return 2 ** round(math.log2(4 * math.sqrt(max(n, 1))))


def default_factory(n: int) -> str:
    """FAISS factory string for an index over n clips: exact below FLAT_LIMIT, IVF above."""
    return "Flat" if n < FLAT_LIMIT else f"IVF{ivf_lists(n)},Flat"


def _check_factory(factory: str) -> None:
    try:
        faiss.index_factory(8, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as e:
        raise StoreError(
            f"{factory!r} is not a FAISS index factory string ({str(e).splitlines()[-1]}); "
            "try 'Flat', 'HNSW32' or 'IVF1024,Flat'"
        ) from None


def _new_index(factory: str, dim: int) -> faiss.IndexIDMap2:
    inner = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    hnsw = getattr(faiss.downcast_index(inner), "hnsw", None)
    if hnsw is not None:
        hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index = faiss.IndexIDMap2(inner)
    _set_search_params(index)
    return index


def _set_search_params(index: faiss.IndexIDMap2) -> None:
    inner = faiss.downcast_index(index.index)
    if hasattr(inner, "hnsw"):
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    with contextlib.suppress(RuntimeError):
        faiss.extract_index_ivf(inner).nprobe = IVF_NPROBE


def _same_kind(index: faiss.Index, factory: str, dim: int) -> bool:
    """Whether a loaded index is of the type `factory` builds, over vectors of `dim`."""
    if index.d != dim:
        return False
    want = faiss.downcast_index(faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT))
    have = faiss.downcast_index(index.index)
    # a saved Flat index reads back as IndexFlatIP, a subclass of what the factory builds
    return (isinstance(have, type(want)) and have.metric_type == want.metric_type
            and getattr(want, "nlist", 0) == getattr(have, "nlist", 0))


def _index_search(index: faiss.Index, vec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """One query; HNSW explores at least k candidates so that k results can come back."""
    params = None
    if hasattr(faiss.downcast_index(index.index), "hnsw"):
        params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k))
    with query_threads():
        scores, ids = index.search(vec.reshape(1, -1), k, params=params)
    return scores[0], ids[0]


@contextlib.contextmanager
def query_threads() -> Iterator[None]:
    """Run FAISS with QUERY_THREADS OpenMP threads inside the block."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(QUERY_THREADS)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _exact(vecs: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k by inner product over explicit vectors, ties broken by id."""
    if len(ids) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    scores = vecs @ query
    order = np.lexsort((ids, -scores))[:k]
    return ids[order], scores[order]
