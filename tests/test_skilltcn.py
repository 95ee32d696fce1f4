"""skill-tcn: training from labels, the shipped weights on held-out demo videos, streaming with
context, and clear errors for missing labels, wrong fps and missing weights."""

import json

import numpy as np
import pytest
from helpers import run_cli

from vidskill.boundaries import get_detector
from vidskill.boundaries.base import Segment
from vidskill.demo.corpus import SYNTH_VERSION, generate_corpus, write_long_video
from vidskill.encoders import encode_video, get_encoder
from vidskill.encoders.skilltcn import CONTEXT_STEPS, read_labels, train_skill_tcn
from vidskill.errors import ConfigError, WeightsNotFoundError
from vidskill.metrics import evaluate_segmentation
from vidskill.segment import segment


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return generate_corpus(tmp_path_factory.getbasetemp() / "corpus-tcn", seed=0,
                           n_long_train=2, n_long_test=2, clips_per_skill=1)


@pytest.fixture(scope="module")
def shipped():
    return get_encoder("skill-tcn", window=0.5, stride=0.1)


def _labels_at(video, times):
    return [next((s.label for s in video.segments if s.start <= t < s.end), None) for t in times]


def test_shipped_weights_name_the_skill_of_held_out_videos(corpus, shipped):
    """Trained on `vidskill synth-long` videos (seeds 100-111); these seed-0 videos were
    never seen."""
    for v in corpus.select(domain="human", kind="long", split="test"):
        f = encode_video(v.path, shipped, fps=10)
        assert f.dim == 8 and np.allclose(np.linalg.norm(f.data, axis=1), 1.0, atol=1e-5)
        predicted = np.array(shipped.classes)[f.data.argmax(1)]
        accuracy = np.mean(predicted == np.array(_labels_at(v, f.times)))
        assert accuracy >= 0.85, (v.path.name, accuracy)


def test_skill_features_put_boundaries_where_the_skill_changes(corpus, shipped,
                                                               torch_one_thread):
    """On skill posteriors both SBD, with the shipped skill-tcn predictor (named: SBD never
    picks a demo-trained one by itself) and its refinement, and novelty find the boundaries
    of held-out videos."""
    detectors = {"sbd": get_detector("sbd", predictor="shipped", refine=True, min_len=1.0),
                 "novelty": get_detector("novelty")}
    runs = {name: [] for name in detectors}
    for v in corpus.select(domain="human", kind="long", split="test"):
        f = encode_video(v.path, shipped, fps=10)
        truth = [Segment(s.start, s.end, s.label) for s in v.segments]
        for name, det in detectors.items():
            runs[name].append((det.detect(f).segments(), truth, v.duration))
    novelty = evaluate_segmentation(runs["novelty"], tolerance=0.5)
    sbd = evaluate_segmentation(runs["sbd"], tolerance=0.5)
    assert novelty.boundary_abs.f1 >= 0.8, novelty.as_dict()
    assert sbd.boundary_abs.f1 >= max(0.8, novelty.boundary_abs.f1), sbd.as_dict()
    assert detectors["sbd"].predictor_for("skill-tcn").card["encoder"] == "skill-tcn"


def test_streamed_features_equal_one_pass_despite_context(corpus, shipped):
    """Windows near a chunk's end wait for the next chunk, which sees what follows them."""
    v = next(iter(corpus.select(domain="human", kind="long", split="test")))
    whole = encode_video(v.path, shipped, fps=10, chunk_seconds=600)
    chunked = encode_video(v.path, shipped, fps=10, chunk_seconds=1)
    assert shipped.context == pytest.approx(CONTEXT_STEPS / 10)
    assert np.allclose(whole.starts, chunked.starts)
    np.testing.assert_allclose(whole.data, chunked.data, atol=1e-5)


def test_train_writes_weights_and_a_card_that_load(corpus, tmp_path):
    videos = [v.path for v in corpus.select(domain="human", kind="long", split="train")]
    out = train_skill_tcn(videos, tmp_path / "tcn.pt", steps=20)
    card = json.loads(out.with_suffix(".json").read_text())
    labels = {s.label for v in corpus.select(domain="human", kind="long", split="train")
              for s in v.segments}
    assert card["classes"] == sorted(labels) and card["settings"]["fps"] == 10.0
    assert all("/" not in p for p in card["data"]["videos"])   # no machine paths
    assert card["data"]["origin"] == {"synth": {"versions": [SYNTH_VERSION], "seeds": [0]}}
    enc = get_encoder("skill-tcn", weights=out)
    f = encode_video(videos[0], enc, fps=10)
    assert f.dim == len(labels) and len(f) > 0


