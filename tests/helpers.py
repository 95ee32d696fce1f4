"""Helpers shared by test modules (conftest holds the shared fixtures)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vidskill.encoders.base import Features

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"  # real footage beside the checkout: media/, metaworld-dev/
HOP = 0.1  # seconds between the windows of `piecewise_features`


def in_ci() -> bool:
    """True under CI (`CI=true`, as .ci/run and the common CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def shared_folder(folder: Path, probe: str) -> Path:
    """`folder` when it holds `probe`; else skip the test with the reason, or under CI fail
    it: CI must run the real-footage tests, never pass by skipping all of them."""
    if (folder / probe).exists():
        return folder
    reason = (f"real footage not found: {folder / probe} (the repository's ../shared/"
              f"{folder.name})")
    if in_ci():
        pytest.fail(f"{reason}; CI must provide it", pytrace=False)
    pytest.skip(reason)


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`vidskill ARGS` in a fresh interpreter from the repo root, output captured."""
    return subprocess.run([sys.executable, "-m", "vidskill.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)


def piecewise_features(seed: int, n_seg: int = 10, dim: int = 16) -> tuple[Features, np.ndarray]:
    """Piecewise-stationary features: each segment oscillates around one of 6 prototypes
    with its own period, plus noise; returns the features and the true change times."""
    rng = np.random.default_rng(seed)
    protos = np.random.default_rng(1234).normal(size=(6, dim))
    xs, changes, label = [], [], int(rng.integers(6))
    for _ in range(n_seg):
        n = int(rng.integers(30, 90))
        t = np.arange(n)
        wave = 1 + 0.5 * np.sin(2 * np.pi * t / rng.uniform(5, 15) + rng.uniform(0, 6.3))
        xs.append(protos[label] * wave[:, None] + 0.3 * rng.normal(size=(n, dim)))
        changes.append(sum(len(x) for x in xs) * HOP)
        label = (label + int(rng.integers(1, 6))) % 6
    data = np.concatenate(xs).astype(np.float32)
    starts = np.arange(len(data)) * HOP
    return Features(data, starts, starts + HOP, "synthetic", source=f"seed{seed}"), \
        np.array(changes[:-1])
