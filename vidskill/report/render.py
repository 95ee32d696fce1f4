"""Render a `Report` to OUT/index.html with the Jinja2 templates shipped in the package
(static files only: the page, its media folder, no server, no network)."""

from __future__ import annotations

import os
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from vidskill import __version__
from vidskill._files import write_text
from vidskill.report.model import Report, colour, fmt

TEMPLATES = Path(__file__).resolve().parent / "templates"


def environment() -> Environment:
    """The Jinja2 environment of the report templates (HTML escaped, undefined = error)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(
        ["html", "j2"]), undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = fmt
    env.filters["colour"] = colour
    return env


def render(report: Report) -> str:
    """The page as HTML text."""
    return environment().get_template("report.html.j2").render(r=report, version=__version__)


def write_report(report: Report, out_dir: str | os.PathLike) -> Path:
    """Write OUT/index.html (media are already under OUT/media); returns its path."""
    return write_text(Path(out_dir) / "index.html", render(report))
