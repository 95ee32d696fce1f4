"""Fixtures shared by the test files."""

import os
import tempfile
from pathlib import Path

import pytest
from helpers import SHARED, shared_folder

# The user caches (features, the converted LLM) of this test session, in a folder of its
# own: tests never read or fill the caches of the person running them. Subprocesses inherit it.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="vidskill-test-cache-")
os.environ.pop("VIDSKILL_CACHE", None)


@pytest.fixture(scope="session")
def media_dir() -> Path:
    """The real videos in ../shared/media (counter.mp4 shows its own frame number)."""
    return shared_folder(SHARED / "media", "counter.mp4")


@pytest.fixture(scope="session")
def metaworld_dir() -> Path:
    """MetaWorld renders with simulator ground truth in ../shared/metaworld-dev (its README)."""
    return shared_folder(SHARED / "metaworld-dev", "labels.json")


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
