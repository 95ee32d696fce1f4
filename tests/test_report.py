"""The HTML report: built from segment lists, every file it references exists, text is
escaped, rankings say what each score means."""

import re

import numpy as np

from vidskill.boundaries.base import Segment
from vidskill.boundaries.io import SegmentList
from vidskill.report import (
    Figure,
    Report,
    ranking_view,
    render,
    segments_report,
    write_report,
)

RANKING = {"skill": "stir <the> soup", "method": "evidence", "text": "llm",
           "templates": ["b", "a"], "fused": [2.0, None],
           "scores": {"text": [0.5, -0.1], "flow-motion": [1.5, None]}, "human_clips": ["x.mp4"]}


def test_segments_report_links_existing_media(media_dir, tmp_path):
    seglist = SegmentList((Segment(0.0, 1.5, "wave"), Segment(1.5, 3.0, None, 0.4)), 3.0, 10.0,
                          source=str(media_dir / "counter.mp4"), detector="novelty",
                          signal_times=np.linspace(0.5, 2.5, 9), signal=np.arange(9.0),
                          cuts=(1.5,))
    report = segments_report([seglist], tmp_path, thumbnails=2)
    index = write_report(report, tmp_path)
    page = index.read_text()
    links = re.findall(r'(?:src|poster)="([^"]+)"', page)
    assert len([x for x in links if x.endswith(".mp4")]) == 2
    assert len([x for x in links if x.endswith(".jpg")]) == 2 * 2 + 2  # thumbs + posters
    for link in links:
        assert (tmp_path / link).stat().st_size > 0, link
    assert 'class="bound cut"' in page and "<polyline points=" in page
    assert '<option value="wave">wave</option>' in page
    assert not list(tmp_path.rglob(".*tmp*"))


def test_rankings_explain_their_scores_and_text_is_escaped():
    view = ranking_view(RANKING, correct="a")
    assert view.chosen == "b" and [c.name for c in view.columns] == ["fused", "text",
                                                                     "flow-motion"]
    page = render(Report("run <1>", figures=[Figure("top-1", "1.000", "of 8 skills")],
                         rankings=[view]))
    assert "run &lt;1&gt;" in page and "<1>" not in page
    assert "stir &lt;the&gt; soup: chose <b>b</b>" in page and "correct: a" in page
    assert "nats per token" in page and "standard errors" in page
    assert "<td class=\"num\">-</td>" in page  # a template the rule dropped
    assert "hubness against them" not in page   # no reference: no note of one
    marked = ranking_view({**RANKING, "reference_clips": 14})
    assert marked.reference_clips == 14
    assert ("14 human clips of other skills: each template's video score is less half its "
            "hubness against them") in render(Report("hubs", rankings=[marked]))
    tied = ranking_view({**RANKING, "fused": [1.0, 1.0], "ties": [["b", "a"]]}, correct="a")
    assert tied.chosen == "b = a"  # a tie is shown as one, not as the first listed
    assert "chose <b>b = a</b>" in render(Report("tie", rankings=[tied]))
