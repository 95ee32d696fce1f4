"""`vidskill segment`, `eval-segments` and `train-predictor` on small synthetic videos."""

import csv
import io
import json

import numpy as np
import pytest
from memory import peak_rss

from vidskill.boundaries.io import read_segments, timecode
from vidskill.boundaries.predictor import load_predictor
from vidskill.cli import main
from vidskill.demo.corpus import SYNTH_VERSION, write_long_video

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_long_video(tmp_path_factory.mktemp("seg") / "v.mp4", minutes=0.25, seed=3)


def test_timecode_is_hh_mm_ss_mmm():
    assert timecode(0) == "00:00:00.000"
    assert timecode(3725.0427) == "01:02:05.043"


def test_segment_csv_covers_the_video(video, capsys):
    assert main(["segment", str(video.path), "--detector", "novelty", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["Start Time (seconds)"] == "0.000" and rows[0]["Start Frame"] == "1"
    assert rows[0]["Start Timecode"] == "00:00:00.000"
    assert float(rows[-1]["End Time (seconds)"]) == pytest.approx(video.duration, abs=0.06)
    for a, b in zip(rows, rows[1:], strict=False):  # 1-based frames, End Frame inclusive
        assert a["End Time (seconds)"] == b["Start Time (seconds)"]
        assert int(a["End Frame"]) + 1 == int(b["Start Frame"])
    assert int(rows[-1]["End Frame"]) == pytest.approx(video.n_frames, abs=1)


def test_segment_json_fitted_on_the_video_then_eval(video, tmp_path, capsys):
    out = tmp_path / "pred.json"
    assert main(["segment", str(video.path), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["detector"] == "sbd" and doc["segments"][0]["start"] == 0.0
    assert doc["segments"][0]["kind"] == "start"
    assert {s["kind"] for s in doc["segments"][1:]} <= {"skill"}   # no cut in the demo video
    assert all(0 < s["score"] <= 1 for s in doc["segments"])
    assert len(doc["signal"]["times"]) == len(doc["signal"]["values"]) > 200  # 0.05 s windows
    assert doc["segments"][-1]["end"] == pytest.approx(video.duration, abs=0.06)
    capsys.readouterr()
    truth = video.path.with_suffix(".json")
    assert main(["eval-segments", str(truth), str(truth), "--json"]) == 0
    perfect = json.loads(capsys.readouterr().out)
    assert perfect["boundary_F1@0.5s"] == 1.0 and perfect["MoF"] == 1.0
    assert main(["eval-segments", str(out), str(truth)]) == 0
    table = capsys.readouterr().out
    assert "boundary_F1@0.5s" in table and "F1@50" in table


def test_min_shift_decides_which_error_bursts_are_boundaries(video, capsys):
    def segments(*options):
        assert main(["segment", str(video.path), "--gap", "3", "--predictor", "shipped",
                     "--encoder", "flow-hof", "--detector-setting", "refine=true",
                     *options]) == 0
        return len(json.loads(capsys.readouterr().out)["segments"])

    every_burst, default = segments("--min-shift", "0"), segments()
    assert every_burst >= default > 1
    assert segments("--min-shift", "1e9") == 1
    assert main(["segment", str(video.path), "--min-shift", "-1"]) == 2
    assert "min_shift must be >= 0" in capsys.readouterr().err


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
    trained = load_predictor(out)
    assert trained.card["data"]["videos"] == [video.path.name]  # no machine paths in cards
    assert trained.card["data"]["origin"] == {"synth": {"versions": [SYNTH_VERSION],
                                                        "seeds": [3]}}
    assert len(trained.card["loss_curve"]) == 1 and trained.card["settings"]["steps"] == 5
    assert main(["train-predictor", str(tmp_path / "nothing-here")]) == 1


_DETECT = """
    import numpy as np
    from vidskill.boundaries import get_detector
    from vidskill.encoders.base import Features

    n = int(float(sys.argv[1]) * 600)  # windows every 0.1 s
    data = np.random.default_rng(0).standard_normal((n, 148), dtype=np.float32)
    starts = np.arange(n) * 0.1
    get_detector("sbd", predictor="shipped").detect(
        Features(data, starts, starts + 1.0, "flow-hof"))
"""


@pytest.mark.slow
def test_detecting_on_30_minutes_of_features_keeps_memory_flat():
    small, _ = peak_rss(_DETECT, "3")
    large, _ = peak_rss(_DETECT, "30")
    assert large - small < 50e6, (small / 1e6, large / 1e6)  # the 30-min features are 10 MB


_SEGMENT = """
    import torch
    from vidskill.cli import main

    torch.set_num_threads(1)
    assert main(["segment", sys.argv[1], "--format", "csv"]) == 0
"""


@pytest.mark.slow
def test_segmenting_30_minutes_keeps_memory_flat(tmp_path):
    short = write_long_video(tmp_path / "short.mp4", minutes=3)
    long = write_long_video(tmp_path / "long.mp4", minutes=30)
    peak_short, _ = peak_rss(_SEGMENT, str(short.path))
    peak_long, out = peak_rss(_SEGMENT, str(long.path))
    rows = list(csv.DictReader(io.StringIO(out + "\n")))
    assert float(rows[-1]["End Time (seconds)"]) == pytest.approx(long.duration, abs=0.06)
    assert np.isfinite([float(r["Score"]) for r in rows]).all()
    # Ten times the video, yet neither the extra frames (10 fps, 160x120 RGB: ~0.9 GB) nor
    # the extra features (motion-kin: 1031 float32 per window, 20 windows a second, ~133 MB;
    # kept in a temporary file, read back a block at a time) are held: what grows is a
    # window's start and end and the 15 values SBD reads of it (~2.4 MB), and the fit
    # sample (3 minutes here, at most 10; measured: +12 MB in all).
    extra = long.duration - short.duration
    extra_features = extra * 20 * 1031 * 4
    assert peak_long - peak_short < 0.2 * extra_features, (peak_short / 1e6, peak_long / 1e6)


def test_sbd_on_features_without_a_shipped_predictor_says_how_to_train_one(video, capsys):
    assert main(["segment", str(video.path), "--encoder", "flow-motion",
                 "--predictor", "shipped"]) != 0
    err = capsys.readouterr().err
    assert "no SBD predictor is shipped for 'flow-motion'" in err
    assert "vidskill train-predictor --encoder flow-motion" in err
