"""Segmentation metrics against values computed by hand."""

import numpy as np
import pytest

from vidskill.boundaries.base import Segment
from vidskill.metrics import (
    MatchCounts,
    boundary_counts,
    edit_score,
    evaluate_segmentation,
    frame_accuracy,
    hit_chance,
    interior_boundaries,
    label_segments,
    majority_labels,
    match_boundaries,
    overlap_counts,
    recall_at_k,
    selection_accuracy,
)


def test_boundary_matching_is_one_to_one_within_the_tolerance():
    # GT 10 takes 10.3; GT 10.4 can no longer use 10.3 and 11.2 is 0.8 away: missed.
    c = match_boundaries([10.3, 11.2, 30.0], [10.0, 10.4, 20.0], tolerance=0.5)
    assert (c.tp, c.fp, c.fn) == (1, 2, 2)
    assert c.precision == pytest.approx(1 / 3)
    assert c.recall == pytest.approx(1 / 3)
    assert c.f1 == pytest.approx(1 / 3)


def test_tolerance_is_inclusive_and_gt_takes_its_nearest_prediction():
    assert match_boundaries([10.5], [10.0], 0.5).tp == 1
    assert match_boundaries([10.51], [10.0], 0.5).tp == 0
    c = match_boundaries([9.6, 10.1], [10.0, 9.5], 0.5)  # 9.5 first: takes 9.6; 10.0 takes 10.1
    assert c.tp == 2
    # 10.0 takes its nearest, 10.1, not the first within reach (9.7); 10.6 is then left
    # with 9.7, 0.9 away: one match, where first-within-tolerance would make two
    c = match_boundaries([9.7, 10.1], [10.0, 10.6], 0.5)
    assert (c.tp, c.fp, c.fn) == (1, 1, 1)


def test_relative_tolerance_is_a_fraction_of_the_duration():
    # 5% of 40 s = 2 s: 12 s matches 10 s, 25 s is 3 s from 22 s: no match.
    c = boundary_counts([12.0, 25.0], [10.0, 22.0], rel_tolerance=0.05, duration=40.0)
    assert (c.tp, c.fp, c.fn) == (1, 1, 1)
    with pytest.raises(ValueError, match="exactly one"):
        boundary_counts([1.0], [1.0])
    with pytest.raises(ValueError, match="duration"):
        boundary_counts([1.0], [1.0], rel_tolerance=0.05)


def test_counts_pool_over_videos_and_empty_cases_are_defined():
    total = MatchCounts(2, 1, 0) + MatchCounts(1, 0, 3)
    assert (total.tp, total.fp, total.fn) == (3, 1, 3)
    assert total.f1 == pytest.approx(2 * 0.75 * 0.5 / 1.25)
    assert MatchCounts().f1 == 1.0  # nothing to find, nothing found
    assert MatchCounts(0, 2, 0).f1 == 0.0


def test_frame_accuracy_and_edit_score():
    gt = list("aaabbbcc")
    pred = list("aabbbbcc")
    assert frame_accuracy(pred, gt) == pytest.approx(7 / 8)
    assert edit_score(pred, gt) == 1.0  # same order of segments
    # pred segments a b a c vs gt a b c: one deletion -> 1 - 1/4
    assert edit_score(list("aabacc"), list("aabbcc")) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        frame_accuracy(["a"], ["a", "b"])


def test_label_segments_keeps_ms_tcn_last_end_and_skips_background():
    labels, starts, ends = label_segments(list("aab") + ["background"] + list("cc"))
    assert labels == ["a", "b", "c"]
    assert starts == [0, 2, 4]
    assert ends == [2, 3, 5]  # MS-TCN's last end is n - 1


