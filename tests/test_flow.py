"""Optical flow: DIS accuracy on known shifts, RAFT from a weights file, clear errors."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vidskill.errors import WeightsNotFoundError
from vidskill.flow import DIS_PRESETS, DISFlow, Flow, FlowEstimator, RAFTFlow, get_flow
from vidskill.video import Frames


def _texture(rng, h, w):
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2.0)
    return (img - img.min()) / (img.max() - img.min()) * 255


def shifted_pair(dx, dy, h=100, w=120, seed=0):
    """A smooth random texture and the same texture translated by (dx, dy) pixels."""
    img = _texture(np.random.default_rng(seed), h + 20, w + 20)
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    moved = cv2.warpAffine(img, m, (w + 20, h + 20), flags=cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_REFLECT)
    data = np.stack([img, moved]).clip(0, 255).astype(np.uint8)[:, 10:-10, 10:-10]
    return Frames(data, np.array([0.0, 0.1]), np.arange(2), "shift", 10.0)


@pytest.mark.parametrize("preset", DIS_PRESETS)
@pytest.mark.parametrize("dx,dy", [(2.0, -1.0), (1.3, 0.6), (-3.7, 2.25)])
def test_dis_recovers_known_shift(preset, dx, dy):
    flow = DISFlow(preset)(shifted_pair(dx, dy))
    inner = flow.data[0, 8:-8, 8:-8]
    err = np.hypot(inner[..., 0] - dx, inner[..., 1] - dy)
    assert np.median(err) < 0.25
    assert flow.timestamps.tolist() == [0.0] and flow.dt.tolist() == pytest.approx([0.1])


def test_dis_is_a_flow_estimator_and_one_frame_gives_no_pairs():
    est = get_flow("dis", preset="fast")
    assert isinstance(est, FlowEstimator) and est.name == "dis-fast"
    one = shifted_pair(1, 1).slice(0, 1)
    flow = est(one)
    assert isinstance(flow, Flow) and flow.data.shape == (0, 100, 120, 2)


def test_bad_settings_are_clear():
    with pytest.raises(ValueError, match="preset must be one of"):
        DISFlow("slow")
    with pytest.raises(ValueError, match="unknown flow method 'farneback'.*: dis, raft"):
        get_flow("farneback")


def test_grayscale_frames_are_refused_with_a_fix():
    gray = np.zeros((2, 32, 32), np.uint8)
    with pytest.raises(ValueError, match="np.repeat"):
        Frames(gray, np.arange(2.0), np.arange(2), "", 10.0)


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """A torch hub cache with no weights in it, restored afterwards."""
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    monkeypatch.setenv("VIDSKILL_MODELS", str(tmp_path / "models"))
    (tmp_path / "models").mkdir()
    repo_registry = Path(__file__).parents[1] / "models" / "registry.toml"
    (tmp_path / "models" / "registry.toml").write_text(repo_registry.read_text())
    yield tmp_path
    torch.hub.set_dir(old)


def test_raft_runs_from_a_weights_file(tmp_path):
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(0)
    path = tmp_path / "raft_small_random.pth"
    torch.save(raft_small(weights=None).state_dict(), path)
    est = RAFTFlow("small", weights=path, batch_size=2, iters=2)
    saved = torch.load(path, weights_only=True)
    assert all(torch.equal(v, saved[k]) for k, v in est.net.state_dict().items())
    frames = shifted_pair(1.5, 0.5, h=60, w=76)  # not multiples of 8, below RAFT's 128
    frames = Frames.concat([frames, frames.slice(0, 1)])
    flow = est(frames)
    assert flow.data.shape == (2, 60, 76, 2) and np.isfinite(flow.data).all()
    assert est.settings["random_weights"] is False


def test_raft_without_weights_says_which_file_where(empty_hub):
    with pytest.raises(WeightsNotFoundError) as info:
        RAFTFlow("small")
    msg = str(info.value)
    assert "raft_small_C_T_V2-01064c6d.pth" in msg
    assert str(empty_hub / "hub" / "checkpoints") in msg
    assert "https://download.pytorch.org/models/raft_small_C_T_V2-01064c6d.pth" in msg
    assert "weights=None" in msg


def test_raft_with_weights_of_another_model_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(WeightsNotFoundError, match="does not hold weights of 'raft_small'"):
        RAFTFlow("small", weights=path)


def test_dis_flow_of_a_pair_depends_on_that_pair_only():
    """OpenCV's DIS object keeps state between calls on some frame sizes (64x86 here): the
    flow of a pair must not depend on the pairs computed before it, so features do not
    depend on chunking or on the video encoded before."""
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 255, (104, 126, 3), dtype=np.uint8), (5, 5), 0)
    clip = np.stack([base[k:k + 64, 2 * k:2 * k + 86] for k in range(10)])
    frames = Frames(clip, np.arange(10) / 10.0, np.arange(10), "texture", 10.0)
    dis = DISFlow("ultrafast")
    together = dis(frames).data
    alone = [DISFlow("ultrafast")(frames.slice(i, i + 2)).data[0] for i in range(9)]
    np.testing.assert_array_equal(together, np.stack(alone))
    np.testing.assert_array_equal(dis(frames).data, together)   # after an earlier call
