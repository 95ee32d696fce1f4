"""Real footage beside the checkout: present under CI (a missing folder fails the run there),
a skip with its reason elsewhere."""

import json

import pytest
from helpers import shared_folder


def test_real_footage_folders_hold_what_their_readmes_list(media_dir, metaworld_dir):
    for name in ("counter.mp4", "goldeneye-vfr-drop3.mp4", "issue-134-rotate.mp4",
                 "issue-236-split-copy.mkv", "delayed_start.mp4"):
        assert (media_dir / name).stat().st_size > 0, name
    labels = json.loads((metaworld_dir / "labels.json").read_text())
    assert len(labels) == 96  # 8 tasks x 6 episodes x 2 views
    assert all((metaworld_dir / "clips" / clip).is_file() for clip in labels)


@pytest.mark.parametrize("ci, outcome", [("true", pytest.fail.Exception),
                                         ("", pytest.skip.Exception)])
def test_missing_footage_fails_under_ci_and_skips_elsewhere(tmp_path, monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match=r"real footage not found: .*gone.*probe\.mp4"):
        shared_folder(tmp_path / "gone", "probe.mp4")
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "probe.mp4").write_bytes(b"x")
    assert shared_folder(tmp_path / "here", "probe.mp4") == tmp_path / "here"
