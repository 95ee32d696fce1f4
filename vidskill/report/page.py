"""An HTML report with PNG figures: error signals with boundaries, clip thumbnails, nearest
neighbours and template rankings. Self-contained folder; images referenced by relative path."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vidskill._files import replacing, write_text
from vidskill.video import VideoError, open_video


@dataclass(frozen=True)
class Thumb:
    """One picture of a clip with a caption."""

    image: np.ndarray
    caption: str
    good: bool | None = None


@dataclass(frozen=True)
class SegmentationView:
    """A long video's detector signal with detected and true boundaries (s) and clip thumbnails."""

    name: str
    signal_times: np.ndarray
    signal: np.ndarray
    detected: np.ndarray
    truth: np.ndarray
    thumbs: Sequence[Thumb] = ()
    note: str = ""


@dataclass(frozen=True)
class NeighbourView:
    """A query clip and the clips the store returned for it."""

    query: Thumb
    hits: Sequence[Thumb]


@dataclass(frozen=True)
class RankingView:
    """One skill's ranked templates with every score that went into the decision."""

    skill: str
    columns: Sequence[str]
    rows: Sequence[tuple[str, Sequence[float]]]
    chosen: str
    correct: str | None = None


@dataclass
class Report:
    """Everything the report shows; sections that are empty are left out."""

    title: str
    summary: list[tuple[str, str]] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)
    segmentations: list[SegmentationView] = field(default_factory=list)
    neighbours: list[NeighbourView] = field(default_factory=list)
    rankings: list[RankingView] = field(default_factory=list)


def thumbnail(path: str | os.PathLike, t: float, height: int = 72) -> np.ndarray:
    """The frame on screen at time t, scaled to `height` pixels (grey if it cannot be read)."""
    try:
        with open_video(path, size=height) as reader:
            t = min(max(t, reader.native_timestamps[0]), float(reader.native_timestamps[-1]))
            return reader.frame_at(t).data[0]
    except VideoError:
        return np.full((height, height * 4 // 3, 3), 128, np.uint8)


def _save_png(image: np.ndarray, path: Path) -> str:
    with replacing(path) as tmp:
        cv2.imwrite(str(tmp), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return path.name


def _plot_signal(view: SegmentationView, path: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 2.2), dpi=100)
    ax.plot(view.signal_times, view.signal, lw=1, color="#333")
    for i, t in enumerate(view.truth):
        ax.axvline(t, color="#2a9d8f", lw=2, alpha=0.6, label="true" if i == 0 else None)
    for i, t in enumerate(view.detected):
        ax.axvline(t, color="#e76f51", lw=1, ls="--", label="detected" if i == 0 else None)
    ax.set_xlabel("seconds")
    ax.set_ylabel("error")
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    with replacing(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path.name


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], marks: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{marks[i]}"' if i < len(marks) and marks[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _thumbs(thumbs: Sequence[Thumb], out: Path, prefix: str) -> str:
    cells = []
    for i, th in enumerate(thumbs):
        name = _save_png(th.image, out / f"{prefix}-{i}.png")
        cls = {True: "good", False: "bad", None: ""}[th.good]
        cells.append(
            f'<figure class="{cls}"><img src="img/{name}" alt="{html.escape(th.caption)}">'
            f"<figcaption>{html.escape(th.caption)}</figcaption></figure>"
        )
    return f'<div class="thumbs">{"".join(cells)}</div>'


_CSS = """body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;
margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{background:#eee}
td:first-child{text-align:left}.thumbs{display:flex;flex-wrap:wrap;gap:6px}figure{margin:0;
border:3px solid transparent}figure.good{border-color:#2a9d8f}figure.bad{border-color:#e76f51}
figcaption{font-size:11px;max-width:140px}tr.good td{background:#e0f2ef}tr.bad td{background:#fbe3dc}"""


def write_report(report: Report, out_dir: str | os.PathLike) -> Path:
    """Write index.html and img/*.png under out_dir; returns the path of index.html."""
    out = Path(out_dir)
    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)
    parts = [f"<h1>{html.escape(report.title)}</h1>"]
    if report.summary:
        parts.append(_table(["", ""], [list(r) for r in report.summary]))
    for title, header, rows in report.tables:
        parts.append(f"<h2>{html.escape(title)}</h2>" + _table(header, rows))
    if report.segmentations:
        parts.append("<h2>Skill boundaries</h2>")
    for i, seg in enumerate(report.segmentations):
        plot = _plot_signal(seg, img / f"signal-{i}.png")
        parts.append(
            f"<h3>{html.escape(seg.name)}</h3><p>{html.escape(seg.note)}</p>"
            f'<img src="img/{plot}" alt="error signal of {html.escape(seg.name)}">'
            + _thumbs(seg.thumbs, img, f"seg{i}")
        )
    if report.neighbours:
        parts.append("<h2>Nearest clips</h2><p>Query first; green: same skill, red: other.</p>")
    for i, nb in enumerate(report.neighbours):
        parts.append(_thumbs([nb.query, *nb.hits], img, f"nn{i}"))
    if report.rankings:
        parts.append("<h2>Template rankings</h2>")
    for rk in report.rankings:
        marks = ["good" if n == rk.correct else ("bad" if n == rk.chosen else "") for n, _ in rk.rows]
        rows = [[n, *[f"{v:.3f}" for v in vals]] for n, vals in rk.rows]
        verdict = "" if rk.correct is None else (" ✓" if rk.chosen == rk.correct else " ✗")
        parts.append(
            f"<h3>{html.escape(rk.skill)}: chose {html.escape(rk.chosen)}{verdict}</h3>"
            + _table(["template", *rk.columns], rows, marks)
        )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(report.title)}"
        f"</title><style>{_CSS}</style></head><body>{''.join(parts)}</body></html>"
    )
    return write_text(out / "index.html", page)
