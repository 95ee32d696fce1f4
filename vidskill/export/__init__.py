"""Export: segments to clip files, thumbnails and scene lists (CSV, JSON, EDL, OTIO, stats).

`export_segments(seglist, folder)` writes, for one video with stem NAME:

    NAME-scene-001.mp4 ...           one clip per segment (`clips.write_clip`)
    NAME-scene-001-01.jpg ...        N thumbnails per clip (`thumbs.write_thumbnails`)
    NAME.csv NAME.json NAME.edl NAME.otio   the scene list (PySceneDetect-style CSV: 1-based frames)
    NAME.stats.csv                   the detector's per-window signal (when there is one)

`store_segment_lists(store)` gives the segment lists of a clip store's videos, so a store
exports the same way. Scene numbers are 1-based as in PySceneDetect.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidskill._files import write_text
from vidskill._progress import progress_bar
from vidskill.boundaries.base import Segment
from vidskill.boundaries.io import SegmentList, to_csv, to_json
from vidskill.errors import ConfigError
from vidskill.export.clips import ClipExportError, ClipFile, write_clip
from vidskill.export.scenes import to_edl, to_otio, to_stats_csv
from vidskill.export.thumbs import write_thumbnails

LIST_FORMATS = ("csv", "json", "edl", "otio", "stats")
_WRITERS = {"csv": (".csv", to_csv), "json": (".json", lambda s: to_json(s) + "\n"),
            "edl": (".edl", to_edl), "otio": (".otio", to_otio),
            "stats": (".stats.csv", to_stats_csv)}


@dataclass(frozen=True)
class ExportedClip:
    """One segment's files: the clip (None when clips were not asked for) and thumbnails."""

    index: int
    segment: Segment
    clip: ClipFile | None
    thumbnails: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Export:
    """What `export_segments` wrote for one video."""

    seglist: SegmentList
    folder: Path
    name: str
    clips: tuple[ExportedClip, ...]
    lists: dict[str, Path] = field(default_factory=dict)


def export_segments(
    seglist: SegmentList,
    folder: str | os.PathLike,
    *,
    clips: bool = True,
    thumbnails: int = 3,
    lists: Sequence[str] = LIST_FORMATS,
    copy: bool = True,
    height: int | None = None,
    thumb_height: int | None = 180,
    name: str | None = None,
    progress: bool = False,
) -> Export:
    """Write the clips, thumbnails and scene lists of one video's segments into `folder`.

    `height` scales clips (None: source size, stream-copied where cuts fall on keyframes);
    `thumb_height` scales thumbnails; `name` is the file stem (default: the video's).
    """
    unknown = set(lists) - set(LIST_FORMATS)
    if unknown:
        raise ValueError(f"unknown scene list format(s) {sorted(unknown)}; choose from "
                         f"{', '.join(LIST_FORMATS)}")
    if not seglist.source and (clips or thumbnails):
        raise ClipExportError("the segment list names no video; clips and thumbnails need "
                              "it (the 'video' field of the JSON)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = name or Path(seglist.source).stem or "segments"
    written = {}
    for fmt in lists:
        suffix, writer = _WRITERS[fmt]
        if fmt == "stats" and len(seglist.signal) == 0:
            continue
        written[fmt] = write_text(folder / f"{name}{suffix}", writer(seglist))
    out = []
    for i, seg in progress_bar(list(enumerate(seglist.segments, 1)), progress,
                               desc=f"export {name}", unit="clip"):
        stem = f"{name}-scene-{i:03d}"
        clip = (write_clip(seglist.source, seg.start, seg.end, folder / f"{stem}.mp4",
                           copy=copy, height=height) if clips else None)
        thumbs = (write_thumbnails(seglist.source, seg.start, seg.end,
                                   [folder / f"{stem}-{j:02d}.jpg"
                                    for j in range(1, thumbnails + 1)], thumb_height)
                  if thumbnails else [])
        out.append(ExportedClip(i, seg, clip, tuple(thumbs)))
    return Export(seglist, folder, name, tuple(out), written)


def store_segment_lists(store, *, signal_detector: str | None = None,
                        video_ids: Sequence[int] | None = None) -> list[SegmentList]:
    """The segment lists of a clip store's ingested videos, in id order, each long video's
    with the signal of the detector that cut it (kept by ingest). With `signal_detector` (a
    detector name) that detector's signal is recomputed from the stored features of the
    encoder that cut the long videos instead, for stores that kept none."""
    from vidskill.boundaries import get_detector
    from vidskill.video import VideoError, open_video

    detector = get_detector(signal_detector) if signal_detector else None
    encoder = store.cut_by_encoder()
    if detector is not None and detector.name != store.cut_with() \
            and encoder not in store.encoders():
        raise ConfigError(
            f"{store.path} keeps no {encoder!r} features to recompute a {detector.name!r} signal "
            f"from ({encoder} only cut its videos); leave the detector out to draw the signal "
            f"of {store.cut_with() or 'the detector that cut them'}, kept by ingest")
    out = []
    for video in store.videos(status="done"):
        if video_ids is not None and video.id not in video_ids:
            continue
        segments = tuple(Segment(s.start, s.end, s.label, s.score, s.kind or "skill")
                         for s in store.segments(video_id=video.id))
        try:
            with open_video(video.path) as reader:
                fps, start = reader.info.native_fps, reader.info.start_time
        except VideoError:
            fps, start = 0.0, 0.0  # moved or deleted since ingest: lists still, no clips
        times = values = np.zeros(0)
        kept = store.signal(video.id) if video.kind == "long" else None
        name = signal_detector or ""
        if kept is not None and (detector is None or store.cut_with() == detector.name):
            (times, values), name = kept, store.cut_with()
        elif detector is not None and video.kind == "long":
            b = detector.detect(store.features(video.id, encoder))
            times, values = np.asarray(b.signal_times, float), np.asarray(b.signal, float)
        out.append(SegmentList(segments, video.duration or (segments[-1].end if segments
                                                            else 0.0), fps, start,
                               video.path, name, {"encoder": encoder},
                               times, values))
    return out


__all__ = ["LIST_FORMATS", "ClipExportError", "ClipFile", "Export", "ExportedClip",
           "export_segments", "store_segment_lists", "write_clip", "write_thumbnails"]
