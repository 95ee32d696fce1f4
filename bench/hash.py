"""What whole-file content hashing costs: `content_hash` of a 1 GiB file against reading it.

Writes random bytes to a temporary file (in --dir, default the system's temp folder), reads
it once to warm the page cache, then times, best of --repeat: a plain read, `content_hash`
(BLAKE2b over every byte) and sha256 for comparison; deletes the file. Prints seconds,
GB/s and each hash's time over the read's; no assertions (benchmarks are not tests).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

from vidskill.encoders.cache import content_hash


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def read(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass


def sha256(path: Path) -> None:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="file size in GiB (default 1)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    size = int(args.gib * (1 << 30))
    fd, name = tempfile.mkstemp(suffix=".bin", dir=args.dir)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            for _ in range(size >> 24):
                f.write(os.urandom(1 << 24))
        read(path)
        rows = [("read only", best(lambda: read(path), args.repeat)),
                ("content_hash (BLAKE2b)", best(lambda: content_hash(path), args.repeat)),
                ("sha256", best(lambda: sha256(path), args.repeat))]
    finally:
        path.unlink(missing_ok=True)
    base = rows[0][1]
    print(f"{size / (1 << 30):g} GiB file, best of {args.repeat}")
    for label, seconds in rows:
        print(f"{label:<24} {seconds:6.2f} s  {size / seconds / 1e9:5.2f} GB/s  "
              f"{seconds / base:5.1f}x read")


if __name__ == "__main__":
    main()
