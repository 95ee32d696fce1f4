"""`vidskill segment` against PySceneDetect `detect-adaptive` on the same files (issue #21).

Generates (once, into --cache) camera-like H.264 files with known hard cuts:
  720p30   2 min, 1280x720, 30 fps (the issue's file shape)
  360p25  10 min,  640x360, 25 fps
and adds the real goldeneye clip (10 s, 1280x544, VFR) from --media. On each file it runs
both tools as child processes, alternating which goes first, --repeat times each, and prints
per run: wall s, CPU s (user+sys of the child, all threads, from wait4), peak RSS (the
child's ru_maxrss from wait4, MiB), and the vidskill/scenedetect ratios of the pair of runs
made back to back; then the median of each column and of each ratio.

Targets (issue #21): wall ratio <= 1.0 on 720p30, <= 1.5 on the others; vidskill peak RSS
<= 300 MiB. The script prints them and PASS/FAIL against the median ratio, and also how many
of the known cuts each tool's output has within +-0.5 s (recall only; vidskill's segments
are skill boundaries, cuts being a subset).

This parent process imports only the standard library, because a child's ru_maxrss starts
at the RSS of the process that forked it (Linux keeps the pre-exec peak): with a lean parent
(~12 MiB) the reported peak is the child's own. Generation runs in a child process too.

The commands are templates ({python}, {video}, {out}); the defaults run `vidskill segment`
with its default settings and `scenedetect detect-adaptive list-scenes`. PySceneDetect is a
bench-only dependency (`pip install -e .[bench]`). The machine's load moves wall times a
lot (a program that spreads its work over two cores gains nothing when the cores are busy):
CPU seconds are the figure that repeats.

  python bench/vs_scenedetect.py [--files 720p30 360p25 goldeneye] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy only in the child that writes the files
    import numpy as np

HERE = Path(__file__).resolve()
TOL = 0.5  # s, cut matching tolerance for the recall column

FILES = {  # name: (seconds, width, height, fps, seed)
    "720p30": (120, 1280, 720, 30, 0),
    "360p25": (600, 640, 360, 25, 0),
}
TARGET = {"720p30": 1.0, "360p25": 1.5, "goldeneye": 1.5}
RSS_TARGET_MIB = 300

VIDSKILL_CMD = "{python} -m vidskill.cli segment {video} --out {out}/vidskill.json"
SCENEDETECT_CMD = ("{python} -m scenedetect -q -i {video} -o {out} detect-adaptive "
                   "list-scenes -f scenes.csv")


# ----------------------------------------------------------------------------- files

# Camera-like H.264 test content: textured scenes, camera pan, moving textured objects,
# sensor noise, hard cuts every 5-25 s and one fade-in; libx264 (PyAV's wheel) at CRF 18,
# preset veryfast (3 B-frames), GOP 2 s: about 5.3 Mbit/s at 720p30, like a phone or action
# camera. numpy, OpenCV and PyAV are imported only inside these functions (child process).

def _texture(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A colourful multi-scale noise texture with some edges (uint8 RGB, h x w)."""
    import cv2
    import numpy as np

    img = np.zeros((h, w, 3), np.float32)
    for scale, amp in ((64, 1.0), (16, 0.5), (4, 0.25)):
        small = rng.random((max(2, h // scale), max(2, w // scale), 3)).astype(np.float32)
        img += amp * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img /= 1.75
    tint = rng.random(3).astype(np.float32) * 0.6 + 0.4
    img = np.clip(img * tint * 255, 0, 255).astype(np.uint8)
    # a few hard-edged rectangles (furniture, windows) for structure
    for _ in range(12):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(w // 20, w // 5)), y0 + int(rng.integers(h // 20, h // 5))
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.rectangle(img, (x0, y0), (x1, y1), col, -1 if rng.random() < 0.5 else 3)
    return img


def _plan(rng: np.random.Generator, seconds: float) -> list[tuple[float, float]]:
    """Scene spans (start, end) s: 5-25 s each."""
    spans, t = [], 0.0
    while t < seconds - 1e-9:
        d = float(rng.uniform(5.0, 25.0))
        if seconds - (t + d) < 3.0:
            d = seconds - t
        spans.append((t, min(seconds, t + d)))
        t += d
    return spans


def write_test_video(path: str | Path, seconds: float, size: tuple[int, int], fps: int,
                     seed: int = 0, crf: int = 18, preset: str = "veryfast",
                     gop: int | None = None, fade: bool = True) -> list[float]:
    """Write an H.264 (yuv420p, High profile) mp4; return the hard-cut times (s)."""
    import av
    import cv2
    import numpy as np

    path = Path(path)
    w, h = size
    rng = np.random.default_rng(seed)
    spans = _plan(rng, seconds)
    tmp = path.with_suffix(".part.mp4")
    container = av.open(str(tmp), mode="w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    stream.options = {"crf": str(crf), "preset": preset, "g": str(gop or 2 * fps),
                      "threads": "2"}
    noise = [rng.normal(0, 4.0, (h, w, 3)).astype(np.int16) for _ in range(7)]
    total = int(round(seconds * fps))
    cuts = [s for s, _ in spans[1:]]
    fade_scene = len(spans) // 2 if fade and len(spans) > 3 else -1
    scene_k = -1
    for i in range(total):
        t = i / fps
        k = next(j for j, (a, b) in enumerate(spans) if a <= t < b or j == len(spans) - 1)
        if k != scene_k:   # new scene: texture, pan, objects
            scene_k = k
            srng = np.random.default_rng([seed, k])
            bg = _texture(srng, int(w * 1.3), int(h * 1.3))
            pan = srng.uniform(-1, 1, 2) * np.array([w, h]) * 0.012  # px per frame at 30 fps
            objs = []
            for _ in range(int(srng.integers(2, 5))):
                r = int(srng.integers(h // 14, h // 5))
                patch = _texture(srng, 2 * r, 2 * r)
                mask = np.zeros((2 * r, 2 * r), np.uint8)
                if srng.random() < 0.5:
                    cv2.circle(mask, (r, r), r - 1, 1, -1)
                else:
                    cv2.rectangle(mask, (r // 3, 0), (2 * r - r // 3, 2 * r - 1), 1, -1)
                objs.append(dict(r=r, patch=patch, mask=mask.astype(bool),
                                 c=srng.uniform(0.2, 0.8, 2), a=srng.uniform(0.05, 0.3, 2),
                                 f=srng.uniform(0.1, 0.6, 2), p=srng.uniform(0, 6.3, 2)))
            t0 = spans[k][0]
        tt = t - t0
        ox = (bg.shape[1] - w) / 2 + pan[0] * tt * 30 * math.cos(0.2 * tt)
        oy = (bg.shape[0] - h) / 2 + pan[1] * tt * 30 * math.sin(0.15 * tt)
        ox = int(np.clip(ox, 0, bg.shape[1] - w))
        oy = int(np.clip(oy, 0, bg.shape[0] - h))
        frame = bg[oy:oy + h, ox:ox + w].copy()
        for o in objs:
            cx = (o["c"][0] + o["a"][0] * math.sin(2 * math.pi * o["f"][0] * tt + o["p"][0])) * w
            cy = (o["c"][1] + o["a"][1] * math.sin(2 * math.pi * o["f"][1] * tt + o["p"][1])) * h
            r = o["r"]
            x0, y0 = int(cx) - r, int(cy) - r
            xa, ya, xb, yb = max(0, x0), max(0, y0), min(w, x0 + 2 * r), min(h, y0 + 2 * r)
            if xb <= xa or yb <= ya:
                continue
            m = o["mask"][ya - y0:yb - y0, xa - x0:xb - x0]
            frame[ya:yb, xa:xb][m] = o["patch"][ya - y0:yb - y0, xa - x0:xb - x0][m]
        if k == fade_scene and tt < 1.0:   # fade in from black over 1 s
            frame = (frame.astype(np.float32) * tt).astype(np.uint8)
        frame = np.clip(frame.astype(np.int16) + noise[i % 7], 0, 255).astype(np.uint8)
        vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
        vf.pts = i
        for pkt in stream.encode(vf):
            container.mux(pkt)
    for pkt in stream.encode():
        container.mux(pkt)
    container.close()
    tmp.rename(path)
    path.with_suffix(".json").write_text(json.dumps(
        {"seconds": seconds, "size": [w, h], "fps": fps, "seed": seed, "cuts": cuts,
         "fade_in_at": spans[fade_scene][0] if fade_scene >= 0 else None,
         "codec": "h264", "crf": crf, "preset": preset}, indent=1))
    return cuts


def generate(path: Path, seconds: float, w: int, h: int, fps: int, seed: int) -> None:
    """Run in a child process (`--generate`): write one test video and its cut list."""
    write_test_video(path, seconds, (w, h), fps, seed=seed)


def ensure_files(cache: Path, media: Path, names: list[str]) -> dict[str, Path]:
    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in names:
        if name == "goldeneye":
            p = media / "goldeneye-vfr-drop3.mp4"
            if not p.exists():
                sys.exit(f"missing {p}; pass --media")
            out[name] = p
            continue
        secs, w, h, fps, seed = FILES[name]
        p = cache / f"vs-{name}-{secs // 60}min-seed{seed}.mp4"
        if not p.exists():
            print(f"generating {p} ...", file=sys.stderr, flush=True)
            t = time.perf_counter()
            subprocess.run([sys.executable, str(HERE), "--generate", str(p),
                            *map(str, (secs, w, h, fps, seed))], check=True)
            print(f"  {time.perf_counter() - t:.0f} s", file=sys.stderr)
        out[name] = p
    return out


def default_media() -> Path:
    """../shared/media beside the repository (bench/ is one level down), else /work/shared."""
    for cand in (HERE.parents[2] / "shared" / "media", HERE.parents[1] / "shared" / "media",
                 Path("/work/shared/media")):
        if (cand / "goldeneye-vfr-drop3.mp4").exists():
            return cand
    return HERE.parents[2] / "shared" / "media"


def known_cuts(video: Path) -> list[float] | None:
    meta = video.with_suffix(".json")
    if meta.exists():
        try:
            return json.loads(meta.read_text()).get("cuts")
        except ValueError:
            return None
    return None


# ----------------------------------------------------------------------------- runs

def measure(cmd: list[str], env: dict) -> dict:
    """Run cmd as a child; wall, CPU and peak RSS of exactly that child (wait4)."""
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()  # drain so the child never blocks on a full pipe
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{shlex.join(cmd)} failed ({proc.returncode}):\n"
                           f"{err.decode(errors='replace')[-2000:]}")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "user": ru.ru_utime,
            "sys": ru.ru_stime, "rss_mib": ru.ru_maxrss / 1024, "load": load}


def cuts_found(tool: str, out: Path) -> list[float]:
    """Boundary times (s) from a tool's output file."""
    if tool == "scenedetect":
        f = out / "scenes.csv"
        rows = list(csv.reader(f.read_text().splitlines()))
        # first row: "Timecode List:", cut timecodes; then header + one row per scene
        starts = []
        for r in rows[2:]:
            if len(r) > 3:
                starts.append(float(r[3]))  # "Start Time (seconds)"
        return starts[1:]
    f = out / "vidskill.json"
    data = json.loads(f.read_text())
    segs = data.get("segments", data) if isinstance(data, dict) else data
    return [float(s["start"]) for s in segs[1:]]


def recall(found: list[float], truth: list[float] | None) -> str:
    if truth is None:
        return "-"
    hit = sum(any(abs(f - c) <= TOL for f in found) for c in truth)
    return f"{hit}/{len(truth)}"


def parent_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path,
                    default=Path(tempfile.gettempdir()) / "vidskill-bench" / "vs_scenedetect")
    ap.add_argument("--media", type=Path, default=default_media(),
                    help="folder holding goldeneye-vfr-drop3.mp4 (default: ../shared/media "
                         "beside the repository)")
    ap.add_argument("--files", nargs="+", default=["720p30", "360p25", "goldeneye"],
                    choices=["720p30", "360p25", "goldeneye"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--python", default=sys.executable, help="interpreter for both tools")
    ap.add_argument("--vidskill", default=VIDSKILL_CMD, help="command template")
    ap.add_argument("--scenedetect", default=SCENEDETECT_CMD, help="command template")
    ap.add_argument("--json", type=Path, help="also write every run here")
    ap.add_argument("--generate", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        p, *nums = args.generate
        generate(Path(p), float(nums[0]), *(int(v) for v in nums[1:]))
        return 0

    probe = subprocess.run([args.python, "-c", "import scenedetect"], capture_output=True)
    if probe.returncode:
        sys.exit("PySceneDetect is not importable by " + args.python + ": it is a bench-only "
                 "dependency, pip install scenedetect (and av for generating the files)")
    videos = ensure_files(args.cache, args.media, args.files)
    env = dict(os.environ)
    print(f"# parent peak RSS {parent_rss_mib():.0f} MiB (floor of a child's ru_maxrss); "
          f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}")
    runs = []
    hdr = (f"{'file':<10} {'rep':>3} {'tool':<12} {'wall s':>7} {'cpu s':>7} {'rss MiB':>8} "
           f"{'load':>5} {'cuts':>6} | {'wall x':>6} {'cpu x':>6} {'rss x':>6}")
    print(hdr)
    print("-" * len(hdr))
    for name, video in videos.items():
        truth = known_cuts(video)
        for rep in range(args.repeat):
            order = ["vidskill", "scenedetect"] if rep % 2 == 0 else ["scenedetect", "vidskill"]
            pair = {}
            for tool in order:
                with tempfile.TemporaryDirectory(prefix="vs-sd-") as out:
                    tmpl = args.vidskill if tool == "vidskill" else args.scenedetect
                    cmd = shlex.split(tmpl.format(python=shlex.quote(args.python),
                                                  video=shlex.quote(str(video)),
                                                  out=shlex.quote(out)))
                    r = measure(cmd, env)
                    try:
                        r["cuts"] = recall(cuts_found(tool, Path(out)), truth)
                    except (OSError, ValueError, KeyError, IndexError, TypeError):
                        r["cuts"] = "?"
                pair[tool] = r
                runs.append({"file": name, "rep": rep, "tool": tool, **r})
            v, s = pair["vidskill"], pair["scenedetect"]
            ratio = {k: v[k] / s[k] for k in ("wall", "cpu", "rss_mib")}
            runs[-1]["ratio"] = runs[-2]["ratio"] = ratio
            for tool in ("vidskill", "scenedetect"):
                r = pair[tool]
                tail = (f"{ratio['wall']:6.2f} {ratio['cpu']:6.2f} {ratio['rss_mib']:6.2f}"
                        if tool == "scenedetect" else "")
                print(f"{name:<10} {rep:>3} {tool:<12} {r['wall']:7.2f} {r['cpu']:7.2f} "
                      f"{r['rss_mib']:8.0f} {r['load']:5.2f} {r['cuts']:>6} | {tail}",
                      flush=True)
    print("\nmedians (ratios: median over the back-to-back pairs)")
    print(f"{'file':<10} {'tool':<12} {'wall s':>7} {'cpu s':>7} {'rss MiB':>8} | "
          f"{'wall x':>6} {'cpu x':>6} {'rss x':>6}  target")
    for name in videos:
        mine = [r for r in runs if r["file"] == name]
        for tool in ("vidskill", "scenedetect"):
            rs = [r for r in mine if r["tool"] == tool]
            med = {k: statistics.median(r[k] for r in rs) for k in ("wall", "cpu", "rss_mib")}
            line = (f"{name:<10} {tool:<12} {med['wall']:7.2f} {med['cpu']:7.2f} "
                    f"{med['rss_mib']:8.0f} | ")
            if tool == "scenedetect":
                ratios = [r["ratio"] for r in rs]
                mr = {k: statistics.median(x[k] for x in ratios) for k in ("wall", "cpu", "rss_mib")}
                v_rss = statistics.median(r["rss_mib"] for r in mine if r["tool"] == "vidskill")
                verdict = ("PASS" if mr["wall"] <= TARGET[name] else "FAIL")
                line += (f"{mr['wall']:6.2f} {mr['cpu']:6.2f} {mr['rss_mib']:6.2f}  wall <= "
                         f"{TARGET[name]:.1f}x: {verdict}; vidskill RSS <= {RSS_TARGET_MIB} MiB: "
                         f"{'PASS' if v_rss <= RSS_TARGET_MIB else 'FAIL'}")
            print(line)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
