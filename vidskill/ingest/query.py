"""Queries against a store under its own settings, for `vidskill query` and query jobs: the
features of a query clip or time range, a query vector file, and the search itself."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vidskill.encoders import Features
from vidskill.errors import ConfigError
from vidskill.ingest.stages import IngestSettings, encode
from vidskill.store import ClipStore, Hit
from vidskill.store.errors import NoMatchError


def query_features(
    path: str | os.PathLike, store: ClipStore, start: float | None = None,
    end: float | None = None,
) -> dict[str, Features]:
    """Features of a query clip (or of [start, end) of a video) under the store's settings."""
    features, duration, *_ = encode(Path(path), IngestSettings.resolve(store.settings()),
                                   cut=False)
    if start is None and end is None:
        return features
    lo = -float("inf") if start is None else float(start)
    hi = float("inf") if end is None else float(end)
    if not lo < hi:
        raise ConfigError(f"the query range must end after it starts, got {lo:g}-{hi:g} s")
    out = {name: f.between(lo, hi) for name, f in features.items()}
    for name, f in out.items():
        if len(f) == 0:
            whole = features[name]
            raise ConfigError(
                f"{path}: no {name} window lies in {lo:g}-{hi:g} s (the video is {duration:.2f} s "
                f"long; its windows are {whole.ends[0] - whole.starts[0]:g} s and centred from "
                f"{whole.times[0]:.2f} to {whole.times[-1]:.2f} s); give a range inside the video")
    return out


def load_vector(path: str | os.PathLike) -> np.ndarray:
    """A query embedding from a .npy file (one vector, never unpickled)."""
    path = Path(path)
    try:
        vec = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise ConfigError(f"{path}: not a .npy array of numbers ({e}); save the query "
                          "embedding with numpy.save") from None
    if not isinstance(vec, np.ndarray):
        raise ConfigError(f"{path}: a {path.suffix or 'file'} archive holds several arrays; "
                          "give one embedding saved with numpy.save (.npy)")
    if vec.dtype.kind not in "fiu" or vec.size == 0:
        raise ConfigError(f"{path}: the query must be a non-empty array of numbers, got "
                          f"{vec.dtype} of shape {vec.shape}")
    return vec


def run_query(store: ClipStore, *, video: str | os.PathLike | None = None,
              start: float | None = None, end: float | None = None, segment: int | None = None,
              vector: str | os.PathLike | None = None, k: int = 10, encoder: str | None = None,
              domain: str | None = None, label: str | None = None) -> list[Hit]:
    """The k stored clips nearest to one query: a clip or video range, a segment id, or a
    vector file; `encoder` picks the index (default the store's first)."""
    given = [x is not None for x in (video, segment, vector)]
    if sum(given) != 1:
        raise ConfigError("give exactly one query: a CLIP or VIDEO path, a segment id or a "
                          "vector file (.npy)")
    if (start is not None or end is not None) and video is None:
        raise ConfigError("a start/end selects a time range of the query VIDEO")
    encoder = encoder or store.default_encoder()
    store.check_encoder(encoder)
    if segment is not None:
        query: int | np.ndarray | Features = segment
    elif vector is not None:
        query = load_vector(vector)
    else:
        query = query_features(video, store, start, end)[encoder]
    hits = store.search(query, k, encoder=encoder, domain=domain, label=label)
    if not hits:
        asked = ", ".join(f"{name} {value!r}" for name, value in
                          (("domain", domain), ("label", label)) if value is not None)
        raise NoMatchError(
            f"no other clip of {store.path} has {asked}; `vidskill store stats --store "
            f"{store.path}` lists its domains and labels" if asked else
            f"{store.path} holds no other {encoder!r} clip to compare with; ingest more videos")
    return hits
