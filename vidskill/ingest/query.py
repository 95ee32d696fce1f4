"""Features of a query clip under a store's settings, for `vidskill query` and query jobs."""

from __future__ import annotations

import os
from pathlib import Path

from vidskill.encoders import Features
from vidskill.ingest.stages import IngestSettings, encode
from vidskill.store import ClipStore


def query_features(
    path: str | os.PathLike, store: ClipStore, start: float | None = None,
    end: float | None = None,
) -> dict[str, Features]:
    """Features of a query clip (or of [start, end) of a video) under the store's settings."""
    features, _ = encode(Path(path), IngestSettings.resolve(store.settings()))
    if start is None and end is None:
        return features
    lo = -float("inf") if start is None else float(start)
    hi = float("inf") if end is None else float(end)
    return {name: f.between(lo, hi) for name, f in features.items()}
