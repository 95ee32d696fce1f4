"""Run `vidskill ARGS` and SIGKILL this process at one chosen point of the ingest.

Usage: python tests/fault_inject.py POINT N ARGS...: the process kills itself (a real
SIGKILL, nothing is mocked) at the N-th time it reaches POINT; tests/test_faults.py resumes
the store afterwards and compares it with an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import sys

import faiss

import vidskill._files as files
import vidskill.ingest as ingest_module
from vidskill.cli import main
from vidskill.store.catalog import Catalog


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _nth(n: int, fn, when: str = "before"):
    """`fn` that kills the process before (or after) its n-th call."""
    calls = 0

    def wrapped(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == n and when == "before":
            _die()
        out = fn(*args, **kwargs)
        if calls == n and when == "after":
            _die()
        return out

    return wrapped


def _torn_write(n: int):
    """os.replace for vidskill._files that dies at its n-th call: the new file is written
    and fsynced under its temporary name, never renamed."""
    return _nth(n, os.replace)


def _index_write(n: int):
    """faiss.write_index that writes the temporary file, then dies before the rename."""
    return _nth(n, faiss.write_index, when="after")


POINTS = {
    # name: how to install the kill at the n-th occurrence
    "lock": lambda n: setattr(Catalog, "_migrate_hashes", _nth(n, Catalog._migrate_hashes)),
    "settings": lambda n: setattr(Catalog, "use_settings", _nth(n, Catalog.use_settings)),
    "hash": lambda n: setattr(ingest_module, "content_hash", _nth(n, ingest_module.content_hash)),
    "reserve": lambda n: setattr(Catalog, "_reserve", _nth(n, Catalog._reserve, "after")),
    "feature-file": lambda n: setattr(files.os, "replace", _torn_write(n)),
    "in-transaction": lambda n: setattr(Catalog, "_bump_generation",
                                        _nth(n, Catalog._bump_generation)),
    "committed": lambda n: setattr(Catalog, "add_video", _nth(n, Catalog.add_video, "after")),
    "failure": lambda n: setattr(Catalog, "record_failure", _nth(n, Catalog.record_failure)),
    "index-file": lambda n: setattr(faiss, "write_index", _index_write(n)),
}

if __name__ == "__main__":
    point, n, *args = sys.argv[1:]
    POINTS[point](int(n))
    sys.exit(main(args))
