"""Running `process_video` over many sources on this machine: in process or a process pool.

Workers die with the process that started them, however it ends: on Linux the kernel sends
them SIGKILL when it dies (PR_SET_PDEATHSIG), elsewhere a thread in each worker watches for
it; an exception or a signal turned into one (the CLI's SIGTERM) kills them at once rather
than waiting for the videos in flight. Ctrl-C is left to the parent, which stops them.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from vidskill.ingest.manifest import Source
from vidskill.ingest.stages import IngestSettings, VideoResult


class Executor(Protocol):
    """Runs `fn(item, settings)` for every item; yields (position, result) as each finishes."""

    def map(self, fn: Callable[[Source, IngestSettings], VideoResult], items: Sequence[Source],
            settings: IngestSettings) -> Iterator[tuple[int, VideoResult]]: ...


PR_SET_PDEATHSIG = 1  # linux/prctl.h
# How often a worker without PR_SET_PDEATHSIG checks that its parent is alive (seconds).
PARENT_POLL = 0.5


def _worker_start(parent: int) -> None:
    """Run first in each worker: die with `parent`, ignore Ctrl-C (the parent handles it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    else:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL)
    os._exit(1)


class LocalExecutor:
    """In this process (workers <= 1) or on a pool of `workers` spawned processes.

    At most `window` videos past the oldest unfinished one are in flight, which bounds the
    results held back for in-order commits. When a worker dies the pool is restarted: the
    first video reported lost is recorded as failed and the others in flight run again.
    """

    def __init__(self, workers: int = 1, window: int | None = None):
        self.workers = max(1, int(workers))
        self.window = window or 4 * self.workers

    def map(self, fn, items, settings) -> Iterator[tuple[int, VideoResult]]:
        if self.workers == 1:
            for i, item in enumerate(items):
                yield i, fn(item, settings)
            return
        context = multiprocessing.get_context("spawn")
        new_pool = lambda: ProcessPoolExecutor(  # noqa: E731
            self.workers, mp_context=context, initializer=_worker_start,
            initargs=(os.getpid(),))
        pool = new_pool()
        running: dict[Future, int] = {}
        nxt = 0
        finished = False
        try:
            while nxt < len(items) or running:
                oldest = min([*running.values(), nxt])
                while nxt < len(items) and nxt < oldest + self.window:
                    running[pool.submit(fn, items[nxt], settings)] = nxt
                    nxt += 1
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    i = running.pop(future, None)
                    if i is None:  # resubmitted after the pool broke
                        continue
                    try:
                        yield i, future.result()
                    except BrokenProcessPool:
                        pool.shutdown(wait=False, cancel_futures=True)
                        pool = new_pool()
                        for f, j in list(running.items()):
                            running.pop(f)
                            running[pool.submit(fn, items[j], settings)] = j
                        yield i, VideoResult(items[i], error=(
                            "a worker process died while this video was being processed (a "
                            "decoder crash or out of memory); check it with `vidskill info`"))
            finished = True
        finally:
            if not finished:  # an error, a signal or a caller that stopped reading
                _kill_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """SIGKILL a pool's workers now (ProcessPoolExecutor can only wait for them before 3.14)."""
    for process in list((pool._processes or {}).values()):
        with contextlib.suppress(OSError, ValueError):
            process.kill()
