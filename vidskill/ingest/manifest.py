"""What to ingest: files, folders, globs and manifests (CSV / JSONL) resolved to `Source`s.

A manifest row names a `path` (relative to the manifest's folder unless absolute) and may
give `label`, `domain`, `kind` ("long": segment it; "clip" or "template": one skill, one
segment) and `metadata` (a JSON object); other CSV columns and other JSONL keys become
metadata too. Paths are checked to exist and are only ever read as videos.
"""

from __future__ import annotations

import csv
import glob
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vidskill.errors import ConfigError
from vidskill.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

MANIFEST_SUFFIXES = (".csv", ".jsonl")
KINDS = ("long", "clip", "template")
_FIELDS = ("path", "label", "domain", "kind", "metadata")


class SourceNotFoundError(ConfigError, FileNotFoundError):
    """None of the paths, globs or manifest entries given names a video."""


@dataclass(frozen=True)
class Source:
    """One video to ingest and what the user said about it."""

    path: Path
    kind: str = "long"
    label: str | None = None
    domain: str | None = None
    metadata: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def whole(self) -> bool:
        """Whether the video is one skill (a single segment) rather than to be segmented."""
        return self.kind != "long"


def resolve_sources(
    sources: Sequence[str | os.PathLike],
    *,
    kind: str = "long",
    label: str | None = None,
    domain: str | None = None,
) -> list[Source]:
    """Expand paths, folders, globs and manifests into videos, in order, without repeats.

    `kind`, `label` and `domain` apply to videos not given by a manifest row that sets them.
    What names no video comes back as a `Source` with an `error` saying why (a malformed
    manifest raises ConfigError: its rows cannot be trusted).
    """
    _check_kind(kind, "the kind option")
    out: list[Source] = []
    seen: set[Path] = set()
    for entry in sources:
        text = os.fspath(entry)
        path = Path(text).expanduser()
        if path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES:
            found = read_manifest(path, kind=kind, label=label, domain=domain)
        elif path.is_dir() and path.suffix.lower() not in VIDEO_SUFFIXES:
            found = [Source(p, kind, label, domain, error=_problem(p)) for p in _videos_in(path)]
            if not found:
                found = [Source(path, kind, label, domain, error=(
                    f"the folder holds no videos ({', '.join(VIDEO_SUFFIXES)}) and no "
                    "images"))]
        elif path.exists() or path.is_symlink():
            found = [Source(path, kind, label, domain, error=_problem(path))]
        elif glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(os.path.expanduser(text), recursive=True))
            found = [Source(m, kind, label, domain, error=_problem(m)) for m in matches
                     if m.suffix.lower() in VIDEO_SUFFIXES]
            if not found:
                found = [Source(path, kind, label, domain,
                                error="the pattern matches no video")]
        else:
            found = [Source(path, kind, label, domain,
                            error="no such file, folder or pattern; check the path")]
        for source in found:
            key = source.path.resolve()
            if key not in seen:
                seen.add(key)
                out.append(source)
    return out


def read_manifest(
    path: str | os.PathLike,
    *,
    kind: str = "long",
    label: str | None = None,
    domain: str | None = None,
) -> list[Source]:
    """The videos a CSV (header row with `path`) or JSONL (one object per line) lists."""
    path = Path(path)
    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else _jsonl_rows(path)
    out = []
    for line, row in rows:
        where = f"{path}:{line}"
        if not row.get("path"):
            raise ConfigError(f"{where}: the row has no 'path'; every row must name a video")
        video = Path(str(row["path"])).expanduser()
        video = video if video.is_absolute() else path.parent / video
        problem = None if video.exists() else (
            f"no such file (listed at {where}); paths are relative to the manifest's folder")
        metadata = row.get("metadata") or {}
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{where}: 'metadata' is not valid JSON ({e})") from None
        if not isinstance(metadata, dict):
            raise ConfigError(f"{where}: 'metadata' must be a JSON object, got {metadata!r}")
        extra = {k: v for k, v in row.items() if k not in _FIELDS and v not in (None, "")}
        row_kind = row.get("kind") or kind
        _check_kind(row_kind, where)
        out.append(Source(
            video, row_kind, _text(row.get("label")) or label, _text(row.get("domain")) or domain,
            {**extra, **metadata}, error=problem or _problem(video),
        ))
    return out


def _csv_rows(path: Path) -> list[tuple[int, dict]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "path" not in reader.fieldnames:
            raise ConfigError(
                f"{path}: a CSV manifest needs a header row with a 'path' column "
                "(and optionally label, domain, kind, metadata)"
            )
        return [(reader.line_num, dict(row)) for row in reader]


def _jsonl_rows(path: Path) -> list[tuple[int, dict]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path}:{line_no}: not valid JSON ({e})") from None
            if not isinstance(row, dict):
                raise ConfigError(f"{path}:{line_no}: each line must be a JSON object")
            rows.append((line_no, row))
    return rows


def _text(value) -> str | None:
    return None if value in (None, "") else str(value)


def _check_kind(kind: str, where: str) -> None:
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")


def _problem(path: Path) -> str | None:
    """Why `path` cannot be read as a video, or None when it may be one (a file, or a folder
    of images not named like a video file)."""
    if path.is_symlink() and not path.exists():
        return "a broken symbolic link (its target is gone); fix or remove the link"
    if path.is_dir():
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return "a folder named like a video file; give the video file itself"
        return None
    if path.exists() and not path.is_file():
        return "not a regular file (a FIFO, socket or device); give a video file"
    return None


def _videos_in(folder: Path) -> list[Path]:
    """Paths named like videos under `folder` (sorted; folders, links and FIFOs so named
    included, so they are reported), or the folder itself when it holds only images."""
    videos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES
                    and not any(q.suffix.lower() in VIDEO_SUFFIXES
                                for q in p.relative_to(folder).parents if q.name))
    if videos:
        return videos
    if any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir()):
        return [folder]
    return []
