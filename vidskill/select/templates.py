"""Robot behaviour templates: load and validate a `templates.toml` library file.

A file holds one `[[template]]` table per template::

    [[template]]
    name = "stir"
    description = "Hold a spoon upright in the pot and move it in circles."
    parameters = { speed = 0.5, turns = 3 }     # optional, passed through untouched
    video = ["videos/stir.mp4"]                 # optional; a string or a list of strings

Video paths are relative to the file and must stay inside its folder (absolute paths are
taken as the user's explicit choice); each must exist as a video file or a folder of
frames. Nothing in the file is ever executed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidskill.errors import ConfigError

TEMPLATE_FIELDS = ("name", "description", "parameters", "video")


class TemplateFileError(ConfigError):
    """A template file is malformed; the message names the file, the template and the field."""


@dataclass(frozen=True)
class Template:
    """One robot behaviour template: what it does (text) and recordings of it running (video)."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)
    videos: tuple[Path, ...] = ()


def load_templates(path: str | Path) -> list[Template]:
    """Read and validate a template file; raise `TemplateFileError` naming what to fix."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateFileError(f"template file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TemplateFileError(f"cannot read template file {path}: {e}") from e
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:  # its message carries "(at line L, column C)"
        raise TemplateFileError(f"{path}: TOML syntax error: {e}") from e
    return parse_templates(data, base_dir=path.parent, source=str(path))


def parse_templates(
    data: Mapping[str, Any], base_dir: str | Path, source: str = "<templates>"
) -> list[Template]:
    """Validate already-parsed TOML data; video paths resolve against `base_dir`."""
    unknown = sorted(set(data) - {"template"})
    if unknown:
        raise TemplateFileError(
            f"{source}: unknown top-level key(s) {', '.join(unknown)}; "
            "a template file holds only [[template]] tables"
        )
    entries = data.get("template")
    if not isinstance(entries, list) or not entries:
        raise TemplateFileError(f"{source}: no templates; add at least one [[template]] table")
    base = Path(base_dir).resolve()
    templates: list[Template] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries, start=1):
        template = _parse_one(entry, i, base, source)
        if template.name in seen:
            raise TemplateFileError(
                f"{source}: template #{i} has the duplicate name {template.name!r} "
                f"(also template #{seen[template.name]}); names must be unique"
            )
        seen[template.name] = i
        templates.append(template)
    return templates


def _parse_one(entry: Any, index: int, base: Path, source: str) -> Template:
    """Validate one `[[template]]` table."""
    if not isinstance(entry, dict):
        raise TemplateFileError(f"{source}: template #{index} must be a table ([[template]])")
    label = f"template #{index}"
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise TemplateFileError(f"{source}: {label}: field 'name' must be a non-empty string")
    label = f"template {name!r}"

    def fail(what: str) -> TemplateFileError:
        return TemplateFileError(f"{source}: {label}: {what}")

    unknown = sorted(set(entry) - set(TEMPLATE_FIELDS))
    if unknown:
        raise fail(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(TEMPLATE_FIELDS)}")
    description = entry.get("description")
    if description is None:
        raise fail("field 'description' is missing; the text prior scores this text")
    if not isinstance(description, str) or not description.strip():
        raise fail("field 'description' must be a non-empty string")
    parameters = entry.get("parameters", {})
    if not isinstance(parameters, dict):
        raise fail(f"field 'parameters' must be a table, got {type(parameters).__name__}")
    video = entry.get("video", [])
    if isinstance(video, str):
        video = [video]
    if not isinstance(video, list) or not all(isinstance(v, str) and v for v in video):
        raise fail("field 'video' must be a path or a list of paths (strings)")
    videos = tuple(_resolve_video(v, base, fail) for v in video)
    return Template(name.strip(), description.strip(), parameters, videos)


def _resolve_video(value: str, base: Path, fail: Callable[[str], TemplateFileError]) -> Path:
    """Resolve one video path: relative ones must stay inside `base`; it must exist."""
    given = Path(value).expanduser()
    resolved = given.resolve() if given.is_absolute() else (base / given).resolve()
    if not given.is_absolute() and not resolved.is_relative_to(base):
        raise fail(
            f"field 'video': {value!r} points outside the template file's folder {base}; "
            "move the video inside it or give an absolute path"
        )
    if not resolved.exists():
        raise fail(f"field 'video': file {resolved} does not exist")
    return resolved
