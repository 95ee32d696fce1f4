"""The weights resolver: registry, lookup order, digests, and the errors users see."""

import json
from pathlib import Path

import pytest
import torch

from vidskill.errors import VidskillError, WeightsNotFoundError
from vidskill.weights import data_origin, load_state_dict, model_entry, registry

REPO_REGISTRY = Path(__file__).parents[1] / "models" / "registry.toml"


@pytest.fixture
def zoo(tmp_path, monkeypatch):
    """An empty torch hub cache and a models folder holding a copy of the registry."""
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    models = tmp_path / "models"
    models.mkdir()
    (models / "registry.toml").write_text(REPO_REGISTRY.read_text())
    monkeypatch.setenv("VIDSKILL_MODELS", str(models))
    yield tmp_path
    torch.hub.set_dir(old)


def test_registry_matches_torchvision_file_names():
    entries = registry()
    for name in ("raft_small", "raft_large", "r3d_18", "r2plus1d_18", "mc3_18", "s3d",
                 "mvit_v2_s"):
        entry = entries[name]
        assert entry.weights_enum().url.rsplit("/", 1)[1] == entry.file == entry.url.rsplit("/")[-1]
        assert entry.file.split("-")[-1].startswith(entry.sha256_prefix)
    assert entries["flow-cnn"].file == "flow-cnn-demo.pt"


def test_unknown_model_lists_known_ones():
    with pytest.raises(VidskillError, match="known: .*raft_small"):
        model_entry("raft_tiny")


def test_none_means_random_and_bad_paths_are_clear(tmp_path):
    assert load_state_dict("r3d_18", None) is None
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        load_state_dict("r3d_18", tmp_path / "nope.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsNotFoundError, match="not a loadable weights file"):
        load_state_dict("r3d_18", junk)
    tensor = tmp_path / "tensor.pth"
    torch.save(torch.zeros(2), tensor)
    with pytest.raises(WeightsNotFoundError, match="not a state_dict"):
        load_state_dict("r3d_18", tensor)


def test_default_finds_the_hub_cache_and_checks_the_digest(zoo):
    ckpt = zoo / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.save({"w": torch.ones(2)}, ckpt / model_entry("r3d_18").file)
    with pytest.raises(WeightsNotFoundError, match="sha256"):
        load_state_dict("r3d_18")  # right name, wrong content


def test_default_loads_a_registered_file_from_models(zoo):
    models = zoo / "models"
    (models / "registry.toml").write_text('[toy]\nfile = "toy.pt"\n')
    with pytest.raises(WeightsNotFoundError, match="expected toy.pt"):
        load_state_dict("toy")
    torch.save({"w": torch.arange(3)}, models / "toy.pt")
    assert torch.equal(load_state_dict("toy")["w"], torch.arange(3))


def test_malformed_registry_is_a_config_error(zoo):
    (zoo / "models" / "registry.toml").write_text("[toy]\nfile = 3\nsize = 1\n")
    with pytest.raises(VidskillError, match="unknown keys"):
        registry()


def test_data_origin_reads_the_generator_record_beside_each_video(tmp_path):
    for name, seed in (("a", 100), ("b", 101), ("c", 100)):
        (tmp_path / f"{name}.json").write_text(json.dumps({"synth": {"version": 3, "seed": seed}}))
    (tmp_path / "d.json").write_text("not json")
    (tmp_path / "e.json").write_text(json.dumps({"segments": []}))  # labels, no generator
    videos = [tmp_path / f"{n}.mp4" for n in "abcdef"]
    assert data_origin(videos) == {"synth": {"versions": [3], "seeds": [100, 101]},
                                   "other_videos": 3}
    assert data_origin([tmp_path / "f.mp4"]) == {"other_videos": 1}


def test_every_shipped_card_names_the_corpus_seeds_and_version_it_was_trained_on():
    for card in (REPO_REGISTRY.parent).glob("*.json"):
        origin = json.loads(card.read_text())["data"]["origin"]
        assert origin["synth"]["versions"] and origin["synth"]["seeds"], card.name
