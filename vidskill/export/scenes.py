"""Scene lists for editors and spreadsheets: CMX 3600 EDL, OpenTimelineIO, and the
detector's per-window signal as a stats CSV (as PySceneDetect's `-s stats.csv`).

CSV and JSON segment lists live in `vidskill.boundaries.io` (they are read back too).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from vidskill.boundaries.io import SegmentList, timecode


def smpte(seconds: float, fps: float) -> str:
    """HH:MM:SS:FF at `fps` (non-drop frame), as EDLs write it."""
    rate = max(1, round(fps))
    frames = round(seconds * fps)
    total, ff = divmod(frames, rate)
    hh, rest = divmod(total, 3600)
    mm, ss = divmod(rest, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}"


def to_edl(seglist: SegmentList, title: str = "vidskill", reel: str = "AX") -> str:
    """CMX 3600 EDL, one video event per segment, source and record times equal (the
    layout PySceneDetect's save-edl writes); labels as comments."""
    fps = seglist.fps or 25.0
    lines = [f"TITLE: {title}", "FCM: NON-DROP FRAME", ""]
    for i, s in enumerate(seglist.segments, 1):
        a = smpte(s.start - seglist.start_time, fps)
        b = smpte(s.end - seglist.start_time, fps)
        lines.append(f"{i:03d}  {reel:<8} V     C        {a} {b} {a} {b}")
        if s.label:
            lines.append(f"* COMMENT: {s.label}")
        if seglist.source:
            lines.append(f"* FROM CLIP NAME: {Path(seglist.source).name}")
    return "\n".join(lines) + "\n"


def to_otio(seglist: SegmentList, name: str | None = None) -> str:
    """An OpenTimelineIO timeline (otio_json): one video track, one clip per segment
    referencing the source video, named by its label."""
    import opentimelineio as otio

    fps = seglist.fps or 25.0
    source = Path(seglist.source)
    timeline = otio.schema.Timeline(name=name or source.stem)
    track = otio.schema.Track(name="Video 1", kind=otio.schema.TrackKind.Video)
    url = source.resolve().as_uri() if seglist.source else ""
    for i, s in enumerate(seglist.segments, 1):
        clip = otio.schema.Clip(
            name=s.label or f"{source.stem}-scene-{i:03d}",
            media_reference=otio.schema.ExternalReference(target_url=url),
            source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(round(s.start * fps), fps),
                otio.opentime.RationalTime(round(s.end * fps) - round(s.start * fps), fps)),
            metadata={"vidskill": {"start": s.start, "end": s.end, "score": s.score}},
        )
        track.append(clip)
    timeline.tracks.append(track)
    return otio.adapters.write_to_string(timeline, "otio_json")


STATS_FIELDS = ("Window", "Time (seconds)", "Timecode", "Signal")


def to_stats_csv(seglist: SegmentList) -> str:
    """The detector's per-window signal, one row per window (time = the window's centre)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(STATS_FIELDS)
    for i, (t, v) in enumerate(zip(seglist.signal_times, seglist.signal, strict=True)):
        writer.writerow([i, f"{t:.3f}", timecode(t), f"{v:.6g}" if math.isfinite(v) else ""])
    return out.getvalue()
