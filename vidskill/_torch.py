"""The one device picker for everything that runs a network (RAFT, video models, predictors,
the LLM prior)."""

from __future__ import annotations

_default: str | None = None


def set_default_device(device: str | None) -> None:
    """The device `pick_device(None)` returns from now on in this process (the CLI's
    --device); None restores the automatic choice."""
    global _default
    _default = device


def pick_device(device: str | None = None) -> str:
    """`device` when given, else the process default (`set_default_device`), else 'cuda'
    when a GPU is present, else 'cpu'."""
    if device or _default:
        return device or _default
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"

