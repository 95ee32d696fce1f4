"""`TWFinchDetector` ("twfinch"): temporally weighted first-neighbour clustering (TW-FINCH,
Sarfraz et al., CVPR 2021) of one video's windows; training-free.

Each window gets its relative time (k + 1) / N. The distance between two windows is their
cosine distance times their distance in relative time, so a window's first neighbour is
similar *and* near in time. FINCH's clustering equation links each window to its first
neighbour (and windows sharing one); the connected components are the clusters. The
clusters' means (relative time included) are clustered again the same way, giving a
hierarchy of partitions, finest first, that ends when a round merges nothing or leaves one
cluster. This follows `clust_rank` / `FINCH(..., tw_finch=True)` of the authors' code.

The number of segments is given (`n_segments`, as the paper does with each dataset's mean
number of actions), set by duration (`segment_seconds`: one per that many seconds, rounded
up), or, by default, the hierarchy's coarsest partition with at least two clusters. A count
inside the hierarchy's range is reached from the partition just above it by merging the
closest pair of clusters one at a time (the authors' `req_numclust`).

Clusters need not be contiguous in time; every change of cluster is a boundary. Its score is
the cosine distance between the mean features of the segments either side, halved (0..1).

Neighbours: the distance is a product of two distances, which no index (FAISS, scikit-learn
trees) searches, so first neighbours come from exact distances computed in blocks of rows
(memory of one block x N, not N x N), as the authors compute them exactly below 70,000 steps.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from vidskill.boundaries.base import Boundaries, BoundaryDetector
from vidskill.encoders.base import Features

BLOCK = 1024  # rows of the distance matrix held at once: 8 MB per 1000 windows of video
TIE = 1e-9    # added to cosine distances so identical windows pick the nearest in time


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def first_neighbours(x: np.ndarray, loc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's first neighbour under cosine distance x |relative time difference|, and
    that distance."""
    u, n = _unit(np.asarray(x, np.float64)), len(x)
    nearest, dist = np.zeros(n, np.int64), np.zeros(n)
    for a in range(0, n, BLOCK):
        b = min(a + BLOCK, n)
        d = (np.maximum(1.0 - u[a:b] @ u.T, 0.0) + TIE) * np.abs(loc[a:b, None] - loc[None])
        d[np.arange(b - a), np.arange(a, b)] = np.inf
        nearest[a:b] = d.argmin(1)
        dist[a:b] = d[np.arange(b - a), nearest[a:b]]
    return nearest, dist


def cluster(nearest: np.ndarray) -> np.ndarray:
    """FINCH's clustering equation: labels of the connected components of (A + I)(A + I)^T,
    A the first-neighbour graph."""
    n = len(nearest)
    a = sp.csr_matrix((np.ones(n), (np.arange(n), nearest)), shape=(n, n)) + sp.eye(n)
    return connected_components(a @ a.T, directed=False)[1]


def _means(data: np.ndarray, labels: np.ndarray) -> np.ndarray:
    k = int(labels.max()) + 1
    sums = np.zeros((k, data.shape[1]))
    np.add.at(sums, labels, data)
    return sums / np.bincount(labels, minlength=k)[:, None]


def _with_time(features: np.ndarray) -> np.ndarray:
    """Features with their relative time (k + 1) / N as the last column."""
    n = len(features)
    return np.column_stack([np.asarray(features, np.float64), (np.arange(n) + 1.0) / n])


def hierarchy(features: np.ndarray) -> list[np.ndarray]:
    """TW-FINCH partitions of the rows, finest first (labels 0..k-1 per row)."""
    data = _with_time(features)
    labels = cluster(first_neighbours(data[:, :-1], data[:, -1])[0])
    parts = [labels]
    while labels.max() > 0:
        means = _means(data, labels)
        merged = cluster(first_neighbours(means[:, :-1], means[:, -1])[0])[labels]
        if merged.max() == labels.max() or merged.max() == 0:
            break  # nothing merged, or one cluster left: the authors stop here too
        labels = merged
        parts.append(labels)
    return parts


def merge_to(labels: np.ndarray, features: np.ndarray, k: int) -> np.ndarray:
    """Merge the closest pair of clusters (time-weighted distance between their means) one
    at a time until `k` are left."""
    data = _with_time(features)
    labels = np.unique(labels, return_inverse=True)[1]
    while labels.max() + 1 > k:
        means = _means(data, labels)
        nearest, dist = first_neighbours(means[:, :-1], means[:, -1])
        i = int(dist.argmin())
        labels = np.unique(np.where(labels == nearest[i], i, labels), return_inverse=True)[1]
    return labels


class TWFinchDetector(BoundaryDetector):
    """TW-FINCH partitions of one video as boundaries (see the module doc).

    n_segments: clusters wanted (the paper gives each dataset's mean number of actions); else
    segment_seconds: one cluster per that many seconds of video; else the coarsest partition
    with at least two clusters (no setting: what the hierarchy finds, which assumes one
    video or shot holds a handful of actions, as one demonstration does).
    """

    name = "twfinch"
    min_windows = 3

    def __init__(self, n_segments: int | None = None, segment_seconds: float | None = None):
        if n_segments is not None and n_segments < 1:
            raise ValueError(f"n_segments must be at least 1, got {n_segments}")
        if segment_seconds is not None and not segment_seconds > 0:
            raise ValueError(f"segment_seconds must be positive, got {segment_seconds}")
        self.n_segments = None if n_segments is None else int(n_segments)
        self.segment_seconds = None if segment_seconds is None else float(segment_seconds)

    def wanted(self, features: Features) -> int | None:
        """Clusters asked for in this video, None to let the hierarchy choose."""
        if self.n_segments is not None:
            return self.n_segments
        if self.segment_seconds is not None:
            duration = float(features.ends[-1] - features.starts[0])
            return max(1, math.ceil(duration / self.segment_seconds - 1e-9))
        return None

    def labels(self, features: Features) -> np.ndarray:
        """Cluster label of each window."""
        x = np.asarray(features.data, dtype=np.float64)
        parts = hierarchy(x)
        counts = [int(p.max()) + 1 for p in parts]
        want = self.wanted(features)
        if want is None:
            return parts[max([i for i, c in enumerate(counts) if c >= 2], default=0)]
        if want >= counts[0]:
            return parts[0]
        level = max(i for i, c in enumerate(counts) if c >= want)
        return parts[level] if counts[level] == want else merge_to(parts[level], x, want)

    def _detect(self, features: Features, actions: np.ndarray | None) -> Boundaries:
        """A boundary halfway between two windows of different clusters."""
        times = features.times.astype(np.float64)
        start, end = float(features.starts[0]), float(features.ends[-1])
        lab = self.labels(features)
        change = np.flatnonzero(lab[1:] != lab[:-1]) + 1
        edges = np.r_[0, change, len(lab)]
        x = np.asarray(features.data, dtype=np.float64)
        means = _unit(np.stack([x[a:b].mean(0) for a, b in zip(edges[:-1], edges[1:],
                                                                 strict=True)]))
        scores = np.clip((1.0 - (means[:-1] * means[1:]).sum(1)) / 2.0, 0.0, 1.0)
        at = (times[change - 1] + times[change]) / 2
        signal = lab / max(int(lab.max()), 1)
        return Boundaries(at, scores, signal, times, start, end)
