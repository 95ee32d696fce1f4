"""HTML reports for any data: a clip store or segment lists, as a static folder
(index.html from Jinja2 templates, clips and thumbnails under media/)."""

from vidskill.report.build import segments_report, store_report
from vidskill.report.model import (
    Boundary,
    ClipView,
    Figure,
    Neighbour,
    RankingView,
    Report,
    Table,
    TimelineView,
    ranking_view,
)
from vidskill.report.render import render, write_report

__all__ = ["Boundary", "ClipView", "Figure", "Neighbour", "RankingView", "Report", "Table",
           "TimelineView", "ranking_view", "render", "segments_report", "store_report",
           "write_report"]
