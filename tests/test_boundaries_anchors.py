"""The label-free anchors `uvd` and `twfinch`, and the `appearance` embedding they can run on:
exact boundary times on synthetic signals built to each method's assumption, too-short
input, settings, the CLI, and the joins of a real MetaWorld video."""

import json

import numpy as np
import pytest
from helpers import HOP

from vidskill.boundaries import get_detector
from vidskill.boundaries.twfinch import hierarchy
from vidskill.cli import main
from vidskill.demo.corpus import write_long_video
from vidskill.encoders import encode_video, get_encoder
from vidskill.encoders.base import Features
from vidskill.errors import ConfigError
from vidskill.video import Frames

# A demonstration moving at 1 unit/s along one axis through these waypoints: the distance
# to each waypoint falls as it is approached and rose just before the previous one was
# reached, which is UVD's assumption; each leg is 2.5-4 s, longer than min_interval (1.44 s).
WAYPOINTS = (0.0, 3.0, 0.5, 4.0, 1.0, 5.0)
WAYPOINT_TIMES = [3.0, 5.5, 9.0, 12.0]   # when waypoints 1-4 are reached


def _features(x: np.ndarray, hop: float = HOP) -> Features:
    starts = np.arange(len(x)) * hop
    return Features(np.asarray(x, np.float32), starts, starts + hop, "synthetic")


def _legs(hop: float, noise: float = 0.005, seed: int = 0) -> Features:
    """The waypoint walk sampled every `hop` s, with three constant dimensions and noise."""
    xs = [np.linspace(a, b, int(round(abs(b - a) / hop)) + 1)[1:]
          for a, b in zip(WAYPOINTS[:-1], WAYPOINTS[1:], strict=True)]
    x = np.concatenate(xs)
    data = np.column_stack([x, np.zeros((len(x), 3))])
    return _features(data + noise * np.random.default_rng(seed).normal(size=data.shape), hop)


def _blocks(lengths, seed: int, noise: float = 0.02) -> tuple[Features, np.ndarray]:
    """Piecewise-constant features: one orthogonal prototype per block, plus noise."""
    rng = np.random.default_rng(seed)
    protos = np.eye(8)[rng.permutation(8)[:len(lengths)]]
    x = np.concatenate([np.repeat(p[None], n, 0) for p, n in zip(protos, lengths, strict=True)])
    x = x + noise * rng.normal(size=x.shape)
    return _features(x), np.cumsum(lengths)[:-1] * HOP


@pytest.mark.parametrize("hop", [0.1, 0.05])
def test_uvd_ends_a_subgoal_where_the_distance_to_the_next_one_stops_falling(hop):
    found = get_detector("uvd").detect(_legs(hop))
    np.testing.assert_allclose(found.times, WAYPOINT_TIMES, atol=1e-9)  # same in seconds at any rate
    assert np.all((found.scores > 0) & (found.scores <= 1))
    # the signal is each segment's own distance-to-goal curve: 0 at every goal, at most 1
    assert found.signal.max() <= 1.0 and found.signal[-1] < 0.05


def test_uvd_keeps_min_interval_from_the_goal_and_the_start():
    # with 3.6 s the walk back from the end keeps 12.0 (4 s before the end); from there the
    # maximum at 9.0 is too close, so the walk goes on to 5.5 (the walk passed 1.0 on its way
    # to 0.5 and back); the maximum at 3.0 is too near the start
    found = get_detector("uvd", min_interval=3.6).detect(_legs(HOP))
    np.testing.assert_allclose(found.times, [5.5, 12.0], atol=1e-9)


def test_uvd_finds_nothing_in_a_steady_approach():
    x = np.linspace(0.0, 5.0, 80)[:, None] * np.ones((1, 4))
    assert len(get_detector("uvd").detect(_features(x)).times) == 0


@pytest.mark.parametrize("seed", [0, 4, 6, 8])
def test_twfinch_given_the_count_cuts_at_the_changes(seed):
    features, truth = _blocks([30, 50, 20, 40, 35], seed)
    found = get_detector("twfinch", n_segments=5).detect(features)
    np.testing.assert_allclose(found.times, truth, atol=1e-9)
    assert np.all((found.scores > 0.4) & (found.scores <= 1))  # orthogonal blocks: ~0.5
    by_duration = get_detector("twfinch", segment_seconds=4.0).detect(features)  # 17.5 s: 5
    np.testing.assert_allclose(by_duration.times, truth, atol=1e-9)


