"""Per-frame actions stored beside a video (`<stem>.actions.npy` or `.csv`), one per window.

Actions are integer ids, one per native frame. The CSV has a header with an `action`
column and optionally `time` (s) or `frame` columns; without them row k is frame k.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from vidskill.encoders.base import Features
from vidskill.errors import ConfigError


def actions_file(video: str | os.PathLike) -> Path | None:
    """The actions file beside `video`, if there is one."""
    video = Path(video)
    for suffix in (".actions.npy", ".actions.csv"):
        candidate = video.with_name(video.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def load_actions(path: str | os.PathLike, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """(times in s, integer action per frame) from an .npy (row k at k/fps) or a CSV file."""
    path = Path(path)
    if path.suffix == ".npy":
        actions = np.load(path, allow_pickle=False)
        if actions.ndim != 1 or not np.issubdtype(actions.dtype, np.integer):
            raise ConfigError(f"{path}: expected a 1-D integer array of actions, one per frame, "
                              f"got {actions.dtype} {actions.shape}")
        return np.arange(len(actions)) / fps, actions.astype(np.int64)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "action" not in rows[0]:
        raise ConfigError(f"{path}: need a CSV header with an 'action' column (and optionally "
                          "'time' in seconds or 'frame')")
    try:
        actions = np.array([int(r["action"]) for r in rows], dtype=np.int64)
        if "time" in rows[0]:
            times = np.array([float(r["time"]) for r in rows])
        elif "frame" in rows[0]:
            times = np.array([int(r["frame"]) for r in rows]) / fps
        else:
            times = np.arange(len(rows)) / fps
    except ValueError as e:
        raise ConfigError(f"{path}: actions must be integers and times numbers ({e})") from e
    return times, actions


def actions_per_window(times: np.ndarray, actions: np.ndarray, features: Features) -> np.ndarray:
    """The action on screen at each window's centre (-1 before the first action)."""
    idx = np.searchsorted(times, features.times + 1e-9, side="right") - 1
    out = np.where(idx >= 0, actions[np.clip(idx, 0, len(actions) - 1)], -1)
    return out.astype(np.int64)
