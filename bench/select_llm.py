"""`vidskill select` with the LLM prior: CPU time and peak RSS of one process per skill with
the GGUF dequantised at every start (what each call cost before the converted model was
kept), one process per skill reading the kept model, and all skills in one process.

Each run is a fresh `vidskill select` process (features come from a warm cache shared by
all runs, so only the text prior differs); CPU is user + system seconds of the process,
RSS its peak (wait4). Wall time is not reported: on a shared machine it measures the
neighbours.

    .venv/bin/python bench/select_llm.py --skills 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from vidskill.demo.corpus import generate_corpus

SKILLS = ["cut the carrot", "stir the soup", "wipe the table", "flip the pancake"]


def run(args: list[str], env: dict) -> tuple[float, float]:
    """(CPU seconds, peak RSS MiB) of one `vidskill` process."""
    proc = subprocess.Popen([sys.executable, "-m", "vidskill.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"vidskill {' '.join(args)} failed")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skills", type=int, default=2, help="skills ranked (at most 4)")
    args = ap.parse_args()
    skills = SKILLS[: args.skills]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus = generate_corpus(root / "corpus", n_long_train=0, n_long_test=0,
                                 clips_per_skill=2)
        human = root / "human"
        human.mkdir()
        for v in corpus.select(domain="human", kind="clip", label="cut"):
            (human / v.path.name).symlink_to(v.path)
        common = ["--templates", str(corpus.templates_file), "--human", str(human),
                  "--cache", str(root / "features"), "--no-progress"]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "XDG_CACHE_HOME": str(root / "warm")}
        run(["select", "--skill", skills[0], *common], env)  # features and the kept model
        rows = []
        # a cache under a file cannot be written: the GGUF is dequantised and nothing kept
        cold = [run(["select", "--skill", s, *common], {**env, "XDG_CACHE_HOME": os.devnull})
                for s in skills]
        rows.append(("one process per skill, GGUF dequantised each time", cold))
        rows.append(("one process per skill, kept model",
                     [run(["select", "--skill", s, *common], env) for s in skills]))
        one = [arg for s in skills for arg in ("--skill", s)]
        rows.append((f"{len(skills)} skills in one process, kept model",
                     [run(["select", *one, *common], env)]))
    base = sum(c for c, _ in rows[0][1])
    print(f"{'runs':<52} {'CPU s':>7} {'peak RSS MiB':>13} {'CPU vs first':>12}")
    for name, runs in rows:
        cpu = sum(c for c, _ in runs)
        print(f"{name:<52} {cpu:7.1f} {max(r for _, r in runs):13.0f} {cpu / base:12.2f}")


if __name__ == "__main__":
    main()
