"""HTML reports: figures, thumbnails, neighbours and rankings as a static folder."""

from vidskill.report.page import (
    NeighbourView,
    RankingView,
    Report,
    SegmentationView,
    Thumb,
    thumbnail,
    write_report,
)

__all__ = ["NeighbourView", "RankingView", "Report", "SegmentationView", "Thumb", "thumbnail",
           "write_report"]
