"""The one device picker for everything that runs a network (RAFT, video models, predictors)."""

from __future__ import annotations


def pick_device(device: str | None = None) -> str:
    """`device` when given, else 'cuda' when a GPU is present, else 'cpu'."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
