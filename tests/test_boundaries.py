"""Detectors on synthetic features with known change points, and the predictor's plumbing."""

import numpy as np
import pytest
import torch
from helpers import HOP
from helpers import piecewise_features as synthetic

from vidskill.boundaries import available_detectors, get_detector
from vidskill.boundaries.base import Boundaries
from vidskill.boundaries.bursts import (
    Burst,
    Change,
    ChangeTest,
    ErrorBursts,
    keep_apart,
    split_point,
)
from vidskill.boundaries.peaks import robust_spread, step_noise
from vidskill.boundaries.predictor import (
    PredictionErrors,
    TrainSettings,
    load_predictor,
    train_predictor,
)
from vidskill.boundaries.rule import sbd_rule
from vidskill.encoders.base import Features
from vidskill.errors import ConfigError, DimensionMismatchError, WeightsNotFoundError
from vidskill.metrics import MatchCounts, match_boundaries

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def score(detector, seeds) -> MatchCounts:
    total = MatchCounts()
    for s in seeds:
        f, truth = synthetic(s)
        total += match_boundaries(detector.detect(f).times, truth, 0.5)
    return total


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    return train_predictor([synthetic(s)[0] for s in range(6)], settings=TrainSettings(steps=150))


def test_registry_lists_and_builds_detectors():
    assert available_detectors() == ["novelty", "sbd", "twfinch", "uniform", "uvd"]
    assert get_detector("uniform", length=3.0).length == 3.0
    with pytest.raises(ValueError, match="choose one of"):
        get_detector("nope")


def test_uniform_cuts_every_length_seconds():
    f, _ = synthetic(0)
    b = get_detector("uniform", length=5.0).detect(f)
    assert np.allclose(b.times, np.arange(5.0, f.ends[-1] - 1e-9, 5.0))
    assert b.segments()[0].start == 0.0 and b.segments()[-1].end == pytest.approx(f.ends[-1])


def test_novelty_finds_mean_shifts():
    assert score(get_detector("novelty"), range(100, 104)).f1 >= 0.9


def test_sbd_finds_changes_on_held_out_sequences(trained):
    sbd = get_detector("sbd", predictor=trained)
    counts = score(sbd, range(100, 104))
    assert counts.f1 >= 0.8, counts
    assert counts.f1 > score(get_detector("uniform"), range(100, 104)).f1


def test_sbd_boundaries_carry_scores_and_the_error_signal(trained):
    f, _ = synthetic(100)
    b = get_detector("sbd", predictor=trained).detect(f)
    assert len(b.times) == len(b.scores) > 0
    assert np.all((b.scores > 0) & (b.scores <= 1))
    assert len(b.signal) == len(b.signal_times) == len(f)
    assert np.all(np.diff(b.times) >= 0.5 - 1e-9)  # min_len = 0.5 s


def test_fit_trains_a_predictor_and_corpus_calibration_uses_it():
    corpus = [synthetic(s, n_seg=4)[0] for s in range(2)]
    det = get_detector("sbd", calibration="corpus", train=TrainSettings(steps=20)).fit(corpus)
    assert det.corpus_spread_ > 0
    assert det.gap_for(np.zeros(3)) == pytest.approx(3.5 * det.corpus_spread_)
    assert get_detector("sbd", gap=7.0).gap_for(np.zeros(3)) == 7.0


def test_automatic_gap_does_not_collapse_when_the_errors_are_nearly_constant():
    """Saturated features give the same error step after step: the MAD is zero, and a GAP of
    k * MAD would cut at the predictor's warm-up wobble (-3.0 -> -2.7 nats)."""
    errors = np.r_[np.nan, -1.4, -3.0, -2.7, np.full(60, -2.6), 9.0, np.full(60, -2.6)]
    det = get_detector("sbd")
    assert det.gap_for(errors) == pytest.approx(np.log(10))
    times = np.arange(len(errors)) * 0.1
    found = sbd_rule(errors, times, det.gap_for(errors), min_len=1.0)
    assert found.indices.tolist() == [64]
    collapsed = get_detector("sbd", min_gap=0.0).gap_for(errors)
    assert sbd_rule(errors, times, collapsed, min_len=1.0).indices.tolist() == [11, 64]


