"""`vidskill segment`, `eval-segments` and `train-predictor` on small synthetic videos."""

import csv
import io
import json
import threading
import time

import numpy as np
import psutil
import pytest
import torch

from vidskill.boundaries.predictor import load_predictor
from vidskill.boundaries.scenelist import read_segments, timecode
from vidskill.cli import main
from vidskill.synth import write_long_video


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_long_video(tmp_path_factory.mktemp("seg") / "v.mp4", minutes=0.25, seed=3)


def test_timecode_is_hh_mm_ss_mmm():
    assert timecode(0) == "00:00:00.000"
    assert timecode(3725.0427) == "01:02:05.043"


def test_segment_csv_covers_the_video(video, capsys):
    assert main(["segment", str(video.path), "--detector", "novelty", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["start_seconds"] == "0.000" and rows[0]["start_timecode"] == "00:00:00.000"
    assert float(rows[-1]["end_seconds"]) == pytest.approx(video.duration, abs=0.06)
    for a, b in zip(rows, rows[1:], strict=False):
        assert a["end_seconds"] == b["start_seconds"] and a["end_frame"] == b["start_frame"]
    assert int(rows[-1]["end_frame"]) == pytest.approx(video.n_frames, abs=1)


def test_segment_json_with_the_shipped_predictor_then_eval(video, tmp_path, capsys):
    out = tmp_path / "pred.json"
    assert main(["segment", str(video.path), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["detector"] == "sbd" and doc["segments"][0]["start"] == 0.0
    assert doc["segments"][-1]["end"] == pytest.approx(video.duration, abs=0.06)
    capsys.readouterr()
    truth = video.path.with_suffix(".json")
    assert main(["eval-segments", str(truth), str(truth), "--json"]) == 0
    perfect = json.loads(capsys.readouterr().out)
    assert perfect["boundary_F1@0.5s"] == 1.0 and perfect["MoF"] == 1.0
    assert main(["eval-segments", str(out), str(truth)]) == 0
    table = capsys.readouterr().out
    assert "boundary_F1@0.5s" in table and "F1@50" in table


def test_video_shorter_than_a_window_is_one_segment(tmp_path, capsys):
    short = write_long_video(tmp_path / "short.mp4", minutes=0.005)  # 3 frames at 10 fps
    for detector in ("sbd", "novelty", "uniform"):
        assert main(["segment", str(short.path), "--detector", detector]) == 0
        segments = json.loads(capsys.readouterr().out)["segments"]
        assert len(segments) == 1
        assert segments[0]["end"] == pytest.approx(short.duration, abs=0.06)


def test_eval_segments_pairs_folders_by_name(video, tmp_path, capsys):
    (tmp_path / "pred").mkdir()
    main(["segment", str(video.path), "--detector", "uniform", "--length", "2",
          "--format", "csv", "--out", str(tmp_path / "pred" / "v.csv")])
    assert len(read_segments(tmp_path / "pred" / "v.csv").segments) == 8  # 15 s / 2 s
    capsys.readouterr()
    assert main(["eval-segments", str(tmp_path / "pred"), str(video.path.parent), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["videos"] == 1
    assert main(["eval-segments", str(tmp_path / "pred"), str(video.path)]) == 2


def test_train_predictor_writes_weights_and_card(video, tmp_path, capsys):
    out = tmp_path / "p.pt"
    assert main(["train-predictor", str(video.path), "--out", str(out), "--steps", "5"]) == 0
    trained = load_predictor(out, device="cpu")
    assert trained.card["data"]["videos"] == [str(video.path)]
    assert len(trained.card["loss_curve"]) == 1 and trained.card["settings"]["steps"] == 5
    assert main(["train-predictor", str(tmp_path / "nothing-here")]) == 1


def _peak_rss_during(argv: list[str]) -> int:
    """Peak resident memory (bytes) of this process while `vidskill argv` runs."""
    proc = psutil.Process()
    peak, done = [proc.memory_info().rss], threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert main(argv) == 0
    finally:
        done.set()
        watcher.join()
    return peak[0]


@pytest.mark.slow
def test_detecting_on_30_minutes_of_features_keeps_memory_flat():
    from vidskill.boundaries import get_detector
    from vidskill.encoders.base import Features

    def features(minutes: float) -> Features:
        n = int(minutes * 600)  # windows every 0.1 s
        data = np.random.default_rng(0).normal(size=(n, 148)).astype(np.float32)
        starts = np.arange(n) * 0.1
        return Features(data, starts, starts + 1.0, "flow-hof")

    detector = get_detector("sbd")
    proc = psutil.Process()
    small, large = features(3), features(30)
    detector.detect(small)
    base = proc.memory_info().rss
    peaks = []
    for f in (small, large):
        peak, done = [0], threading.Event()

        def watch(peak=peak, done=done):
            while not done.is_set():
                peak[0] = max(peak[0], proc.memory_info().rss)
                time.sleep(0.02)

        watcher = threading.Thread(target=watch)
        watcher.start()
        detector.detect(f)
        done.set()
        watcher.join()
        peaks.append(peak[0] - base)
    assert peaks[1] - peaks[0] < 50e6, peaks  # the 30-min features themselves are 10 MB


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="encode_video's peak memory grows with duration "
                   "(~60 MB per minute at 160 px, measured 2026-11-24); decode and detect are flat")
def test_segmenting_30_minutes_keeps_memory_flat(tmp_path, capsys):
    short = write_long_video(tmp_path / "short.mp4", minutes=3)
    long = write_long_video(tmp_path / "long.mp4", minutes=30)
    peak_short = _peak_rss_during(["segment", str(short.path), "--format", "csv"])
    capsys.readouterr()
    peak_long = _peak_rss_during(["segment", str(long.path), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert float(rows[-1]["end_seconds"]) == pytest.approx(long.duration, abs=0.06)
    assert np.isfinite([float(r["score"]) for r in rows]).all()
    # Ten times the video, not ten times the memory: the growth stays far below the
    # 1 GB that holding the 30 minutes of frames (160x120 RGB) would take.
    frames_bytes = long.n_frames * 160 * 120 * 3
    assert peak_long - peak_short < frames_bytes / 4, (peak_short / 1e6, peak_long / 1e6)
