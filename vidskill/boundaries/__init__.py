"""Skill boundary detectors behind one base class, and their registry.

`get_detector("sbd" | "novelty" | "uniform" | "uvd" | "twfinch", **settings)` builds one; a
new detector is one file here (a `BoundaryDetector` subclass) and one line in `DETECTORS`.
"""

from __future__ import annotations

from typing import Any

from vidskill._registry import Registry
from vidskill.boundaries.base import Boundaries, BoundaryDetector, Segment

DETECTORS: Registry[BoundaryDetector] = Registry("detector", {
    "sbd": "vidskill.boundaries.sbd:PredictionErrorDetector",
    "novelty": "vidskill.boundaries.novelty:NoveltyDetector",
    "uniform": "vidskill.boundaries.uniform:UniformDetector",
    "uvd": "vidskill.boundaries.uvd:UVDDetector",
    "twfinch": "vidskill.boundaries.twfinch:TWFinchDetector",
})


def available_detectors() -> list[str]:
    """Names `get_detector` accepts, sorted."""
    return sorted(DETECTORS.names())


def get_detector(name: str, **settings: Any) -> BoundaryDetector:
    """A detector by registry name, built with `settings` (its constructor's arguments)."""
    return DETECTORS.get(name, **settings)


__all__ = ["DETECTORS", "Boundaries", "BoundaryDetector", "Segment", "available_detectors",
           "get_detector"]