def test_automatic_gap_follows_the_noise_not_long_stretches_at_a_higher_level():
    """An encoder unsure for half the video puts the error at ~10 nats there and ~-3 nats
    elsewhere: the MAD of those levels (~10) times 3.5 would hide a 20-nat jump; the noise of
    the window-to-window changes (1 nat here) does not."""
    rng = np.random.default_rng(0)
    levels = np.repeat([-3.0, 10.0, -3.0, 10.0], 40)
    errors = levels + rng.standard_normal(len(levels))
    errors[100] += 20.0
    assert step_noise([errors]) == pytest.approx(1.0, rel=0.25)
    gap = get_detector("sbd").gap_for(errors)
    assert gap == pytest.approx(3.5 * step_noise([errors]))
    assert 3.5 * robust_spread(errors) > 20 > gap
    found = sbd_rule(errors, np.arange(len(errors)) * 0.1, gap, min_len=1.0)
    assert 100 in found.indices.tolist()


def test_step_noise_is_measured_within_each_video():
    flat = [np.full(20, 1.0), np.full(20, 50.0)]  # a 49-nat step between videos is not noise
    assert step_noise(flat) == 0.0
    assert step_noise([np.r_[np.nan, 0.0, 1.0, 3.0, 6.0]]) == pytest.approx(1.4826 / np.sqrt(2))


def test_too_short_features_give_one_segment(trained):
    for n in (0, 1):
        f = Features(np.zeros((n, 16), np.float32), np.arange(n) * 1.0, np.arange(n) + 1.0, "x")
        for det in (get_detector("sbd", predictor=trained), get_detector("novelty"),
                    get_detector("uniform")):
            assert len(det.detect(f).times) == 0
    one = Features(np.zeros((1, 16), np.float32), np.array([0.0]), np.array([1.0]), "x")
    assert len(get_detector("sbd", predictor=trained).detect(one).segments()) == 1


def test_reset_restarts_the_predictor_from_that_window(trained):
    f, _ = synthetic(7)
    stream = PredictionErrors(trained.model, f.data, chunk=8)
    got = []
    for i, e in enumerate(stream):
        got.append(e)
        if i == 20:
            stream.reset(20)
        if i == 30:
            break
    fresh = list(PredictionErrors(trained.model, f.data[20:], chunk=8))
    assert got[21:31] == pytest.approx(fresh[1:11], rel=1e-5, nan_ok=True)
    # horizon 1: nothing predicts window 20, window 21 is warm-up, 22 is predicted from 20-21
    assert np.isnan(got[21]) and np.isfinite(got[22])
    full = list(PredictionErrors(trained.model, f.data, chunk=1000))
    assert np.isnan(got[0]) and got[:21] == pytest.approx(full[:21], rel=1e-5, nan_ok=True)


def test_the_next_window_is_the_one_starting_where_the_current_ends():
    f, _ = synthetic(5, n_seg=3)
    wide = Features(f.data, f.starts, f.starts + 3 * HOP, "synthetic")  # window = 3 steps
    model = train_predictor([wide], settings=TrainSettings(steps=3)).model
    assert model.config.horizon == 3
    stream = PredictionErrors(model, wide.data, chunk=4)
    got = []
    for i, e in enumerate(stream):
        got.append(e)
        if i == 10:
            stream.reset(10)
    nan = np.isnan(got)  # nothing predicts 3 windows, the next 3 are the GRU's warm-up
    assert nan[:6].all() and not nan[6:11].any()
    assert nan[11:16].all() and not nan[16:].any()
    # the one-pass errors equal the stream's with no reset, whatever the chunking
    nll, miss = PredictionErrors(model, wide.data).unreset(chunk=5)
    assert nll == pytest.approx(list(PredictionErrors(model, wide.data, chunk=4)), rel=1e-4,
                                nan_ok=True)
    assert np.isnan(miss[:6]).all() and (miss[6:] >= 0).all()


def test_save_and_load_round_trip(trained, tmp_path):
    path = trained.save(tmp_path / "p.pt")
    loaded = load_predictor(path)
    f, _ = synthetic(3)
    assert list(loaded.errors(f)) == pytest.approx(list(trained.errors(f)), rel=1e-5,
                                                    nan_ok=True)
    assert loaded.card["data"]["windows"] > 0 and loaded.card["loss_curve"]
    with pytest.raises(DimensionMismatchError):
        loaded.errors(Features(np.zeros((3, 5), np.float32), np.zeros(3), np.ones(3), "x"))
    with pytest.raises(WeightsNotFoundError, match="train-predictor"):
        load_predictor(tmp_path / "missing.pt")


def test_load_refuses_pickled_code(trained, tmp_path):
    path = trained.save(tmp_path / "p.pt")
    torch.save({"x": Features(np.zeros((1, 1), np.float32), np.zeros(1), np.ones(1), "x")}, path)
    with pytest.raises(Exception, match="[Ww]eights only"):
        load_predictor(path)


