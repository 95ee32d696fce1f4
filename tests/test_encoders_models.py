"""Learned encoders: flow-cnn (training, card, shipped weights), torchvision video models, CLI."""

import json

import numpy as np
import pytest
import torch
from test_encoders import FPS, moving_disc, write_folder

from vidskill.cli import main
from vidskill.encoders import get_encoder
from vidskill.encoders.flowcnn import card_path, train_flow_cnn
from vidskill.errors import WeightsNotFoundError
from vidskill.weights import models_dir

TINY = {"pairs": 4, "grid": 16, "width": 8, "dim": 16}


def test_shipped_flow_cnn_loads_and_is_small():
    weights = models_dir() / "flow-cnn-demo.pt"
    assert weights.stat().st_size < 2_000_000
    card = json.loads(card_path(weights).read_text())
    assert card["loss_curve"][-1] < card["loss_curve"][0]
    enc = get_encoder("flow-cnn")
    feats = enc.encode(moving_disc("circle", seconds=2.0))
    assert feats.data.shape == (2, card["arch"]["dim"])  # windows at 0 s and 0.5 s
    assert feats.settings["weights"] == weights.name
    np.testing.assert_allclose(np.linalg.norm(feats.data, axis=1), 1.0, atol=1e-5)


def test_train_flow_cnn_writes_weights_and_card_that_load(tmp_path):
    # 90 images each; image folders play at 30 fps, so 3 s per video at 10 fps
    videos = [write_folder(moving_disc(p, seconds=9.0, size=64, seed=i), tmp_path / p)
              for i, p in enumerate(("circle", "line"))]
    out = train_flow_cnn(videos, tmp_path / "zoo" / "mine.pt", epochs=2, fps=FPS, size=64,
                         arch=TINY, batch_size=8)
    card = json.loads(card_path(out).read_text())
    assert len(card["loss_curve"]) == 2 and card["arch"] == TINY
    assert card["data"]["windows"] == 2 * 4 and card["settings"]["epochs"] == 2
    state = torch.load(out, weights_only=True)
    enc = get_encoder("flow-cnn", weights=out)
    assert all(torch.equal(v, state[k]) for k, v in enc.net.state_dict().items())
    assert enc.encode(moving_disc("line", seconds=2.0, size=64)).dim == 16
    card_path(out).unlink()
    with pytest.raises(WeightsNotFoundError, match="model card"):
        get_encoder("flow-cnn", weights=out)


def test_video_model_from_a_weights_file(tmp_path):
    from torchvision.models.video import r3d_18

    torch.manual_seed(0)
    path = tmp_path / "r3d.pth"
    torch.save(r3d_18(weights=None).state_dict(), path)
    enc = get_encoder("r3d_18", weights=path, window=2.0, stride=2.0)
    feats = enc.encode(moving_disc("circle", seconds=2.0, size=64))
    assert feats.data.shape == (1, 512) and enc.settings["random_weights"] is False
    np.testing.assert_allclose(np.linalg.norm(feats.data, axis=1), 1.0, atol=1e-4)
    saved = torch.load(path, weights_only=True)
    loaded = enc.net.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in saved.items() if k in loaded)
    assert "fc.weight" not in loaded  # the classifier is dropped: penultimate features


def test_video_model_without_weights_is_a_clear_error(tmp_path):
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        with pytest.raises(WeightsNotFoundError, match="s3d-d76dad2f.pth"):
            get_encoder("s3d")
    finally:
        torch.hub.set_dir(old)


@pytest.mark.slow
@pytest.mark.parametrize("name,dim", [("r2plus1d_18", 512), ("mc3_18", 512), ("s3d", 1024),
                                      ("mvit_v2_s", 768)])
def test_every_video_model_gives_penultimate_features(name, dim):
    enc = get_encoder(name, weights=None, window=2.0, stride=2.0)
    feats = enc.encode(moving_disc("line", seconds=2.0, size=64))
    assert enc.dim == dim and feats.data.shape == (1, dim) and np.isfinite(feats.data).all()


def test_cli_features_both_layouts(tmp_path, capsys):
    video = write_folder(moving_disc("circle", seconds=2.5, size=64), tmp_path / "v")
    out = tmp_path / "f.npy"
    args = ["features", video, "--encoder", "flow-hof", "--fps", "30", "--size", "64"]
    assert main([*args, "--out", str(out)]) == 0
    nd = np.load(out)
    assert main([*args, "--out", str(out), "--layout", "dt",
                 "--encoder-setting", "window=1.0"]) == 0
    np.testing.assert_array_equal(np.load(out), nd.T)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["layout"] == "dt" and meta["shape"] == list(nd.T.shape)
    assert main([*args, "--out", str(out), "--encoder", "hog"]) == 2  # a bad argument
    assert "unknown encoder 'hog'" in capsys.readouterr().err
