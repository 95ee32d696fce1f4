"""Fixtures shared by the test files."""

import os
import tempfile
from pathlib import Path

import pytest

# The user caches (features, the converted LLM) of this test session, in a folder of its
# own: tests never read or fill the caches of the person running them. Subprocesses inherit it.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="vidskill-test-cache-")
os.environ.pop("VIDSKILL_CACHE", None)

MEDIA_DIR = Path(__file__).resolve().parents[2] / "shared" / "media"


@pytest.fixture(scope="session")
def media_dir() -> Path:
    """The real videos in ../shared/media (counter.mp4 shows its own frame number)."""
    if not (MEDIA_DIR / "counter.mp4").is_file():
        pytest.skip(f"real test media not found at {MEDIA_DIR} (../shared/media from the repo)")
    return MEDIA_DIR


@pytest.fixture
def torch_one_thread():
    """Small torch models gain nothing from threads; on a shared CPU they cost 10x."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def select_corpus(tmp_path_factory):
    """Two human clips per skill and one execution clip per template, no long videos."""
    from vidskill.demo.corpus import generate_corpus

    return generate_corpus(tmp_path_factory.getbasetemp() / "corpus-select", n_long_train=0,
                           n_long_test=0, clips_per_skill=2)


@pytest.fixture(scope="session")
def select_cache(tmp_path_factory):
    """A feature cache shared by the selection tests (same corpus, same features)."""
    return tmp_path_factory.getbasetemp() / "select-cache"
