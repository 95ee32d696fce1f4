"""Feature rows kept in a temporary file instead of memory, read back a block at a time.

`vidskill segment` keeps a video's windows only to fit a detector on some of them and cut
the video; SBD reads them through a reduction (15 values of motion-kin's 1031), a block of
rows at a time. Written to an unlinked temporary file (in TMPDIR) as they are encoded, they
cost disk (~80 KB per second of video for motion-kin) instead of memory, and `row_blocks`
hands the kernel each block's pages back once it is read, so memory does not grow with the
video. The file is freed when the last array mapping it is.
"""

from __future__ import annotations

import errno
import mmap
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from vidskill.errors import TempSpaceError

ROWS = 1024   # rows read at a time: 4 MB of 1031 float32 columns, 8 MB as float64


class RowSpill:
    """Float32 rows of `dim` columns appended to a temporary file; `array` maps them."""

    def __init__(self, dim: int):
        self.dim, self.n = int(dim), 0
        # open until `array` (unlinked already: dropped unread, it frees itself)
        self._file = tempfile.TemporaryFile(prefix="vidskill-rows-")  # noqa: SIM115

    def append(self, rows: np.ndarray) -> None:
        if rows.shape[1:] != (self.dim,):
            raise ValueError(f"rows of shape {rows.shape} cannot join {self.dim}-column rows")
        with _naming_the_folder():
            self._file.write(np.ascontiguousarray(rows, np.float32).tobytes())
        self.n += len(rows)

    def array(self) -> np.ndarray:
        """All rows written, read-only and mapped from the file (which is then closed; the
        mapping keeps it until the array and its views are gone)."""
        with _naming_the_folder():
            self._file.flush()
        if not self.n:
            self._file.close()
            return np.zeros((0, self.dim), np.float32)
        mapped = mmap.mmap(self._file.fileno(), self.n * self.dim * 4, access=mmap.ACCESS_READ)
        self._file.close()
        return np.frombuffer(mapped, np.float32).reshape(self.n, self.dim)


@contextmanager
def _naming_the_folder() -> Iterator[None]:
    """An OSError writing the file names its folder (the file itself has no name)."""
    try:
        yield
    except OSError as e:
        reason = ("no space left on the device" if e.errno == errno.ENOSPC
                  else e.strerror or str(e))
        raise TempSpaceError(
            e.errno, f"{tempfile.gettempdir()}: {reason} for the feature rows kept in a "
            "temporary file there (~80 KB per second of video while segmenting); free space "
            "there or set TMPDIR to a folder with more room") from e


def row_blocks(x: np.ndarray, rows: int = ROWS) -> Iterator[np.ndarray]:
    """`x`'s rows `rows` at a time; rows mapped from a file (`RowSpill.array`) are copied
    and their pages released after each block, so reading them all costs one block."""
    mapped = file_mapping(x)
    for a in range(0, len(x), rows):
        if mapped is None:
            yield x[a:a + rows]
            continue
        yield np.array(x[a:a + rows])
        if hasattr(mmap, "MADV_DONTNEED"):   # not on Windows: pages are left to the OS
            mapped.madvise(mmap.MADV_DONTNEED)


def file_mapping(x: np.ndarray) -> mmap.mmap | None:
    """The file mapping `x`'s memory belongs to, if any."""
    base = x.base
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):   # np.frombuffer's view of the mapping
        base = base.obj
    return base if isinstance(base, mmap.mmap) else None
