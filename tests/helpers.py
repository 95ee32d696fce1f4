"""Helpers shared by test modules (conftest holds the shared fixtures)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`vidskill ARGS` in a fresh interpreter from the repo root, output captured."""
    return subprocess.run([sys.executable, "-m", "vidskill.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)
