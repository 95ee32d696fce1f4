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
    figures = dict(line.split(": ", 1) for line in run.stdout.splitlines() if ": " in line)
    number = {name: float(value.split()[0]) for name, value in figures.items()
              if re.match(r"\d\.\d{3}", value)}
    # measured (seed 0, 2 clips per skill, 2 long videos, SYNTH_VERSION 3): top-1 0.750 for
    # flow-profile (the default encoder of selection) and for the default fusion, recall@5 0.812, label-free boundary F1 0.375,
    # skill-tcn + SBD boundary F1 1.000; each band lets one more miss through and fails
    # a halving
    assert number["top-1 template, evidence (lexical + flow-profile)"] >= 0.625
    assert number["top-1 template, flow-profile alone"] >= 0.625
    assert number["chance top-1"] == 0.1
    assert number["recall@5 of human clips for robot templates"] >= 0.6
    assert number["boundary F1@0.5s, skill-tcn + sbd (2 long videos)"] >= 0.8
    assert number["boundary F1@0.5s, label-free sbd on motion-kin (the store's clips)"] \
        >= 0.25
    assert re.search(r"^video: flow-motion\s+\d\.\d{3}", run.stdout, re.M)
    assert re.search(r"^video: flow-profile\s+\d\.\d{3}", run.stdout, re.M)
    index = tmp_path / "report" / "index.html"
    assert f"report: {index}" in run.stdout
    page = index.read_text()
    # the page leads with selection, then the best boundary figure, the label-free one after
    rows = re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">", page)
    assert rows[0].startswith("top-1 template, evidence") and "skill-tcn + sbd" in rows[4]
    assert "label-free" in rows[5]
    media = re.findall(r'src="(media/[^"]+)"', page)
    assert any(m.endswith(".mp4") for m in media) and any(m.endswith(".jpg") for m in media)
    assert all((index.parent / m).stat().st_size > 100 for m in media)
    assert "Template rankings" in page and "<polyline points=" in page
    assert "nearest clips" in page
    # the skills flow-profile wins by a clear margin here are chosen right in the report
    for skill, template in (("stir", "circle_sweep"), ("press", "press_hold"),
                            ("pour", "slow_tilt"), ("shake", "rapid_oscillate")):
        assert f"{skill}: chose <b>{template}</b> <span class=\"good\">(correct)" in page, skill
    # resumable: a second run reuses corpus, store and cache
    again = subprocess.run([sys.executable, "-m", "vidskill.cli", "demo", "--out", str(tmp_path),
                            "--small", "--text", "lexical"], capture_output=True, text=True,
                           timeout=900, cwd=REPO)
    assert again.returncode == 0 and again.stdout.split("corpus:")[0] == run.stdout.split(
        "corpus:")[0]
