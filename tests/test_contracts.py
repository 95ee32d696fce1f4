"""Every registered plug-in through its contract (the ruptures habit): a new encoder, detector,
flow method, text scorer or fusion rule is tested the day it is registered.

Entries that need weights nobody has offline run with random weights (weights=None) where
the class allows it; those that cost seconds on a CPU are marked slow.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from helpers import piecewise_features

from vidskill.boundaries import DETECTORS, get_detector
from vidskill.boundaries.predictor import TrainSettings
from vidskill.encoders import ENCODERS, TooShortError, get_encoder
from vidskill.encoders.base import Encoder, Features
from vidskill.errors import DimensionMismatchError
from vidskill.flow import FLOWS, Flow, get_flow
from vidskill.select.fusion import FUSION_RULES, TEXT, fuse, get_fusion
from vidskill.select.similarity import SIMILARITIES, similarities, similarity_matrix
from vidskill.select.text import TEXT_SCORERS, TextBackendUnavailableError, get_text_scorer
from vidskill.video import Frames

pytestmark = pytest.mark.usefixtures("torch_one_thread")

# Settings that let an entry run here: CPU, no downloaded weights.
ENCODER_SETTINGS = {
    "r3d_18": {"weights": None, "window": 4.0, "stride": 4.0},
    "r2plus1d_18": {"weights": None, "window": 4.0, "stride": 4.0},
    "mc3_18": {"weights": None, "window": 4.0, "stride": 4.0},
    "s3d": {"weights": None, "window": 4.0, "stride": 4.0},
    "mvit_v2_s": {"weights": None, "window": 4.0, "stride": 4.0},
}
SLOW_ENCODERS = {"r3d_18", "r2plus1d_18", "mc3_18", "s3d", "mvit_v2_s"}
FLOW_SETTINGS = {"raft": {"weights": None, "model": "small"}}


def _moving_square(n: int = 60, fps: float = 10.0, size: tuple[int, int] = (160, 120),
                   seed: int = 0) -> Frames:
    """A textured square circling over noise: motion everywhere an encoder looks."""
    rng = np.random.default_rng(seed)
    w, h = size
    background = rng.integers(0, 80, (h, w, 3), dtype=np.uint8)
    patch = rng.integers(120, 255, (24, 24, 3), dtype=np.uint8)
    data = np.repeat(background[None], n, axis=0)
    for i in range(n):
        x = int(w / 2 - 12 + 30 * math.cos(2 * math.pi * i / 12))
        y = int(h / 2 - 12 + 25 * math.sin(2 * math.pi * i / 12))
        data[i, y:y + 24, x:x + 24] = patch
    ts = np.arange(n) / fps
    return Frames(data, ts, np.arange(n), "square", fps)


def _encoder_params():
    return [pytest.param(name, marks=pytest.mark.slow) if name in SLOW_ENCODERS else name
            for name in ENCODERS]


@pytest.fixture(scope="module")
def frames() -> Frames:
    return _moving_square()


@pytest.mark.parametrize("name", _encoder_params())
def test_encoder_contract(name, frames):
    enc = get_encoder(name, **ENCODER_SETTINGS.get(name, {}))
    assert isinstance(enc, Encoder) and enc.name == name
    assert enc.windows.length > 0 and enc.windows.stride > 0 and enc.context >= 0
    assert json.loads(json.dumps(enc.settings)) == enc.settings  # keys caches and stores
    feats = enc.encode(frames, origin=float(frames.timestamps[0]))
    assert isinstance(feats, Features) and len(feats) > 0
    assert feats.data.dtype == np.float32 and feats.data.shape == (len(feats), enc.dim)
    assert np.isfinite(feats.data).all() and feats.encoder == name
    assert feats.settings == enc.settings
    assert np.all(np.diff(feats.starts) > 0) and np.all(feats.ends > feats.starts)
    end = float(frames.timestamps[-1]) + 1.0 / frames.fps
    assert feats.starts[0] >= frames.timestamps[0] - 1e-6 and feats.ends[-1] <= end + 1e-6
    if enc.classes is not None:
        assert len(enc.classes) == enc.dim
    empty = enc.empty("x")
    assert empty.data.shape == (0, enc.dim) and empty.encoder == name and empty.source == "x"
    with pytest.raises(TooShortError):
        enc.encode(frames.slice(0, 1))


@pytest.mark.parametrize("name", _encoder_params())
def test_encoder_clip_contract(name, frames):
    """`embed` and `compare` work from the features alone (class methods, no encoder built):
    unit vectors of one length, a symmetric similarity in [-1, 1] that is highest for the
    clip itself, and the inner product of `embed` vectors unless the encoder compares clips
    itself."""
    enc = get_encoder(name, **ENCODER_SETTINGS.get(name, {}))
    model = type(enc)
    whole = enc.encode(frames)
    other = enc.encode(_moving_square(seed=1).slice(0, 45))
    va, vb = model.embed(whole), model.embed(other)
    assert va.dtype == np.float32 and va.ndim == 1 and va.shape == vb.shape
    assert np.isfinite(va).all() and np.linalg.norm(va) == pytest.approx(1.0, abs=1e-5)
    ab, ba = model.compare(whole, other), model.compare(other, whole)
    assert ab == pytest.approx(ba, abs=1e-9) and -1 - 1e-9 <= ab <= 1 + 1e-9
    assert model.compare(whole, whole) == pytest.approx(1.0, abs=1e-6)
    assert ab <= model.compare(whole, whole) + 1e-9
    np.testing.assert_allclose(model.compare_many(whole, [other, whole]),
                               [ab, model.compare(whole, whole)], atol=1e-9)
    # the batched forms give the same numbers as one query at a time
    np.testing.assert_allclose(model.compare_matrix([whole, other], [other, whole]),
                               [model.compare_many(q, [other, whole]) for q in (whole, other)],
                               atol=1e-9)
    for sim in ("encoder", "cosine") if model.own_comparison else tuple(SIMILARITIES):
        np.testing.assert_allclose(
            similarity_matrix(sim, [whole, other], [other, whole, other]),
            [similarities(sim, q, [other, whole, other]) for q in (whole, other)], atol=1e-6)
    assert similarity_matrix("encoder", [], [whole]).shape == (0, 1)
    if not model.own_comparison:
        assert ab == pytest.approx(float(va.astype(np.float64) @ vb), abs=1e-5)
    with pytest.raises(ValueError, match="too short|empty"):
        model.embed(enc.empty())
    narrow = Features(np.ones((3, enc.dim + 1), np.float32), np.arange(3.0),
                      np.arange(3.0) + 1, name)
    with pytest.raises((DimensionMismatchError, ValueError)):
        model.compare(whole, narrow)


@pytest.mark.parametrize("name", [n for n in ENCODERS if n not in SLOW_ENCODERS])
def test_encoders_reuse_given_flow(name, frames):
    """A flow encoder given its own flow encodes as if it had computed it; one that reads
    pixels only (appearance) ignores a flow it is handed."""
    enc = get_encoder(name)
    flow = (enc.flow or get_flow("dis"))(frames)
    np.testing.assert_allclose(enc.encode(frames, flow=flow).data, enc.encode(frames).data,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(FLOWS))
def test_flow_contract(name, frames):
    est = get_flow(name, **FLOW_SETTINGS.get(name, {}))
    assert json.loads(json.dumps(est.settings)) == est.settings
    clip = frames.slice(0, 4)
    flow = est(clip)
    h, w = clip.data.shape[1:3]
    assert isinstance(flow, Flow) and flow.data.shape == (3, h, w, 2)
    assert flow.data.dtype == np.float32 and np.isfinite(flow.data).all()
    np.testing.assert_allclose(flow.timestamps, clip.timestamps[:-1])
    np.testing.assert_allclose(flow.dt, np.diff(clip.timestamps))
    assert len(est(frames.slice(0, 1))) == 0  # one frame: no pair, not an error


def _detector(name: str):
    """A detector ready to run on synthetic features (SBD fits its predictor on them)."""
    if name == "sbd":
        corpus = [piecewise_features(s)[0] for s in range(3)]
        return get_detector(name, train=TrainSettings(steps=40)).fit(corpus)
    return get_detector(name)


def _check_boundaries(b, features: Features, min_len: float | None) -> None:
    assert len(b.times) == len(b.scores) and len(b.signal) == len(b.signal_times)
    assert len(b.signal_times) == len(features)
    assert np.all(np.diff(b.times) > 0)
    assert np.all((b.times > b.start) & (b.times < b.end))
    assert np.all((b.scores >= 0) & (b.scores <= 1))
    if min_len is not None and len(b.times):
        edges = np.r_[b.start, b.times, b.end]
        assert np.all(np.diff(edges) >= min_len - 1e-9)
    covered = sum(s.duration for s in b.segments())
    assert covered == pytest.approx(b.end - b.start)


@pytest.mark.parametrize("name", list(DETECTORS))
def test_detector_contract(name):
    detector = _detector(name)
    params = detector.get_params()
    assert set(params) <= set(DETECTORS.cls(name).__init__.__code__.co_varnames)
    features, _ = piecewise_features(11)
    found = detector.detect(features)
    _check_boundaries(found, features, params.get("min_len"))
    assert found.start == features.starts[0] and found.end == features.ends[-1]
    for n in (0, 1, 2):  # too short for any detector: no boundary, same shape of answer
        part = Features(features.data[:n], features.starts[:n], features.ends[:n], "synthetic")
        short = detector.detect(part)
        _check_boundaries(short, part, None)
        assert len(short.times) == 0 or name == "uniform"


@pytest.mark.parametrize("name", list(TEXT_SCORERS))
def test_text_scorer_contract(name):
    try:
        scorer = get_text_scorer(name)
    except TextBackendUnavailableError as e:
        pytest.skip(f"{name}: {e}")
    descriptions = ["Stir the soup with a spoon in circles.", "Cut the carrot into slices."]
    scores = np.asarray(scorer.score("stir the soup", descriptions))
    assert scores.shape == (2,) and np.isfinite(scores).all()
    assert len(scorer.score("stir the soup", [])) == 0


FUSION_SETTINGS = {"topk": {"k": 2}, "weighted": {"weights": {TEXT: 1.0, "video": 1.0}},
                   "evidence": {"weights": {TEXT: 1.0, "video": 1.0}}}


@pytest.mark.parametrize("name", list(FUSION_RULES))
def test_fusion_contract(name):
    rule = get_fusion(name, **FUSION_SETTINGS[name])
    names = ["a", "b", "c", "d"]
    scores = {TEXT: np.array([0.1, 0.4, 0.3, 0.2]), "video": np.array([0.9, 0.1, 0.5, 0.2])}
    ranking = fuse("skill", names, scores, rule)
    assert sorted(ranking.templates) == names and ranking.method == name
    assert all(len(v) == len(names) for v in ranking.scores.values())
    assert np.all(np.diff(ranking.fused[np.isfinite(ranking.fused)]) <= 0)  # best first
    assert json.loads(json.dumps(rule.settings())) == rule.settings()
