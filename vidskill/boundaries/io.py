"""Segment lists on disk: JSON and PySceneDetect's scene-list CSV, written and read back.

Frame numbers: `SegmentList.frame(t)` is the 0-based native frame on screen at time t,
`round((t - start_time) * native_fps)`. The JSON's `start_frame`/`end_frame` are 0-based,
end exclusive (a segment holds frames start_frame .. end_frame - 1). The CSV follows
PySceneDetect's `list-scenes`: "Start Frame" is 1-based and "End Frame" is 1-based and
inclusive (numerically the same as the 0-based exclusive end), so a 30-frame video in one
segment reads 1..30. Timecodes are HH:MM:SS.mmm. The JSON also carries the detector's
per-window signal (what a report draws) and the times of hard cuts, when there are any.
The JSON reader takes the demo corpus's ground-truth files too (`duration`, `segments`).
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidskill.boundaries.base import Segment
from vidskill.errors import VidskillError

# PySceneDetect's scene list columns, in its order; vidskill adds the last three (the
# confidence, label and kind of the boundary that starts each segment).
CSV_FIELDS = (
    "Scene Number", "Start Frame", "Start Timecode", "Start Time (seconds)", "End Frame",
    "End Timecode", "End Time (seconds)", "Length (frames)", "Length (timecode)",
    "Length (seconds)", "Score", "Label", "Kind",
)
_HEADER = "Start Time (seconds)"  # the header row has it; PySceneDetect may put a row of
# cut timecodes ("Timecode List:" in older versions) before it (off with --skip-cuts)


class SegmentFileError(VidskillError):
    """A segment file cannot be read as a segment list (a data problem: exit status 1)."""


@dataclass(frozen=True)
class SegmentList:
    """The segments of one video with what is needed to write them: duration, native fps,
    and (when a detector made them) its per-window signal and the hard cuts among the
    boundaries (every other boundary is a skill change)."""

    segments: tuple[Segment, ...]
    duration: float
    fps: float
    start_time: float = 0.0
    source: str = ""
    detector: str = ""
    settings: dict | None = None
    signal_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    signal: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cuts: tuple[float, ...] = ()

    def frame(self, t: float) -> int:
        """0-based native frame number shown at time t."""
        return int(round((t - self.start_time) * self.fps))

    @property
    def boundaries(self) -> list[float]:
        """The times where one segment ends and the next begins."""
        return [s.start for s in self.segments[1:]]


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
        "start_time": seglist.start_time,
        "detector": seglist.detector,
        "settings": seglist.settings or {},
        "frames": "0-based; end_frame is exclusive",
        "segments": [
            {"start": s.start, "end": s.end, "start_frame": seglist.frame(s.start),
             "end_frame": seglist.frame(s.end), "score": s.score, "kind": s.kind,
             "label": s.label}
            for s in seglist.segments
        ],
        "cuts": list(seglist.cuts),
        "signal": {"times": np.round(seglist.signal_times, 4).tolist(),
                   "values": np.round(seglist.signal, 5).tolist()},
    }, indent=1)


def to_csv(seglist: SegmentList) -> str:
    """The segment list as PySceneDetect's scene-list CSV (without its cut-list row), plus
    Score and Label columns; frame numbers are 1-based, End Frame inclusive."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for i, s in enumerate(seglist.segments, 1):
        first, end = seglist.frame(s.start), seglist.frame(s.end)
        writer.writerow([
            i, first + 1, timecode(s.start), f"{s.start:.3f}", end, timecode(s.end),
            f"{s.end:.3f}", end - first, timecode(s.duration), f"{s.duration:.3f}",
            f"{s.score:.4f}", s.label or "", s.kind,
        ])
    return out.getvalue()


def read_segments(path: str | os.PathLike) -> SegmentList:
    """Read a segment list written by `to_json`/`to_csv` or by PySceneDetect's
    `list-scenes` (with or without its row of cuts), or a demo-corpus truth JSON."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such segment file")
    if path.suffix.lower() == ".csv":
        return _read_csv(path)
    try:
        doc = json.loads(path.read_text())
        segments = tuple(
            Segment(float(s["start"]), float(s["end"]), s.get("label"),
                    float(s.get("score", 1.0)), str(s.get("kind") or "skill"))
            for s in doc["segments"]
        )
        signal = doc.get("signal") or {}
        times = np.asarray(signal.get("times", []), np.float64)
        values = np.asarray(signal.get("values", []), np.float64)
        if times.shape != values.shape:
            raise ValueError("signal times and values differ in length")
    except (KeyError, TypeError, ValueError) as e:
        raise SegmentFileError(
            f"{path}: not a segment list ({type(e).__name__}: {e}); expected the JSON or CSV "
            "written by `vidskill segment`, PySceneDetect's scene-list CSV, or a ground-truth "
            "JSON with 'segments'"
        ) from e
    duration = float(doc.get("duration", max((s.end for s in segments), default=0.0)))
    return SegmentList(segments, duration, float(doc.get("fps") or 0.0),
                       float(doc.get("start_time") or 0.0),
                       source=str(doc.get("video") or doc.get("path") or ""),
                       detector=str(doc.get("detector") or ""), settings=doc.get("settings"),
                       signal_times=times, signal=values,
                       cuts=tuple(float(t) for t in doc.get("cuts") or ()))


def _read_csv(path: Path) -> SegmentList:
    lines = path.read_text().splitlines()
    header = next((i for i, line in enumerate(lines[:2]) if _HEADER in line), 0)
    rows = list(csv.DictReader(lines[header:]))
    if not rows:
        return SegmentList((), 0.0, 0.0)
    missing = {"Start Time (seconds)", "End Time (seconds)"} - set(rows[0])
    if missing:
        raise SegmentFileError(
            f"{path}: a scene-list CSV needs the columns {sorted(missing)} (as PySceneDetect's "
            f"list-scenes and `vidskill segment --out x.csv` write); it has "
            f"{sorted(k for k in rows[0] if k)}"
        )
    try:
        segments = tuple(
            Segment(float(r["Start Time (seconds)"]), float(r["End Time (seconds)"]),
                    r.get("Label") or None, float(r.get("Score") or 1.0),
                    r.get("Kind") or "skill")
            for r in rows
        )
        first = rows[0]
        frames = int(first["End Frame"]) - int(first["Start Frame"]) + 1
        seconds = float(first["End Time (seconds)"]) - float(first["Start Time (seconds)"])
    except (KeyError, TypeError, ValueError) as e:
        raise SegmentFileError(f"{path}: unreadable scene-list row ({e})") from e
    fps = frames / seconds if seconds > 0 else 0.0
    return SegmentList(segments, max(s.end for s in segments), fps,
                       min(s.start for s in segments))


def segment_files(folder: Path) -> dict[str, Path]:
    """stem -> segment file (.json or .csv) in a folder, for pairing predictions with truth."""
    return {p.stem: p for p in sorted(folder.iterdir())
            if p.suffix.lower() in (".json", ".csv") and p.is_file()}
