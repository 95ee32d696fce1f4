"""Build a report from segment lists or from a clip store: export each clip's file and
thumbnails next to the page, then describe them as `Report` values.

Media go to OUT/media/ (clips re-encoded at most `height` pixels high so the page stays
light; scene lists beside them), the page to OUT/index.html (`render.write_report`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from vidskill.boundaries.io import SegmentList
from vidskill.export import Export, export_segments, store_segment_lists
from vidskill.report.model import Boundary, ClipView, Neighbour, Report, TimelineView
from vidskill.store.errors import EmptyQueryError

MEDIA = "media"
CLIP_HEIGHT = 360  # px: enough to see a skill, small enough for a page of many clips
THUMB_HEIGHT = 120


def _export(seglist: SegmentList, out: Path, name: str, clips: bool, thumbnails: int,
            progress: bool) -> Export:
    return export_segments(seglist, out / MEDIA, clips=clips, thumbnails=thumbnails,
                           height=CLIP_HEIGHT, thumb_height=THUMB_HEIGHT, name=name,
                           progress=progress)


def _rel(path: Path | None, out: Path) -> str | None:
    return None if path is None else path.relative_to(out).as_posix()


def _views(export: Export, out: Path, ids: Sequence[str], domain: str | None
           ) -> list[ClipView]:
    return [ClipView(cid, export.name, c.index, c.segment.start, c.segment.end,
                     c.segment.label, domain, c.segment.score,
                     _rel(c.clip.path if c.clip else None, out),
                     tuple(_rel(t, out) for t in c.thumbnails))
            for cid, c in zip(ids, export.clips, strict=True)]


def _timeline(seglist: SegmentList, views: list[ClipView], truth: Sequence[float] = (),
              note: str = "") -> TimelineView:
    cuts = set(seglist.cuts)
    bounds = [Boundary(s.start, "cut" if s.start in cuts else "skill", s.score)
              for s in seglist.segments[1:]]
    bounds += [Boundary(float(t), "true") for t in truth]
    start = seglist.start_time if seglist.segments else 0.0
    end = max([seglist.start_time + seglist.duration] + [s.end for s in seglist.segments])
    return TimelineView(Path(seglist.source).name, seglist.source, start, end, tuple(views),
                        tuple(bounds), seglist.signal_times, seglist.signal,
                        seglist.detector, note)


def _unique(stems: Iterable[str]) -> list[str]:
    """File stems made unique with a counter (two videos may share a name)."""
    seen: dict[str, int] = {}
    out = []
    for stem in stems:
        seen[stem] = seen.get(stem, 0) + 1
        out.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return out


def segments_report(seglists: Sequence[SegmentList], out: str | os.PathLike, *,
                    title: str = "vidskill segments", clips: bool = True,
                    thumbnails: int = 3, progress: bool = False) -> Report:
    """A report of segment lists (`vidskill segment` output): one timeline per video."""
    out = Path(out)
    report = Report(title, intro=f"{len(seglists)} video(s) segmented.")
    names = _unique(Path(s.source).stem or "video" for s in seglists)
    for k, (seglist, name) in enumerate(zip(seglists, names, strict=True)):
        export = _export(seglist, out, name, clips, thumbnails, progress)
        views = _views(export, out, [f"v{k}-{c.index}" for c in export.clips], None)
        report.clips += views
        report.timelines.append(_timeline(seglist, views))
    return report


def store_report(store, out: str | os.PathLike, *, title: str = "vidskill store",
                 neighbours: int = 5, signal_detector: str | None = None,
                 clips: bool = True, thumbnails: int = 3,
                 truth: dict[str, Sequence[float]] | None = None,
                 notes: dict[str, str] | None = None, progress: bool = False) -> Report:
    """A report of a clip store: a timeline for each segmented (long) video, a card for
    every clip with its `neighbours` nearest clips (by the store's first encoder: the
    cosine of its embeddings, or its own comparison). `truth` maps a video path to its
    true boundaries."""
    out = Path(out)
    videos = store.videos(status="done")
    seglists = store_segment_lists(store, signal_detector=signal_detector)
    names = _unique(f"{v.id:04d}-{Path(v.path).stem}" for v in videos)
    truth, notes = truth or {}, notes or {}
    report = Report(title, intro=f"{len(videos)} videos, {len(store.segments())} clips in "
                                 f"{store.path} (encoder {store.default_encoder()}).")
    for video, seglist, name in zip(videos, seglists, names, strict=True):
        records = store.segments(video_id=video.id)
        export = _export(seglist, out, name, clips, thumbnails, progress)
        views = _views(export, out, [f"s{r.id}" for r in records], video.domain)
        report.clips += views
        if video.kind == "long":
            report.timelines.append(_timeline(seglist, views, truth.get(video.path, ()),
                                              notes.get(video.path, "")))
    if neighbours > 0:
        thumbs = {c.id: c.thumbs[len(c.thumbs) // 2] if c.thumbs else None
                  for c in report.clips}
        report.clips = [_with_neighbours(store, c, neighbours, thumbs) for c in report.clips]
    return report


def _with_neighbours(store, view: ClipView, k: int, thumbs: dict) -> ClipView:
    try:
        hits = store.search(int(view.id[1:]), k)
    except EmptyQueryError:  # a still clip: every other clip is as near as any
        return replace(view, still=True)
    return replace(view, neighbours=tuple(
        Neighbour(f"s{h.segment_id}", h.label or "unlabelled", h.score,
                  thumbs.get(f"s{h.segment_id}")) for h in hits))
