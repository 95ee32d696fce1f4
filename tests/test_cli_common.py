"""One CLI: the common options on every command, help that states every default, `--out`
that means the same everywhere, and `segment`/`features` over many videos."""

import argparse
import json

import pytest

from vidskill.cli import build_parser, main

COMMON = ["-v", "-q", "--json", "--no-progress", "--device", "cpu"]


def commands(parser: argparse.ArgumentParser | None = None, prefix: str = ""
             ) -> dict[str, argparse.ArgumentParser]:
    """Every command and subcommand (`store list`, ...) by its name."""
    parser = parser or build_parser()
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[prefix + name] = sub
                out.update(commands(sub, f"{prefix}{name} "))
    return out


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_command_takes_the_common_options_after_its_name(name):
    parser = commands()[name]
    flags = {s for a in parser._actions for s in a.option_strings}
    assert {"-v", "-q", "--json", "--no-progress", "--device"} <= flags
    formatter = parser._get_formatter()
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{name} {action.option_strings} has no help"
        text = formatter._expand_help(action)
        if not (action.required or isinstance(action, argparse._StoreTrueAction)):
            assert "default" in text, f"{name} {action.option_strings}: {text!r}"


def test_out_refuses_a_suffix_of_another_format(media_dir, tmp_path, capsys):
    video = str(media_dir / "counter.mp4")
    assert main(["segment", video, "--format", "json", "--out", str(tmp_path / "x.csv")]) == 2
    assert "names a CSV file but --format asks for JSON" in capsys.readouterr().err
    assert main(["segment", video, "--json", "--format", "csv"]) == 2
    assert main(["segment", video, str(media_dir / "delayed_start.mp4")]) == 2
    assert "give --out FOLDER" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_segment_and_features_take_folders_and_globs(media_dir, tmp_path, capsys):
    out = tmp_path / "lists"
    assert main(["segment", str(media_dir / "counter.mp4"),
                 str(media_dir / "goldeneye-*.mp4"), "--detector", "uniform", "--length", "1",
                 "--out", str(out), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["counter.json", "goldeneye-vfr-drop3.json"]
    assert len(json.loads((out / "counter.json").read_text())["segments"]) == 3
    assert main(["features", str(media_dir / "counter.mp4"), str(media_dir / "delayed_*.mp4"),
                 "--encoder", "flow-hof", "--out", str(tmp_path / "f"), "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [d["out"].rsplit("/", 1)[1] for d in lines] == ["counter.npy", "delayed_start.npy"]
