"""Progress bars for long work: on stderr, only when stderr is a terminal, and off for the
whole process with `set_progress(False)` (the CLI's --no-progress and -q). Also silences
the progress output of third-party libraries (model loading), which is never vidskill's.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")
_enabled = True


def set_progress(enabled: bool) -> None:
    """Allow (True) or forbid (False) every vidskill progress bar in this process."""
    global _enabled
    _enabled = enabled


def shown(wanted: bool = True) -> bool:
    """Whether a bar the caller wants would be drawn: allowed, and stderr is a terminal."""
    return wanted and _enabled and sys.stderr.isatty()


def progress_bar(iterable: Iterable[T] | None = None, wanted: bool = True, **kwargs: Any
                 ) -> tqdm:
    """A tqdm bar over `iterable` on stderr, drawn only when `shown(wanted)`."""
    return tqdm(iterable, disable=not shown(wanted), file=sys.stderr, dynamic_ncols=True,
                **kwargs)


# Environment switches read by Hugging Face libraries when they are imported.
_QUIET_ENV = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error",
              "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1", "TOKENIZERS_PARALLELISM": "false"}


def quiet_third_party() -> None:
    """Silence other libraries' progress bars and chatter (model loading, tokenizers):
    environment switches for those not imported yet, their own switches for those that
    are. vidskill's own bars and warnings are unaffected."""
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for name in ("transformers", "huggingface_hub", "sentence_transformers", "filelock",
                 "urllib3", "accelerate"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
