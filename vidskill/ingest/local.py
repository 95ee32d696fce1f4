"""Running `process_video` over many sources on this machine: in process or a process pool."""

from __future__ import annotations

import multiprocessing
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
        pool = ProcessPoolExecutor(self.workers, mp_context=context)
        running: dict[Future, int] = {}
        nxt = 0
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
                        pool = ProcessPoolExecutor(self.workers, mp_context=context)
                        for f, j in list(running.items()):
                            running.pop(f)
                            running[pool.submit(fn, items[j], settings)] = j
                        yield i, VideoResult(items[i], error=(
                            "a worker process died while this video was being processed (a "
                            "decoder crash or out of memory); check it with `vidskill info`"))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
