"""Mutation check: do the tests catch small bugs in the core algorithms?

Applies each bug of a fixed list (`MUTATIONS`: the SBD rule, error bursts, metrics, store
search, similarity and top-k scores, fusion) one at a time to a temporary copy of the
package (never to the working tree), runs the tests that cover that code, and prints
whether they caught it. Every listed bug must be caught; the script exits 1 if one survives
and 2 if the list no longer matches the code (a snippet is missing or not unique) or the
tests fail before any mutation. Not part of `make test`: it runs the selected tests once per
mutation (a few minutes on 2 cores).

    .venv/bin/python bench/mutations.py            # all
    .venv/bin/python bench/mutations.py --only rule store
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    """One small bug: replace `before` (exactly once in `path`) with `after`."""

    area: str
    path: str
    what: str
    before: str
    after: str
    tests: tuple[str, ...]


RULE = ("tests/test_boundaries_rule.py",)
BURSTS = ("tests/test_boundaries.py",)
METRICS = ("tests/test_metrics.py",)
STORE = ("tests/test_store.py",)
SIMILARITY = ("tests/test_encoders.py::test_similarities", "tests/test_dtw.py")
SCORES = ("tests/test_video_scores.py::test_top_k_mean_keeps_the_best_k",
          "tests/test_video_scores.py::test_top_k_error_is_the_median_standard_error_of_the_top_k_means")
FUSION = ("tests/test_fusion.py",)

MUTATIONS: tuple[Mutation, ...] = (
    Mutation("rule", "vidskill/boundaries/rule.py", "running max of the excess not reset at a boundary",
             "        self._excess = 0.0\n        return cause, score",
             "        return cause, score", RULE),
    Mutation("rule", "vidskill/boundaries/rule.py", "needs three errors in the history, not two",
             "if len(self._history) > 1:", "if len(self._history) > 2:", RULE),
    Mutation("rule", "vidskill/boundaries/rule.py", "a jump of exactly GAP flags",
             "if excess > self.gap:", "if excess >= self.gap:", RULE),
    Mutation("rule", "vidskill/boundaries/rule.py", "history kept across a boundary",
             "        self._history.clear()\n", "", RULE),
    Mutation("rule", "vidskill/boundaries/rule.py", "confidence ignores GAP",
             "return float(excess / (excess + gap))", "return float(excess / (excess + 1.0))",
             RULE),
    Mutation("rule", "vidskill/boundaries/rule.py", "an event at the step's own time is late",
             "event = bool(self._events) and time >= self._events[0]",
             "event = bool(self._events) and time > self._events[0]", RULE),
    Mutation("bursts", "vidskill/boundaries/bursts.py", "context reaches before the previous boundary",
             "before = max(since, burst.start - self.context)",
             "before = max(0, burst.start - self.context)", BURSTS),
    Mutation("bursts", "vidskill/boundaries/bursts.py", "burst level without GAP",
             "level = float(np.median(finite)) + gap if len(finite) else np.inf",
             "level = float(np.median(finite)) if len(finite) else np.inf", BURSTS),
    Mutation("bursts", "vidskill/boundaries/bursts.py", "reset echoes kept as bursts",
             "if e[first:j].max(initial=-np.inf) > self.level:", "if True:", BURSTS),
    Mutation("bursts", "vidskill/boundaries/bursts.py", "burst length limit ignored",
             "self.times[j] - self.times[first] <= self.limit", "True", BURSTS),
    Mutation("bursts", "vidskill/boundaries/bursts.py", "split point one window early",
             "return 1 + int(np.argmin(cost))", "return int(np.argmin(cost))", BURSTS),
    Mutation("bursts", "vidskill/boundaries/bursts.py", "of two close changes the smaller shift kept",
             "if c.shift > kept[-1].shift:", "if c.shift < kept[-1].shift:", BURSTS),
    Mutation("metrics", "vidskill/metrics.py", "first prediction within tolerance, not nearest",
             "j = int(np.argmin([abs(g - p) for p in left]))",
             "j = next((i for i, p in enumerate(left) if abs(g - p) <= tolerance + 1e-9), 0)",
             METRICS),
    Mutation("metrics", "vidskill/metrics.py", "relative counts use the absolute tolerance",
             "b_rel += boundary_counts(pb, gb, rel_tolerance=rel_tolerance, duration=duration)",
             "b_rel += boundary_counts(pb, gb, tolerance=tolerance)", METRICS),
    Mutation("metrics", "vidskill/metrics.py", "tolerance exclusive",
             "if abs(g - left[j]) <= tolerance + 1e-9:", "if abs(g - left[j]) < tolerance:",
             METRICS),
    Mutation("metrics", "vidskill/metrics.py", "Edit normalised by the truth's segments only",
             "return 1.0 - _levenshtein(p, g) / max(len(p), len(g))",
             "return 1.0 - _levenshtein(p, g) / len(g)", METRICS),
    Mutation("metrics", "vidskill/metrics.py", "a tie counts as a win",
             "return min(max(k - above, 0), len(group)) / len(group)",
             "return float(k > above)", METRICS),
    Mutation("store", "vidskill/store/store.py", "fetch k, not k + excluded",
             "        fetch += len(excluded)\n", "", STORE),
    Mutation("store", "vidskill/store/store.py", "in-memory index not checked against the catalog",
             "if cached and cached[0] == generation:", "if cached:", STORE),
    Mutation("store", "vidskill/store/store.py", "a segment query does not exclude itself",
             "            excluded.add(int(query))\n", "            pass\n", STORE),
    Mutation("store", "vidskill/store/index.py", "exact search ranks worst first",
             "order = np.lexsort((ids, -scores))[:k]", "order = np.lexsort((ids, scores))[:k]",
             STORE),
    Mutation("similarity", "vidskill/select/similarity.py", "mean-pooled vector not normalised",
             "return v / n if n > 0 else v", "return v", SIMILARITY),
    Mutation("similarity", "vidskill/dtw.py", "DTW cost not divided by the path length",
             "return float(1.0 - total[0] / steps[0])", "return float(1.0 - total[0])",
             SIMILARITY),
    Mutation("similarity", "vidskill/dtw.py", "DTW may not hold one sequence",
             "prev = np.where(finite, s + best, np.inf)", "prev = np.where(finite, d, np.inf)",
             SIMILARITY),
    Mutation("similarity", "vidskill/select/video_scores.py", "top-k mean over k + 1 clips",
             "return ordered[:, :k].mean(axis=1)", "return ordered[:, :k + 1].mean(axis=1)",
             SCORES),
    Mutation("similarity", "vidskill/select/video_scores.py", "standard error from the biased sd",
             "ordered.std(axis=1, ddof=1)", "ordered.std(axis=1, ddof=0)", SCORES),
    Mutation("fusion", "vidskill/select/fusion.py", "top-k keeps one more than k",
             "if len(keep) >= self.k:", "if len(keep) > self.k:", FUSION),
    Mutation("fusion", "vidskill/select/fusion.py", "z-scores not centred",
             "(values - values.mean()) / std", "values / std", FUSION),
    Mutation("fusion", "vidskill/select/fusion.py", "evidence fusion z-scores its sources",
             "        return np.asarray(values, np.float64)\n", "        return zscore(values)\n",
             FUSION),
    Mutation("fusion", "vidskill/select/fusion.py", "weights ignored",
             "sum(w * self.scaled(scores[s])", "sum(self.scaled(scores[s])", FUSION),
    Mutation("fusion", "vidskill/select/fusion.py", "dropped templates not ordered by the prior",
             "        return np.asarray(scores[self.prior], dtype=np.float64)\n",
             "        return np.zeros(len(scores[self.prior]))\n", FUSION),
    Mutation("fusion", "vidskill/select/fusion.py", "ties decided by float rounding",
             "    if a == b:\n        return True  # also two dropped (-inf) templates\n"
             "    return bool(",
             "    return a == b or bool(False and ", FUSION),
)


def _copy(dest: Path) -> Path:
    """A copy of what the tests need (package, tests, models, pyproject); ../shared linked."""
    repo = dest / "repo"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for part in ("vidskill", "tests", "models"):
        shutil.copytree(REPO / part, repo / part, ignore=skip)
    shutil.copy2(REPO / "pyproject.toml", repo / "pyproject.toml")
    shared = REPO.parent / "shared"
    if shared.is_dir():
        (dest / "shared").symlink_to(shared, target_is_directory=True)
    return repo


def _pytest(repo: Path, tests: tuple[str, ...], timeout: float) -> tuple[int, str]:
    """Run the tests in the copy (stop at the first failure); exit status and output."""
    env = {**os.environ, "PYTHONPATH": str(repo), "PYTHONDONTWRITEBYTECODE": "1",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    try:
        run = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                              *tests], cwd=repo, env=env, capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, "timed out"
    return run.returncode, run.stdout + run.stderr


def _failed(output: str) -> str:
    """The first failing test's name, or the last line of the output."""
    found = re.search(r"^(?:FAILED|ERROR) (\S+)", output, re.M)
    if found:
        return found.group(1).split("::")[-1]
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    areas = list(dict.fromkeys(m.area for m in MUTATIONS))
    ap.add_argument("--only", nargs="+", choices=areas, metavar="AREA",
                    help="areas to mutate: " + ", ".join(areas))
    ap.add_argument("--timeout", type=float, default=600, help="seconds per test run")
    args = ap.parse_args()
    chosen = [m for m in MUTATIONS if not args.only or m.area in args.only]
    stale = [m for m in chosen if (REPO / m.path).read_text().count(m.before) != 1]
    for m in stale:
        print(f"stale mutation: {m.path}: {m.what!r}: its snippet is not in the file exactly once",
              file=sys.stderr)
    if stale:
        return 2
    with tempfile.TemporaryDirectory(prefix="vidskill-mutations-") as tmp:
        repo = _copy(Path(tmp))
        suites = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
        code, output = _pytest(repo, suites, args.timeout)
        if code != 0:
            print(f"the tests fail before any mutation ({_failed(output)}); fix them first",
                  file=sys.stderr)
            return 2
        results = []
        for m in chosen:
            target = repo / m.path
            original = target.read_text()
            target.write_text(original.replace(m.before, m.after))
            t0 = time.perf_counter()
            try:
                code, output = _pytest(repo, m.tests, args.timeout)
            finally:
                target.write_text(original)
            outcome = {0: "SURVIVED", 1: "caught"}.get(code, f"error ({code})")
            results.append((m, outcome, _failed(output) if code else "", time.perf_counter() - t0))
            print(f"{m.area:10s} {outcome:9s} {m.what}  [{results[-1][2]}]", flush=True)
    survived = [m for m, outcome, _, _ in results if outcome != "caught"]
    print(f"\n{len(results) - len(survived)} of {len(results)} mutations caught"
          + (f"; not caught: {', '.join(m.what for m in survived)}" if survived else ""))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
