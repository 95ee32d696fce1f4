"""Skill boundary detectors behind one protocol, and their registry.

`get_detector("sbd" | "novelty" | "uniform", **settings)` builds one; a new detector is one
file here and one line in `_REGISTRY`.
"""

from __future__ import annotations

from importlib import import_module

from vidskill.boundaries.base import Boundaries, BoundaryDetector, Segment

_REGISTRY = {
    "sbd": "vidskill.boundaries.sbd:PredictionErrorDetector",
    "novelty": "vidskill.boundaries.novelty:NoveltyDetector",
    "uniform": "vidskill.boundaries.uniform:UniformDetector",
}


def available_detectors() -> list[str]:
    """Names `get_detector` accepts."""
    return sorted(_REGISTRY)


def get_detector(name: str, **settings) -> BoundaryDetector:
    """A detector by registry name, built with `settings` (its constructor's arguments)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown detector {name!r}; choose one of {available_detectors()}")
    module, cls = _REGISTRY[name].split(":")
    return getattr(import_module(module), cls)(**settings)


__all__ = ["Boundaries", "BoundaryDetector", "Segment", "available_detectors", "get_detector"]
