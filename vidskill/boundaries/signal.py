"""What the SBD predictor reads: an encoder's feature blocks, reduced and weighed on the corpus.

An encoder may declare `blocks` in its settings, `[[name, size, pca], ...]` in column order
(motion-kin: 7 kinematics, 1024 appearance pixels reduced to 8). `SignalTransform.fit`
learns, without labels, a PCA per block that asks for one and each resulting column's
spread; `apply` standardises every block and divides it by sqrt(its width), so each block
carries the same total variance whatever its dimension (a 1024-pixel block would otherwise
drown 7 kinematics). Features without `blocks` pass through unchanged. The fitted transform
travels in the predictor's card, so a predictor kept in a store reads new videos the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vidskill.encoders.base import Features

# Rows a PCA is fitted on at most (evenly spaced over the corpus): the components of an
# hour of 20 fps video are as good from 50,000 rows and the SVD stays in seconds.
MAX_ROWS = 50_000


@dataclass(frozen=True)
class Block:
    """Columns [start, stop) of the raw features; PCA `mean`/`components` (None: kept as is);
    `scale` of each output column."""

    start: int
    stop: int
    mean: np.ndarray | None
    components: np.ndarray | None
    scale: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = x[:, self.start:self.stop].astype(np.float64)
        if self.components is not None:
            y = (y - self.mean) @ self.components.T
        return y / self.scale / np.sqrt(len(self.scale))


@dataclass(frozen=True)
class SignalTransform:
    """Per-block PCA and scaling fitted on a corpus (see module doc); `dim` is the input's."""

    dim: int
    blocks: tuple[Block, ...]

    @staticmethod
    def fit(corpus: Sequence[Features]) -> SignalTransform | None:
        """The transform for these features, or None when their encoder declares no blocks."""
        videos = [f for f in corpus if len(f)]
        spec = videos[0].settings.get("blocks") if videos else None
        if not spec:
            return None
        x = np.concatenate([f.data for f in videos])
        if len(x) > MAX_ROWS:
            x = x[np.linspace(0, len(x) - 1, MAX_ROWS).astype(np.int64)]
        blocks, start = [], 0
        for _, size, pca in spec:
            y = x[:, start:start + int(size)].astype(np.float64)
            mean = components = None
            if pca:
                mean = y.mean(0)
                _, _, vt = np.linalg.svd(y - mean, full_matrices=False)
                components = vt[:int(pca)]
                y = (y - mean) @ components.T
            scale = np.maximum(y.std(0), 1e-6)
            blocks.append(Block(start, start + int(size), mean, components, scale))
            start += int(size)
        if start != x.shape[1]:
            raise ValueError(f"feature blocks {spec} cover {start} columns, the features "
                             f"have {x.shape[1]}")
        return SignalTransform(int(x.shape[1]), tuple(blocks))

    def apply(self, features: Features) -> Features:
        """`features` as the predictor reads them."""
        features.check_dim(self.dim)
        x = np.concatenate([b(features.data) for b in self.blocks], 1) if len(features) else \
            np.zeros((0, sum(len(b.scale) for b in self.blocks)))
        return Features(x.astype(np.float32), features.starts, features.ends, features.encoder,
                        features.settings, features.source)

    def to_dict(self) -> dict:
        """JSON-ready, for the predictor's card."""
        def arr(a):
            return None if a is None else np.asarray(a, np.float64).round(7).tolist()
        return {"dim": self.dim, "blocks": [
            {"start": b.start, "stop": b.stop, "mean": arr(b.mean),
             "components": arr(b.components), "scale": arr(b.scale)} for b in self.blocks]}

    @staticmethod
    def from_dict(doc: dict) -> SignalTransform:
        """Back from `to_dict`."""
        def arr(a):
            return None if a is None else np.asarray(a, np.float64)
        return SignalTransform(int(doc["dim"]), tuple(
            Block(int(b["start"]), int(b["stop"]), arr(b["mean"]), arr(b["components"]),
                  arr(b["scale"])) for b in doc["blocks"]))
