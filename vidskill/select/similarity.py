"""Similarity between two clips' features: the encoder's own comparison, the cosine of clip
embeddings, or dynamic time warping over the window sequences.

- "encoder": the encoder's `compare` (`Encoder.compare_many`), the comparison its store
  search ends with: for window encoders the cosine of mean-pooled windows, for flow-profile
  DTW over ordered motion profiles (see vidskill/encoders/profile.py);
- "cosine": the cosine of the clips' index vectors (`Encoder.embed`), what a store's index
  alone ranks by (the mean-pooled windows for window encoders);
- "dtw": the mean cosine of the windows along their best monotonic alignment (allowing
  other speeds and durations), for encoders whose rows are window descriptors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from vidskill.dtw import mean_cosine
from vidskill.encoders.base import Features, check_comparable
from vidskill.encoders.registry import clip_model
from vidskill.errors import DimensionMismatchError


def _array(x: Features | np.ndarray) -> np.ndarray:
    a = x.data if isinstance(x, Features) else np.asarray(x, dtype=np.float32)
    return a[None] if a.ndim == 1 else a


def _check(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[-1] != b.shape[-1]:
        raise DimensionMismatchError(
            f"cannot compare features of dimension {a.shape[-1]} and {b.shape[-1]}: "
            "they come from different encoders or settings"
        )
    if len(a) == 0 or len(b) == 0:
        raise ValueError("cannot compare an empty feature sequence (no windows)")


def mean_pool(x: Features | np.ndarray) -> np.ndarray:
    """One L2-normalised vector for a clip: the mean of its window features."""
    v = _array(x).astype(np.float64).mean(0)
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def cosine(a: Features | np.ndarray, b: Features | np.ndarray) -> float:
    """Cosine similarity of two clips' index vectors (`Encoder.embed`; the mean-pooled rows
    for arrays), in [-1, 1]."""
    if isinstance(a, Features) and isinstance(b, Features):
        check_comparable(a, [b])
        model = clip_model(a.encoder)
        return float(model.embed(a).astype(np.float64) @ model.embed(b).astype(np.float64))
    x, y = _array(a), _array(b)
    _check(x, y)
    return float(mean_pool(x) @ mean_pool(y))


def dtw_similarity(a: Features | np.ndarray, b: Features | np.ndarray) -> float:
    """Mean cosine similarity of the windows along the best monotonic alignment of two
    window sequences (step cost 1 - cosine, averaged along the path, so long and short
    clips are comparable), in [-1, 1]: 1 = the same sequence up to timing."""
    x, y = _array(a), _array(b)
    _check(x, y)
    return mean_cosine(x, y)


def encoder_similarity(a: Features, b: Features) -> float:
    """The encoder's own comparison of two clips (`Encoder.compare`)."""
    return clip_model(a.encoder).compare(a, b)


SIMILARITIES: dict[str, Callable[[Features, Features], float]] = {
    "encoder": encoder_similarity, "cosine": cosine, "dtw": dtw_similarity}


def similarities(name: str, query: Features, others: Sequence[Features]) -> np.ndarray:
    """Similarity `name` of one clip to each of `others` (the encoder's comparison batched)."""
    if name == "encoder":
        return clip_model(query.encoder).compare_many(query, others)
    return np.array([SIMILARITIES[name](query, o) for o in others])


def similarity_matrix(name: str, queries: Sequence[Features],
                      others: Sequence[Features]) -> np.ndarray:
    """(queries, others) similarity `name`, as `similarities` row by row, with the work per
    clip (flow-profile's signature, a clip's index vector) done once per clip."""
    if not queries or not others:
        return np.zeros((len(queries), len(others)))
    if name == "encoder":
        return clip_model(queries[0].encoder).compare_matrix(queries, others)
    if name == "cosine":
        for q in queries:
            check_comparable(q, others)
        model = clip_model(queries[0].encoder)
        vectors = [np.stack([model.embed(f) for f in fs]).astype(np.float64)
                   for fs in (queries, others)]
        return vectors[0] @ vectors[1].T
    return np.stack([similarities(name, q, others) for q in queries])
