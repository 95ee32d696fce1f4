"""The README's command blocks run as written, in order, from a fresh working folder."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_block(name: str, language: str = "bash") -> str:
    """The fenced block after `<!-- NAME -->` in the README."""
    block = re.compile(rf"<!-- {name} -->\s*```{language}\n(.*?)```", re.S)
    match = block.search((ROOT / "README.md").read_text())
    assert match, f"README.md lost its {name} block"
    return match.group(1)


def readme_commands(name: str = "readme-commands") -> list[str]:
    return [line for line in readme_block(name).splitlines() if line.strip()]


def run_vidskill(line: str, cwd: Path) -> subprocess.CompletedProcess:
    """One README line, as written, with the vidskill of this checkout."""
    argv = shlex.split(line)
    assert argv[0] == "vidskill", line
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    done = subprocess.run([sys.executable, "-m", "vidskill.cli", *argv[1:]], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
    assert (done.stdout + done.stderr).strip(), f"{line} printed nothing"
    return done


def test_readme_shows_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert "make demo" in text and "make test" in text
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "export CI=true" in ci  # CI fails without the real footage


@pytest.mark.slow
def test_readme_commands_run(tmp_path):
    shutil.copytree(ROOT / "pipelines", tmp_path / "pipelines")
    for line in readme_commands():
        done = run_vidskill(line, tmp_path)
        if line.split()[1] in ("query", "run"):
            assert "human/clips/" in done.stdout, f"{line} found no clip:\n{done.stdout}"
        if line.split()[1] == "select":  # stir_00's nearest human clips are stir clips
            # (seed 0, SYNTH_VERSION 3: 4 of 5), and flow-motion picks the stirring template
            assert "chosen: circle_sweep " in done.stdout, done.stdout


@pytest.mark.slow
def test_own_videos_walkthrough_runs(tmp_path, media_dir):
    """The "your own videos" block on a folder of real footage (../shared/media), with the
    README's template file (two of the videos stand in for robot executions)."""
    (tmp_path / "my-videos").mkdir()
    for video in sorted(media_dir.iterdir()):
        if video.suffix in (".mp4", ".mkv"):
            shutil.copy(video, tmp_path / "my-videos" / video.name)
    (tmp_path / "my-robot").mkdir()
    shutil.copy(media_dir / "issue-134-rotate.mp4", tmp_path / "my-robot" / "sweep.mp4")
    shutil.copy(media_dir / "counter.mp4", tmp_path / "my-robot" / "still.mp4")
    (tmp_path / "my-templates.toml").write_text(readme_block("readme-own-templates", "toml"))
    for line in readme_commands("readme-own-videos"):
        run_vidskill(line, tmp_path)
    out = tmp_path / "my-out"
    videos = sorted(p.stem for p in (tmp_path / "my-videos").iterdir())
    assert sorted(p.stem for p in (out / "segments").glob("*.json")) == videos
    for name in videos:
        assert (out / "clips" / f"{name}-scene-001.mp4").stat().st_size > 0
        assert (out / "clips" / f"{name}.edl").is_file()
    rankings = json.loads((out / "ranking.json").read_text())
    assert [r["skill"] for r in rankings] == ["wave the tool", "scan the room"]
    assert sorted(rankings[0]["templates"]) == ["still", "sweep"]
    page = (out / "report" / "index.html").read_text()
    assert "wave the tool" in page and page.count("<video") == len(list(
        (out / "report" / "media").glob("*.mp4")))
    # counter.mp4 only changes its digits: its clip has no motion, so the page says it has no
    # nearest clips instead of failing (flow-profile embeds a still clip as zeros)
    assert "nothing moves in this clip: no nearest clips" in page
