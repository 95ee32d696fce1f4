"""Decode throughput of the decord and OpenCV backends, at native size and at 160 px short side.

Each cell streams the whole video through `open_video(...).chunks(10.0)`, opening included
(the OpenCV backend reads every timestamp when it opens), and reports frames per second.
Runs ../shared/media when present and one long video of the demo corpus. Prints a table
and the ratio decord/OpenCV; no assertions (benchmarks are not tests).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from vidskill.demo.corpus import generate_corpus
from vidskill.video import open_video

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
SIZES = (None, 160)


def throughput(path: Path, backend: str, size: int | None, repeats: int) -> float:
    """Best frames/s over `repeats` full streaming reads (best of n damps a shared machine)."""
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        with open_video(path, size=size, backend=backend) as reader:
            frames = sum(len(chunk) for chunk in reader.chunks(10.0))
        best = max(best, frames / (time.perf_counter() - start))
    return best


def videos(corpus_dir: Path) -> list[Path]:
    """The real media files, then the first long video of the demo corpus."""
    real = sorted(p for p in MEDIA.glob("*") if p.suffix in (".mp4", ".mkv")) if MEDIA.is_dir() else []
    corpus = generate_corpus(corpus_dir, seed=0)
    return [*real, next(v.path for v in corpus.videos if v.kind == "long")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="reads per cell; the best counts")
    parser.add_argument("--corpus", type=Path, help="demo corpus folder (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = videos(args.corpus or Path(tmp) / "corpus")
        header = f"{'video':<28} {'frames':>6} {'size':>9} {'decord f/s':>11} {'opencv f/s':>11} {'ratio':>6}"
        print(header)
        print("-" * len(header))
        for path in paths:
            with open_video(path) as reader:
                n, native = reader.info.frame_count, f"{reader.info.width}x{reader.info.height}"
            for size in SIZES:
                dec = throughput(path, "decord", size, args.repeats)
                cv = throughput(path, "opencv", size, args.repeats)
                label = native if size is None else f"{size}px"
                print(f"{path.name:<28} {n:>6} {label:>9} {dec:>11.0f} {cv:>11.0f} {dec / cv:>6.2f}")


if __name__ == "__main__":
    main()
