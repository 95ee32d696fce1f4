"""`vidskill info`: the metadata table, --json, and one clean error line per bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vidskill.cli import main


@pytest.fixture(scope="module")
def bad(tmp_path_factory, media_dir) -> dict[str, Path]:
    """One file or folder per kind of bad input."""
    root = tmp_path_factory.mktemp("bad_cli")
    counter = (media_dir / "counter.mp4").read_bytes()
    files = {"empty.mp4": b"", "text.mp4": b"plain text, not a video\n",
             "truncated.mp4": counter[: len(counter) // 2]}
    for name, data in files.items():
        (root / name).write_bytes(data)
    (root / "no_images").mkdir()
    return {
        "missing": root / "missing.mp4",
        "empty": root / "empty.mp4",
        "text": root / "text.mp4",
        "truncated": root / "truncated.mp4",
        "no_images": root / "no_images",
    }


def test_info_prints_a_table(media_dir, capsys):
    assert main(["info", str(media_dir / "counter.mp4")]) == 0
    out = capsys.readouterr()
    rows = dict(line.split(None, 1) for line in out.out.splitlines() if line)
    assert rows["frame_count"] == "30" and out.out.endswith("\n\n")
    assert (rows["width"], rows["height"], rows["rotation"]) == ("1920", "1080", "0")
    assert float(rows["native_fps"]) == pytest.approx(10.0)
    assert rows["backend"] == "pyav" and rows["codec"] == "h264" and out.err == ""


def test_info_json_one_object_per_video(media_dir, capsys):
    paths = [media_dir / "issue-134-rotate.mp4", media_dir / "goldeneye-vfr-drop3.mp4"]
    assert main(["info", "--json", "--backend", "opencv", *map(str, paths)]) == 0
    objs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["path"] for o in objs] == list(map(str, paths))
    assert [(o["width"], o["height"], o["rotation"]) for o in objs] == [(544, 1280, 90),
                                                                       (1280, 544, 0)]
    assert [o["frame_count"] for o in objs] == [240, 160]
    assert all(o["backend"] == "opencv" for o in objs)


@pytest.mark.parametrize("backend", ["auto", "opencv"])
@pytest.mark.parametrize(
    ("name", "words"),
    [("missing", "no such file"), ("empty", "empty (0 bytes)"), ("text", "not a video"),
     ("truncated", "truncated or damaged"), ("no_images", "holds no images")],
)
def test_info_bad_input_is_one_error_line(bad, capsys, backend, name, words):
    assert main(["info", "--backend", backend, str(bad[name])]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.count("\n") == 1 and out.err.startswith(f"error: {bad[name]}: ")
    assert words in out.err


def test_info_reports_good_and_bad_together(media_dir, bad, capsys):
    assert main(["info", "--json", str(bad["text"]), str(media_dir / "delayed_start.mp4")]) == 1
    out = capsys.readouterr()
    assert json.loads(out.out)["frame_count"] == 24
    assert out.err.startswith(f"error: {bad['text']}: ") and out.err.count("\n") == 1


def test_info_subprocess_stderr_is_clean(bad):
    """Run as a user would: decord and FFmpeg print nothing of their own from C."""
    exe = Path(sys.executable).with_name("vidskill")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "vidskill.cli"]
    names = ["text", "truncated", "empty"]
    done = subprocess.run([*command, "info", *(str(bad[n]) for n in names)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == len(names)
    for line, name in zip(lines, names, strict=True):
        assert line.startswith(f"error: {bad[name]}: ")
