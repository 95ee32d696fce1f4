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
from vidskill.encoders.spill import row_blocks


@dataclass(frozen=True)
class Block:
    """Columns [start, stop) of the raw features; PCA `mean`/`components` (None: kept as is);
    `scale` of each output column."""

    start: int
    stop: int
    mean: np.ndarray | None
    components: np.ndarray | None
    scale: np.ndarray

    def project(self, x: np.ndarray) -> np.ndarray:
        """The block's columns of `x`, through its PCA if it has one."""
        y = x[:, self.start:self.stop].astype(np.float64)
        return y if self.components is None else (y - self.mean) @ self.components.T

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.project(x) / self.scale / np.sqrt(len(self.scale))


# Marks features a SignalTransform has made (a detector does not transform them again).
VIEWED = "signal_view"


@dataclass(frozen=True)
class SignalTransform:
    """Per-block PCA and scaling fitted on a corpus (see module doc); `dim` is the input's."""

    dim: int
    blocks: tuple[Block, ...]

    @staticmethod
    def fit(corpus: Sequence[Features]) -> SignalTransform | None:
        """The transform for these features, or None when their encoder declares no blocks.
        Statistics are summed a block of rows at a time (`row_blocks`; a block's PCA from
        its covariance), so an hour of 1031-dimensional windows is never copied into one
        array, nor held when they are mapped from a file."""
        videos = [f for f in corpus if len(f)]
        spec = videos[0].settings.get("blocks") if videos else None
        if not spec:
            return None
        dim = videos[0].dim
        if sum(int(size) for _, size, _ in spec) != dim:
            raise ValueError(f"feature blocks {spec} do not cover the {dim} feature columns")
        n = sum(len(f) for f in videos)

        def rows():
            for f in videos:
                yield from row_blocks(f.data)

        blocks, start = [], 0
        for _, size, pca in spec:
            stop = start + int(size)
            mean = sum(r[:, start:stop].sum(0, dtype=np.float64) for r in rows()) / n
            components = None
            if pca:
                cov = np.zeros((stop - start, stop - start))
                for r in rows():
                    c = r[:, start:stop].astype(np.float64) - mean
                    cov += c.T @ c
                _, vectors = np.linalg.eigh(cov / n)
                components = vectors[:, ::-1][:, :int(pca)].T
            block = Block(start, stop, mean if pca else None, components, np.ones(1))
            mu = sum(block.project(r).sum(0) for r in rows()) / n
            var = sum(((block.project(r) - mu) ** 2).sum(0) for r in rows()) / n
            blocks.append(Block(start, stop, block.mean, components,
                                np.maximum(np.sqrt(var), 1e-6)))
            start = stop
        return SignalTransform(dim, tuple(blocks))

    def apply(self, features: Features) -> Features:
        """`features` as the predictor reads them."""
        features.check_dim(self.dim)
        width = sum(len(b.scale) for b in self.blocks)
        x = np.concatenate([np.concatenate([b(r) for b in self.blocks], 1).astype(np.float32)
                            for r in row_blocks(features.data)]) if len(features) else \
            np.zeros((0, width), np.float32)
        return Features(x.astype(np.float32), features.starts, features.ends, features.encoder,
                        {**features.settings, VIEWED: True}, features.source)

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
