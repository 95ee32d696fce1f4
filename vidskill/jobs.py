"""Pipeline files: the ingest, query and select jobs as TOML files naming every setting.

`load_pipeline(path, overrides)` reads a file with tomllib, applies `--set KEY=VALUE`
overrides (dotted keys, values in TOML syntax, else text), checks every key against the
job's schema (a `ConfigError` names the file and the key), and resolves paths: those in
the file against the file's folder, those given with --set against the working folder.
`run_pipeline` then calls the library functions the `vidskill ingest/query/select` commands call.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vidskill.errors import ConfigError
from vidskill.ingest import ENGINES, IngestSettings
from vidskill.ingest.manifest import KINDS
from vidskill.select.choose import DEFAULT_SIMILARITY, DEFAULT_TEXT, DEFAULT_VIDEO_ENCODER
from vidskill.select.fusion import DEFAULT_METHOD, METHODS
from vidskill.select.similarity import SIMILARITIES
from vidskill.select.text import TEXT_SCORERS
from vidskill.select.video_scores import DEFAULT_K
from vidskill.store import POOLINGS

PATH = "path"  # a str resolved against the folder it was given relative to
ANY_TABLE = "table"  # free-form options handed on as they are (encoder or detector settings)


@dataclass(frozen=True)
class Key:
    """One setting: its type (a Python type, PATH, ANY_TABLE, or a schema for a list of
    tables), its default (None = optional), the values allowed, and whether it must be given."""

    kind: Any
    default: Any = None
    choices: tuple = ()
    required: bool = False


DEFAULTS = IngestSettings()  # a job file names what differs from `vidskill ingest`'s defaults

INGEST: dict[str, Any] = {
    "job": Key(str, choices=("ingest",), required=True),
    "store": Key(PATH, required=True),
    "sources": {
        "root": Key(PATH, "."),
        "entries": Key({"path": Key(str), "kind": Key(str, "long", KINDS),
                        "label": Key(str), "domain": Key(str), "label_from": Key(str)}),
    },
    "settings": {
        "encoders": Key(list, list(DEFAULTS.encoders)),
        "encoder_settings": Key(ANY_TABLE, DEFAULTS.encoder_settings),
        "fps": Key(float, DEFAULTS.fps),
        "size": Key(int, DEFAULTS.size),
        "pooling": Key(str, DEFAULTS.pooling, POOLINGS),
        "segment": Key(bool, DEFAULTS.segment),
        "segment_with": Key(str, DEFAULTS.segment_with),
        "chunk_seconds": Key(float, DEFAULTS.chunk_seconds),
    },
    "detector": {"name": Key(str, DEFAULTS.detector),
                 "settings": Key(ANY_TABLE, DEFAULTS.detector_settings)},
    "index": {"factory": Key(str, "auto")},
    "engine": {
        "name": Key(str, "local", ENGINES),
        "workers": Key(int, 0),
        "address": Key(str, ""),
        "gpus": Key(float, -1.0),
        "cpus": Key(float, 1.0),
    },
}

QUERY: dict[str, Any] = {
    "job": Key(str, choices=("query",), required=True),
    "store": Key(PATH, required=True),
    "query": {"video": Key(PATH), "start": Key(float), "end": Key(float), "segment": Key(int),
              "vector": Key(PATH)},
    "k": Key(int, 10),
    "encoder": Key(str, ""),
    "domain": Key(str, ""),
    "label": Key(str, ""),
}

SELECT: dict[str, Any] = {
    "job": Key(str, choices=("select",), required=True),
    "skill": Key(str, required=True),
    "templates": Key(PATH, required=True),
    "human": Key(PATH),
    "reference": Key(PATH),
    "store": Key(PATH),
    "label": Key(str, ""),
    "query": Key(PATH),
    "method": Key(str, DEFAULT_METHOD, METHODS),
    "encoder": Key(str, DEFAULT_VIDEO_ENCODER),
    "similarity": Key(str, DEFAULT_SIMILARITY, tuple(SIMILARITIES)),
    "text": Key(str, DEFAULT_TEXT, tuple(TEXT_SCORERS.names())),
    "k": Key(int, DEFAULT_K),
    "cache": Key(PATH),
}

SCHEMAS = {"ingest": INGEST, "query": QUERY, "select": SELECT}


@dataclass(frozen=True)
class Pipeline:
    """A checked pipeline file: its job, every setting (defaults filled in), and the file."""

    job: str
    config: dict
    file: Path


def load_pipeline(path: str | os.PathLike, overrides: Sequence[str] = ()) -> Pipeline:
    """Read, override, check and resolve a pipeline file (see the module docstring)."""
    file = Path(path)
    try:
        doc = tomllib.loads(file.read_text())
    except FileNotFoundError as e:
        raise ConfigError(f"{file}: no such pipeline file; see pipelines/ for examples") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{file}: not valid TOML: {e}") from e
    job = doc.get("job")
    if job not in SCHEMAS:
        raise ConfigError(f"{file}: 'job' must be one of {sorted(SCHEMAS)}, got {job!r}")
    schema = SCHEMAS[job]
    config = _check(doc, schema, file, "", file.resolve().parent)
    for pair in overrides:
        key, value = _parse_override(pair, file)
        _assign(doc, key, value, file)
        fresh = _check(doc, schema, file, "", Path.cwd())
        _assign(config, key, _get(fresh, key), file)
    return Pipeline(job, config, file)


def _parse_override(pair: str, file: Path) -> tuple[str, Any]:
    key, sep, text = pair.partition("=")
    if not sep or not key:
        raise ConfigError(f"{file}: --set takes KEY=VALUE (e.g. engine.workers=2), got {pair!r}")
    try:
        return key.strip(), tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return key.strip(), text


def _assign(doc: dict, key: str, value: Any, file: Path) -> None:
    *parents, last = key.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
        if not isinstance(doc, dict):
            raise ConfigError(f"{file}: cannot set {key!r}: {part!r} is not a table")
    doc[last] = value


def _get(doc: dict, key: str) -> Any:
    for part in key.split("."):
        doc = doc[part]
    return doc


def _check(doc: dict, schema: dict, file: Path, prefix: str, base: Path) -> dict:
    """`doc` checked against `schema`, defaults filled in, PATH values resolved on `base`."""
    unknown = sorted(set(doc) - set(schema))
    if unknown:
        raise ConfigError(f"{file}: unknown key {prefix + unknown[0]!r}; known here: "
                          f"{', '.join(prefix + k for k in schema)}")
    out: dict = {}
    for name, spec in schema.items():
        where = prefix + name
        if isinstance(spec, dict):
            table = doc.get(name, {})
            if not isinstance(table, dict):
                raise ConfigError(f"{file}: {where!r} must be a table")
            out[name] = _check(table, spec, file, where + ".", base)
        elif name in doc:
            out[name] = _value(doc[name], spec, file, where, base)
        elif spec.required:
            raise ConfigError(f"{file}: {where!r} is required")
        else:
            out[name] = spec.default
    return out


def _value(value: Any, spec: Key, file: Path, where: str, base: Path) -> Any:
    """One checked value (lists of tables are checked entry by entry)."""
    if isinstance(spec.kind, dict):
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ConfigError(f"{file}: {where!r} must be a list of tables ([[{where}]])")
        return [_check(v, spec.kind, file, f"{where}[{i}].", base) for i, v in enumerate(value)]
    expected = {PATH: str, ANY_TABLE: dict, float: (int, float)}.get(spec.kind, spec.kind)
    if not isinstance(value, expected) or (isinstance(value, bool) and spec.kind is not bool):
        name = {PATH: "a path", ANY_TABLE: "a table"}.get(spec.kind, getattr(spec.kind, "__name__", ""))
        raise ConfigError(f"{file}: {where!r} must be {name}, got {value!r}")
    if spec.choices and value not in spec.choices:
        raise ConfigError(f"{file}: {where!r} must be one of {list(spec.choices)}, got {value!r}")
    if spec.kind is PATH:
        return os.path.abspath(base / Path(value).expanduser())
    return float(value) if spec.kind is float else value


# --------------------------------------------------------------------------------------


def run_pipeline(pipeline: Pipeline):
    """Run a checked pipeline: an IngestReport (ingest), a list of Hits (query) or a
    Choice (select)."""
    jobs = {"ingest": _ingest, "query": _query, "select": _select}
    return jobs[pipeline.job](pipeline.config, pipeline.file)


def _require(value: Any, file: Path, key: str) -> Any:
    if value is None:
        raise ConfigError(f"{file}: {key!r} is required")
    return value


def _sources(config: dict, file: Path) -> list:
    """The `sources` entries as `Source`s, labels taken from file names by `label_from`."""
    from vidskill.ingest.manifest import resolve_sources

    root = Path(config["root"])
    if not config["entries"]:
        raise ConfigError(f"{file}: no [[sources.entries]]: name at least one video path")
    out = []
    for i, entry in enumerate(config["entries"]):
        where = f"sources.entries[{i}]"
        found = resolve_sources([str(root / _require(entry["path"], file, where + ".path"))],
                                kind=entry["kind"], label=entry["label"], domain=entry["domain"])
        if entry["label_from"] is not None:
            try:
                pattern = re.compile(entry["label_from"])
            except re.error as e:
                raise ConfigError(f"{file}: {where}.label_from is not a regular expression: "
                                  f"{e}") from e
            if "label" not in pattern.groupindex:
                raise ConfigError(f"{file}: {where}.label_from needs a (?P<label>...) group")
            for k, source in enumerate(found):
                match = pattern.search(source.path.stem)
                if match is None:
                    raise ConfigError(f"{file}: {where}.label_from does not match the file "
                                      f"name {source.path.name!r}")
                found[k] = replace(source, label=match["label"])
        out += found
    return out


def _ingest(config: dict, file: Path):
    from vidskill.ingest import ingest, make_executor

    s, engine = config["settings"], config["engine"]
    settings = IngestSettings(
        encoders=tuple(s["encoders"]), encoder_settings=s["encoder_settings"],
        detector=config["detector"]["name"], detector_settings=config["detector"]["settings"],
        fps=s["fps"], size=s["size"], pooling=s["pooling"], segment=s["segment"],
        chunk_seconds=s["chunk_seconds"], segment_with=s["segment_with"],
    )
    resources = {} if engine["name"] == "local" else {
        "gpus": None if engine["gpus"] < 0 else engine["gpus"], "cpus": engine["cpus"]}
    executor = make_executor(engine["name"], workers=engine["workers"] or None,
                             address=engine["address"] or None, **resources)
    factory = config["index"]["factory"]
    return ingest(_sources(config["sources"], file), config["store"], settings,
                  executor=executor, index_factory=None if factory == "auto" else factory)


def _query(config: dict, file: Path):
    from vidskill.ingest.query import run_query
    from vidskill.store import ClipStore

    q = config["query"]
    given = [k for k in ("video", "segment", "vector") if q[k] is not None]
    if len(given) != 1:
        raise ConfigError(f"{file}: [query] needs exactly one of video, segment or vector; "
                          f"got {given or 'none'}")
    if (q["start"] is not None or q["end"] is not None) and q["video"] is None:
        raise ConfigError(f"{file}: query.start/query.end select a range of query.video")
    with ClipStore(config["store"], readonly=True) as store:
        return run_query(store, video=q["video"], start=q["start"], end=q["end"],
                         segment=q["segment"], vector=q["vector"], k=config["k"],
                         encoder=config["encoder"] or None, domain=config["domain"] or None,
                         label=config["label"] or None)


def _select(config: dict, file: Path):
    from vidskill.select.choose import choose

    if (config["human"] is None) == (config["store"] is None):
        raise ConfigError(f"{file}: give exactly one of 'human' (a folder of clips of the "
                          "skill) or 'store' (a clip store with labelled human clips)")
    return choose(config["skill"], config["templates"], human=config["human"],
                  reference=config["reference"], store=config["store"],
                  label=config["label"] or None, query=config["query"],
                  method=config["method"], encoder=config["encoder"],
                  similarity=config["similarity"], text=config["text"], k=config["k"],
                  cache=config["cache"])
