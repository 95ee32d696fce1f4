"""`vidskill demo --small`: the whole pipeline end to end, with its report and images."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_small_demo_runs_end_to_end(tmp_path):
    run = subprocess.run([sys.executable, "-m", "vidskill.cli", "demo", "--out", str(tmp_path),
                          "--small", "--text", "lexical"], capture_output=True, text=True,
                         timeout=900, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert re.search(r"^video: flow-motion\s+\d\.\d{3}", run.stdout, re.M)
    assert "chance top-1 = 0.100" in run.stdout and "boundary F1@0.5s" in run.stdout
    index = tmp_path / "report" / "index.html"
    assert f"report: {index}" in run.stdout
    page = index.read_text()
    # the page leads with selection, then the best boundary figure, the label-free one after
    figures = re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">", page)
    assert figures[0].startswith("top-1 template, evidence") and "skill-tcn + sbd" in figures[4]
    assert "label-free" in figures[5]
    media = re.findall(r'src="(media/[^"]+)"', page)
    assert any(m.endswith(".mp4") for m in media) and any(m.endswith(".jpg") for m in media)
    assert all((index.parent / m).stat().st_size > 100 for m in media)
    assert "Template rankings" in page and "<polyline points=" in page
    assert "nearest clips" in page
    # resumable: a second run reuses corpus, store and cache
    again = subprocess.run([sys.executable, "-m", "vidskill.cli", "demo", "--out", str(tmp_path),
                            "--small", "--text", "lexical"], capture_output=True, text=True,
                           timeout=900, cwd=REPO)
    assert again.returncode == 0 and again.stdout.split("corpus:")[0] == run.stdout.split(
        "corpus:")[0]