def test_actions_add_a_categorical_term():
    feats = [synthetic(s, n_seg=4)[0] for s in range(2)]
    acts = [np.arange(len(f)) // 40 % 3 for f in feats]
    model = train_predictor(feats, acts, TrainSettings(steps=10)).model
    assert model.config.n_actions == 3
    with_a = np.array(list(PredictionErrors(model, feats[0].data, acts[0])))
    no_a = np.array(list(PredictionErrors(model, feats[0].data, -np.ones_like(acts[0]))))
    assert np.all(with_a[2:] > no_a[2:])  # after the warm-up
    with pytest.raises(ValueError, match="every video or for none"):
        train_predictor(feats, [acts[0], None])


def test_actions_beside_a_video_are_read_and_resampled_to_windows(tmp_path):
    from vidskill.boundaries.actions import actions_file, actions_per_window, load_actions
    from vidskill.errors import ConfigError

    video = tmp_path / "v.mp4"
    assert actions_file(video) is None
    np.save(tmp_path / "v.actions.npy", np.array([0, 0, 1, 1, 2, 2]))
    times, acts = load_actions(actions_file(video), fps=2.0)  # frames at 0, 0.5, ..., 2.5 s
    feats = Features(np.zeros((3, 1), np.float32), np.array([-0.5, 0.5, 2.0]),
                     np.array([0.0, 1.0, 2.0]), "x")  # centres -0.25, 0.75, 2.0
    assert actions_per_window(times, acts, feats).tolist() == [-1, 0, 2]
    (tmp_path / "w.actions.csv").write_text("time,action\n0.0,3\n1.0,4\n")
    times, acts = load_actions(actions_file(tmp_path / "w.mp4"), fps=30.0)
    assert times.tolist() == [0.0, 1.0] and acts.tolist() == [3, 4]
    (tmp_path / "bad.actions.csv").write_text("t,a\n0,1\n")
    with pytest.raises(ConfigError, match="'action' column"):
        load_actions(tmp_path / "bad.actions.csv", fps=30.0)


def test_trimmed_drops_boundaries_that_leave_a_short_first_or_last_segment():
    b = Boundaries(np.array([0.5, 3.0, 9.2]), np.array([0.6, 0.7, 0.8]), np.zeros(3),
                   np.zeros(3), 0.0, 10.0)
    t = b.trimmed(1.0)
    assert t.times.tolist() == [3.0] and t.scores.tolist() == [0.7]
    assert b.trimmed(1.0, keep=np.array([False, False, True])).times.tolist() == [3.0, 9.2]
    assert b.trimmed(0.5).times.tolist() == [0.5, 3.0, 9.2]


def test_error_bursts_merge_declarations_inside_and_drop_reset_echoes():
    times = np.arange(14) * 0.1
    errors = np.array([np.nan, 0, 0, 9, 8, 3, 4, 6, 0, 0, 7, 2, 0, 0])
    bursts = ErrorBursts(errors, times, level=1.0, horizon=1, limit=1.0)
    # the declaration at step 6 lies inside the first burst and joins it; the error falls
    # below the level at step 8, so the one at step 10 starts a second burst; the one at 13
    # (the rule's own reset echo) has no burst in the unreset error and is dropped
    got = bursts.merge(np.array([3, 6, 10, 13]), np.array([0.6, 0.9, 0.7, 0.8]))
    assert got == [Burst(3, 8, 0.9), Burst(10, 12, 0.7)]
    # a burst lasts at most `limit` seconds past its first declaration
    short = ErrorBursts(errors, times, level=1.0, horizon=1, limit=0.15)
    assert [(b.start, b.stop) for b in short.merge(np.array([3, 6]), np.array([0.6, 0.9]))] \
        == [(3, 5), (6, 8)]


def test_a_burst_must_rise_more_than_gap_above_the_median_error():
    # median error 0; a rise of 1.5 at step 10 is under GAP = 2, one of 3 at step 20 is over
    errors = np.zeros(30)
    errors[0], errors[10:12], errors[20:22] = np.nan, 1.5, 3.0
    bursts = ErrorBursts.above_gap(errors, np.arange(30) * 0.1, gap=2.0, horizon=1, limit=1.0)
    assert bursts.level == 2.0
    assert bursts.merge(np.array([10, 20]), np.array([0.6, 0.7])) == [Burst(20, 22, 0.7)]


def test_the_change_test_reads_no_window_before_the_previous_boundary(trained):
    # the previous boundary is at window 60, the burst at 70: the predictor reads windows
    # 60-69 only (not the 32 of its context, which would reach into the segment before)
    f = pieces((0, 60), (3, 10), (1, 60))
    stream = PredictionErrors(trained.model, f.data)
    _, miss = stream.unreset()
    test = ChangeTest(stream, miss, f.times.astype(np.float64), f.starts.astype(np.float64),
                      context=32, settle=0.5)
    change = test(Burst(70, 72, 0.9), since=60)
    scale = 2.0 * f.dim
    after = 75  # 0.5 s (settle) after the burst's start
    assert change.shift == pytest.approx(stream.miss_across(60, 70, after) / scale)
    assert change.shift != pytest.approx(stream.miss_across(38, 70, after) / scale, rel=1e-3)
    assert 70 <= change.at <= after


def test_split_point_puts_the_boundary_between_the_two_means():
    windows = np.array([0, 0, 0.2, 0.9, 1, 1])[:, None]
    assert split_point(windows, np.zeros(1), np.ones(1)) == 3
    assert split_point(windows[:1], np.zeros(1), np.ones(1)) == 1


def test_keep_apart_keeps_the_larger_shift_of_two_close_changes():
    changes = [Change(2.0, 20, 0.5, 0.3), Change(2.6, 26, 0.6, 0.8), Change(5.0, 50, 0.7, 0.2)]
    assert [c.time for c in keep_apart(changes, 1.0)] == [2.6, 5.0]
    assert [c.time for c in keep_apart(changes, 0.5)] == [2.0, 2.6, 5.0]


def pieces(*parts: tuple[int, int], seed: int = 0, dim: int = 16) -> Features:
    """Features made of (prototype, windows) parts, each like a segment of `synthetic`."""
    rng = np.random.default_rng(seed)
    protos = np.random.default_rng(1234).normal(size=(6, dim))
    xs = []
    for label, n in parts:
        wave = 1 + 0.5 * np.sin(2 * np.pi * np.arange(n) / rng.uniform(5, 15) + rng.uniform(0, 6.3))
        xs.append(protos[label] * wave[:, None] + 0.3 * rng.normal(size=(n, dim)))
    data = np.concatenate(xs).astype(np.float32)
    starts = np.arange(len(data)) * HOP
    return Features(data, starts, starts + HOP, "synthetic")


def test_sbd_ignores_a_brief_flip_of_the_features_but_not_a_change(trained):
    """With `refine`: features that jump to another skill's for 0.4 s and come back make a
    burst of error, but the windows after it are where the segment before predicts: no
    boundary, unless min_shift = 0 keeps every burst. A change that stays is found where it happens."""
    flip = pieces((0, 60), (3, 4), (0, 60))
    def refined(**options):
        return get_detector("sbd", predictor=trained, refine=True, min_len=1.0, **options)

    assert refined().detect(flip).times.tolist() == []
    assert len(refined(min_shift=0).detect(flip).times) >= 1
    change = pieces((0, 60), (3, 60))
    assert refined().detect(change).times == pytest.approx([6.0], abs=0.2)
    with pytest.raises(ValueError, match="min_shift must be >= 0"):
        get_detector("sbd", min_shift=-0.1)


def test_miss_across_needs_windows_on_both_sides(trained):
    f, _ = synthetic(3)
    stream = PredictionErrors(trained.model, f.data)
    assert stream.miss_across(0, 10, 12) >= 0
    with pytest.raises(ValueError, match="need 1 windows before 10"):
        stream.miss_across(10, 10, 12)
    with pytest.raises(ValueError, match="need 1 windows"):
        stream.miss_across(0, 10, len(f))


def test_novelty_keeps_min_len_from_both_ends_of_the_video():
    protos = np.eye(3, dtype=np.float32)
    data = np.concatenate([np.repeat(protos[[i]], n, 0) for i, n in ((0, 5), (1, 50), (2, 50))])
    starts = np.arange(len(data)) * HOP
    f = Features(data, starts, starts + HOP, "synthetic")
    assert get_detector("novelty", min_len=0.2).detect(f).times == pytest.approx([0.5, 5.5])
    assert get_detector("novelty", min_len=1.0).detect(f).times == pytest.approx([5.5])


def test_sbd_refuses_a_predictor_of_other_features_and_names_the_fix(trained):
    f, _ = synthetic(3)
    other = Features(f.data, f.starts, f.ends, "flow-motion")
    with pytest.raises(ConfigError, match="trained on 'synthetic' features but these are "
                                          "'flow-motion'"):
        get_detector("sbd", predictor=trained).detect(other)
    with pytest.raises(ConfigError, match="no SBD predictor is shipped for 'flow-motion'.*"
                                          "train-predictor --encoder flow-motion"):
        get_detector("sbd", predictor="shipped").detect(other)
    with pytest.raises(ConfigError, match="has no predictor: fit it on the corpus first"):
        get_detector("sbd").detect(other)
