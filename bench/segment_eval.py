"""Boundary F1 of every registered detector on the held-out long human videos of the demo corpus.

The predictor is trained on the train split of the same corpus seed (or, with --shipped,
is the one shipped for the encoder, see models/registry.toml); the uniform baseline cuts
at the mean ground-truth segment length of the train split, the best a fixed length can
do; the others (novelty, uvd, twfinch, ...) run with their defaults. Prints one table
(metrics as fractions).

    .venv/bin/python bench/segment_eval.py --seeds 0 1 --corpus /tmp/vidskill-corpus
    .venv/bin/python bench/segment_eval.py --seeds 0 1 2 --encoder skill-tcn --window 0.5
    .venv/bin/python bench/segment_eval.py --seeds 0 --encoder appearance --detectors uvd twfinch
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from vidskill.boundaries import DETECTORS, get_detector
from vidskill.boundaries.base import Segment
from vidskill.boundaries.predictor import TrainSettings, train_predictor
from vidskill.demo.corpus import generate_corpus
from vidskill.metrics import SegmentationReport, evaluate_segmentation
from vidskill.segment import segment_encoder, video_features

# The encoder this table was first measured with (README: the demo's figures): flow-hof,
# 1 s windows every 0.1 s at 10 fps, SBD with the burst refinement and min_len 1 s.
ENCODER = ("flow-hof", {"window": 1.0, "stride": 0.1})


def split_features(corpus, split: str, encoder, cache: Path):
    """(truth, features) of the corpus's long human videos of one split."""
    return [(v, video_features(v.path, encoder, cache=cache))
            for v in corpus.select(domain="human", kind="long", split=split)]


def truth_segments(v) -> list[Segment]:
    return [Segment(s.start, s.end, s.label) for s in v.segments]


def segment_table(root: Path, seeds: list[int], encoder=ENCODER,
                  tolerance: float = 0.5, steps: int = 400, shipped: bool = False,
                  gap: float | None = None, detectors: list[str] | None = None
                  ) -> dict[str, SegmentationReport]:
    """Metrics per detector (default: every registered one), pooled over the test splits of
    the corpora with these seeds."""
    names = list(DETECTORS) if detectors is None else detectors
    runs: dict[str, list] = {name: [] for name in names}
    for seed in seeds:
        corpus = generate_corpus(root / f"seed{seed}", seed=seed)
        cache = root / f"seed{seed}" / "features"
        train = split_features(corpus, "train", encoder, cache)
        test = split_features(corpus, "test", encoder, cache)
        mean_len = float(np.mean([s.end - s.start for v, _ in train for s in v.segments]))
        built = {name: get_detector(name) for name in names if name not in ("sbd", "uniform")}
        if "uniform" in names:
            built["uniform"] = get_detector("uniform", length=mean_len)
        if "sbd" in names:
            predictor = None if shipped else train_predictor(
                [f for _, f in train], settings=TrainSettings(steps=steps, seed=seed))
            built["sbd"] = get_detector("sbd", gap=gap, predictor=predictor or "shipped",
                                        refine=True, min_len=1.0)
        for name in names:
            det = built[name]
            for v, f in test:
                b = det.detect(f)
                runs[name].append((b.segments(), truth_segments(v), v.duration))
    return {name: evaluate_segmentation(r, tolerance=tolerance) for name, r in runs.items()}


def format_table(reports: dict[str, SegmentationReport]) -> str:
    """One row per detector."""
    cols = list(next(iter(reports.values())).as_dict())
    lines = [f"{'detector':<9} " + " ".join(f"{c:>16}" for c in cols)]
    for name, rep in reports.items():
        lines.append(f"{name:<9} " + " ".join(f"{v:>16.3f}" for v in rep.as_dict().values()))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("/tmp/vidskill-segment-eval"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--encoder", default=ENCODER[0])
    ap.add_argument("--stride", type=float, default=ENCODER[1]["stride"])
    ap.add_argument("--window", type=float, help="window length (s); default: the encoder's")
    ap.add_argument("--tolerance", type=float, default=0.5)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--shipped", action="store_true",
                    help="use the predictor shipped for the encoder instead of training one")
    ap.add_argument("--gap", type=float, help="fixed SBD GAP in nats; default: calibrated")
    ap.add_argument("--detectors", nargs="+", choices=DETECTORS.names(),
                    help="detectors to compare (default: every registered one)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    window = {} if args.window is None else {"window": args.window}
    encoder = segment_encoder(args.encoder, stride=args.stride, **window)
    reports = segment_table(args.corpus, args.seeds, encoder, args.tolerance, args.steps,
                            args.shipped, args.gap, args.detectors)
    n = next(iter(reports.values()))
    print(f"seeds {args.seeds}, {n.videos} test videos, "
          f"{n.boundary_abs.tp + n.boundary_abs.fn} true boundaries, "
          f"{time.perf_counter() - t0:.0f} s")
    print(format_table(reports))


if __name__ == "__main__":
    main()