def test_f1_at_overlap_by_hand():
    gt = list("aaaaabbbbb")  # a [0,5), b [5,9) (MS-TCN end = n-1)
    pred = list("aaabbbbbbb")  # a [0,3): IoU 3/5 with a; b [3,9): IoU 4/6 with b
    c10 = overlap_counts(pred, gt, 0.10)
    assert (c10.tp, c10.fp, c10.fn) == (2, 0, 0)
    c50 = overlap_counts(pred, gt, 0.50)
    assert (c50.tp, c50.fp, c50.fn) == (2, 0, 0)
    c65 = overlap_counts(pred, gt, 0.65)  # 0.6 misses, 0.667 hits
    assert (c65.tp, c65.fp, c65.fn) == (1, 1, 1)
    # a duplicate hit on the same GT segment is a false positive
    dup = overlap_counts(list("aabaaaaaaa"), list("aaaaaaaaaa"), 0.1)
    assert (dup.tp, dup.fp, dup.fn) == (1, 2, 0)


def test_evaluate_segmentation_labels_unlabelled_predictions_by_majority():
    gt = [Segment(0, 4, "a"), Segment(4, 10, "b")]
    pred = [Segment(0, 4.4), Segment(4.4, 10)]
    assert [s.label for s in majority_labels(pred, gt)] == ["a", "b"]
    assert interior_boundaries(pred) == [4.4]
    report = evaluate_segmentation([(pred, gt, 10.0)], tolerance=0.5, fps=10)
    d = report.as_dict()
    assert d["boundary_F1@0.5s"] == 1.0
    assert d["MoF"] == pytest.approx(96 / 100)  # frames 4.0..4.35 (4 of 100) wrong
    assert d["Edit"] == 1.0
    assert d["F1@50"] == 1.0
    far = evaluate_segmentation([([Segment(0, 6), Segment(6, 10)], gt, 10.0)], tolerance=0.5)
    assert far.boundary_abs.f1 == 0.0
    assert far.boundary_rel.f1 == 0.0  # 2 s off > 5% of 10 s
    # on a 40 s video 5% is 2 s: a boundary 1.5 s off misses at 0.5 s but counts at 5%
    gt40 = [Segment(0, 20, "a"), Segment(20, 40, "b")]
    off = evaluate_segmentation([([Segment(0, 21.5), Segment(21.5, 40)], gt40, 40.0)])
    assert (off.boundary_abs.tp, off.boundary_rel.tp) == (0, 1)
    assert off.as_dict()["boundary_F1@0.5s"] == 0.0 and off.as_dict()["boundary_F1@0.05rel"] == 1.0


def test_frame_labels_use_segment_times():
    from vidskill.metrics import frame_labels

    out = frame_labels([Segment(0, 1, "x"), Segment(1, 2, "y")], np.array([0.5, 1.0, 1.5, 2.5]))
    assert out.tolist() == ["x", "y", "y", "background"]


def test_selection_metrics_count_a_tie_as_a_random_pick():
    ranking = ["x", ("a", "b", "c"), "d"]  # a, b, c tie in 2nd place
    assert hit_chance(ranking, "x", 1) == 1.0 and hit_chance(ranking, "a", 1) == 0.0
    assert hit_chance(ranking, "b", 2) == pytest.approx(1 / 3)
    assert hit_chance(ranking, "c", 3) == pytest.approx(2 / 3)
    assert hit_chance(ranking, "a", 4) == 1.0 and hit_chance(ranking, "d", 5) == 1.0
    assert hit_chance(ranking, "d", 4) == 0.0 and hit_chance(ranking, "zz", 9) == 0.0
    tied_top = [("a", "b"), "c"]
    assert selection_accuracy([tied_top, ["c", "a"]], ["a", "c"]) == pytest.approx(0.75)
    assert selection_accuracy(["a", "b"], ["a", "c"]) == 0.5  # a chosen name per skill
    assert recall_at_k([tied_top, ["c", "a"]], ["c", "a"], 2) == 0.5  # c is 3rd in the first
    assert recall_at_k([tied_top, ["c", "a"]], ["c", "a"], 3) == 1.0
    assert recall_at_k([["a", ("b", "c", "d", "e")]], ["e"], 3) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="one choice per skill"):
        selection_accuracy(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="k must be positive"):
        recall_at_k([["a"]], ["a"], 0)
