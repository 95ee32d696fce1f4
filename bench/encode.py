"""Flow and encoder throughput, each as a ratio to decode-only throughput of the same video.

Flow: pairs/s of DIS (each preset) and RAFT small/large (random weights: speed only) at
160 and 224 px short side; a ratio of 1.0 means flow keeps up with decoding (a pair needs
one new frame). Flow encoders: pairs/s on flow already computed, and their time as a share
of DIS medium's. Video encoders: clips/s (one window of `clip_len` frames) against decoding
the same number of frames. Uses the GPU when there is one. Runs ../shared/media/counter.mp4
(1080p) when present, else a demo-corpus clip. Prints tables; no assertions.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from vidskill._torch import pick_device
from vidskill.encoders import get_encoder
from vidskill.flow import DIS_PRESETS, DISFlow, RAFTFlow
from vidskill.video import Frames, open_video

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media" / "counter.mp4"
SIZES = (160, 224)
VIDEO_MODELS = ("r3d_18", "r2plus1d_18", "mc3_18", "s3d", "mvit_v2_s")
FLOW_ENCODERS = ("flow-hof", "flow-motion", "flow-profile")


def source_video(tmp: Path) -> Path:
    """The real 1080p test video, or a clip of the demo corpus when it is absent."""
    if MEDIA.is_file():
        return MEDIA
    from vidskill.demo.corpus import generate_corpus

    corpus = generate_corpus(tmp, seed=0, n_long_train=0, n_long_test=0, clips_per_skill=1)
    return corpus.select(kind="clip")[0].path


def decode(path: Path, size: int, repeats: int) -> tuple[float, Frames]:
    """Best frames/s of decoding the whole video at `size`, and the frames."""
    best, frames = 0.0, None
    for _ in range(repeats):
        start = time.perf_counter()
        with open_video(path, size=size) as reader:
            frames = reader.read()
        best = max(best, len(frames) / (time.perf_counter() - start))
    return best, frames


def timed(fn, repeats: int) -> float:
    """Best wall time of `repeats` calls (best of n damps a shared machine)."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_flow(path: Path, repeats: int, raft_pairs: int) -> list[tuple]:
    rows = []
    for size in SIZES:
        fps_decode, frames = decode(path, size, repeats)
        estimators = [(f"dis-{p}", DISFlow(p), len(frames)) for p in DIS_PRESETS]
        estimators += [(f"raft-{m}", RAFTFlow(m, weights=None, batch_size=raft_pairs),
                        raft_pairs + 1) for m in ("small", "large")]
        for name, est, n in estimators:
            run = frames.slice(0, n)
            pairs_s = (n - 1) / timed(lambda est=est, run=run: est(run), repeats)
            rows.append((name, f"{frames.size[0]}x{frames.size[1]}", pairs_s, fps_decode,
                         pairs_s / fps_decode))
    return rows


def bench_flow_encoders(path: Path, repeats: int) -> list[tuple]:
    """Pairs/s of each flow encoder on flow already computed (DIS medium, 160 px), and the
    ratio to computing that flow."""
    _, frames = decode(path, 160, repeats)
    dis = DISFlow("medium")
    flow_s = timed(lambda: dis(frames), repeats)
    flow = dis(frames)
    rows = []
    for name in FLOW_ENCODERS:
        enc = get_encoder(name)
        seconds = timed(lambda enc=enc: enc.encode_flow(flow, frames=frames), repeats)
        rows.append((name, len(flow) / seconds, seconds / flow_s))
    return rows


def bench_models(path: Path, repeats: int, clips: int) -> list[tuple]:
    rows = []
    fps_decode, frames = decode(path, 160, repeats)
    for name in VIDEO_MODELS:
        enc = get_encoder(name, weights=None, window=1.6, stride=1.6)
        n = enc.clip_len * clips
        idx = np.arange(n) % len(frames)
        run = Frames(frames.data[idx], np.arange(n) / 10.0, idx, frames.source, 10.0)
        clips_s = clips / timed(lambda enc=enc, run=run: enc.encode(run), repeats)
        decode_clips_s = fps_decode / enc.clip_len
        rows.append((name, clips_s, decode_clips_s, clips_s / decode_clips_s))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--raft-pairs", type=int, default=2, help="pairs per RAFT timing")
    parser.add_argument("--clips", type=int, default=1, help="clips per video-model timing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = source_video(Path(tmp))
        print(f"video: {path.name}   device: {pick_device()}")
        print(f"\n{'flow':<12}{'size':>9}{'pairs/s':>10}{'decode f/s':>12}{'ratio':>8}")
        for name, size, pairs_s, dec, ratio in bench_flow(path, args.repeats, args.raft_pairs):
            print(f"{name:<12}{size:>9}{pairs_s:>10.2f}{dec:>12.1f}{ratio:>8.3f}")
        print(f"\n{'flow encoder':<14}{'pairs/s':>10}{'time / DIS medium':>19}   (160 px)")
        for name, pairs_s, share in bench_flow_encoders(path, args.repeats):
            print(f"{name:<14}{pairs_s:>10.1f}{share:>19.3f}")
        print(f"\n{'encoder':<12}{'clips/s':>10}{'decode clips/s':>16}{'ratio':>8}   (160 px)")
        for name, clips_s, dec, ratio in bench_models(path, args.repeats, args.clips):
            print(f"{name:<12}{clips_s:>10.3f}{dec:>16.2f}{ratio:>8.4f}")


if __name__ == "__main__":
    main()
