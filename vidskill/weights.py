"""Where model weights come from: `models/registry.toml`, the torch hub cache, or a user's file.

`models/registry.toml` lists every weights file, shipped or torchvision's. Every model that
needs weights (RAFT, torchvision video models, the project's flow CNN, skill TCN and SBD
predictors) is looked up here (`load_state_dict(name, weights)`, `find_weights`), so the
lookup order and the error when weights are missing are the same everywhere: "default" looks in torch.hub.get_dir()/checkpoints/ and then
in the models/ folder; a path loads that file; None means random initialisation (an explicit
opt-in for tests and benchmarks). Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from vidskill._files import replacing, write_json
from vidskill.errors import ConfigError, VidskillError, WeightsNotFoundError
from vidskill.statedict import write_state_dict

DEFAULT = "default"


def models_dir() -> Path:
    """The model zoo folder: $VIDSKILL_MODELS, else models/ beside the vidskill package."""
    env = os.environ.get("VIDSKILL_MODELS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "models"


def hub_checkpoints() -> Path:
    """torch's download cache, where torchvision keeps the weights files it fetched.

    Found as torch.hub.get_dir() finds it ($TORCH_HOME, else $XDG_CACHE_HOME/torch, else
    ~/.cache/torch; then hub/), without importing torch to look up a file: torch's own
    answer is used once it is loaded (`torch.hub.set_dir` may have moved it)."""
    if "torch" in sys.modules:
        return Path(sys.modules["torch"].hub.get_dir()) / "checkpoints"
    cache = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.path.expanduser(os.environ.get("TORCH_HOME", os.path.join(cache, "torch")))
    return Path(home) / "hub" / "checkpoints"


@dataclass(frozen=True)
class ModelEntry:
    """One registry line: a torchvision weights id and/or a weights file name (+ digest)."""

    name: str
    torchvision: str | None = None
    file: str | None = None
    url: str | None = None
    sha256: str | None = None
    sha256_prefix: str | None = None
    card: str | None = None
    features: str | None = None   # an SBD predictor: the encoder whose features it reads

    def weights_enum(self) -> Any:
        """The torchvision weights enum member (knows transforms and meta), or None."""
        if not self.torchvision:
            return None
        import torchvision.models as tvm

        enum_name, member = self.torchvision.split(".")
        for module in (tvm, tvm.video, tvm.optical_flow):
            if hasattr(module, enum_name):
                return getattr(getattr(module, enum_name), member)
        raise ConfigError(f"registry entry {self.name!r}: torchvision has no {self.torchvision}")

    def candidates(self) -> list[Path]:
        """Files that satisfy weights='default', in lookup order."""
        if not self.file:
            return []
        return [hub_checkpoints() / self.file, models_dir() / self.file]


@cache
def _read_registry(path: Path) -> dict[str, ModelEntry]:
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"model registry {path} is missing; set VIDSKILL_MODELS to the "
                          "folder holding registry.toml") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"model registry {path} is not valid TOML: {e}") from None
    fields = set(ModelEntry.__dataclass_fields__) - {"name"}
    entries = {}
    for name, table in raw.items():
        unknown = set(table) - fields
        if unknown:
            raise ConfigError(f"{path}: entry {name!r} has unknown keys {sorted(unknown)}")
        entries[name] = ModelEntry(name=name, **table)
    return entries


def registry() -> dict[str, ModelEntry]:
    """All models in models/registry.toml by name."""
    return _read_registry(models_dir() / "registry.toml")


def model_entry(name: str) -> ModelEntry:
    """The registry entry for `name`, or an error listing the known names."""
    entries = registry()
    if name not in entries:
        raise VidskillError(
            f"no model {name!r} in {models_dir() / 'registry.toml'}; known: {', '.join(entries)}"
        )
    return entries[name]


def _check_digest(path: Path, entry: ModelEntry) -> None:
    if not (entry.sha256 or entry.sha256_prefix):
        return
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    if not digest.startswith(entry.sha256 or entry.sha256_prefix):
        raise WeightsNotFoundError(
            f"{path} does not have the sha256 registered for {entry.name!r} "
            f"({entry.sha256 or entry.sha256_prefix}...; it has {digest[:12]}...): the file is "
            "damaged or another model's; delete it and fetch it again"
        )


def missing_message(entry: ModelEntry) -> str:
    """What to tell a user whose weights for `entry` cannot be found."""
    places = " or ".join(str(p) for p in entry.candidates()) or "(no file registered)"
    how = (
        f"download {entry.url} on a machine with network (e.g. curl -L {entry.url} -o "
        f"{entry.file}) and copy it there" if entry.url else
        "train it with `vidskill train-encoder` or copy the file there"
    )
    return (
        f"weights for {entry.name!r} not found: expected {entry.file} at {places}; {how}, "
        "or pass the path of a weights file (weights=PATH / --weights PATH). "
        "weights=None uses random initialisation (for tests and benchmarks only)."
    )


def find_weights(name: str) -> Path | None:
    """The first registered file for `name` that exists, or None."""
    return next((p for p in model_entry(name).candidates() if p.is_file()), None)


def load_state_dict(name: str, weights: str | os.PathLike | None = DEFAULT) -> dict | None:
    """State dict for model `name`: weights="default" (registry lookup), a file path, or None.

    Files load with torch.load(weights_only=True), so a weights file cannot run code.
    """
    if weights is None:
        return None
    import torch

    entry = model_entry(name)
    if isinstance(weights, str) and weights == DEFAULT:
        path = find_weights(name)
        if path is None:
            raise WeightsNotFoundError(missing_message(entry))
        _check_digest(path, entry)
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(
                f"weights file {path} for {name!r} does not exist; check the path, or use "
                f"weights='default' to look for {entry.file} in {hub_checkpoints()}"
            )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError/RuntimeError/EOFError on bad files
        raise WeightsNotFoundError(
            f"{path} is not a loadable weights file for {name!r} ({type(e).__name__}: {e}); "
            "save weights with torch.save(model.state_dict(), path)"
        ) from None
    if not isinstance(state, dict):
        raise WeightsNotFoundError(f"{path} holds a {type(state).__name__}, not a state_dict; "
                                   "save weights with torch.save(model.state_dict(), path)")
    return state


def apply_state_dict(model: Any, state: dict, name: str, source: str | os.PathLike) -> None:
    """Load `state` into `model`, turning a shape/key mismatch into one clear error."""
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).splitlines()[1:2] or [str(e)]
        raise WeightsNotFoundError(
            f"{source} does not hold weights of {name!r} ({first[0].strip()}); "
            "pass a file saved from the same architecture"
        ) from None


def card_path(weights: str | os.PathLike) -> Path:
    """The model card beside a project-trained weights file: same name, .json."""
    return Path(weights).with_suffix(".json")


def save_weights(path: str | os.PathLike, state_dict: dict, card: dict) -> Path:
    """Write a state_dict (torch tensors or numpy arrays; torch.save's format, loadable with
    weights_only=True, written without importing torch) and its JSON card beside it
    (`card_path`), each atomically; returns the weights path."""
    path = Path(path)
    with replacing(path) as tmp:
        write_state_dict(tmp, state_dict)
    write_json(card_path(path), card)
    return path


def card_paths(paths: list[str | os.PathLike | None]) -> list[str]:
    """Training files as a model card records them: relative to their common folder, so a
    card names its data without the trainer's machine layout."""
    given = [str(p) for p in paths if p]
    if not given:
        return []
    root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in given])
    return [os.path.relpath(os.path.abspath(p), root) for p in given]


def data_origin(paths: list[str | os.PathLike | None]) -> dict[str, Any]:
    """Where training videos come from, for a model card: the demo generator's versions and
    corpus seeds, read from the truth JSON beside each video (`vidskill synth` and
    `synth-long` write one with {"synth": {"version", "seed"}}), and how many videos have no
    such record, so overlap between training and evaluation data can be checked."""
    versions: set[int] = set()
    seeds: set[int] = set()
    other = 0
    for path in paths:
        synth = None
        if path:
            try:
                synth = json.loads(Path(path).with_suffix(".json").read_text()).get("synth")
            except (OSError, ValueError, AttributeError):
                synth = None
        if isinstance(synth, dict) and isinstance(synth.get("version"), int) \
                and isinstance(synth.get("seed"), int):
            versions.add(synth["version"])
            seeds.add(synth["seed"])
        else:
            other += 1
    origin: dict[str, Any] = {}
    if versions:
        origin["synth"] = {"versions": sorted(versions), "seeds": sorted(seeds)}
    if other:
        origin["other_videos"] = other
    return origin
