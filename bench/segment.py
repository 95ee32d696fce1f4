"""Throughput of SBD segmentation: predictor + rule windows/s against the encoder's windows/s.

Encodes a synthetic video with the segmenting encoder (flow-hof, 1 s windows every 0.1 s),
then runs `PredictionErrorDetector.detect` with the shipped demo predictor on those
features (its GRU in numpy, on the CPU). Prints both rates and their ratio: how many times faster
the detector is than the encoder that feeds it.

    .venv/bin/python bench/segment.py --minutes 1
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from vidskill.boundaries import get_detector
from vidskill.demo.corpus import write_long_video
from vidskill.segment import segment_encoder, video_features


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3, help="detector runs (best is kept)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = write_long_video(Path(tmp) / "bench.mp4", minutes=args.minutes)
        t0 = time.perf_counter()
        features = video_features(video.path, segment_encoder())
        encode_s = time.perf_counter() - t0
    detector = get_detector("sbd")
    detector.detect(features)  # warm-up: load, first kernels
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        boundaries = detector.detect(features)
        best = min(best, time.perf_counter() - t0)
    n = len(features)
    enc_rate, det_rate = n / encode_s, n / best
    print(f"{args.minutes:g} min video, {n} windows")
    print(f"encoder  flow-hof (cpu)     {enc_rate:10.0f} windows/s")
    print(f"detector sbd (numpy)        {det_rate:10.0f} windows/s, "
          f"{len(boundaries.times)} boundaries")
    print(f"ratio detector/encoder      {det_rate / enc_rate:10.1f}x")


if __name__ == "__main__":
    main()
