"""Segment lists on disk: JSON and a PySceneDetect-style CSV, written and read back.

Frame numbers are native frames of the video, `round((t - start_time) * native_fps)`;
timecodes are HH:MM:SS.mmm. The JSON reader also takes the demo corpus's ground-truth
files (`vidskill.demo.corpus`), which share the `duration` and `segments` fields.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from vidskill.boundaries.base import Segment
from vidskill.errors import ConfigError

CSV_FIELDS = (
    "segment", "start_frame", "start_timecode", "start_seconds", "end_frame", "end_timecode",
    "end_seconds", "length_seconds", "score", "label",
)


@dataclass(frozen=True)
class SegmentList:
    """The segments of one video with what is needed to write them: duration, native fps."""

    segments: tuple[Segment, ...]
    duration: float
    fps: float
    start_time: float = 0.0
    source: str = ""
    detector: str = ""
    settings: dict | None = None

    def frame(self, t: float) -> int:
        """Native frame number shown at time t."""
        return int(round((t - self.start_time) * self.fps))


def timecode(seconds: float) -> str:
    """HH:MM:SS.mmm, as PySceneDetect writes it."""
    ms = int(round(max(seconds, 0.0) * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def to_json(seglist: SegmentList) -> str:
    """The segment list as a JSON document."""
    return json.dumps({
        "video": seglist.source,
        "duration": seglist.duration,
        "fps": seglist.fps,
        "detector": seglist.detector,
        "settings": seglist.settings or {},
        "segments": [
            {"start": s.start, "end": s.end, "start_frame": seglist.frame(s.start),
             "end_frame": seglist.frame(s.end), "score": s.score, "label": s.label}
            for s in seglist.segments
        ],
    }, indent=1)


def to_csv(seglist: SegmentList) -> str:
    """The segment list as CSV, one row per segment (PySceneDetect's scene list layout)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for i, s in enumerate(seglist.segments, 1):
        writer.writerow([
            i, seglist.frame(s.start), timecode(s.start), f"{s.start:.3f}",
            seglist.frame(s.end), timecode(s.end), f"{s.end:.3f}", f"{s.duration:.3f}",
            f"{s.score:.4f}", s.label or "",
        ])
    return out.getvalue()


def read_segments(path: str | os.PathLike) -> SegmentList:
    """Read a segment list written by `to_json`/`to_csv`, or a demo-corpus truth JSON."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such segment file")
    try:
        if path.suffix.lower() == ".csv":
            return _read_csv(path)
        doc = json.loads(path.read_text())
        segments = tuple(
            Segment(float(s["start"]), float(s["end"]), s.get("label"), float(s.get("score", 1.0)))
            for s in doc["segments"]
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ConfigError(
            f"{path}: not a segment list ({type(e).__name__}: {e}); expected the JSON or CSV "
            "written by `vidskill segment` or a ground-truth JSON with 'segments'"
        ) from e
    duration = float(doc.get("duration", max((s.end for s in segments), default=0.0)))
    return SegmentList(segments, duration, float(doc.get("fps") or 0.0),
                       source=str(doc.get("video") or doc.get("path") or ""))


def _read_csv(path: Path) -> SegmentList:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    segments = tuple(
        Segment(float(r["start_seconds"]), float(r["end_seconds"]), r.get("label") or None,
                float(r.get("score") or 1.0))
        for r in rows
    )
    duration = max((s.end for s in segments), default=0.0)
    return SegmentList(segments, duration, 0.0)


def segment_files(folder: Path) -> dict[str, Path]:
    """stem -> segment file (.json or .csv) in a folder, for pairing predictions with truth."""
    return {p.stem: p for p in sorted(folder.iterdir())
            if p.suffix.lower() in (".json", ".csv") and p.is_file()}
