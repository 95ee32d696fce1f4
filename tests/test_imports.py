"""The package's import graph: no cycle (imports inside functions and registry entries
included), `video` at the bottom, and no library module depending on the demo."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vidskill"
# A registry entry ("vidskill.encoders.hof:HOFEncoder") or a lazy export names a module too.
MODULE_STRING = re.compile(r"^(vidskill(?:\.\w+)+)(?::\w+)?$")


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _target(name: str) -> str | None:
    """The vidskill module an imported name refers to (a submodule if there is one)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> set[str]:
    """Every vidskill module `module` imports, at any depth of its code."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = MODULE_STRING.match(node.value)
            names = [match.group(1)] if match else []
        for name in names:
            target = _target(name) if name.startswith("vidskill") else None
            if target and target != module:
                found.add(target)
    return found


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _cycle() -> list[str] | None:
    """One import cycle, as the list of modules around it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(GRAPH.get(m, ())):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(GRAPH):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_walk_sees_lazy_and_registry_imports():
    assert "vidskill.encoders.hof" in GRAPH["vidskill.encoders.registry"]
    assert "vidskill.ingest.ray" in GRAPH["vidskill.ingest"]  # imported inside a function


def test_no_import_cycle():
    cycle = _cycle()
    assert cycle is None, " -> ".join(cycle)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("vidskill.video")))
def test_video_imports_no_other_vidskill_module(module):
    outside = {m for m in GRAPH[module] if not m.startswith("vidskill.video")}
    assert not outside


def test_no_library_module_imports_the_demo():
    users = {m for m, deps in GRAPH.items() if any(d.startswith("vidskill.demo") for d in deps)}
    assert {u for u in users if not u.startswith("vidskill.demo")} <= {"vidskill.cli"}


# What each default path may not load: torch costs ~1.6 CPU s and ~870 MB of memory per
# process (a CUDA build), more than segmenting a 2-minute 720p video needs in all.
_NO_TORCH = """
import json, sys
from pathlib import Path
video, out = sys.argv[1], Path(sys.argv[2])
import vidskill
seen = {"import": "torch" in sys.modules}
from vidskill.cli import main
assert main(["ingest", video, "--store", str(out / "store"), "--no-progress"]) == 0
seen["vidskill ingest"] = "torch" in sys.modules
assert main(["segment", video, "--encoder", "flow-hof", "--predictor", "shipped",
             "--out", str(out / "shipped.json")]) == 0
seen["segment, a named predictor"] = "torch" in sys.modules
assert main(["segment", video, "--detector", "novelty", "--out", str(out / "n.json")]) == 0
seen["segment --detector novelty"] = "torch" in sys.modules
segments = vidskill.segment(video)
seen["segment() (fits SBD's GRU)"] = "torch" in sys.modules
assert main(["ingest", video, "--store", str(out / "sbd"), "--detector", "sbd",
             "--no-progress"]) == 0
seen["ingest --detector sbd (fits, keeps it)"] = "torch" in sys.modules
assert main(["train-predictor", video, "--out", str(out / "p.pt")]) == 0
seen["train-predictor"] = "torch" in sys.modules
print(json.dumps({"torch": seen, "segments": len(segments.segments)}))
"""


def test_paths_without_a_network_never_import_torch(media_dir, tmp_path):
    """`import vidskill`, `vidskill ingest`, `segment` (which fits SBD's GRU on the videos
    given), `ingest --detector sbd` (which also keeps the predictor in the store) and
    `train-predictor` run no network that needs torch, so a fresh process never loads it:
    SBD's GRU trains and runs in numpy, weights are found, read and written without torch."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _NO_TORCH, str(media_dir / "counter.mp4"),
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["segments"] >= 1
    assert result["torch"] == {"import": False, "vidskill ingest": False,
                               "segment, a named predictor": False,
                               "segment --detector novelty": False,
                               "segment() (fits SBD's GRU)": False,
                               "ingest --detector sbd (fits, keeps it)": False,
                               "train-predictor": False}
