"""End-to-end ingest speed as a ratio to decode-only speed, and peak memory against length.

Throughput: `process_video` (decode, flow, encoders, segmentation; default `IngestSettings`:
flow-profile and flow-motion at 10 fps for the store, cut as `vidskill segment` cuts:
shots, then SBD on motion-kin at the native rate, 160 px) on a long demo video, in
source-video seconds per wall second and frames/s, as a ratio to decoding the same file at
the same rate and size in the same run (target: >= 0.7). Both open the file at the rate the
settings decode at (`decode_rate`: native for the default cut) and their size, so both
resize inside the decoder; the decode columns name the backend and output size. SBD's
predictor is fitted beforehand, as `ingest` does once per store (`fit_on_corpus`: one more
decode of each long video, for the segmenting encoder alone); 'fit s' is that pass, and
'first' the ratio with it counted, i.e. a new store of this one video. Decode-only is `open_video`'s reader, one decoder; the pipeline's reader adds a
second decoder for its first chunk only (nothing overlaps that one with compute). One row per `--size` of the source video, WIDTHxHEIGHT[@FPS] (default 160x120, which
decodes almost for free, 1280x720, and 1280x720@30: camera footage is 30 fps, and every
native frame is decoded even though 10 fps are sampled). With a GPU, also
RAFT-small flow-hof + r3d_18 at 224 px as a ratio to RAFT-small flow-hof alone (random
weights: speed only).
Memory: a fresh subprocess runs `process_video` on videos of 1, 10 and 60 minutes
(`vidskill.demo.corpus.write_long_video`, cached) and reports its peak RSS (target: growth from
the shortest to the longest <= 10%; 'work' is the peak above the RSS at start).
`--rss-fps` lowers the sampling rate of those runs only, to keep an hour of video
affordable on a small CPU. Prints tables; no assertions.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from vidskill.demo.corpus import write_long_video
from vidskill.ingest import IngestSettings, process_video
from vidskill.ingest.manifest import Source
from vidskill.ingest.stages import fit_on_corpus
from vidskill.video import open_video

GPU_FLOW = {"method": "raft", "model": "small", "weights": None}


DEFAULT_SIZES = ("160x120", "1280x720", "1280x720@30")


def parse_size(text: str) -> tuple[int, int, float]:
    """'1280x720' -> (1280, 720, 10.0); '1280x720@30' -> (1280, 720, 30.0): source size and
    frame rate (10 fps unless given, the demo corpus's rate)."""
    try:
        dims, _, rate = text.lower().partition("@")
        w, h = (int(v) for v in dims.split("x"))
        fps = float(rate) if rate else 10.0
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"size must be WIDTHxHEIGHT or WIDTHxHEIGHT@FPS, got {text!r}") from None
    if w <= 0 or h <= 0 or not fps > 0:
        raise argparse.ArgumentTypeError(f"size and fps must be positive, got {text!r}")
    return w, h, fps


def long_video(cache: Path, minutes: float, size: tuple[int, int] = (160, 120),
               fps: float = 10.0) -> Path:
    """A cached demo long video of `minutes` at `size` and `fps` (written on first use)."""
    suffix = "" if tuple(size) == (160, 120) else f"-{size[0]}x{size[1]}"
    suffix += "" if fps == 10.0 else f"-{fps:g}fps"
    path = cache / f"long-{minutes:g}min{suffix}.mp4"
    if not path.exists():
        write_long_video(path, minutes, fps=fps, size=tuple(size))
    return path


def decode_only(path: Path, settings: IngestSettings) -> tuple[float, int, str]:
    """Seconds to decode the sampled frames in the pipeline's chunks, the frame count, and
    the reader's backend and output size (e.g. 'decord 213x160')."""
    start, frames = time.perf_counter(), 0
    with open_video(path, fps=settings.decode_rate, size=settings.size) as reader:
        for chunk in reader.chunks(settings.chunk_seconds):
            frames += len(chunk)
        how = f"{reader.info.backend} {reader.size[0]}x{reader.size[1]}"
    return time.perf_counter() - start, frames, how


def end_to_end(path: Path, settings: IngestSettings) -> tuple[float, float]:
    """Seconds for `process_video`, and the video's duration."""
    start = time.perf_counter()
    result = process_video(Source(path), settings)
    if result.error:
        raise RuntimeError(f"{path}: {result.error}")
    return time.perf_counter() - start, float(result.duration)


