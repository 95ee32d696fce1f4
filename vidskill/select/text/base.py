"""What every text scorer shares: the `TextScorer` protocol, errors, where packages keep models."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from vidskill.errors import VidskillError

LLM_EXTRA = "pip install 'vidskill[llm]'"


class TextBackendUnavailableError(VidskillError):
    """A text scorer's package, model file or server feature is missing; says what to install."""


class TextBackendError(VidskillError):
    """A text scorer's backend failed while scoring (server error, unreachable server)."""


@runtime_checkable
class TextScorer(Protocol):
    """Scores template descriptions for a skill: one float per description, higher = better."""

    name: str

    def score(self, skill: str, descriptions: Sequence[str]) -> np.ndarray: ...


def _package_dir(module: str) -> Path | None:
    """Folder of an installed package (where model-shipping packages keep their files)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))