@pytest.mark.parametrize("seed", range(10))
def test_twfinch_merges_down_to_fewer_segments_at_true_changes(seed):
    features, truth = _blocks([30, 50, 20, 40, 35], seed)
    found = get_detector("twfinch", n_segments=3).detect(features)
    assert len(found.times) == 2 and set(np.round(found.times, 6)) <= set(np.round(truth, 6))


def test_twfinch_hierarchy_gets_coarser_and_its_default_is_the_coarsest_split():
    features, truth = _blocks([30, 50, 20, 40, 35], seed=6)
    counts = [int(p.max()) + 1 for p in hierarchy(features.data)]
    assert counts == sorted(counts, reverse=True) and counts[-1] == 5
    np.testing.assert_allclose(get_detector("twfinch").detect(features).times, truth, atol=1e-9)


@pytest.mark.parametrize("name", ["uvd", "twfinch"])
@pytest.mark.parametrize("n", [0, 1])
def test_empty_and_one_window_input_has_no_boundary(name, n):
    features = _features(np.ones((n, 4)))
    found = get_detector(name).detect(features)
    assert len(found.times) == len(found.scores) == 0 and len(found.signal) == n
    assert found.start == (0.0 if n == 0 else features.starts[0])
    assert found.end == (0.0 if n == 0 else features.ends[-1])


@pytest.mark.parametrize(("name", "settings"), [
    ("uvd", {"min_interval": 0}), ("uvd", {"sigma": -1}),
    ("twfinch", {"n_segments": 0}), ("twfinch", {"segment_seconds": -2.0}),
])
def test_bad_settings_are_refused(name, settings):
    with pytest.raises(ValueError):
        get_detector(name, **settings)


def test_unknown_setting_names_what_the_detector_takes():
    with pytest.raises(ConfigError, match="min_interval"):
        get_detector("uvd", gamma=0.08)


def test_appearance_ignores_brightness_and_averages_frames_in_a_window():
    rng = np.random.default_rng(0)
    scene = rng.integers(0, 200, (1, 48, 64, 3), dtype=np.uint8)
    data = np.concatenate([scene, scene + 40, scene[:, ::-1], scene[:, ::-1]])
    frames = Frames(data, np.arange(4) / 20.0, np.arange(4), "t", 20.0)
    feats = get_encoder("appearance", size=16).encode(frames)
    assert feats.data.shape == (2, 256)  # 0.1 s windows hold two 20 fps frames each
    np.testing.assert_allclose(np.linalg.norm(feats.data, axis=1), 1.0, rtol=1e-5)
    one = get_encoder("appearance", size=16, window=0.05, stride=0.05).encode(frames).data
    np.testing.assert_allclose(one[0], one[1], atol=2e-3)    # brighter, same scene
    assert float(one[1] @ one[2]) < 0.9                      # mirrored scene: another view


@pytest.mark.parametrize("name", ["uvd", "twfinch"])
def test_segment_cli_runs_the_anchor_on_appearance(name, tmp_path, capsys):
    video = write_long_video(tmp_path / "v.mp4", minutes=0.25, seed=3)
    assert main(["segment", str(video.path), "--detector", name, "--encoder", "appearance",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["detector"] == name and doc["settings"]["encoder"] == "appearance"
    assert doc["segments"][0]["start"] == 0.0
    assert doc["segments"][-1]["end"] == pytest.approx(video.duration, abs=0.06)
    assert len(doc["segments"]) >= 2


def test_twfinch_on_appearance_finds_the_joins_of_a_metaworld_video(metaworld_dir):
    # long_03: three episodes (three scenes) joined by hard cuts at frames 67 and 167 (20 fps);
    # the whole video's features, no shot stage: the clustering alone finds the joins
    path = metaworld_dir / "long" / "long_03.mp4"
    cuts = [f / 20 for f in json.loads(path.with_suffix(".json").read_text())["cut_frames"]]
    features = encode_video(path, get_encoder("appearance"), fps=10.0)
    found = get_detector("twfinch", n_segments=3).detect(features)
    np.testing.assert_allclose(found.times, cuts, atol=0.051)  # frames sampled every 0.1 s
