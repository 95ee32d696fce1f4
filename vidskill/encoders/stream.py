"""Encode whole videos chunk by chunk: flat memory, windows across chunk borders kept.

`encode_video(source, encoder)` is what ingest calls. Chunks overlap by the longest window
(plus two frames, plus twice the `context` of an encoder whose windows depend on the video
around them) and every chunk anchors windows at the video's first timestamp, so the
result equals encoding the whole video at once. Flow encoders with the same flow settings
share one flow computation per chunk (`encode_video_multi`), and the pairs a chunk shares
with the one before are not computed again (each pair's flow depends on its two frames
only): a flow encoder without context carries its per-pair `prepare` rows over, so only
the new pairs' flow is ever held; one with context gets the carried flow joined to the
new. Encoders may read the decoded frames at different rates (`rates`): each rate is a
lane with its own chunks and overlap, fed from one decode.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vidskill.encoders.base import Encoder, Features
from vidskill.encoders.cache import FeatureCache, content_hash
from vidskill.encoders.flowbase import join_rows, take_rows
from vidskill.encoders.registry import get_encoder
from vidskill.encoders.spill import RowSpill
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
# in flight with the prefetch) and 44 MB of flow. 24 frames rather than 48 took a 1-min
# 360p25 ingest from 312 to 268 MiB peak, a 2-min 720p30 segment from 262 to 246 MiB, for
# 1.5% more CPU (the windows of the overlap pooled twice as often).
CHUNK_FRAMES = 24


def _resolve(encoder: Encoder | str) -> Encoder:
    return get_encoder(encoder) if isinstance(encoder, str) else encoder


def _cache_settings(encoder: Encoder, reader: VideoReader, rate: float | None = None) -> dict:
    """What a cached entry was computed with: the encoder's settings, rate and frame size."""
    fps = reader.fps if rate is None or (reader.fps is not None and rate >= reader.fps) else rate
    return {"encoder": encoder.settings, "fps": fps, "size": list(reader.size)}


def encode_video_multi(
    source: str | os.PathLike | VideoReader,
    encoders: Sequence[Encoder | str],
    *,
    fps: float | None = 10.0,
    size: int | tuple[int, int] | None = FLOW_SIZE,
    chunk_seconds: float = CHUNK_SECONDS,
    cache: FeatureCache | str | os.PathLike | None = None,
    on_frames: Callable[[Frames], None] | None = None,
    rates: Sequence[float | None] | None = None,
    until: float | None = None,
    spill: bool = False,
) -> list[Features]:
    """Features of a whole video for each encoder, in order; see `encode_video`.
    on_frames: called with every decoded frame once, in order, run by run (the shot stage
    reads them there: no second decode); the cache is then bypassed, as frames are needed.
    rates: per encoder, the rate (fps) it samples the decoded frames at, as a reader
    opened at that rate would (None: every decoded frame); so one decode at the native rate
    feeds an encoder that needs every frame and others at 10 fps. until: stop decoding
    after the run holding this time (s; the windows near it may then be partial).
    spill: keep the features in temporary files, mapped (`vidskill.encoders.spill`), not
    in memory."""
    encs = [_resolve(e) for e in encoders]
    wanted = list(rates) if rates is not None else [None] * len(encs)
    if len(wanted) != len(encs):
        raise ValueError(f"{len(encs)} encoders but {len(wanted)} rates")
    reader = source if isinstance(source, VideoReader) else open_video(source, fps=fps, size=size)
    try:
        store = FeatureCache(cache) if isinstance(cache, (str, os.PathLike)) else cache
        store = None if on_frames is not None or until is not None else store
        vhash = content_hash(reader.path) if store is not None else ""
        keys = [_cache_settings(e, reader, r) for e, r in zip(encs, wanted, strict=True)]
        results: list[Features | None] = [
            store.get(vhash, e.name, key, e.dim) if store else None
            for e, key in zip(encs, keys, strict=True)
        ]
        todo = [i for i, r in enumerate(results) if r is None]
        if todo:
            fresh = _encode_stream(reader, [encs[i] for i in todo], [wanted[i] for i in todo],
                                   chunk_seconds, on_frames, until, spill)
            for i, feats in zip(todo, fresh, strict=True):
                results[i] = feats
                if store is not None:
                    store.put(vhash, feats, keys[i])
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
    spill: bool = False,
) -> Features:
    """Per-window features of a whole video, streamed in chunks of `chunk_seconds`.

    source: a path (opened at `fps` and short side `size`) or an open VideoReader (its own
    fps/size are used). encoder: an Encoder or a registry name. cache: a FeatureCache or a
    folder; features already computed for this video content, encoder and settings are read
    back instead of recomputed. Window times are container timestamps (seconds). spill:
    see `encode_video_multi`.
    """
    return encode_video_multi(source, [encoder], fps=fps, size=size,
                              chunk_seconds=chunk_seconds, cache=cache, on_frames=on_frames,
                              spill=spill)[0]


