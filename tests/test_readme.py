"""The README's command block runs as written, in order, from a fresh working folder."""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"<!-- readme-commands -->\s*```bash\n(.*?)```", re.S)


def readme_commands() -> list[str]:
    match = BLOCK.search((ROOT / "README.md").read_text())
    assert match, "README.md lost its readme-commands block"
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_readme_shows_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert "make demo" in text and "make test" in text
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
def test_readme_commands_run(tmp_path):
    shutil.copytree(ROOT / "pipelines", tmp_path / "pipelines")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    for line in readme_commands():
        argv = shlex.split(line)
        assert argv[0] == "vidskill", line
        done = subprocess.run([sys.executable, "-m", "vidskill.cli", *argv[1:]], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        assert (done.stdout + done.stderr).strip(), f"{line} printed nothing"
        if argv[1] == "query" or argv[1] == "run":
            assert "human/clips/" in done.stdout, f"{line} found no clip:\n{done.stdout}"