def test_cli_writes_training_videos_and_trains_skill_tcn_and_its_predictor(tmp_path):
    """The README's recipe for the shipped weights, at its smallest."""
    r = run_cli("synth-long", str(tmp_path / "c"), "--videos", "2", "--minutes", "0.3",
                "--seed", "100")
    assert r.returncode == 0, r.stderr
    videos = sorted((tmp_path / "c").glob("*.mp4"))
    assert [v.name for v in videos] == ["long_100.mp4", "long_101.mp4"]
    assert sum(e - s for _, s, e in read_labels(videos[0])) == pytest.approx(18.0, abs=0.1)
    r = run_cli("train-encoder", "--model", "skill-tcn", "--steps", "5", "--out",
                str(tmp_path / "w.pt"), *map(str, videos))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "w.pt").is_file() and (tmp_path / "w.json").is_file()
    own = ("--encoder", "skill-tcn", "--encoder-setting", f"weights={tmp_path / 'w.pt'}")
    r = run_cli("train-predictor", *own, "--steps", "5", "--out", str(tmp_path / "p.pt"),
                str(tmp_path / "c"))
    assert r.returncode == 0, r.stderr
    card = json.loads((tmp_path / "p.json").read_text())
    assert card["encoder"] == "skill-tcn"
    # both cards name the generator's version and the seeds of what they were trained on
    assert card["data"]["origin"]["synth"] == {"versions": [SYNTH_VERSION], "seeds": [100, 101]}
    assert json.loads((tmp_path / "w.json").read_text())["data"]["origin"] == card["data"]["origin"]
    assert card["encoder_settings"]["weights"].startswith("w.pt:")
    r = run_cli("segment", str(videos[1]), *own, "--predictor", str(tmp_path / "p.pt"))
    assert r.returncode == 0, r.stderr
    classes = json.loads((tmp_path / "w.json").read_text())["classes"]
    assert all(s["label"] in classes for s in json.loads(r.stdout)["segments"])


def test_missing_or_malformed_labels_are_clear(corpus, tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")
    with pytest.raises(ConfigError, match="no labels file .*clip.json"):
        read_labels(clip)
    (tmp_path / "clip.json").write_text('{"segments": [{"label": "cut"}]}')
    with pytest.raises(ConfigError, match="expected"):
        read_labels(clip)
    (tmp_path / "clip.json").write_text('{"segments": []}')
    with pytest.raises(ConfigError, match="no segments"):
        read_labels(clip)


def test_any_frame_rate_is_resampled_to_the_training_rate(shipped, tmp_path):
    """A 25 fps video (here rendered at 25 fps) is read at its native rate: the flow is
    resampled to the weights' 10 fps, and the skills are named as well as at 10 fps."""
    v = write_long_video(tmp_path / "v25.mp4", minutes=0.5, fps=25, seed=7)
    for rate in (None, 10):
        f = encode_video(v.path, shipped, fps=rate)
        predicted = np.array(shipped.classes)[f.data.argmax(1)]
        assert np.mean(predicted == np.array(_labels_at(v, f.times))) >= 0.9, rate  # 0.98


def test_missing_weights_are_clear(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="no untrained form"):
        get_encoder("skill-tcn", weights=None)
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        get_encoder("skill-tcn", weights=tmp_path / "nope.pt")


def test_segments_of_skill_features_are_named_by_their_skill(corpus, shipped):
    """`vidskill segment --encoder skill-tcn` labels each clip; frames take their segment's
    label, so MoF here measures recognition, not a majority vote against the truth."""
    runs = []
    for v in corpus.select(domain="human", kind="long", split="test"):
        seglist = segment(v.path, "novelty", shipped)
        assert all(s.label in shipped.classes for s in seglist.segments)
        runs.append((list(seglist.segments), [Segment(s.start, s.end, s.label)
                                              for s in v.segments], v.duration))
    assert evaluate_segmentation(runs, tolerance=0.5).as_dict()["MoF"] >= 0.9
