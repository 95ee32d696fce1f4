"""Encode whole videos chunk by chunk: flat memory, windows across chunk borders kept.

`encode_video(source, encoder)` is what ingest calls. Chunks overlap by the longest window
(plus two frames, plus twice the `context` of an encoder whose windows depend on the video
around them) and every chunk anchors windows at the video's first timestamp, so the
result equals encoding the whole video at once. Flow encoders with the same flow settings
share one flow computation per chunk (`encode_video_multi`), and the flow of the frame
pairs a chunk shares with the one before is carried over, not computed again (each pair's
flow depends on its two frames only).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence

import numpy as np

from vidskill.encoders.base import Encoder, Features
from vidskill.encoders.cache import FeatureCache, content_hash
from vidskill.encoders.registry import get_encoder
from vidskill.flow import Flow, FlowEstimator
from vidskill.video import Frames, VideoReader, open_video

# Short side (px) frames are decoded at for flow: what the flow features are calibrated on.
FLOW_SIZE = 160
# Seconds of video per chunk. A chunk's frames and flow (and the chunks decoded ahead) are
# most of a process's working memory: ~5 MB of frames and ~13 MB of flow per second of
# video at 160 px and 10 fps. 4 s took a 1-min 360p segment from 246 to 173 MiB peak at
# the same CPU: the flow of the overlap is reused, only its windows are pooled twice.
CHUNK_SECONDS = 4.0
# ... and at most this many new frames, so a high native rate does not grow a chunk's memory:
# 4 s at 30 fps (motion-kin's rate on a 30 fps file) held 16 MB of frames per chunk (four
# in flight with the prefetch) and 44 MB of flow.
CHUNK_FRAMES = 48


def _resolve(encoder: Encoder | str) -> Encoder:
    return get_encoder(encoder) if isinstance(encoder, str) else encoder


def _cache_settings(encoder: Encoder, reader: VideoReader) -> dict:
    return {"encoder": encoder.settings, "fps": reader.fps, "size": list(reader.size)}


def encode_video_multi(
    source: str | os.PathLike | VideoReader,
    encoders: Sequence[Encoder | str],
    *,
    fps: float = 10.0,
    size: int | tuple[int, int] | None = FLOW_SIZE,
    chunk_seconds: float = CHUNK_SECONDS,
    cache: FeatureCache | str | os.PathLike | None = None,
    on_frames: Callable[[Frames], None] | None = None,
) -> list[Features]:
    """Features of a whole video for each encoder, in order; see `encode_video`.
    on_frames: called with every decoded frame once, in order, run by run (the shot stage
    reads them there: no second decode); the cache is then bypassed, as frames are needed."""
    encs = [_resolve(e) for e in encoders]
    reader = source if isinstance(source, VideoReader) else open_video(source, fps=fps, size=size)
    try:
        store = FeatureCache(cache) if isinstance(cache, (str, os.PathLike)) else cache
        store = None if on_frames is not None else store
        vhash = content_hash(reader.path) if store is not None else ""
        results: list[Features | None] = [
            store.get(vhash, e.name, _cache_settings(e, reader), e.dim) if store else None
            for e in encs
        ]
        todo = [i for i, r in enumerate(results) if r is None]
        if todo:
            fresh = _encode_stream(reader, [encs[i] for i in todo], chunk_seconds, on_frames)
            for i, feats in zip(todo, fresh, strict=True):
                results[i] = feats
                if store is not None:
                    store.put(vhash, feats, _cache_settings(encs[i], reader))
        return [r for r in results if r is not None]
    finally:
        if reader is not source:
            reader.close()


def encode_video(
    source: str | os.PathLike | VideoReader,
    encoder: Encoder | str = "flow-hof",
    *,
    fps: float = 10.0,
    size: int | tuple[int, int] | None = FLOW_SIZE,
    chunk_seconds: float = CHUNK_SECONDS,
    cache: FeatureCache | str | os.PathLike | None = None,
    on_frames: Callable[[Frames], None] | None = None,
) -> Features:
    """Per-window features of a whole video, streamed in chunks of `chunk_seconds`.

    source: a path (opened at `fps` and short side `size`) or an open VideoReader (its own
    fps/size are used). encoder: an Encoder or a registry name. cache: a FeatureCache or a
    folder; features already computed for this video content, encoder and settings are read
    back instead of recomputed. Window times are container timestamps (seconds).
    """
    return encode_video_multi(source, [encoder], fps=fps, size=size,
                              chunk_seconds=chunk_seconds, cache=cache, on_frames=on_frames)[0]


def _flow_key(encoder: Encoder) -> str | None:
    """Encoders with equal keys share one flow computation; None: the encoder reads pixels."""
    return None if encoder.flow is None else json.dumps(encoder.flow.settings, sort_keys=True)


def _tail(flow: Flow, pairs: int) -> Flow:
    """A copy of the last `pairs` pairs of `flow` (a copy, so the rest can be freed)."""
    return Flow(flow.data[-pairs:].copy(), flow.timestamps[-pairs:].copy(),
                flow.dt[-pairs:].copy(), flow.source)


def _chunk_flow(estimator: FlowEstimator, chunk: Frames, previous: Flow | None) -> Flow:
    """Flow of every pair of `chunk`, reusing `previous` (the end of the last chunk's flow)
    for the pairs both chunks hold: those whose first frame is before the last one
    `previous` saw."""
    if previous is None or len(previous) == 0:
        return estimator(chunk)
    ts = np.asarray(chunk.timestamps, np.float64)
    prev_ts = np.asarray(previous.timestamps, np.float64)
    tol = 1e-6 + 0.01 * float(np.median(previous.dt))
    last_end = float(prev_ts[-1] + previous.dt[-1])
    reused = np.flatnonzero((prev_ts >= ts[0] - tol) & (prev_ts + previous.dt <= last_end + tol))
    n = len(reused)
    if n == 0 or not np.allclose(prev_ts[reused], ts[:n], atol=tol) or n >= len(chunk) - 1:
        return estimator(chunk)
    fresh = estimator(chunk.slice(n, len(chunk)))
    return Flow(np.concatenate([previous.data[reused], fresh.data]),
                np.concatenate([prev_ts[reused], fresh.timestamps]),
                np.concatenate([previous.dt[reused], fresh.dt]), fresh.source)


def _encode_stream(reader: VideoReader, encs: list[Encoder], chunk_seconds: float,
                   on_frames: Callable[[Frames], None] | None = None) -> list[Features]:
    rate = reader.fps or reader.info.native_fps or 1.0
    longest = max(e.windows.length + 2 * e.context for e in encs)
    overlap = longest + 2.0 / rate
    chunk_seconds = max(min(chunk_seconds, CHUNK_FRAMES / rate), 2 * overlap)
    ts = reader.timestamps
    origin = float(ts[0]) if len(ts) else 0.0
    single = len(ts) <= max(1, round(chunk_seconds * rate))
    span = float(ts[-1]) - origin if len(ts) else 0.0
    rows = [_Rows(e, int(span / e.windows.stride) + 2) for e in encs]
    last_start = [-np.inf] * len(encs)
    previous: dict[str, Flow] = {}
    seen = -np.inf
    for chunk in reader.chunks(chunk_seconds, overlap):
        if on_frames is not None:
            new = int(np.searchsorted(chunk.timestamps, seen, side="right"))
            if new < len(chunk):
                on_frames(chunk.slice(new, len(chunk)))
                seen = float(chunk.timestamps[-1])
        if len(chunk) < 2 and not single:
            continue
        chunk_end = float(chunk.timestamps[-1])
        last_chunk = chunk_end >= float(ts[-1]) - 1e-9
        shared: dict[str, Flow] = {}
        for k, enc in enumerate(encs):
            key = _flow_key(enc)
            if key is not None and key not in shared:
                shared[key] = _chunk_flow(enc.flow, chunk, previous.get(key))
            feats = enc.encode(chunk, origin=origin, flow=shared.get(key))
            length, context = enc.windows.length, enc.context
            tol = 0.25 / rate
            keep = feats.starts > last_start[k] + tol
            if not single:
                keep &= (feats.ends - feats.starts) >= length - tol
            if context and not last_chunk:   # the next chunk sees what follows these
                keep &= feats.ends + context <= chunk_end + tol
            if keep.any():
                last_start[k] = float(feats.starts[keep].max())
                rows[k].add(feats, keep)
        carry = int(np.ceil(overlap * rate)) + 2   # pairs the next chunk can share
        previous = {key: _tail(flow, carry) for key, flow in shared.items()}
    return [r.features(reader.source) for r in rows]


class _Rows:
    """One encoder's windows, chunk by chunk, written into one buffer sized for the most
    windows the video can give (pages never written cost no memory), so the whole video's
    features are never copied to join the chunks (a concatenation held them twice)."""

    def __init__(self, encoder: Encoder, capacity: int):
        self.encoder = encoder
        self.data = np.empty((max(capacity, 1), encoder.dim), np.float32)
        self.starts = np.empty(len(self.data))
        self.ends = np.empty(len(self.data))
        self.n = 0
        self.settings: dict | None = None

    def add(self, feats: Features, keep: np.ndarray) -> None:
        new = int(keep.sum())
        if self.n + new > len(self.data):   # more windows than the bound: grow
            grow = max(self.n + new, 2 * len(self.data))
            self.data = np.resize(self.data, (grow, self.data.shape[1]))
            self.starts, self.ends = np.resize(self.starts, grow), np.resize(self.ends, grow)
        end = self.n + new
        self.data[self.n:end] = feats.data[keep]
        self.starts[self.n:end], self.ends[self.n:end] = feats.starts[keep], feats.ends[keep]
        self.n, self.settings = end, feats.settings

    def features(self, source: str) -> Features:
        if not self.n:
            return self.encoder.empty(source)
        return Features(self.data[:self.n], self.starts[:self.n], self.ends[:self.n],
                        self.encoder.name, self.settings, source)
