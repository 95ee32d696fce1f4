"""Decoding ahead of the consumer: a thread decodes the next chunks while the caller computes
on the current one (flow, features), so decoding and compute overlap on two cores."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

from vidskill.video.reader import Frames, VideoReader

T = TypeVar("T")


class PrefetchReader(VideoReader):
    """A VideoReader whose chunks a thread decodes `depth` ahead, overlapping decode and compute.

    Nothing overlaps the first chunk (10 s by default: about 0.7 s of decoding at 720p and
    30 fps, where the compute on its frames waits), so it is decoded on `first_decoders` decoders at once.
    """

    depth = 2
    first_decoders = min(2, os.cpu_count() or 1)

    def chunks(self, seconds: float = 10.0, overlap: float = 0.0, *,
               first_decoders: int | None = None) -> Iterator[Frames]:
        decoders = self.first_decoders if first_decoders is None else first_decoders
        return prefetch(super().chunks(seconds, overlap, first_decoders=decoders), self.depth)


def prefetch(items: Iterator[T], depth: int) -> Iterator[T]:
    """Yield `items` while a thread produces up to `depth` of them ahead (errors re-raised here)."""
    if depth < 1:
        raise ValueError(f"prefetch depth must be at least 1, got {depth}")
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def feed() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as e:  # handed to the consumer, raised there
            put((_END, e))
            return
        put((_END, None))

    thread = threading.Thread(target=feed, name="vidskill-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        thread.join()


_END = object()
