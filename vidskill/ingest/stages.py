"""Ingest's per-video stages: decode and encode (`encode_source`), cut into clips
(`segment_result`); `process_video` is both, a pure function of (source, settings) that a
process pool (`LocalExecutor`) or a Ray task can run.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from vidskill.boundaries import get_detector
from vidskill.boundaries.base import Segment
from vidskill.encoders import (
    CHUNK_SECONDS,
    ENCODERS,
    Encoder,
    Features,
    clip_model,
    encode_video_multi,
    encoder_class,
    get_encoder,
)
from vidskill.encoders.flowbase import FlowEncoder
from vidskill.errors import ConfigError
from vidskill.flow import Flow
from vidskill.ingest.manifest import Source
from vidskill.segment import (
    SEGMENT_DETECTOR,
    SEGMENT_ENCODER,
    SEGMENT_SHOTS,
    FitBudget,
    default_fps,
    fit_on_shots,
    fit_order,
    fit_parts,
    segment_encoder,
    shot_segments,
    split_shots,
)
from vidskill.shots import Shots, get_shot_detector
from vidskill.store import POOLINGS
from vidskill.video import Frames
from vidskill.video.prefetch import PrefetchReader

log = logging.getLogger(__name__)

# Long videos are cut as `vidskill segment` cuts them (one set of defaults, segment.py):
# shots, then SBD fitted on the corpus being ingested, on motion-kin at the native rate.
DEFAULT_DETECTOR = SEGMENT_DETECTOR
DEFAULT_SEGMENT_WITH = SEGMENT_ENCODER[0]
# A store is searched across cameras (human video vs robot recordings), so its default
# search encoder (the first) is flow-profile, which matched the task across two cameras of
# real footage (MetaWorld renders, README).
DEFAULT_INGEST_ENCODERS = ("flow-profile", "flow-motion")


@dataclass(frozen=True)
class IngestSettings:
    """How videos become clips.

    encoders/encoder_settings, fps, size and pooling fix the embedding space and are
    recorded in the store (a store holds one; its first encoder is the one searched by
    default); the detector applies to 'long' videos only and reads the features of
    `segment_with`: one of the encoders (its stored features), another encoder (computed
    only to cut, with `vidskill segment`'s settings and rate for it, from the same decode;
    not stored), or "" (the first encoder whose rows describe windows, i.e. not one with
    its own clip comparison, else the first encoder). The defaults cut as `vidskill
    segment` does, so `segment` previews the clips a store gets.
    """

    encoders: tuple[str, ...] = DEFAULT_INGEST_ENCODERS
    encoder_settings: dict = field(default_factory=dict)
    detector: str = DEFAULT_DETECTOR
    detector_settings: dict = field(default_factory=dict)
    fps: float = 10.0
    size: int = 160
    pooling: str = "mean"
    segment: bool = True
    shots: str = SEGMENT_SHOTS
    chunk_seconds: float = CHUNK_SECONDS
    segment_with: str = DEFAULT_SEGMENT_WITH

    def __post_init__(self) -> None:
        if not self.encoders:
            raise ValueError("IngestSettings needs at least one encoder")
        if not (isinstance(self.fps, (int, float)) and self.fps > 0
                and isinstance(self.size, int) and self.size > 0):
            raise ConfigError(f"fps and size must be positive numbers, got fps={self.fps!r}, "
                              f"size={self.size!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        own = [e for e in self.encoders if clip_model(e).own_comparison]
        if own and self.pooling != POOLINGS[0]:
            raise ValueError(f"pooling {self.pooling!r} pools windows, but {', '.join(own)} "
                             f"describe whole clips; use pooling {POOLINGS[0]!r}")
        unknown = set(self.encoder_settings) - {*self.encoders, self.segmenting_encoder}
        if unknown:
            raise ValueError(f"encoder_settings names encoders not in use: {sorted(unknown)}")
        if self.segmenting_encoder not in ENCODERS.names():
            raise ConfigError(f"segment_with {self.segment_with!r} is not an encoder; choose "
                              f"one of {', '.join(ENCODERS.names())}")

    @property
    def segmenting_encoder(self) -> str:
        """The encoder whose features the detector reads (see the class docstring)."""
        if self.segment_with:
            return self.segment_with
        windows = [e for e in self.encoders if not clip_model(e).own_comparison]
        return (windows or list(self.encoders))[0]

    @property
    def cut_only(self) -> bool:
        """True when the segmenting encoder runs only to cut (it is not stored)."""
        return self.segmenting_encoder not in self.encoders

    @property
    def cutting_rate(self) -> float | None:
        """The rate the segmenting encoder reads frames at (None: every native frame)."""
        return default_fps(self.segmenting_encoder) if self.cut_only else self.fps

    @property
    def encoder_names(self) -> list[str]:
        """Every encoder a long video is encoded with: the stored ones, then the one that
        only cuts (if any)."""
        return list(dict.fromkeys([*self.encoders, self.segmenting_encoder]))

    @property
    def decode_rate(self) -> float | None:
        """The rate videos are decoded at: the highest any encoder reads (None: native)."""
        if not self.segment:
            return self.fps
        rate = self.cutting_rate
        return None if rate is None else max(rate, self.fps)

    def store_settings(self) -> dict:
        """The settings that fix the embedding space, as recorded in the store."""
        return {
            "encoders": list(self.encoders),
            "encoder_settings": {e: self.encoder_settings.get(e, {}) for e in self.encoders},
            "fps": self.fps, "size": self.size, "pooling": self.pooling,
        }

    @classmethod
    def resolve(cls, recorded: dict, **given) -> IngestSettings:
        """Options given (None = not given) over a store's recorded settings over defaults."""
        base = {
            "encoders": tuple(recorded["encoders"]),
            "encoder_settings": {k: v for k, v in recorded["encoder_settings"].items() if v},
            "fps": recorded["fps"], "size": recorded["size"], "pooling": recorded["pooling"],
        } if recorded else {}
        return cls(**{**base, **{k: v for k, v in given.items() if v is not None}})

    def validate(self) -> None:
        """Check every option before any video is read: each encoder's settings against its
        constructor (the CPU encoders are built, so bad values fail too; GPU models are not
        loaded here), and the detector built and asked whether it can cut the features of
        `segmenting_encoder` (SBD needs a predictor for them)."""
        for name in {*self.encoders, self.segmenting_encoder}:
            ENCODERS.check(name, self.encoder_settings.get(name, {}))
        try:
            if not any(encoder_class(name).gpu_model for name in self.encoders):
                _encoders(self, self.encoder_names)
            detector = _detector(self)
        except ConfigError:
            raise
        except (ValueError, TypeError) as e:
            raise ConfigError(f"bad settings for encoders {list(self.encoders)} or detector "
                              f"{self.detector!r}: {e}") from None
        detector.check_features(self.segmenting_encoder)

    def segmentation(self, source: Source) -> dict:
        """How this source is cut into clips."""
        if source.whole or not self.segment:
            return {"segment": "whole"}
        options = dict(self.detector_settings)
        if isinstance(options.get("predictor"), str) and Path(options["predictor"]).is_file():
            # by content: the same predictor cuts the same wherever its store is
            options["predictor"] = _file_digest(options["predictor"])
        how = {"detector": self.detector, "detector_settings": options, "shots": self.shots}
        if self.segmenting_encoder != self.encoders[0]:  # (stores cut by the first keep their digest)
            how["features"] = self.segmenting_encoder
        if self.cut_only:
            how["cut_settings"] = [self.encoder_settings.get(self.segmenting_encoder, {}),
                                   self.cutting_rate]
        return how

    def digest(self, source: Source) -> str:
        """Hash of everything that decides this source's clips (skip when unchanged)."""
        text = json.dumps([self.store_settings(), self.segmentation(source)], sort_keys=True,
                          default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _file_digest(path: str) -> str:
    """A file's sha256, read once per version of the file (path, size, mtime)."""
    st = os.stat(path)
    return _digest_of(os.path.abspath(path), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=8)
def _digest_of(path: str, size: int, mtime_ns: int) -> str:
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class VideoResult:
    """What `process_video` made of one source: features, clips, or the reason it failed.
    signal: the detector's per-window signal (times, values) over the video's shots."""

    source: Source
    features: dict[str, Features] = field(default_factory=dict)
    shots: Shots = field(default_factory=Shots)
    segments: tuple[Segment, ...] = ()
    duration: float | None = None
    error: str | None = None
    seconds: float = 0.0
    frame: float = 0.1
    signal: tuple[np.ndarray, np.ndarray] | None = None


def _encoders(settings: IngestSettings, names: list[str]) -> list:
    """Encoders by name with the settings' options (the one that only cuts with
    `vidskill segment`'s defaults for it), built once per process."""
    return _encoders_for(json.dumps([names, settings.encoder_settings,
                                     settings.segmenting_encoder if settings.cut_only else ""],
                                    default=str))


def _detector(settings: IngestSettings):
    """The settings' boundary detector, built once per process (only for long videos)."""
    return _detector_for(json.dumps([settings.detector, settings.detector_settings], default=str))


def _fitted_detector(settings: IngestSettings, parts: tuple[Features, ...]):
    """The settings' detector; one that still needs fitting (`process_video` called
    without `ingest`'s fit on the corpus) is fitted on this video's shots alone, as
    `vidskill segment` fits on a single video; None when they are too short to fit on."""
    detector = _detector(settings)
    if not detector.needs_fit:
        return detector
    own = get_detector(settings.detector, **settings.detector_settings)
    return own if fit_on_shots(own, parts) else None


class _Reduced(Encoder):
    """An encoder whose windows are reduced chunk by chunk to what a detector reads of them
    (`BoundaryDetector.reduction`): ingest keeps 15 values a motion-kin window to cut a long
    video, not 1031, so its memory does not grow with the video by the features it cuts."""

    def __init__(self, inner: Encoder, reduce: Callable[[Features], Features]):
        self.inner, self.reduce = inner, reduce
        self.name = inner.name   # type: ignore[misc]  (per instance: the inner one's)
        self.windows, self.context, self.flow = inner.windows, inner.context, inner.flow
        self.dim = reduce(inner.empty()).dim

    @property
    def settings(self) -> dict:
        return self.inner.settings

    def encode(self, frames: Frames, origin: float | None = None,
               flow: Flow | None = None) -> Features:
        return self.reduce(self.inner.encode(frames, origin, flow))


class _ReducedFlow(_Reduced):
    """`_Reduced` for a flow encoder: it keeps the per-pair interface the stream prepares
    each pair once through (`prepare_blocks`, `pool_windows`)."""

    @property
    def needs_images(self) -> bool:
        return self.inner.needs_images

    def prepare_blocks(self, flow: Flow, images: np.ndarray | None = None):
        return self.inner.prepare_blocks(flow, images)

    def pool_windows(self, prepared, starts: np.ndarray, dt: np.ndarray,
                     origin: float | None = None, source: str = "") -> Features:
        return self.reduce(self.inner.pool_windows(prepared, starts, dt, origin, source))


@lru_cache(maxsize=4)
def _encoders_for(key: str) -> list:
    names, options, cut_only = json.loads(key)
    return [segment_encoder(e, **options.get(e, {})) if e == cut_only
            else get_encoder(e, **options.get(e, {})) for e in names]


@lru_cache(maxsize=4)
def _detector_for(key: str):
    name, options = json.loads(key)
    return get_detector(name, **options)


def encode(path: str | os.PathLike, settings: IngestSettings, *, store: bool = True,
           cut: bool = True, first: float | None = None
           ) -> tuple[dict[str, Features], float, Shots, float]:
    """One decode of a whole video, at the highest rate an encoder reads: per-window
    features of the settings' encoders (`store`) and of the segmenting encoder (`cut`), by
    name; its length (s); its shots, found on the same frames (with `cut`); and the time
    between the segmenting encoder's frames (s). first: decode only about the first this
    many seconds (and FIT_MARGIN more, so the shots there are settled)."""
    names = list(settings.encoders) if store else []
    if cut and settings.segmenting_encoder not in names:
        names.append(settings.segmenting_encoder)
    rates = [settings.cutting_rate if n == settings.segmenting_encoder else settings.fps
             for n in names]
    encoders = _encoders(settings, names)
    if cut and store and settings.cut_only:   # keep only what the detector reads of them
        reduce = _detector(settings).reduction(settings.segmenting_encoder)
        encoders = [(_ReducedFlow if isinstance(e, FlowEncoder) else _Reduced)(e, reduce)
                    if reduce and n == settings.segmenting_encoder else e
                    for n, e in zip(names, encoders, strict=True)]
    shots = get_shot_detector(settings.shots) if cut else None
    with PrefetchReader(path, fps=None if None in rates else max(rates),
                        size=settings.size) as reader:   # decode_rate, or less without `cut`
        ts = reader.timestamps
        until = None if first is None or not len(ts) else float(ts[0]) + first + FIT_MARGIN
        feats = encode_video_multi(reader, encoders,
                                   chunk_seconds=settings.chunk_seconds,
                                   on_frames=shots.push if shots else None, rates=rates,
                                   until=until)
        duration = float(reader.info.duration)
        native = float(reader.info.native_fps or 30.0)
    rate = settings.cutting_rate
    frame = 1.0 / (rate if rate is not None and rate < native else native)
    return (dict(zip(names, feats, strict=True)), duration,
            shots.finish() if shots else Shots(), frame)


# Where a store keeps the SBD predictor fitted on its corpus (one per segmenting encoder).
KEPT_PREDICTOR = "sbd-{encoder}.pt"
# Seconds decoded past a video's fit sample, so the shot stage has settled its cuts there
# (PySceneDetect's detectors decide a cut within a few frames of it).
FIT_MARGIN = 2.0


def fit_on_corpus(sources: list[Source], settings: IngestSettings, folder: Path
                  ) -> IngestSettings:
    """`ingest --detector sbd` without a named predictor: fit it once, without labels, on
    the shots of the long videos being ingested, and keep it in the store (`folder`), so
    later additions are cut by the same predictor; the settings then name that file. A
    store that already keeps one uses it. The fit reads the sample `vidskill segment` fits
    on (`fit_order`, `FitBudget`: at most FIT_SECONDS of video), so this decodes at most
    that much once more, for the segmenting encoder alone. Videos that fail here are left
    for the run to record."""
    detector = get_detector(settings.detector, **settings.detector_settings)  # fresh, unfitted
    if not detector.needs_fit:
        return settings
    kept = folder / KEPT_PREDICTOR.format(encoder=settings.segmenting_encoder)
    if not kept.is_file():
        long = [s for s in sources
                if s.error is None and not settings.segmentation(s).get("segment")]
        budget, chosen = FitBudget(len(long)), {}
        for i in fit_order(len(long)):
            if budget.spent:
                break
            source, share = long[i], budget.share()
            try:
                features, duration, shots, frame = encode(source.path, settings, store=False,
                                                          first=share)
            except Exception:   # recorded with its reason when the run reaches it
                log.debug("not fitted on %s", source.path, exc_info=True)
                budget.spend(0.0)
                continue
            budget.spend(duration)
            mine = features[settings.segmenting_encoder]
            if len(mine):
                parts = split_shots(mine, shots, float(mine.starts[0]), float(mine.ends[-1]),
                                    frame)
                chosen[i] = [p for p in fit_parts(parts, share) if len(p) >= detector.min_windows]
        corpus = [p for i in sorted(chosen) for p in chosen[i]]
        if not corpus:
            return settings   # no long video to cut: the detector is never used
        try:
            detector.fit(corpus)
        except ValueError as e:
            raise ConfigError(f"cannot fit {settings.detector!r} on these videos: {e}") from e
        detector.predictor_for(settings.segmenting_encoder).save(kept)
    options = {**settings.detector_settings, "predictor": str(kept)}
    return replace(settings, detector_settings=options)


def encode_source(source: Source, settings: IngestSettings) -> VideoResult:
    """Decode and encode one video: the first, GPU-capable half of `process_video`."""
    t0 = time.perf_counter()
    cut = settings.segmentation(source).get("segment") != "whole"   # a clip is not cut
    try:
        features, duration, shots, frame = encode(source.path, settings, cut=cut)
        if len(features[settings.segmenting_encoder if cut else settings.encoders[0]]) == 0:
            raise ValueError("no feature window fits in the video: it is too short to encode")
    except Exception as e:  # one bad video must not stop the batch: its reason is recorded
        log.debug("failed on %s", source.path, exc_info=True)
        return VideoResult(source, error=failure_reason(e), seconds=time.perf_counter() - t0)
    return VideoResult(source, features, shots, duration=duration, frame=frame,
                       seconds=time.perf_counter() - t0)


def segment_result(result: VideoResult, settings: IngestSettings) -> VideoResult:
    """Cut an encoded video into clips: the second, CPU half of `process_video`. The
    features of an encoder that only cuts are dropped from the result once used."""
    if result.error is not None:
        return result
    t0 = time.perf_counter()
    signal = None
    try:
        if settings.segmentation(result.source).get("segment") == "whole":
            # the whole video: from the earliest to the latest feature time of any encoder
            # (long windows may stop short of the end that 0.1 s rows reach)
            present = [f for f in result.features.values() if len(f)]
            segments: tuple[Segment, ...] = (Segment(min(float(f.starts[0]) for f in present),
                                                     max(float(f.ends[-1]) for f in present)),)
        else:
            features = result.features[settings.segmenting_encoder]
            start, end = float(features.starts[0]), float(features.ends[-1])
            parts = split_shots(features, result.shots, start, end, result.frame)
            found, trace = shot_segments(parts, result.shots, start, end,
                                         _fitted_detector(settings, parts))
            segments = tuple(found)
            signal = (np.asarray(trace.signal_times, np.float64),
                      np.asarray(trace.signal, np.float64))
    except Exception as e:  # one bad video must not stop the batch: its reason is recorded
        log.debug("failed on %s", result.source.path, exc_info=True)
        return VideoResult(result.source, error=failure_reason(e),
                           seconds=result.seconds + time.perf_counter() - t0)
    stored = {e: f for e, f in result.features.items() if e in settings.encoders}
    return replace(result, features=stored, segments=segments, signal=signal,
                   seconds=result.seconds + time.perf_counter() - t0)


def process_video(source: Source, settings: IngestSettings) -> VideoResult:
    """Decode, encode and segment one video; any failure is returned as its reason."""
    return segment_result(encode_source(source, settings), settings)


def failure_reason(e: BaseException) -> str:
    """One line for the report and the catalog: the error's type and first line."""
    if isinstance(e, PermissionError):
        return (f"PermissionError: {e.filename or 'the file'} cannot be read (permission "
                "denied); make it readable or run as a user who can read it")
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        return "OSError: no space left on the device; free some space and run again"
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else 'no message'}"
