"""The HTML report: every image it references exists and decodes; text is escaped."""

import re

import cv2
import numpy as np

from vidskill.report import (
    NeighbourView,
    RankingView,
    Report,
    SegmentationView,
    Thumb,
    thumbnail,
    write_report,
)


def _img(v: int) -> np.ndarray:
    return np.full((24, 32, 3), v, np.uint8)


def test_report_links_real_images_and_escapes_text(tmp_path):
    t = np.linspace(0, 10, 50)
    report = Report(
        title="demo <run>",
        summary=[("videos", "3")],
        tables=[("Boundaries", ["detector", "F1"], [["sbd", "0.90"]])],
        segmentations=[
            SegmentationView("long_000", t, np.sin(t), np.array([3.1]), np.array([3.0]),
                             [Thumb(_img(10), "stir 0.0–3.1s", True)])
        ],
        neighbours=[NeighbourView(Thumb(_img(50), "query"), [Thumb(_img(90), "hit", False)])],
        rankings=[RankingView("stir the soup", ["llm", "flow"], [("a", [0.1, 0.9]), ("b", [0.2, 0.1])],
                              chosen="a", correct="a")],
    )
    index = write_report(report, tmp_path / "rep")
    page = index.read_text()
    assert "demo &lt;run&gt;" in page and "<run>" not in page
    srcs = re.findall(r'src="([^"]+)"', page)
    assert len(srcs) == 4  # signal plot, one segment thumb, query + hit
    for src in srcs:
        image = cv2.imread(str(index.parent / src))
        assert image is not None and image.size > 0, src
    assert "chose a ✓" in page
    assert not list((tmp_path / "rep").rglob("*.tmp*"))


def test_thumbnail_of_unreadable_video_is_grey(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    img = thumbnail(bad, 1.0, height=30)
    assert img.shape == (30, 40, 3) and int(img.mean()) == 128
