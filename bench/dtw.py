"""DTW speed: pairs per second of `vidskill.dtw` (numpy batch, dtaidistance's C) against the
pure-Python double loop the package used before, measured in one run.

Sizes: flow-profile's comparison (32 x 32 steps, 4 channels, band 10%) and longer window
sequences (100 and 300 steps, 4 and 32 channels, with and without a band).

    python bench/dtw.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vidskill import dtw

CASES = ((32, 4, 0.1), (100, 4, 0.1), (100, 32, 0.1), (300, 4, 0.1), (300, 32, 0.1),
         (300, 32, None))


def python_loop(x: np.ndarray, y: np.ndarray, band: int | None) -> float:
    """The former pure-Python DTW (one cell per Python step), squared Euclidean costs."""
    n, m = len(x), len(y)
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if band is not None and abs(i - j) > band:
                continue
            c = float(((x[i - 1] - y[j - 1]) ** 2).sum())
            acc[i, j] = c + min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
    return float(acc[n, m])


def rate(fn, pairs: int, seconds: float) -> float:
    """Pairs per second of fn (which compares `pairs` pairs per call), repeated for `seconds`."""
    fn()
    calls, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        calls += 1
    return calls * pairs / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    ap.add_argument("--batch", type=int, default=48, help="sequences per numpy batch")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print("| length | channels | band | python loop | numpy batch | numpy / python | "
          "dtaidistance (C) | C / python |\n|---|---|---|---|---|---|---|---|")
    for n, c, band in CASES:
        x = rng.normal(size=(n, c))
        ys = rng.normal(size=(args.batch, n, c))
        w = dtw.band_width(n, band)
        py = rate(lambda x=x, y=ys[0], w=w: python_loop(x, y, w), 1,
                  min(args.seconds, 5.0) if n < 300 else 3 * args.seconds)
        npy = rate(lambda x=x, ys=ys, band=band: dtw.sqeuclidean_total(x, ys, band, "numpy"),
                   args.batch, args.seconds)
        c_rate = rate(lambda x=x, ys=ys, band=band: dtw.sqeuclidean_total(x, ys, band, "c"),
                      args.batch, args.seconds) if dtw.HAS_C else float("nan")
        print(f"| {n} | {c} | {'none' if band is None else f'{band:.0%}'} | {py:,.1f} | "
              f"{npy:,.0f} | {npy / py:,.0f}x | {c_rate:,.0f} | {c_rate / py:,.0f}x |")
    if not dtw.HAS_C:
        print("dtaidistance is not installed: pip install 'vidskill[dtw]' for the C column")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
