"""Retrieval benchmark: build time, query latency p50/p99 and recall@10 against exact search.

Synthetic clustered clip embeddings (a mixture of Gaussians of unequal size and spread,
L2-normalised, so approximate search is tested on data with neighbourhood structure) at
10k, 100k and 1M vectors of the default encoder's dimension. For each size it measures the
exact index, the index `ClipStore` builds by default, and alternatives with their search
parameters, one query at a time as `vidskill query` asks them. Prints one table.

    python bench/retrieval.py [--sizes 10000 100000 1000000] [--queries 300]
"""

from __future__ import annotations

import argparse
import math
import time

import faiss
import numpy as np

from vidskill.encoders import DEFAULT_ENCODER, encoder_class
from vidskill.store import index as store

GOAL_P50_MS = 5.0
GOAL_RECALL = 0.95


def default_dim() -> int:
    """Clip embedding dimension of the default encoder with default settings."""
    return int(encoder_class(DEFAULT_ENCODER)().dim)


def clustered(n: int, dim: int, rng: np.random.Generator, centres: np.ndarray,
              weights: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """n unit vectors drawn from the mixture (centres, weights, per-cluster spread)."""
    out = np.empty((n, dim), np.float32)
    for lo in range(0, n, 100_000):
        m = min(100_000, n - lo)
        c = rng.choice(len(centres), m, p=weights)
        x = centres[c] + spread[c, None] * rng.standard_normal((m, dim), dtype=np.float32)
        out[lo:lo + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def mixture(n: int, dim: int, rng: np.random.Generator):
    """Cluster centres, Zipf-like sizes and spreads for a corpus of n clips."""
    k = max(50, n // 500)
    centres = rng.standard_normal((k, dim)).astype(np.float32) / math.sqrt(dim)
    weights = 1.0 / np.arange(1, k + 1) ** 0.8
    spread = rng.uniform(0.4, 1.0, k).astype(np.float32) / math.sqrt(dim)
    return centres, rng.permutation(weights / weights.sum()), spread


def latencies(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Answer queries one at a time; returns (ids (q, k), per-query seconds)."""
    ids = np.empty((len(queries), k), np.int64)
    secs = np.empty(len(queries))
    with store.query_threads():
        for i, q in enumerate(queries):
            t = time.perf_counter()
            _, ids[i] = index.search(q[None], k)
            secs[i] = time.perf_counter() - t
    return ids, secs


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of the exact top-k found."""
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))


def candidates(n: int) -> list[tuple[str, str, list[int]]]:
    """(factory, parameter name, parameter values) measured at size n."""
    nlist = store.ivf_lists(n)
    return [
        ("Flat", "", [0]),
        ("HNSW32", "efSearch", [32, 64, 128]),
        (f"IVF{nlist},Flat", "nprobe", [8, 16, 32, 64]),
    ]


def run(sizes: list[int], n_queries: int, dim: int, k: int, seed: int) -> list[dict]:
    rows = []
    for n in sizes:
        rng = np.random.default_rng(seed)
        centres, weights, spread = mixture(n, dim, rng)
        data = clustered(n, dim, rng, centres, weights, spread)
        queries = clustered(n_queries, dim, rng, centres, weights, spread)
        ids = np.arange(n, dtype=np.int64)
        exact = faiss.IndexFlatIP(dim)
        exact.add(data)
        _, truth = exact.search(queries, k)
        default = store.default_factory(n)
        for factory, param, values in candidates(n):
            t = time.perf_counter()
            index = store._new_index(factory, dim)
            if not index.is_trained:
                sample = data[rng.choice(n, min(n, 200_000), replace=False)]
                index.train(sample)
            index.add_with_ids(data, ids)
            build = time.perf_counter() - t
            for value in values:
                if param:
                    faiss.ParameterSpace().set_index_parameter(index, param, value)
                found, secs = latencies(index, queries, k)
                rows.append({
                    "n": n, "index": factory, "param": f"{param}={value}" if param else "-",
                    "build_s": build, "p50_ms": 1e3 * float(np.percentile(secs, 50)),
                    "p99_ms": 1e3 * float(np.percentile(secs, 99)),
                    "recall@10": recall(found, truth),
                    "default": factory == default and (
                        not param or value == {"efSearch": store.HNSW_EF_SEARCH,
                                               "nprobe": store.IVF_NPROBE}[param]),
                })
                print(_line(rows[-1]), flush=True)
            del index
    return rows


def _line(r: dict) -> str:
    mark = "*" if r["default"] else " "
    return (f"{r['n']:>9,} {mark} {r['index']:<16} {r['param']:<13} {r['build_s']:>8.1f} "
            f"{r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} {r['recall@10']:>9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--dim", type=int, default=None, help="default: the default encoder's")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    dim = args.dim or default_dim()
    print(f"clustered unit vectors, dim {dim}, {args.queries} single queries, k=10, "
          f"{store.QUERY_THREADS} query thread(s); * = ClipStore default")
    print(f"{'n':>9}   {'index':<16} {'param':<13} {'build_s':>8} {'p50_ms':>8} {'p99_ms':>8} "
          f"{'recall@10':>9}")
    rows = run(args.sizes, args.queries, dim, 10, args.seed)
    for r in rows:
        if r["default"]:
            ok = r["p50_ms"] < GOAL_P50_MS and r["recall@10"] >= GOAL_RECALL
            print(f"default at {r['n']:,}: p50 {r['p50_ms']:.2f} ms (goal < {GOAL_P50_MS}: "
                  f"ratio {r['p50_ms'] / GOAL_P50_MS:.2f}), recall@10 {r['recall@10']:.3f} "
                  f"(goal >= {GOAL_RECALL}) -> {'ok' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
