"""Template library files: a valid file loads; each kind of mistake names template and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidskill.errors import ConfigError
from vidskill.select.templates import Template, TemplateFileError, load_templates

VALID = """
[[template]]
name = "stir"
description = "Hold a spoon in the pot and move it in circles."
parameters = { speed = 0.5, turns = 3 }
video = ["videos/stir.mp4", "videos/stir-frames"]

[[template]]
name = "cut"
description = "Press the knife down through the food."
video = "videos/cut.mp4"

[[template]]
name = "wait"
description = "Do nothing for a while."
"""


@pytest.fixture
def library(tmp_path: Path) -> Path:
    (tmp_path / "videos" / "stir-frames").mkdir(parents=True)
    (tmp_path / "videos" / "stir.mp4").write_bytes(b"\0")
    (tmp_path / "videos" / "cut.mp4").write_bytes(b"\0")
    return tmp_path


def write(folder: Path, text: str) -> Path:
    path = folder / "templates.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_loads_with_resolved_videos(library: Path) -> None:
    templates = load_templates(write(library, VALID))
    assert [t.name for t in templates] == ["stir", "cut", "wait"]
    stir, cut, wait = templates
    assert stir == Template(
        "stir",
        "Hold a spoon in the pot and move it in circles.",
        {"speed": 0.5, "turns": 3},
        ((library / "videos/stir.mp4").resolve(), (library / "videos/stir-frames").resolve()),
    )
    assert cut.videos == ((library / "videos/cut.mp4").resolve(),)
    assert cut.parameters == {}
    assert wait.videos == ()


def test_absolute_video_path_outside_the_folder_is_accepted(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.mp4"
    elsewhere.write_bytes(b"\0")
    lib = tmp_path / "lib"
    lib.mkdir()
    text = f'[[template]]\nname = "a"\ndescription = "d"\nvideo = ["{elsewhere}"]\n'
    assert load_templates(write(lib, text))[0].videos == (elsewhere.resolve(),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[template]]\nname = "stir"\ndescription = "d"\nvideo = ["videos/missing.mp4"]\n',
            r"template 'stir': field 'video': file .*missing\.mp4 does not exist",
        ),
        (
            '[[template]]\nname = "stir"\ndescription = "d"\ncolour = "red"\n',
            r"template 'stir': unknown field\(s\) colour",
        ),
        (
            '[[template]]\nname = "a"\ndescription = "d"\n[[template]]\nname = "a"\n'
            'description = "e"\n',
            r"template #2 has the duplicate name 'a' \(also template #1\)",
        ),
        (
            '[[template]]\nname = "stir"\nparameters = {}\n',
            r"template 'stir': field 'description' is missing",
        ),
        (
            '[[template]]\nname = "stir"\ndescription = 3\n',
            r"template 'stir': field 'description' must be a non-empty string",
        ),
        (
            '[[template]]\nname = "stir"\ndescription = "d"\nparameters = [1, 2]\n',
            r"template 'stir': field 'parameters' must be a table, got list",
        ),
        (
            '[[template]]\nname = "stir"\ndescription = "d"\nvideo = [1]\n',
            r"template 'stir': field 'video' must be a path or a list of paths",
        ),
        (
            '[[template]]\ndescription = "d"\n',
            r"template #1: field 'name' must be a non-empty string",
        ),
        (
            '[[template]]\nname = "stir"\ndescription = "d"\nvideo = ["../outside.mp4"]\n',
            r"template 'stir': field 'video': '\.\./outside\.mp4' points outside",
        ),
        ('[[template]]\nname = "stir"\ndescription = "unclosed\n', r"TOML syntax error.*line 3"),
        ('title = "x"\n', r"unknown top-level key\(s\) title"),
        ("", r"no templates"),
    ],
)
def test_mistakes_are_reported_with_template_and_field(
    library: Path, text: str, expected: str
) -> None:
    (library.parent / "outside.mp4").write_bytes(b"\0")
    path = write(library, text)
    with pytest.raises(TemplateFileError, match=expected) as info:
        load_templates(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ConfigError)


def test_missing_file_is_a_template_file_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateFileError, match="does not exist"):
        load_templates(tmp_path / "nope.toml")


def test_symlink_escaping_the_folder_is_rejected(library: Path, tmp_path_factory) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.mp4"
    outside.write_bytes(b"\0")
    (library / "videos" / "link.mp4").symlink_to(outside)
    text = '[[template]]\nname = "a"\ndescription = "d"\nvideo = "videos/link.mp4"\n'
    with pytest.raises(TemplateFileError, match="points outside"):
        load_templates(write(library, text))
