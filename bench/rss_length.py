"""Peak memory of `vidskill segment` and `vidskill ingest` (default settings) against video
length: 1, 10 and 60 minutes of camera-like 640x360 25 fps H.264 (issue #21: <= 300 MiB,
flat within 10% from 1 to 60 minutes).

The files are stream copies (no re-encoding) of vs_scenedetect.py's 10-minute file: its
first minute, itself, and six copies back to back. Each run is a fresh child process; its
peak RSS is the child's ru_maxrss from wait4, with CPU seconds beside it. Like
vs_scenedetect.py, this parent imports only the standard library (a child's ru_maxrss
starts at its parent's).

    python bench/rss_length.py [--minutes 1 10 60] [--tools segment ingest]
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vs_scenedetect import default_media, ensure_files, measure  # noqa: E402

REMUX = """
import sys, av
src, dst, seconds, copies = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
out = av.open(dst, "w")
ost, offset = None, 0
for _ in range(copies):
    inp = av.open(src)
    ist = inp.streams.video[0]
    ost = ost or out.add_stream_from_template(ist)
    last = 0
    for pkt in inp.demux(ist):
        if pkt.dts is None:
            continue
        if seconds and pkt.is_keyframe and float(pkt.pts * ist.time_base) >= seconds:
            break
        d = pkt.duration or 0
        last = max(last, pkt.pts + d, pkt.dts + d)
        pkt.pts += offset
        pkt.dts += offset
        pkt.stream = ost
        out.mux(pkt)
    offset += last
    inp.close()
out.close()
"""

COMMANDS = {
    "segment": "{python} -m vidskill.cli segment {video} --out {out}/segments.json",
    "ingest": "{python} -m vidskill.cli ingest {video} --store {out}/store --no-progress",
}


def length_file(cache: Path, source: Path, minutes: int) -> Path:
    """`minutes` of the 10-minute source: cut (1) or copied back to back (10, 60...)."""
    path = cache / f"rss-360p25-{minutes}min.mp4"
    if not path.exists():
        seconds, copies = (minutes * 60, 1) if minutes < 10 else (0, minutes // 10)
        part = path.with_suffix(".part.mp4")
        subprocess.run([sys.executable, "-c", REMUX, str(source), str(part), str(seconds),
                        str(copies)], check=True)
        part.rename(path)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path,
                    default=Path(tempfile.gettempdir()) / "vidskill-bench" / "vs_scenedetect")
    ap.add_argument("--minutes", type=int, nargs="+", default=[1, 10, 60])
    ap.add_argument("--tools", nargs="+", default=list(COMMANDS), choices=list(COMMANDS))
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args()
    source = ensure_files(args.cache, default_media(), ["360p25"])["360p25"]
    videos = {m: length_file(args.cache, source, m) for m in args.minutes}
    print(f"{'tool':<8} {'minutes':>7} {'wall s':>7} {'cpu s':>7} {'rss MiB':>8}  vs shortest")
    for tool in args.tools:
        first = None
        for minutes, video in videos.items():
            with tempfile.TemporaryDirectory(prefix="rss-length-") as out:
                cmd = shlex.split(COMMANDS[tool].format(
                    python=shlex.quote(args.python), video=shlex.quote(str(video)),
                    out=shlex.quote(out)))
                r = measure(cmd, dict(os.environ))
            first = first or r["rss_mib"]
            print(f"{tool:<8} {minutes:>7} {r['wall']:7.1f} {r['cpu']:7.1f} {r['rss_mib']:8.0f}  "
                  f"{100 * (r['rss_mib'] / first - 1):+.0f}%", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
