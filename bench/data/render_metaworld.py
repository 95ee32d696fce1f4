"""Render a MetaWorld clip set that no default was chosen on: other tasks, other cameras.

`../shared/metaworld-dev` (8 tasks, cameras corner4 and topview) is where flow-profile's
features were chosen, with seeds held out. This script renders a second set in the same
layout (clips/{task}__seed{n}__{A|B}.mp4 + labels.json, 160x160, 20 fps, mp4v) from 8
*other* tasks and two *other* cameras, so `bench/real_matching.py --data DIR` measures
vidskill where nothing was fitted (README: Figures, "tasks and cameras not seen"). Defaults:
`corner` (low, front left) and `corner3` (high, right), about 81 degrees apart, from
opposite sides of the table; 6 successful episodes per task of MetaWorld's scripted expert.

Labels: `seed` is the episode's slot, 500-505, by which real_matching.py pairs episodes of
different tasks (a template set is one slot of every task); `env_seed` is the environment
seed, counted up from 500 per task past seeds whose episode does not succeed within 200
steps. An episode runs from reset to 10 steps after MetaWorld's first `success`.

Needs MetaWorld and MuJoCo, which pin their own numpy, so in a virtualenv of their own:

    python -m venv mw && mw/bin/pip install metaworld==3.1.1 mujoco==3.3.0 \\
        gymnasium==1.4.0 opencv-python-headless packaging
    MUJOCO_GL=egl mw/bin/python bench/data/render_metaworld.py OUT [--tasks ...] [--views A=corner B=corner3]

About 20 s per episode for both cameras on one CPU core (software rendering).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

TASKS = ("drawer-open", "window-open", "door-open", "button-press-topdown", "handle-pull",
         "dial-turn", "pick-place", "push")
VIEWS = {"A": "corner", "B": "corner3"}
SIZE, FPS = 160, 20
EPISODES, FIRST_SEED, MAX_SEEDS = 6, 500, 30
MAX_STEPS, AFTER_SUCCESS = 200, 10


def upside_down(model, data, camera: str) -> bool:
    """Whether the camera's image-up axis points down in the world (MetaWorld defines some
    cameras so); its frames are then turned by 180 degrees (a rotation, not a mirror)."""
    import mujoco

    cid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
    if cid < 0:
        raise SystemExit(f"camera {camera!r} is not in the MetaWorld scene")
    return bool(data.cam_xmat[cid].reshape(3, 3)[2, 1] < 0)


def episode(task: str, seed: int, cameras: list[str]) -> dict | None:
    """{"frames": camera -> RGB frames, "success": first successful step} of the scripted
    expert's episode, from reset to 10 steps after success, or None when it does not
    succeed within MAX_STEPS."""
    import mujoco
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE as ENVS
    from metaworld.policies import ENV_POLICY_MAP

    env = ENVS[f"{task}-v3-goal-observable"](seed=seed)
    policy = ENV_POLICY_MAP[f"{task}-v3"]()
    obs, _ = env.reset()
    renderer = mujoco.Renderer(env.model, SIZE, SIZE)
    try:
        mujoco.mj_forward(env.model, env.data)
        turn = {c: upside_down(env.model, env.data, c) for c in cameras}
        frames: dict[str, list] = {c: [] for c in cameras}

        def grab() -> None:
            for c in cameras:
                renderer.update_scene(env.data, camera=c)
                image = renderer.render()
                frames[c].append(image[::-1, ::-1].copy() if turn[c] else image)

        grab()
        success = None
        for step in range(1, MAX_STEPS + 1):
            obs, _, _, _, info = env.step(policy.get_action(obs))
            grab()
            if success is None and info["success"] > 0.5:
                success = step
            if success is not None and step >= success + AFTER_SUCCESS:
                return {"frames": frames, "success": success}
        return None
    finally:
        renderer.close()
        env.close()


def write_mp4(path: Path, frames: list) -> None:
    import cv2

    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (SIZE, SIZE))
    if not out.isOpened():
        raise SystemExit(f"OpenCV cannot write {path}")
    for f in frames:
        out.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    out.release()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--tasks", nargs="+", default=list(TASKS))
    ap.add_argument("--views", nargs=2, default=[f"{v}={c}" for v, c in VIEWS.items()],
                    metavar="VIEW=CAMERA")
    args = ap.parse_args(argv)
    views = dict(v.split("=", 1) for v in args.views)
    if sorted(views) != ["A", "B"]:
        raise SystemExit(f"--views needs A=CAMERA B=CAMERA, got {args.views}")
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        import metaworld  # noqa: F401
    except ImportError:
        print("MetaWorld is not installed here; see this script's docstring", file=sys.stderr)
        return 2
    (args.out / "clips").mkdir(parents=True, exist_ok=True)
    labels = {}
    for task in args.tasks:
        seeds = iter(range(FIRST_SEED, FIRST_SEED + MAX_SEEDS))
        for slot in range(FIRST_SEED, FIRST_SEED + EPISODES):
            t0 = time.perf_counter()
            for seed in seeds:
                run = episode(task, seed, list(views.values()))
                if run is not None:
                    break
                print(f"{task} env seed {seed}: no success in {MAX_STEPS} steps, skipped")
            else:
                raise SystemExit(f"{task}: fewer than {EPISODES} successful seeds in "
                                 f"{MAX_SEEDS} tries")
            for view, camera in views.items():
                name = f"{task}__seed{slot}__{view}.mp4"
                write_mp4(args.out / "clips" / name, run["frames"][camera])
                labels[name] = {"task": task, "seed": slot, "env_seed": seed, "view": view,
                                "camera": camera, "fps": FPS, "success_step": run["success"],
                                "n_frames": len(run["frames"][camera])}
            print(f"{task} slot {slot} (env seed {seed}): {labels[name]['n_frames']} frames, "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
    (args.out / "labels.json").write_text(json.dumps(labels, indent=1, sort_keys=True))
    print(f"{len(labels)} clips and labels.json in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