def _flow_key(encoder: Encoder) -> str | None:
    """Encoders with equal keys share one flow computation; None: the encoder reads pixels."""
    return None if encoder.flow is None else json.dumps(encoder.flow.settings, sort_keys=True)


def _tail(flow: Flow, pairs: int) -> Flow:
    """A copy of the last `pairs` pairs of `flow` (a copy, so the rest can be freed)."""
    return Flow(flow.data[-pairs:].copy(), flow.timestamps[-pairs:].copy(),
                flow.dt[-pairs:].copy(), flow.source)


def _shared_pairs(starts: np.ndarray, dt: np.ndarray, chunk: Frames) -> np.ndarray:
    """Which of the pairs carried from the last chunk (start times, durations) `chunk`
    begins with: they need no flow again. Empty when it shares none (or only those)."""
    none = np.zeros(0, np.int64)
    if not len(starts):
        return none
    ts = np.asarray(chunk.timestamps, np.float64)
    starts, dt = np.asarray(starts, np.float64), np.asarray(dt, np.float64)
    tol = 1e-6 + 0.01 * float(np.median(dt))
    last_end = float(starts[-1] + dt[-1])
    reused = np.flatnonzero((starts >= ts[0] - tol) & (starts + dt <= last_end + tol))
    n = len(reused)
    if n == 0 or not np.allclose(starts[reused], ts[:n], atol=tol) or n >= len(chunk) - 1:
        return none
    return reused


def _chunk_flow(estimator: FlowEstimator, chunk: Frames, previous: Flow | None) -> Flow:
    """Flow of every pair of `chunk`, reusing `previous` (the end of the last chunk's flow)
    for the pairs both chunks hold (`_shared_pairs`)."""
    reused = _shared_pairs(previous.timestamps, previous.dt, chunk) if previous else []
    if not len(reused):
        return estimator(chunk)
    fresh = estimator(chunk.slice(len(reused), len(chunk)))
    return Flow(np.concatenate([previous.data[reused], fresh.data]),
                np.concatenate([previous.timestamps[reused], fresh.timestamps]),
                np.concatenate([previous.dt[reused], fresh.dt]), fresh.source)


def _encode_stream(reader: VideoReader, encs: list[Encoder], rates: list[float | None],
                   chunk_seconds: float, on_frames: Callable[[Frames], None] | None = None,
                   until: float | None = None, spill: bool = False) -> list[Features]:
    base = reader.fps or reader.info.native_fps or 1.0
    lanes: dict[float, _Lane] = {}
    slot: list[tuple[_Lane, int]] = []
    for enc, wanted in zip(encs, rates, strict=True):
        rate = base if wanted is None or wanted >= base else float(wanted)
        if rate not in lanes:
            picks = None if rate == base else reader.sampled_at(rate)
            lanes[rate] = _Lane(rate, picks, reader)
        slot.append((lanes[rate], lanes[rate].add(enc, spill)))
    for lane in lanes.values():
        lane.plan(chunk_seconds)
    # the decoded runs are as short as the shortest lane's chunks; each lane keeps the
    # overlap its windows need itself
    run = min(lane.seconds for lane in lanes.values())
    for chunk in reader.chunks(run):
        if until is not None and float(chunk.timestamps[0]) > until:
            break
        if on_frames is not None:
            on_frames(chunk)
        for lane in lanes.values():
            lane.push(chunk)
    for lane in lanes.values():
        lane.finish()
    return [lane.rows[k].features(reader.source) for lane, k in slot]


