"""The shot stage: cuts on real footage and on a synthetic join, the segment path around
them (no window crosses a cut, each shot cut on its own), SBD fitted on the corpus at hand,
and `ingest --detector sbd` keeping its predictor in the store."""

import json

import cv2
import numpy as np
import pytest

from vidskill.boundaries import get_detector
from vidskill.cli import main
from vidskill.demo.corpus import write_long_video
from vidskill.encoders.spill import file_mapping
from vidskill.segment import segment, segment_videos, shot_features
from vidskill.shots import SHOT_DETECTORS, ShotCut, get_shot_detector
from vidskill.video import open_video

pytestmark = pytest.mark.usefixtures("torch_one_thread")
GOLDENEYE_CUTS = (3.754, 8.759)   # PySceneDetect's hard cuts in this file


@pytest.fixture(scope="module")
def joined(tmp_path_factory):
    """Two demo videos of different seeds (different scenes) joined at frame 80 (8.0 s)."""
    folder = tmp_path_factory.mktemp("joined")
    parts = [write_long_video(folder / f"p{seed}.mp4", minutes=0.134, seed=seed)
             for seed in (1, 2)]
    frames = []
    for part in parts:
        with open_video(part.path) as reader:
            frames += list(reader.read().data[:80])
    path = folder / "joined.mp4"
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (w, h))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def test_goldeneye_cuts_are_found_at_pyscenedetects_times(media_dir):
    with open_video(media_dir / "goldeneye-vfr-drop3.mp4", size=160) as reader:
        frames = reader.read()
    detector = get_shot_detector()
    whole = detector.detect(frames)
    assert whole.times == pytest.approx(GOLDENEYE_CUTS, abs=0.02)
    assert all(c.kind == "cut" and 0.5 < c.score <= 1 for c in whole.cuts)
    chunks = [frames.slice(a, min(a + 37, len(frames))) for a in range(0, len(frames), 37)]
    assert detector.detect(chunks) == whole   # streamed run by run: the same cuts


def test_a_fade_through_black_is_one_fade_boundary_inside_the_black():
    """Scene 1, a 1 s fade out, 1 s of black, a 1 s fade in to scene 2 (10 fps): one
    boundary, of kind 'fade', in the dark stretch; no cut fires on the gradual change."""
    from vidskill.video import Frames

    rng = np.random.default_rng(0)
    one, two = (rng.integers(60, 200, (48, 64, 3)).astype(np.float32) for _ in range(2))
    levels = np.r_[np.ones(40), np.linspace(1, 0, 11)[1:], np.zeros(10),
                   np.linspace(0, 1, 11)[1:], np.ones(40)]
    scenes = [one] * 50 + [two] * 60
    data = np.stack([np.clip(s * g, 0, 255)
                     for s, g in zip(scenes, levels, strict=True)]).astype(np.uint8)
    t = np.arange(len(data)) / 10.0
    shots = get_shot_detector().detect(Frames(data, t, np.arange(len(data)), "fade", 10.0))
    dark = t[data.reshape(len(data), -1).mean(1) < 12]
    assert [c.kind for c in shots.cuts] == ["fade"]
    assert dark[0] <= shots.cuts[0].time <= dark[-1] + 0.1


