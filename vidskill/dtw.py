"""Dynamic time warping of one query against a batch of sequences, vectorised or compiled.

The accumulated cost of the best monotonic alignment,

    acc[i, j] = cost[i, j] + min(acc[i-1, j-1], acc[i-1, j], acc[i, j-1]),

is computed a row at a time for every sequence of the batch at once: within a row the
horizontal moves form a min-plus prefix scan (with S the running sum of the row's costs and
D[j] = cost[i, j] + min(acc[i-1, j-1], acc[i-1, j]), acc[i, j] = S[j] + min over k <= j of
D[k] - S[k]), one `np.minimum.accumulate`, so an (n x m) table costs n numpy passes instead
of n m Python steps. The length of the best path is carried along, so a cost can be
averaged along its alignment. A Sakoe-Chiba band (|i - j| <= half-width, widened by the
length difference so the corner stays reachable) bounds how far an alignment may leave the
diagonal.

When the optional `dtaidistance` package is installed, squared-Euclidean totals come from
its C implementation (`backend="auto"`), 5-40x faster; it is used only where it gives the
same numbers as the numpy scan (equal lengths, or no band), and the tests check both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BACKENDS = ("auto", "numpy", "c")


def band_width(n: int, band: float | int | None) -> int | None:
    """Half-width in steps: a fraction of n (a float below 1), a step count (an int), or None."""
    if band is None:
        return None
    if isinstance(band, float) and band < 1:
        return max(1, int(round(band * n)))
    if band < 0:
        raise ValueError(f"a DTW band cannot be negative, got {band}")
    return int(band)


def _batch(ys: np.ndarray | Sequence[np.ndarray], channels: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, M, C) float64 padded with NaN, and each sequence's true length."""
    if isinstance(ys, np.ndarray) and ys.ndim == 3:
        batch, lengths = ys.astype(np.float64, copy=False), np.full(len(ys), ys.shape[1])
    else:
        seqs = [np.asarray(y, np.float64) for y in ys]
        if not seqs:
            raise ValueError("DTW needs at least one sequence to compare with")
        if any(len(y) == 0 for y in seqs):
            raise ValueError("cannot align an empty sequence")
        seqs = [y.reshape(len(y), -1) for y in seqs]
        m = max(len(y) for y in seqs)
        batch = np.full((len(seqs), m, seqs[0].shape[1]), np.nan)
        for k, y in enumerate(seqs):
            if y.shape[1] != seqs[0].shape[1]:
                raise ValueError("every sequence of a DTW batch needs the same channels")
            batch[k, :len(y)] = y
        lengths = np.array([len(y) for y in seqs])
    if batch.shape[2] != channels:
        raise ValueError(f"DTW channels differ: query {channels}, batch {batch.shape[2]}")
    if batch.shape[1] == 0 or lengths.min() == 0:
        raise ValueError("cannot align an empty sequence")
    return batch, lengths


def accumulate(cost: np.ndarray, lengths: np.ndarray | None = None,
               band: float | int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Best-path total cost and path length for each (n, m) table of `cost` (N, n, m).

    lengths: each table's true column count (NaN/inf columns beyond it are padding);
    default all m. Returns (total (N,), steps (N,)); inf where no path fits in the band.
    """
    cost = np.asarray(cost, np.float64)
    count, n, m = cost.shape
    if n == 0 or m == 0:
        raise ValueError("cannot align an empty sequence")
    lengths = np.full(count, m) if lengths is None else np.asarray(lengths)
    cost = np.where(np.isnan(cost), np.inf, cost)
    cols = np.arange(m)
    w = band_width(n, band)
    limit = None if w is None else (w + np.abs(n - lengths))[:, None]
    prev = np.full((count, m), np.inf)
    prev_len = np.zeros((count, m))
    rows = np.arange(count)[:, None]
    for i in range(n):
        c = cost[:, i]
        if limit is not None:
            c = np.where(np.abs(i - cols)[None] > limit, np.inf, c)
        if i == 0:
            d = np.full((count, m), np.inf)
            d[:, 0] = c[:, 0]
            d_len = np.ones((count, m))
        else:
            diag = np.concatenate([np.full((count, 1), np.inf), prev[:, :-1]], axis=1)
            diag_len = np.concatenate([np.zeros((count, 1)), prev_len[:, :-1]], axis=1)
            from_diag = diag <= prev
            d = c + np.where(from_diag, diag, prev)
            d_len = 1 + np.where(from_diag, diag_len, prev_len)
        finite = np.isfinite(c)
        # the band and the padding leave one contiguous run of finite cells per row, so one
        # prefix scan covers every horizontal move; the scan's argmin gives the path length
        s = np.cumsum(np.where(finite, c, 0.0), axis=1)
        v = d - s
        best = np.minimum.accumulate(v, axis=1)
        start = np.maximum.accumulate(np.where(v <= best, cols[None], 0), axis=1)
        prev = np.where(finite, s + best, np.inf)
        prev_len = d_len[rows, start] + (cols[None] - start)
    end = lengths - 1
    return prev[np.arange(count), end], prev_len[np.arange(count), end]


def _has_c() -> bool:
    try:
        import dtaidistance.dtw_ndim  # noqa: F401
    except ImportError:
        return False
    return True


HAS_C = _has_c()


def _use_c(backend: str) -> bool:
    if backend not in BACKENDS:
        raise ValueError(f"DTW backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "c" and not HAS_C:
        raise ImportError("the 'c' DTW backend needs dtaidistance: pip install "
                          "'vidskill[dtw]' (or use backend='numpy')")
    return backend == "c" or (backend == "auto" and HAS_C)


def sqeuclidean_total(x: np.ndarray, ys: np.ndarray | Sequence[np.ndarray],
                      band: float | int | None = None, backend: str = "auto") -> np.ndarray:
    """Best-path total of squared Euclidean step costs between query x (n, C) and each of
    `ys` ((N, m, C) or a list of (m_k, C)); band: see `band_width` (relative to n)."""
    x = np.asarray(x, np.float64)
    if len(x) == 0:
        raise ValueError("cannot align an empty sequence")
    x = x.reshape(len(x), -1)
    batch, lengths = _batch(ys, x.shape[1])
    w = band_width(len(x), band)
    if _use_c(backend) and (w is None or bool(np.all(lengths == len(x)))):
        from dtaidistance import dtw_ndim

        q = np.ascontiguousarray(x)
        # dtaidistance's window counts |i - j| < window; it returns the root of the total
        window = None if w is None else w + 1
        return np.array([dtw_ndim.distance_fast(q, np.ascontiguousarray(batch[k, :lengths[k]]),
                                                window=window) ** 2
                         for k in range(len(batch))])
    # |x - y|^2 = |x|^2 + |y|^2 - 2 x.y: (N, n, m) memory, not (N, n, m, C)
    cross = np.einsum("ic,kjc->kij", x, batch)
    cost = (x ** 2).sum(1)[None, :, None] + (batch ** 2).sum(2)[:, None, :] - 2 * cross
    return accumulate(np.maximum(cost, 0.0), lengths, band)[0]


def mean_cosine(x: np.ndarray, y: np.ndarray) -> float:
    """Mean cosine similarity of the rows of x and y along their best alignment (step cost
    1 - cosine, unbanded): 1 for the same sequence at another tempo, in [-1, 1]."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if len(x) == 0 or len(y) == 0:
        raise ValueError("cannot align an empty sequence")
    ux = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    uy = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    total, steps = accumulate((1.0 - ux @ uy.T)[None])
    return float(1.0 - total[0] / steps[0])