class _Lane:
    """The encoders that read a video at one rate: its frames taken from the decoded runs
    (`picks`: native indices, None = all), chunked as a reader at that rate would chunk them
    (runs of `seconds`, each after the first starting with the last `overlap` seconds of
    the one before), with the flow of the pairs two chunks share carried over."""

    def __init__(self, rate: float, picks: np.ndarray | None, reader: VideoReader):
        self.rate, self.picks = rate, picks
        self.encs: list[Encoder] = []
        self.rows: list[_Rows] = []
        ts = reader.timestamps if picks is None else reader.native_timestamps[picks]
        self.first = float(ts[0]) if len(ts) else 0.0
        self.last = float(ts[-1]) if len(ts) else 0.0
        self.count = len(ts)
        self.eps = reader.eps
        self.pending: list[Frames] = []   # the run being gathered (after `tail`)
        self.tail: Frames | None = None   # the overlap carried into the next chunk
        self.run = 0
        self.seconds = self.overlap = 0.0
        self.single = False
        self.last_start: list[float] = []
        self.previous: dict[str, Flow] = {}       # flow tails, for encoders with context
        self.carried: dict[str, _Carried] = {}    # prepared pair rows, for the others

    def add(self, encoder: Encoder, spill: bool = False) -> int:
        span = self.last - self.first
        self.encs.append(encoder)
        self.rows.append(_Rows(encoder, int(span / encoder.windows.stride) + 2, spill))
        self.last_start.append(-np.inf)
        return len(self.encs) - 1

    def plan(self, chunk_seconds: float) -> None:
        longest = max(e.windows.length + 2 * e.context for e in self.encs)
        self.overlap = longest + 2.0 / self.rate
        # A chunk brings at least twice the overlap in new frames, so the overlap's flow is
        # at most a third of what is held, except where every encoder carries its pairs'
        # rows (`_pairwise`): there the overlap costs only its frames and windows' pooling,
        # and once the overlap (so a video shorter than that is one chunk, its one window
        # a short one).
        least = self.overlap if all(_pairwise(e) for e in self.encs) else 2 * self.overlap
        self.seconds = max(min(chunk_seconds, CHUNK_FRAMES / self.rate), least)
        self.single = self.count <= max(1, round(self.seconds * self.rate))

    def push(self, chunk: Frames) -> None:
        """Take this lane's frames of a decoded run; encode every run they complete."""
        frames = chunk if self.picks is None else _pick(chunk, self.picks, self.rate)
        if not len(frames):
            return
        runs = np.floor((frames.timestamps - self.first + self.eps) / self.seconds)
        for k in np.unique(runs.astype(np.int64)):
            if k != self.run and self.pending:
                self._flush(int(k))
            self.run = int(k)
            mine = np.flatnonzero(runs == k)
            self.pending.append(frames.slice(int(mine[0]), int(mine[-1]) + 1))

    def finish(self) -> None:
        if self.pending:
            self._flush(None)

    def _flush(self, following: int | None) -> None:
        """Encode the gathered run (with the carried overlap); keep the next overlap."""
        parts = ([self.tail] if self.tail is not None else []) + self.pending
        chunk = parts[0] if len(parts) == 1 else Frames.concat(parts)
        self.pending = []
        if following is not None:
            border = self.first + following * self.seconds
            run_start = self.first + self.run * self.seconds
            keep = np.flatnonzero(chunk.timestamps >= max(border - self.overlap - self.eps,
                                                           run_start - self.eps))
            self.tail = chunk.slice(int(keep[0]), len(chunk)) if len(keep) else None
        self._encode(chunk, following is None)

    def _encode(self, chunk: Frames, last_chunk: bool) -> None:
        if len(chunk) < 2 and not self.single:
            return
        rate = self.rate
        chunk_end = float(chunk.timestamps[-1])
        # Encoders whose windows see only their own pairs (no context) share each pair's
        # flow and their own `prepare` rows with the next chunk: only the new pairs' flow
        # is computed and held. Flow shared with an encoder with context is joined whole.
        whole = {_flow_key(e) for e in self.encs if not _pairwise(e)}
        shared: dict[str, Flow] = {}
        fresh: dict[str, tuple[Flow, np.ndarray]] = {}
        rows: dict[str, dict[int, Any]] = {}
        for k, enc in enumerate(self.encs):
            key = _flow_key(enc)
            if key is None or key in whole or len(chunk) < 2:
                if key is not None and key not in shared:
                    shared[key] = _chunk_flow(enc.flow, chunk, self.previous.get(key))
                feats = enc.encode(chunk, origin=self.first, flow=shared.get(key))
            else:
                if key not in fresh:
                    fresh[key] = self._fresh(key, enc.flow, chunk)
                new, reused = fresh[key]
                n = len(reused)
                images = chunk.data[n:n + len(new)] if enc.needs_images else None
                prepared = enc.prepare_blocks(new, images)
                if n:
                    prepared = join_rows([take_rows(self.carried[key].rows[k], reused),
                                          prepared])
                rows.setdefault(key, {})[k] = prepared
                times = self._pair_times(key, new, reused)
                feats = enc.pool_windows(prepared, *times, origin=self.first,
                                         source=chunk.source)
            length, context = enc.windows.length, enc.context
            tol = 0.25 / rate
            keep = feats.starts > self.last_start[k] + tol
            if not self.single:
                keep &= (feats.ends - feats.starts) >= length - tol
            if context and not last_chunk:   # the next chunk sees what follows these
                keep &= feats.ends + context <= chunk_end + tol
            if keep.any():
                self.last_start[k] = float(feats.starts[keep].max())
                self.rows[k].add(feats, keep)
        carry = int(np.ceil(self.overlap * rate)) + 2   # pairs the next chunk can share
        self.previous = {key: _tail(flow, carry) for key, flow in shared.items()}
        carried = {}
        for key, (new, reused) in fresh.items():
            starts, dt = self._pair_times(key, new, reused)
            tail = slice(max(len(starts) - carry, 0), len(starts))
            carried[key] = _Carried(np.array(starts[tail]), np.array(dt[tail]), {
                k: take_rows(r, tail) for k, r in rows.get(key, {}).items()})
        self.carried = carried

    def _fresh(self, key: str, estimator: FlowEstimator, chunk: Frames
               ) -> tuple[Flow, np.ndarray]:
        """The flow of the pairs of `chunk` not carried from the last chunk, and which
        carried pairs it starts with (`_shared_pairs`)."""
        carried = self.carried.get(key)
        reused = (_shared_pairs(carried.starts, carried.dt, chunk) if carried
                  else np.zeros(0, np.int64))
        return estimator(chunk.slice(len(reused), len(chunk))), reused

    def _pair_times(self, key: str, new: Flow, reused: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Start times and durations of a chunk's pairs: the carried ones, then the new."""
        if not len(reused):
            return np.asarray(new.timestamps, np.float64), np.asarray(new.dt, np.float64)
        carried = self.carried[key]
        return (np.concatenate([carried.starts[reused], new.timestamps]),
                np.concatenate([carried.dt[reused], new.dt]))


@dataclass
class _Carried:
    """The pairs a lane carries into its next chunk for one flow: their start times and
    durations, and each pairwise encoder's `prepare` rows of them (by encoder index)."""

    starts: np.ndarray
    dt: np.ndarray
    rows: dict[int, Any]


def _pairwise(encoder: Encoder) -> bool:
    """Whether an encoder's windows read only per-pair rows (`prepare`, then `pool`), so a
    stream can prepare each pair once; one with `context` reads neighbours as well."""
    return callable(getattr(encoder, "pool_windows", None)) and not encoder.context


def _pick(chunk: Frames, picks: np.ndarray, rate: float) -> Frames:
    """The frames of `chunk` whose native indices are in `picks` (sorted), at `rate`."""
    at = np.searchsorted(picks, chunk.indices)
    mine = np.flatnonzero((at < len(picks)) & (picks[np.minimum(at, len(picks) - 1)]
                                               == chunk.indices))
    return Frames(chunk.data[mine], chunk.timestamps[mine], chunk.indices[mine],
                  chunk.source, rate)


class _Rows:
    """One encoder's windows, chunk by chunk: their times here, their rows in `sink` (in
    memory, `_Buffer`, or with `spill` a temporary file, `RowSpill`), so the whole video's
    features are never copied to join the chunks (a concatenation held them twice)."""

    def __init__(self, encoder: Encoder, capacity: int, spill: bool = False):
        self.encoder = encoder
        self.sink = RowSpill(encoder.dim) if spill else _Buffer(encoder.dim, capacity)
        self.starts = np.empty(max(capacity, 1))
        self.ends = np.empty(max(capacity, 1))
        self.n = 0
        self.settings: dict | None = None

    def add(self, feats: Features, keep: np.ndarray) -> None:
        new = int(keep.sum())
        if self.n + new > len(self.starts):   # more windows than the bound: grow
            grow = max(self.n + new, 2 * len(self.starts))
            self.starts, self.ends = np.resize(self.starts, grow), np.resize(self.ends, grow)
        end = self.n + new
        self.sink.append(feats.data[keep])
        self.starts[self.n:end], self.ends[self.n:end] = feats.starts[keep], feats.ends[keep]
        self.n, self.settings = end, feats.settings

    def features(self, source: str) -> Features:
        data = self.sink.array()
        if not self.n:
            return self.encoder.empty(source)
        return Features(data, self.starts[:self.n], self.ends[:self.n],
                        self.encoder.name, self.settings, source)


class _Buffer:
    """Rows appended into one buffer sized for the most windows the video can give (pages
    never written cost no memory), grown if an encoder gives more; `RowSpill`'s interface."""

    def __init__(self, dim: int, capacity: int):
        self.data = np.empty((max(capacity, 1), dim), np.float32)
        self.n = 0

    def append(self, rows: np.ndarray) -> None:
        end = self.n + len(rows)
        if end > len(self.data):
            self.data = np.resize(self.data, (max(end, 2 * len(self.data)), self.data.shape[1]))
        self.data[self.n:end] = rows
        self.n = end

    def array(self) -> np.ndarray:
        return self.data[:self.n]