def fit_pass(path: Path, settings: IngestSettings) -> tuple[IngestSettings, float]:
    """The settings with the detector fitted on this video as `ingest` fits on a new
    store's corpus, and the seconds that took."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        fitted = fit_on_corpus([Source(path)], settings, Path(folder))
        if fitted is not settings:   # keep the predictor (weights and card) beyond the folder
            kept = Path(fitted.detector_settings["predictor"])
            copy = Path(tempfile.mkdtemp()) / kept.name
            for suffix in (".pt", ".json"):
                copy.with_suffix(suffix).write_bytes(kept.with_suffix(suffix).read_bytes())
            fitted = replace(fitted, detector_settings={**fitted.detector_settings,
                                                        "predictor": str(copy)})
    return fitted, time.perf_counter() - start


def throughput_rows(path: Path, named: dict[str, IngestSettings], repeat: int = 1
                    ) -> list[tuple]:
    """(settings, video s per wall s, frames/s, decode-only frames/s, ratio, decoder, fit
    pass s, ratio counting the fit pass) per settings; with `repeat`, decode-only and
    end-to-end alternate and each keeps its best time (a shared machine only ever makes a
    run slower)."""
    rows = []
    for name, settings in named.items():
        fit_s = float("inf")
        for _ in range(max(1, repeat)):
            fitted, f = fit_pass(path, settings)
            fit_s = min(fit_s, f)
        process_video(Source(path), fitted)  # warm: models built, files cached
        dec_s = e2e_s = float("inf")
        for _ in range(max(1, repeat)):
            d, frames, how = decode_only(path, settings)
            e, duration = end_to_end(path, fitted)
            dec_s, e2e_s = min(dec_s, d), min(e2e_s, e)
        fit_s = fit_s if fitted is not settings else 0.0
        rows.append((name, duration / e2e_s, frames / e2e_s, frames / dec_s, dec_s / e2e_s, how,
                     fit_s, dec_s / (e2e_s + fit_s)))
    return rows


def peak_rss_mib() -> float:
    """This process's peak resident memory (MiB): VmHWM on Linux, which starts afresh at
    exec (ru_maxrss does not: it keeps the forking parent's peak)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_child(path: Path, fps: float) -> None:
    """Run in a subprocess: process one video, print peak RSS (MiB) before and after as JSON."""
    settings = IngestSettings(fps=fps)
    base = peak_rss_mib()
    seconds, duration = end_to_end(path, settings)
    print(json.dumps({"base_mib": base, "peak_mib": peak_rss_mib(), "seconds": seconds,
                      "duration": duration}))


def rss_rows(cache: Path, minutes: list[float], fps: float) -> list[dict]:
    rows = []
    for m in minutes:
        path = long_video(cache, m)
        out = subprocess.run([sys.executable, __file__, "--rss-child", str(path),
                              "--rss-fps", str(fps)], capture_output=True, text=True, check=True)
        rows.append({"minutes": m, **json.loads(out.stdout.strip().splitlines()[-1])})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "vidskill-bench")
    parser.add_argument("--throughput-minutes", type=float, default=2.0)
    parser.add_argument("--size", type=parse_size, nargs="+",
                        default=[parse_size(s) for s in DEFAULT_SIZES],
                        help="source video size(s) for the throughput table, WIDTHxHEIGHT"
                             f"[@FPS] (default: {' '.join(DEFAULT_SIZES)})")
    parser.add_argument("--repeat", type=int, default=1,
                        help="throughput runs per row; the best of each is kept")
    parser.add_argument("--minutes", type=float, nargs="*", default=[1.0, 10.0, 60.0],
                        help="video lengths for the peak-RSS table (none: skip it)")
    parser.add_argument("--rss-fps", type=float, default=10.0)
    parser.add_argument("--rss-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child, args.rss_fps)
        return
    args.cache.mkdir(parents=True, exist_ok=True)
    named = {"defaults (cut by SBD on motion-kin)": IngestSettings(),
             "novelty on flow-motion (the cut before)":
             IngestSettings(detector="novelty", segment_with="")}
    import torch

    if torch.cuda.is_available():
        named["RAFT-small flow-hof, 224 px"] = IngestSettings(
            size=224, encoder_settings={"flow-hof": {"flow": GPU_FLOW}})
        named["RAFT-small flow-hof + r3d_18, 224 px"] = IngestSettings(
            size=224, encoders=("flow-hof", "r3d_18"),
            encoder_settings={"flow-hof": {"flow": GPU_FLOW}, "r3d_18": {"weights": None}})
    print(f"throughput on a {args.throughput_minutes:g}-minute demo video per source size "
          f"(best of {max(1, args.repeat)})")
    print(f"{'source':<12} {'settings':<40} {'video s/s':>9} {'frames/s':>9} "
          f"{'decode f/s':>10} {'ratio':>6} {'fit s':>6} {'first':>6}  decoder")
    for w, h, rate in args.size:
        path = long_video(args.cache, args.throughput_minutes, (w, h), rate)
        rows = throughput_rows(path, named, args.repeat)
        for name, vps, fps, dfps, ratio, how, fit_s, first in rows:
            print(f"{f'{w}x{h}@{rate:g}':<12} {name:<40} {vps:>9.2f} {fps:>9.1f} {dfps:>10.1f} "
                  f"{ratio:>6.3f} {fit_s:>6.1f} {first:>6.3f}  {how}", flush=True)
        print(f"defaults vs the cut before: {rows[0][1] / rows[1][1]:.3f}")
        if len(rows) == 4:
            print(f"RAFT-small + r3d_18 vs RAFT-small alone: {rows[3][1] / rows[2][1]:.3f}")
    if not args.minutes:
        return
    print(f"\npeak RSS of a subprocess running process_video at {args.rss_fps:g} fps")
    print(f"{'minutes':>7} {'start MiB':>10} {'peak MiB':>9} {'work MiB':>9} {'growth':>7} "
          f"{'wall s':>7}")
    rss = rss_rows(args.cache, args.minutes, args.rss_fps)
    for row in rss:
        growth = row["peak_mib"] / rss[0]["peak_mib"] - 1
        print(f"{row['minutes']:>7g} {row['base_mib']:>10.0f} {row['peak_mib']:>9.0f} "
              f"{row['peak_mib'] - row['base_mib']:>9.0f} {growth:>+7.1%} {row['seconds']:>7.1f}")


if __name__ == "__main__":
    main()