def test_segment_keeps_goldeneyes_cuts_as_cut_boundaries(media_dir, tmp_path):
    out = tmp_path / "g.json"
    assert main(["segment", str(media_dir / "goldeneye-vfr-drop3.mp4"), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    cuts = [s["start"] for s in doc["segments"] if s["kind"] == "cut"]
    assert cuts == pytest.approx(GOLDENEYE_CUTS, abs=0.5)
    assert doc["cuts"] == pytest.approx(cuts)
    assert {s["kind"] for s in doc["segments"][1:]} <= {"cut", "skill"}
    assert all(0 < s["score"] <= 1 for s in doc["segments"])


def test_counter_cuts_fall_on_pyscenedetects_exact_frames(media_dir, capsys):
    """counter.mp4 shows its own frame number (30 frames at 10 fps); PySceneDetect's
    AdaptiveDetector cuts it where the number's second digit appears and changes (frames 10
    and 20, 0-based): the shot stage cuts on exactly those frames, and every segment keeps
    exact frame numbers (CSV: 1-based, End Frame inclusive)."""
    video = shot_features(media_dir / "counter.mp4")
    assert [c.time for c in video.shots.cuts] == [1.0, 2.0]
    assert main(["segment", str(media_dir / "counter.mp4"), "--detector", "uniform",
                 "--length", "0.5", "--format", "csv"]) == 0
    rows = [r.split(",") for r in capsys.readouterr().out.splitlines()[1:]]
    assert [(int(r[1]), int(r[4]), r[-1]) for r in rows] == [
        (1, 5, "start"), (6, 10, "skill"), (11, 15, "cut"), (16, 20, "skill"),
        (21, 25, "cut"), (26, 30, "skill")]


def test_a_join_is_a_cut_at_its_exact_frame_and_no_window_crosses_it(joined):
    video = shot_features(joined)
    assert [c.time for c in video.shots.cuts] == pytest.approx([8.0], abs=1e-6)
    assert video.shots.cuts[0].kind == "cut"
    assert len(video.parts) == 2
    # no window holds the pair from frame 79 (7.9 s, old scene) to frame 80 (8.0 s, new)
    assert video.parts[0].ends.max() <= 7.95 + 1e-6 and video.parts[1].starts.min() >= 8.0
    # each shot's windows are a view of the video's (a long video's features are not copied),
    # which are mapped from a temporary file, equal to those kept in memory
    assert all(np.shares_memory(p.data, video.features.data) for p in video.parts)
    assert file_mapping(video.features.data) is not None
    held = shot_features(joined, spill=False)
    assert file_mapping(held.features.data) is None
    np.testing.assert_array_equal(held.features.data, video.features.data)
    np.testing.assert_array_equal(held.features.ends, video.features.ends)
    seglist = segment_videos([joined], "uniform", length=3.0)[0]
    starts = [(round(s.start, 3), s.kind) for s in seglist.segments]
    # uniform restarts in each shot: every 3 s from 0 and from the cut
    assert starts == [(0.0, "start"), (3.0, "skill"), (6.0, "skill"), (8.0, "cut"),
                      (11.0, "skill"), (14.0, "skill")]


def test_no_shot_stage_leaves_the_join_to_the_detector(joined):
    seglist = segment(joined, "uniform", shots="none", length=3.0)
    assert [round(s.start, 3) for s in seglist.segments] == [0.0, 3.0, 6.0, 9.0, 12.0, 15.0]
    assert seglist.cuts == ()


def test_sbd_fits_on_the_videos_given_and_names_the_shipped_predictor_only_when_asked(joined):
    detector = get_detector("sbd")
    assert detector.needs_fit
    seglist = segment_videos([joined], detector)[0]
    assert not detector.needs_fit
    card = detector.predictor_for("motion-kin").card
    assert set(card["data"]["videos"]) == {"joined.mp4"}   # fitted on its shots, no labels
    assert card["signal"]["blocks"][1]["components"] is not None   # appearance PCA, fitted
    assert any(s.kind == "cut" for s in seglist.segments)
    assert all(0 < s.score <= 1 for s in seglist.segments)


def test_shot_detectors_are_a_registry_and_cuts_have_a_kind():
    assert SHOT_DETECTORS.names() == ["adaptive", "content", "hash", "histogram", "none"]
    with pytest.raises(ValueError, match="kind must be one of"):
        ShotCut(1.0, 0.9, "dissolve")


def test_ingest_fits_sbd_on_the_corpus_once_and_keeps_it_in_the_store(tmp_path):
    videos = [write_long_video(tmp_path / "in" / f"v{s}.mp4", minutes=0.2, seed=s)
              for s in (4, 5)]
    store = tmp_path / "store"
    common = ["--store", str(store), "--detector", "sbd", "--no-progress"]
    assert main(["ingest", str(videos[0].path), *common]) == 0
    kept = store / "sbd-motion-kin.pt"   # the default cut: SBD on motion-kin
    first = kept.read_bytes()
    card = json.loads(kept.with_suffix(".json").read_text())
    assert card["data"]["videos"] == ["v4.mp4"]
    assert main(["ingest", str(videos[1].path), *common]) == 0
    assert kept.read_bytes() == first   # later additions are cut by the same predictor
