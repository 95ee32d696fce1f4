"""The SBD rule on hand-made error sequences (times 1 s apart unless said otherwise)."""

import numpy as np
import pytest

from vidskill.boundaries.rule import SBDRule, boundary_confidence, sbd_rule

T = np.arange(20, dtype=float)


def flat(n=20, jump_at=None, size=0.0):
    e = np.ones(n)
    if jump_at is not None:
        e[jump_at] += size
    return e


def test_jump_of_exactly_gap_is_not_a_boundary_but_just_over_is():
    # history [1]*9 + [1+x] at step 10 (step 0 is skipped): excess = x - x/10 = 0.9 x.
    gap = 9.0
    exact = sbd_rule(flat(jump_at=10, size=10.0), T, gap=gap, min_len=2)
    assert exact.indices.tolist() == []  # 0.9 * 10 = 9.0 is not > 9.0
    over = sbd_rule(flat(jump_at=10, size=10.001), T, gap=gap, min_len=2)
    assert over.indices.tolist() == [10]
    assert over.causes == ("error",)


def test_jump_just_under_gap_is_not_a_boundary():
    result = sbd_rule(flat(jump_at=10, size=9.99), T, gap=9.0, min_len=2)
    assert len(result.indices) == 0


def test_jump_inside_minimum_length_is_deferred_until_the_minimum_is_reached():
    # step 0 skipped; history at step 2 = [1, 101]: excess 50 > gap, but only 2 s since start.
    e = flat(jump_at=2, size=100.0)
    assert sbd_rule(e, T, gap=10.0, min_len=5).indices.tolist() == [5]
    assert sbd_rule(e, T, gap=10.0, min_len=2).indices.tolist() == [2]


def test_boundary_at_the_very_last_step():
    e = flat(jump_at=19, size=100.0)
    result = sbd_rule(e, T, gap=10.0, min_len=2)
    assert result.indices.tolist() == [19]
    assert result.times.tolist() == [19.0]


def test_history_is_cleared_at_a_boundary():
    # After the boundary at 5 the history restarts, so the raised level (11) becomes the
    # new normal and the second step at that level is no jump.
    e = np.r_[np.ones(5), np.full(15, 11.0)]
    result = sbd_rule(e, T, gap=5.0, min_len=2)
    assert result.indices.tolist() == [5]


def test_reset_callback_is_called_before_the_next_error_is_read():
    calls, read = [], []

    def errors():
        for i, x in enumerate(flat(jump_at=8, size=100.0)):
            read.append((i, list(calls)))
            yield x

    sbd_rule(errors(), T, gap=10.0, min_len=2, reset=calls.append)
    assert calls == [8]
    assert read[9] == (9, [8])


def test_steps_without_a_prediction_are_skipped():
    # NaN steps add nothing to the history: the jump at 10 is measured against [1]*4 + [x].
    e = flat(jump_at=10, size=50.0)
    e[1:6] = np.nan
    result = sbd_rule(e, T, gap=39.0, min_len=2)
    assert result.indices.tolist() == [10]  # 50 - 50/5 = 40 > 39; with 9 ones it'd be 45
    assert sbd_rule(e, T, gap=40.0, min_len=2).indices.tolist() == []


def test_max_len_forces_a_cut_and_events_add_boundaries():
    assert sbd_rule(flat(), T, gap=10.0, min_len=2, max_len=6).indices.tolist() == [6, 12, 18]
    result = sbd_rule(flat(), T, gap=10.0, min_len=2, events=[7.5, 7.6, 15.0])
    assert result.indices.tolist() == [8, 15]
    assert result.causes == ("event", "event")
    assert result.scores.tolist() == [1.0, 1.0]


def test_confidence_is_half_at_the_gap_and_grows_with_the_jump():
    assert boundary_confidence(10.0, 10.0) == 0.5
    assert boundary_confidence(30.0, 10.0) == 0.75
    assert boundary_confidence(-1.0, 10.0) == 0.0
    small = sbd_rule(flat(jump_at=10, size=12.0), T, gap=9.0, min_len=2).scores[0]
    big = sbd_rule(flat(jump_at=10, size=50.0), T, gap=9.0, min_len=2).scores[0]
    assert 0.5 < small < big < 1.0


def test_each_boundary_scores_its_own_segments_largest_excess():
    # jump of 100 at step 5: history [1,1,1,1,101], excess 80 -> boundary, confidence 80/89.
    # After it the running maximum starts again: at step 12 the history is [1]*6 + [13],
    # excess 13 - 19/7 = 72/7, so the second confidence is (72/7) / (72/7 + 9), not 80/89.
    e = flat()
    e[5], e[12] = 101.0, 13.0
    result = sbd_rule(e, T, gap=9.0, min_len=2)
    assert result.indices.tolist() == [5, 12]
    np.testing.assert_allclose(result.scores, [80 / 89, (72 / 7) / (72 / 7 + 9)])


def test_bad_settings_are_refused_with_a_message():
    with pytest.raises(ValueError, match="gap must be positive"):
        SBDRule(gap=0, min_len=1)
    with pytest.raises(ValueError, match="min_len <= max_len"):
        SBDRule(gap=1, min_len=5, max_len=2)
    with pytest.raises(ValueError, match="more errors than times"):
        sbd_rule(np.ones(5), T[:3], gap=1.0, min_len=0)
