"""The vectorised DTW against a plain double loop, and the compiled backend against both."""

from __future__ import annotations

import numpy as np
import pytest

from vidskill import dtw


def _reference(x: np.ndarray, y: np.ndarray, band: int | None) -> tuple[float, int]:
    """Double-loop DTW: squared Euclidean steps, best total and that path's length."""
    n, m = len(x), len(y)
    acc = np.full((n + 1, m + 1), np.inf)
    steps = np.zeros((n + 1, m + 1), int)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if band is not None and abs(i - j) > band + abs(n - m):
                continue
            prev = min(((acc[i - 1, j - 1], steps[i - 1, j - 1]), (acc[i - 1, j], steps[i - 1, j]),
                        (acc[i, j - 1], steps[i, j - 1])), key=lambda p: p[0])
            acc[i, j] = prev[0] + float(((x[i - 1] - y[j - 1]) ** 2).sum())
            steps[i, j] = prev[1] + 1
    return float(acc[n, m]), int(steps[n, m])


def test_totals_and_path_lengths_match_a_double_loop():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n, c = int(rng.integers(1, 25)), int(rng.integers(1, 4))
        x = rng.normal(size=(n, c))
        ys = [rng.normal(size=(int(rng.integers(1, 25)), c)) for _ in range(4)]
        for band in (None, 1, 3, 0.1):
            want = [_reference(x, y, dtw.band_width(n, band)) for y in ys]
            got = dtw.sqeuclidean_total(x, ys, band, backend="numpy")
            np.testing.assert_allclose(got, [w[0] for w in want], rtol=1e-9)
            for y, (total, length) in zip(ys, want, strict=True):
                cost = ((x[:, None] - y[None]) ** 2).sum(-1)[None]
                t, s = dtw.accumulate(cost, band=band)
                assert t[0] == pytest.approx(total) and s[0] == length


def test_a_band_forbids_far_alignments():
    x = np.zeros((10, 1))
    y = np.zeros((10, 1))
    y[0] = 5.0  # the only way to avoid it is to skip it, which the band does not allow
    assert dtw.sqeuclidean_total(x, [y], 0, backend="numpy")[0] == pytest.approx(25.0)
    shifted = np.r_[np.arange(8.0), [7.0, 7.0]][:, None]
    plain = np.r_[[0.0, 0.0], np.arange(8.0)][:, None]
    assert dtw.sqeuclidean_total(plain, [shifted], None, backend="numpy")[0] == 0.0
    assert dtw.sqeuclidean_total(plain, [shifted], 1, backend="numpy")[0] > 0.0


@pytest.mark.skipif(not dtw.HAS_C, reason="dtaidistance is not installed")
def test_compiled_backend_gives_the_same_totals():
    rng = np.random.default_rng(2)
    for _ in range(30):
        n, c = int(rng.integers(2, 40)), int(rng.integers(1, 5))
        x = rng.normal(size=(n, c))
        same = rng.normal(size=(3, n, c))
        other = [rng.normal(size=(int(rng.integers(2, 40)), c)) for _ in range(3)]
        np.testing.assert_allclose(dtw.sqeuclidean_total(x, other, None, backend="c"),
                                   dtw.sqeuclidean_total(x, other, None, backend="numpy"))
        for band in (0, 2, 0.1):
            np.testing.assert_allclose(dtw.sqeuclidean_total(x, same, band, backend="c"),
                                       dtw.sqeuclidean_total(x, same, band, backend="numpy"))


def test_mean_cosine_averages_along_the_path():
    e1, e2 = np.eye(4)[:2]
    # every row of one at 45 degrees to every row of the other, whatever the lengths
    assert dtw.mean_cosine(np.tile(e1, (3, 1)), np.tile(e1 + e2, (7, 1))) == pytest.approx(
        np.sqrt(0.5))
    seq = np.random.default_rng(3).normal(size=(6, 4))
    assert dtw.mean_cosine(seq, np.repeat(seq, 3, axis=0)) == pytest.approx(1.0)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="empty"):
        dtw.sqeuclidean_total(np.zeros((3, 2)), [np.zeros((0, 2))])
    with pytest.raises(ValueError, match="channels"):
        dtw.sqeuclidean_total(np.zeros((3, 2)), [np.zeros((3, 3))])
    with pytest.raises(ValueError, match="backend"):
        dtw.sqeuclidean_total(np.zeros((3, 2)), [np.zeros((3, 2))], backend="fortran")
