"""The embedded demo corpus: procedurally rendered skill videos with exact ground truth.

A tool performs eight manipulation motions (`SKILLS`), each a canonical trajectory of the
tool's grip point in 3D plus its tilt and its spin about its own long axis. The motions
differ only in what survives a change of camera: path shape, periodicity, tool rotation
and duty cycle. Colours, image position and apparent size are drawn per video from one
distribution for every skill and both domains, so no trivial cue names the skill.

Two domains move alike but look different:

- human: a hand and arm holding a utensil over a textured background, seen by a hand-held
  camera (per-frame jitter), with tremor and per-segment changes of speed (about ±25%),
  amplitude, heading and position;
- robot: a gripper holding a utensil over a plain background, seen by a fixed camera from
  another range of yaw, pitch, roll and distance (so flow directions differ). Each template
  execution has its own style (`RobotStyle`): a tempo of x0.6-x1.6 the human base period
  (humans stay within x0.8-x1.33), its own amplitude, and its own path shape within the skill
  (a circle squashed to an ellipse, the stroke plane tilted, uneven strokes, more or less
  tool tilt). Real robots do not move at a person's tempo, so nothing that only matches the
  human's tempo can pick the right template.

Long human videos chain 3-8 skills. Between two skills the tool moves to a new spot for
0.3-0.8 s; that move belongs half to each skill (the first finishing, the second
approaching), so a boundary is the middle of the move, rounded to a 0.1 s step, as event
boundary annotation marks a gradual change (GEBD). Segments therefore tile the video: `end_frame` of one is
`start_frame` of the next, times are `frame / fps`, and `end` is exclusive. Every duration
is a whole number of 0.1 s steps, so boundaries fall on frames sampled at 10 fps.

Layout of a corpus folder (paths in corpus.json are relative to it; the JSON beside a
long video names the video relative to its own folder):

    corpus.json  templates.toml  human/long_000.mp4  human/long_000.json
    human/clips/<label>_00.mp4   robot/<template>.mp4
"""

from __future__ import annotations

import colorsys
import json
import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import tomli_w

from vidskill._files import replacing, write_json, write_text

log = logging.getLogger(__name__)

# Bumped whenever a seed renders other videos or other truth, so a corpus on disk made by an
# older version is re-rendered, never reused with new truth: 3 = robot executions with their
# own tempo, amplitude and path shape, and boundaries at the middle of the move between
# skills (that convention came in under version 2 without a bump).
SYNTH_VERSION = 3
SKILLS: tuple[str, ...] = ("stir", "cut", "wipe", "flip", "press", "pour", "scoop", "shake")
SKILL_TASKS: dict[str, str] = {
    "stir": "stir the soup",
    "cut": "cut the carrot",
    "wipe": "wipe the table",
    "flip": "flip the pancake",
    "press": "press the dough",
    "pour": "pour the water",
    "scoop": "scoop the rice",
    "shake": "shake the bottle",
}
# Motions that only distractor templates perform: correct for no skill task.
DISTRACTOR_MOTIONS: tuple[str, ...] = ("wave", "lift")
# Canonical period (s) of each motion for a human at speed 1; robot executions scale it by
# their own tempo (`RobotStyle`).
BASE_PERIOD: dict[str, float] = {
    "stir": 1.2, "cut": 0.65, "wipe": 1.1, "flip": 1.6, "press": 1.8, "pour": 3.2,
    "scoop": 2.0, "shake": 0.4, "wave": 1.4, "lift": 4.0,
}
HUMAN_SPEED = (0.75, 1.25)      # per-segment speed factor
# A robot execution's period / the human base period, drawn log-uniformly: wider than the
# humans' 1/1.25-1/0.75 on both sides, so tempo alone cannot name the right template.
ROBOT_TEMPO = (0.6, 1.6)
ROBOT_AMPLITUDE = (0.7, 1.4)    # a robot execution's amplitude factor (humans: 0.8-1.2)
SKILL_SECONDS = (3.0, 7.0)      # duration of one skill in a long video
MOVE_SECONDS = (0.3, 0.8)       # move to a new spot between two skills
CLIP_SECONDS = (3.0, 6.0)       # duration of a single-skill human clip
CHAIN = (3, 8)                  # skills per long video
SAMPLE_FPS = 10.0               # the pipeline's rate: every duration is a whole number of its steps


@dataclass(frozen=True)
class TemplateSpec:
    """A demo robot behaviour template: what it does in words, the motion that renders it,
    and how many cycles of it one execution runs (each execution has its own `RobotStyle`)."""

    name: str
    motion: str
    description: str
    cycles: int


@dataclass(frozen=True)
class RobotStyle:
    """How one robot execution performs its template's motion, drawn per execution.

    `tempo` is the execution's period over the human base period (above 1: slower than a
    person at speed 1), `amplitude` scales the path's size; the path's shape
    changes within the skill: `aspect` squashes its second horizontal axis (a circle becomes
    an ellipse, a sweep's drift narrows), `plane` tilts the whole path about the tool's
    horizontal x axis (radians: strokes no longer straight up and down), `warp` makes the
    halves of each cycle uneven (phase warped by warp * sin(2 pi phase) / 2 pi), and `tilt`
    scales how much the tool tilts.
    """

    tempo: float
    amplitude: float
    aspect: float
    plane: float
    warp: float
    tilt: float

    @staticmethod
    def draw(rng: np.random.Generator) -> RobotStyle:
        """A random style: tempo log-uniform in ROBOT_TEMPO, the rest uniform."""
        lo, hi = np.log(ROBOT_TEMPO)
        return RobotStyle(
            tempo=float(np.exp(rng.uniform(lo, hi))),
            amplitude=float(rng.uniform(*ROBOT_AMPLITUDE)),
            aspect=float(rng.uniform(0.6, 1.0)),
            plane=float(rng.uniform(-0.25, 0.25)),
            warp=float(rng.uniform(-0.35, 0.35)),
            tilt=float(rng.uniform(0.7, 1.3)),
        )

    def period(self, motion: str) -> float:
        """Seconds per cycle of `motion` in this execution."""
        return BASE_PERIOD[motion] * self.tempo

    def as_dict(self) -> dict[str, float]:
        """Rounded values for the truth and template files."""
        return {k: round(v, 4) for k, v in self.__dict__.items()}


TEMPLATES: tuple[TemplateSpec, ...] = (
    TemplateSpec("circle_sweep", "stir",
                 "Move the gripper in repeated horizontal circles inside the container, "
                 "keeping the tool tip low.", 4),
    TemplateSpec("vertical_saw", "cut",
                 "Drive the held blade straight down and up in short quick strokes, rocking "
                 "it slightly forward and back at each stroke.", 7),
    TemplateSpec("lateral_sweep", "wipe",
                 "Slide the tool flat across the surface from side to side in long, even "
                 "back-and-forth sweeps.", 4),
    TemplateSpec("arc_flip", "flip",
                 "Lift the tool in a quick arc while turning the wrist half a turn so the tool "
                 "face turns over, then hold still before the next turn.", 3),
    TemplateSpec("press_hold", "press",
                 "Lower the tool straight down onto the object, keep pushing down on it for a "
                 "moment, then lift it back up; repeat.", 3),
    TemplateSpec("slow_tilt", "pour",
                 "Slowly tilt the held object about 90 degrees to one side, keep it tilted, "
                 "then slowly bring it back upright.", 2),
    TemplateSpec("dip_lift", "scoop",
                 "Dip the tool into the container along a U-shaped path, turning it as it "
                 "passes the bottom, then lift it out and carry it back.", 3),
    TemplateSpec("rapid_oscillate", "shake",
                 "Oscillate the gripper rapidly with small side-to-side movements while "
                 "holding it in place.", 12),
    TemplateSpec("wave_wrist", "wave",
                 "Swing the raised gripper left and right with a loose wrist rotation, like "
                 "waving hello.", 3),
    TemplateSpec("lift_and_place", "lift",
                 "Raise the held object, carry it sideways to a new spot and set it down "
                 "there, once.", 1),
)
CORRECT_TEMPLATE: dict[str, str] = {
    t.motion: t.name for t in TEMPLATES if t.motion in SKILLS
}


# --------------------------------------------------------------------------------------
# ground truth values


@dataclass(frozen=True)
class SegmentTruth:
    """One skill in a video: label, [start, end) in seconds and in native frames."""

    label: str
    start: float
    end: float
    start_frame: int
    end_frame: int


@dataclass(frozen=True)
class VideoTruth:
    """One rendered video and what it shows."""

    path: Path
    domain: str
    kind: str
    split: str
    fps: float
    duration: float
    segments: tuple[SegmentTruth, ...]
    label: str | None
    template: str | None
    style: dict[str, float] | None = None   # a robot execution's `RobotStyle`
    synth: dict[str, int] | None = None     # {"version": SYNTH_VERSION, "seed": corpus seed}

    @property
    def n_frames(self) -> int:
        """Native frame count."""
        return self.segments[-1].end_frame if self.segments else 0

    @property
    def boundaries(self) -> tuple[float, ...]:
        """Seconds at which a new segment starts, without 0."""
        return tuple(s.start for s in self.segments[1:])

    def to_dict(self, relative_to: Path) -> dict:
        """JSON form with `path` relative to `relative_to`."""
        return {
            "path": os.path.relpath(self.path, relative_to),
            "domain": self.domain, "kind": self.kind, "split": self.split,
            "fps": self.fps, "duration": self.duration, "frames": self.n_frames,
            "label": self.label, "template": self.template, "style": self.style,
            "synth": self.synth, "segments": [s.__dict__ for s in self.segments],
        }

    @staticmethod
    def from_dict(d: dict, relative_to: Path) -> VideoTruth:
        """Inverse of `to_dict`."""
        return VideoTruth(
            path=relative_to / d["path"], domain=d["domain"], kind=d["kind"],
            split=d["split"], fps=float(d["fps"]), duration=float(d["duration"]),
            segments=tuple(SegmentTruth(**s) for s in d["segments"]),
            label=d["label"], template=d["template"], style=d.get("style"),
            synth=d.get("synth"),
        )


@dataclass(frozen=True)
class Corpus:
    """A generated corpus on disk: its videos with ground truth and its template file."""

    root: Path
    skills: tuple[str, ...]
    videos: tuple[VideoTruth, ...]
    templates_file: Path
    correct_template: dict[str, str]

    @property
    def tasks(self) -> dict[str, str]:
        """Skill label -> natural task phrase."""
        return {s: SKILL_TASKS[s] for s in self.skills}

    def select(
        self, domain: str | None = None, kind: str | None = None, split: str | None = None,
        label: str | None = None,
    ) -> list[VideoTruth]:
        """Videos matching every filter that is not None."""
        return [
            v for v in self.videos
            if (domain is None or v.domain == domain) and (kind is None or v.kind == kind)
            and (split is None or v.split == split) and (label is None or v.label == label)
        ]

    def human_clips(self, skill: str) -> list[Path]:
        """The labelled single-skill human clips of `skill` (a `LabelledCorpus`)."""
        return [v.path for v in self.select(domain="human", kind="clip", label=skill)]

    def boundaries(self, video: VideoTruth | str | os.PathLike) -> tuple[float, ...]:
        """Ground-truth boundary times (s) of a video given as value or path."""
        if isinstance(video, VideoTruth):
            return video.boundaries
        path = Path(video).resolve()
        for v in self.videos:
            if v.path.resolve() == path:
                return v.boundaries
        raise KeyError(f"{video} is not a video of the corpus at {self.root}")


# --------------------------------------------------------------------------------------
# motions: canonical trajectories (grip offset (T,3), tilt (T,), spin (T,)) over time tau


def _ease(x: np.ndarray) -> np.ndarray:
    """Smoothstep of x clipped to [0, 1]: a ramp with zero speed at both ends."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def motion(
    label: str, tau: np.ndarray, period: float, amp: float = 1.0, sign: float = 1.0,
    warp: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grip offset (T,3) (x,y horizontal, z up), tilt and spin (rad) of `label` at times tau.

    World units: the tool is about 0.7 long. `sign` mirrors the motion (circle direction,
    tilt side); `warp` (|warp| < 1) makes the two halves of every cycle last differently
    long, keeping the period. Each motion starts at phase 0 when tau = 0.
    """
    ph = np.asarray(tau, dtype=np.float64) / period
    ph = ph + warp * np.sin(2.0 * np.pi * ph) / (2.0 * np.pi)
    cyc, f = np.floor(ph), ph - np.floor(ph)
    w = 2.0 * np.pi * ph
    zero = np.zeros_like(ph)
    x, y, z, tilt, spin = zero.copy(), zero.copy(), zero.copy(), zero.copy(), zero.copy()
    if label == "stir":          # continuous horizontal circle, tool leaning slightly
        x, y = 0.22 * amp * np.cos(sign * w), 0.22 * amp * np.sin(sign * w)
        tilt = zero + 0.2
    elif label == "cut":         # fast vertical strokes with a little fore-aft rocking
        z = 0.1 * amp * (1.0 + np.cos(w))
        x = 0.05 * amp * np.sin(w) + 0.02 * sign * np.asarray(tau)
    elif label == "wipe":        # long horizontal back-and-forth sweeps, drag lean
        x = 0.38 * amp * np.sin(w)
        y = 0.08 * amp * np.sin(w / 4.0)
        tilt = 0.2 * np.cos(w)
    elif label == "flip":        # quick arc with a half turn about the tool axis, then hold
        u = _ease(f / 0.3)
        z = 0.28 * amp * np.sin(np.pi * u)
        x = 0.12 * amp * sign * np.sin(np.pi * u)
        tilt = 0.35 * np.sin(np.pi * u)
        spin = np.pi * (cyc + u)
    elif label == "press":       # down, hold, up, rest
        z = 0.3 * amp * (1.0 - _ease(f / 0.2) + _ease((f - 0.6) / 0.2))
    elif label == "pour":        # slow ~90 degree tilt, hold, slow return, rest
        pulse = _ease(f / 0.35) - _ease((f - 0.6) / 0.3)
        tilt = sign * (np.pi / 2) * pulse
        z = 0.08 * amp * pulse
    elif label == "scoop":       # U-shaped dip across, lift out, carry back over the top
        u, v, r = f / 0.55, _ease((f - 0.55) / 0.2), _ease((f - 0.75) / 0.25)
        dip, lift = f < 0.55, (f >= 0.55) & (f < 0.75)
        x = sign * 0.3 * amp * np.where(dip, 2 * u - 1, np.where(lift, 1.0, 1 - 2 * r))
        z = amp * np.where(dip, 0.25 * (2 * u - 1) ** 2,
                           np.where(lift, 0.25 + 0.15 * v, 0.4 - 0.15 * r))
        tilt = sign * np.where(dip, -0.35 + 0.9 * u, np.where(lift, 0.55, 0.55 - 0.9 * r))
    elif label == "shake":       # fast small oscillation
        x = 0.09 * amp * np.sin(w)
        z = 0.03 * amp * np.sin(2 * w)
        tilt = 0.2 * np.sin(w)
    elif label == "wave":        # raised wrist swinging left and right
        tilt = 0.6 * np.sin(w)
        x = 0.12 * amp * np.sin(w)
        z = zero + 0.15 * amp
    elif label == "lift":        # once: raise, carry sideways, set down
        up = _ease((f - 0.1) / 0.25) - _ease((f - 0.65) / 0.25)
        z = 0.4 * amp * up
        x = sign * 0.6 * amp * (_ease((f - 0.35) / 0.3) - 0.5)
    else:
        raise ValueError(f"unknown motion {label!r}; known: {SKILLS + DISTRACTOR_MOTIONS}")
    return np.stack([x, y, z], axis=-1), tilt, spin


# --------------------------------------------------------------------------------------
# scene: camera, look (colours, shapes, background), pose tracks


@dataclass(frozen=True)
class _Camera:
    """A pinhole camera: centre, rotation rows (right, down, forward), focal and principal point."""

    centre: np.ndarray
    rot: np.ndarray
    focal: float
    cx: float
    cy: float

    def project(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (...,2) and depth (...) of world points (...,3)."""
        cam = (pts - self.centre) @ self.rot.T
        depth = np.maximum(cam[..., 2], 0.05)
        uv = np.stack([self.cx + self.focal * cam[..., 0] / depth,
                       self.cy + self.focal * cam[..., 1] / depth], axis=-1)
        return np.clip(uv, -4000.0, 4000.0), depth


def _camera(rng: np.random.Generator, domain: str, size: tuple[int, int], margin: int) -> _Camera:
    """A per-video camera; human and robot views come from disjoint yaw/pitch/roll ranges."""
    w, h = size
    if domain == "human":
        yaw = rng.uniform(-30, 30)
        pitch = rng.uniform(15, 40)
        roll = rng.uniform(-8, 8)
        dist = rng.uniform(3.2, 4.5)
    else:
        yaw = rng.choice([-1, 1]) * rng.uniform(55, 100)
        pitch = rng.uniform(48, 70)
        roll = rng.choice([-1, 1]) * rng.uniform(12, 25)
        dist = rng.uniform(2.2, 3.0)
    yaw, pitch, roll = np.radians([yaw, pitch, roll])
    target = np.array([rng.uniform(-0.15, 0.15), rng.uniform(-0.15, 0.15), 0.45])
    back = np.array([-np.sin(yaw) * np.cos(pitch), -np.cos(yaw) * np.cos(pitch), np.sin(pitch)])
    fwd = -back
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    c, s = np.cos(roll), np.sin(roll)
    rot = np.stack([c * right + s * down, -s * right + c * down, fwd])
    focal = w * dist / 2.3 * rng.uniform(0.85, 1.2) * (1.0 if domain == "human" else 1.25)
    return _Camera(target + dist * back, rot, focal, margin + w / 2, margin + h / 2)


def _colour(rng: np.random.Generator) -> np.ndarray:
    """A random BGR colour (0..255 floats); one distribution for every skill and domain."""
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.15, 0.8), rng.uniform(0.25, 0.95))
    return np.array([b, g, r]) * 255.0


def _luma(c: np.ndarray) -> float:
    return float(0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2])


def _contrasting(rng: np.random.Generator, against: np.ndarray) -> np.ndarray:
    """A colour whose brightness differs from `against` enough to be seen."""
    for _ in range(200):
        c = _colour(rng)
        if abs(_luma(c) - _luma(against)) > 45:
            return c
    return 255.0 - against


@dataclass(frozen=True)
class _Look:
    """Everything a video's appearance needs: background, colours and geometry."""

    domain: str
    background: np.ndarray     # (H+2m, W+2m, 3) uint8 BGR
    tool_colour: tuple[float, ...]
    holder_colour: tuple[float, ...]
    arm_colour: tuple[float, ...]
    head: np.ndarray           # (K,3) tool head polygon in tool coordinates
    shaft: float               # shaft length
    holder_size: float         # hand radius / gripper half-width (world units)
    holder_aspect: float
    arm_root: np.ndarray       # world point the arm comes from
    thickness: float           # line width scale (px per world unit at depth 1, / focal)


def _background(rng: np.random.Generator, domain: str, shape: tuple[int, int],
                base: np.ndarray) -> np.ndarray:
    """Plain for the robot; procedural noise with stripes and/or blobs for the human."""
    hb, wb = shape
    if domain == "robot":
        return np.broadcast_to(base.astype(np.uint8), (hb, wb, 3)).copy()
    second, third = _colour(rng), _colour(rng)
    cell = rng.integers(6, 20)
    low = rng.random((hb // cell + 2, wb // cell + 2)).astype(np.float32)
    noise = cv2.resize(low, (wb, hb), interpolation=cv2.INTER_CUBIC).clip(0, 1)[..., None]
    img = base * (1 - noise) + second * noise
    stripes, blobs = rng.random() < 0.6, rng.random() < 0.6
    if stripes or not blobs:
        yy, xx = np.mgrid[0:hb, 0:wb].astype(np.float32)
        a, period = rng.uniform(0, np.pi), rng.uniform(6, 24) * wb / 192
        s = 0.5 + 0.5 * np.sin(2 * np.pi * (xx * np.cos(a) + yy * np.sin(a)) / period)
        alpha = rng.uniform(0.2, 0.5)
        img = img * (1 - alpha * s[..., None]) + third * alpha * s[..., None]
    if blobs:
        layer = img.copy()
        for _ in range(rng.integers(4, 12)):
            centre = (int(rng.integers(0, wb)), int(rng.integers(0, hb)))
            radius = int(rng.uniform(0.02, 0.12) * wb)
            colour = (second if rng.random() < 0.5 else third).tolist()
            cv2.circle(layer, centre, radius, colour, -1, cv2.LINE_AA)
        img = 0.4 * img + 0.6 * layer
    return np.clip(img, 0, 255).astype(np.uint8)


def _head_polygon(rng: np.random.Generator, shaft: float) -> np.ndarray:
    """A utensil head (paddle, blade or spoon) offset to one side so a half turn shows."""
    hw, hh = rng.uniform(0.12, 0.2), rng.uniform(0.18, 0.3)
    off = rng.uniform(0.2, 0.5) * hw
    kind = rng.integers(3)
    if kind == 0:    # paddle
        t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
        xz = np.stack([off + hw / 2 * np.cos(t), -shaft - hh / 2 + hh / 2 * np.sin(t)], 1)
    elif kind == 1:  # blade
        xz = np.array([[0, -shaft + 0.03], [hw, -shaft], [0.85 * hw, -shaft - hh],
                       [0, -shaft - 0.8 * hh]])
    else:            # spoon: a wider oval tapering into the shaft
        t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
        xz = np.stack([off / 2 + hw / 2 * np.cos(t) * (1 + 0.3 * np.sin(t)),
                       -shaft - hh / 2 + hh / 2 * np.sin(t)], 1)
        xz = np.vstack([[[0.0, -shaft + 0.05]], xz[xz[:, 1] < -shaft - hh * 0.2]])
    return np.stack([xz[:, 0], np.zeros(len(xz)), xz[:, 1]], 1)


def _look(rng: np.random.Generator, domain: str, size: tuple[int, int], margin: int) -> _Look:
    """Sample a video's appearance; the skill is not an input."""
    w, h = size
    base = _colour(rng)
    background = _background(rng, domain, (h + 2 * margin, w + 2 * margin), base)
    mean_bg = background.reshape(-1, 3).mean(0)
    tool, holder = _contrasting(rng, mean_bg), _contrasting(rng, mean_bg)
    shaft = rng.uniform(0.38, 0.5)
    if domain == "human":
        root = np.array([rng.uniform(-0.8, 0.8), -1.8, rng.uniform(0.6, 1.4)])
        size_, aspect = rng.uniform(0.08, 0.12), rng.uniform(0.55, 0.8)
    else:
        root = np.array([rng.uniform(-0.4, 0.4), 0.6, 2.2])
        size_, aspect = rng.uniform(0.09, 0.13), 1.0
    return _Look(
        domain=domain, background=background, tool_colour=tuple(tool.tolist()),
        holder_colour=tuple(holder.tolist()), arm_colour=tuple((0.75 * holder).tolist()),
        head=_head_polygon(rng, shaft), shaft=shaft, holder_size=size_,
        holder_aspect=aspect, arm_root=root, thickness=rng.uniform(0.025, 0.04),
    )


@dataclass(frozen=True)
class _Track:
    """Tool pose per frame: grip position (T,3), heading, tilt and spin (T,) in radians."""

    pos: np.ndarray
    heading: np.ndarray
    tilt: np.ndarray
    spin: np.ndarray

    def __len__(self) -> int:
        return len(self.pos)

    def slice(self, a: int, b: int) -> _Track:
        return _Track(self.pos[a:b], self.heading[a:b], self.tilt[a:b], self.spin[a:b])

    @staticmethod
    def concat(parts: list[_Track]) -> _Track:
        return _Track(*(np.concatenate([getattr(p, k) for p in parts])
                        for k in ("pos", "heading", "tilt", "spin")))


def _smooth_noise(rng: np.random.Generator, n: int, fps: float, every_s: float,
                  sigma: float, dims: int) -> np.ndarray:
    """(n, dims) noise varying smoothly: random knots every `every_s` s, linearly joined."""
    knots = max(2, int(n / (every_s * fps)) + 2)
    values = rng.normal(0, sigma, (knots, dims))
    t = np.arange(n) / (every_s * fps)
    return np.stack([np.interp(t, np.arange(knots), values[:, d]) for d in range(dims)], 1)


def _anchor(rng: np.random.Generator, camera: _Camera, size: tuple[int, int],
            margin: int) -> np.ndarray:
    """A grip position whose tool projects well inside the frame (rejection sampling)."""
    w, h = size
    for _ in range(100):
        a = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), rng.uniform(0.78, 0.92)])
        uv, _ = camera.project(np.stack([a + [0, 0, 0.15], a - [0, 0, 0.55]]))
        uv -= margin
        if ((uv[:, 0] > 0.25 * w) & (uv[:, 0] < 0.75 * w)
                & (uv[:, 1] > 0.2 * h) & (uv[:, 1] < 0.8 * h)).all():
            return a
    return np.array([0.0, 0.0, 0.85])


def _skill_track(rng: np.random.Generator, label: str, n: int, fps: float, anchor: np.ndarray,
                 style: RobotStyle | None = None) -> _Track:
    """Poses of one performance of `label` over n frames: a person's (with per-segment
    speed and amplitude and tremor) without `style`, a robot execution's with it."""
    human = style is None
    speed = rng.uniform(*HUMAN_SPEED) if human else 1.0
    amp = rng.uniform(0.8, 1.2) if human else style.amplitude
    sign = float(rng.choice([-1.0, 1.0]))
    heading = rng.uniform(-0.6, 0.6)
    tau = np.arange(n) / fps * speed
    if human:
        offset, tilt, spin = motion(label, tau, BASE_PERIOD[label], amp, sign)
        offset = offset + _smooth_noise(rng, n, fps, 0.25, 0.008, 3)
        tilt = tilt + _smooth_noise(rng, n, fps, 0.3, 0.03, 1)[:, 0]
    else:
        offset, tilt, spin = motion(label, tau, style.period(label), amp, sign, style.warp)
        offset = offset * [1.0, style.aspect, 1.0]
        c, s = np.cos(style.plane), np.sin(style.plane)
        offset = offset @ np.array([[1, 0, 0], [0, c, -s], [0, s, c]]).T
        tilt = tilt * style.tilt
    c, s = np.cos(heading), np.sin(heading)
    rotated = offset @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T
    return _Track(anchor + rotated, np.full(n, heading), tilt, spin)


def _move(a: _Track, b: _Track, n: int) -> _Track:
    """n frames easing from a's last pose to b's first (the move between two skills)."""
    u = _ease((np.arange(1, n + 1)) / (n + 1))[:, None]
    spin_b = b.spin[0] + 2 * np.pi * np.round((a.spin[-1] - b.spin[0]) / (2 * np.pi))
    lerp = lambda p, q: p + (q - p) * u  # noqa: E731
    return _Track(lerp(a.pos[-1], b.pos[0]), lerp(a.heading[-1], b.heading[0])[:, 0],
                  lerp(a.tilt[-1], b.tilt[0])[:, 0], lerp(a.spin[-1], spin_b)[:, 0])


# --------------------------------------------------------------------------------------
# rendering


def _rotations(track: _Track) -> np.ndarray:
    """(T,3,3) Rz(heading) @ Ry(tilt) @ Rz(spin)."""
    def rz(a):
        c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
        return np.stack([np.stack([c, -s, o], -1), np.stack([s, c, o], -1),
                         np.stack([o, o, i], -1)], -2)
    c, s = np.cos(track.tilt), np.sin(track.tilt)
    o, i = np.zeros_like(c), np.ones_like(c)
    ry = np.stack([np.stack([c, o, s], -1), np.stack([o, i, o], -1),
                   np.stack([-s, o, c], -1)], -2)
    return rz(track.heading) @ ry @ rz(track.spin)


def _frames(track: _Track, camera: _Camera, look: _Look, size: tuple[int, int], margin: int,
            jitter: np.ndarray | None, chunk: int = 256) -> Iterator[np.ndarray]:
    """Rendered BGR frames of a pose track, computed `chunk` frames at a time."""
    w, h = size
    sh = 4
    scale = float(1 << sh)
    g = look.holder_size
    if look.domain == "human":
        local = np.array([[0, 0, 0], [0, 0, -look.shaft]])
    else:   # grip, shaft end, palm ends, finger tips, wrist top
        local = np.array([[0, 0, 0], [0, 0, -look.shaft], [-g, 0, 0.06], [g, 0, 0.06],
                          [-0.7 * g, 0, -0.1], [0.7 * g, 0, -0.1], [0, 0, 0.25]])
    geometry = np.vstack([local, look.head])
    nl = len(local)
    canvas = np.empty_like(look.background)
    root_uv, _ = camera.project(look.arm_root)
    root = tuple(int(v) for v in np.round(root_uv * scale))
    tool, holder, arm = look.tool_colour, look.holder_colour, look.arm_colour
    aa = cv2.LINE_AA
    for a in range(0, len(track), chunk):
        part = track.slice(a, a + chunk)
        pts = part.pos[:, None, :] + np.einsum("tij,kj->tki", _rotations(part), geometry)
        uv, depth = camera.project(pts)
        px = np.round(uv * scale).astype(np.int32)
        unit = camera.focal / depth[:, 0]        # pixels per world unit at the grip
        for k in range(len(part)):
            np.copyto(canvas, look.background)
            poly, u = px[k, nl:], float(unit[k])
            p = [tuple(q) for q in px[k, :nl].tolist()]
            thick = max(1, int(round(look.thickness * u)))
            if look.domain == "human":
                cv2.line(canvas, root, p[0], arm, max(2, int(0.09 * u)), aa, sh)
                cv2.line(canvas, p[0], p[1], tool, thick, aa, sh)
                cv2.fillPoly(canvas, [poly], tool, aa, sh)
                d = uv[k, 1] - uv[k, 0]
                angle = math.degrees(math.atan2(d[1], d[0]))
                axes = (int(g * u * scale), int(g * look.holder_aspect * u * scale))
                cv2.ellipse(canvas, p[0], axes, angle, 0, 360, holder, -1, aa, sh)
            else:
                cv2.line(canvas, root, p[6], arm, max(2, int(0.1 * u)), aa, sh)
                cv2.line(canvas, p[0], p[1], tool, thick, aa, sh)
                cv2.fillPoly(canvas, [poly], tool, aa, sh)
                fat = max(2, int(round(0.045 * u)))
                palm = ((p[2][0] + p[3][0]) // 2, (p[2][1] + p[3][1]) // 2)
                cv2.line(canvas, p[6], palm, holder, fat, aa, sh)
                cv2.line(canvas, p[2], p[3], holder, fat, aa, sh)
                cv2.line(canvas, p[2], p[4], holder, fat, aa, sh)
                cv2.line(canvas, p[3], p[5], holder, fat, aa, sh)
            if jitter is None:
                yield canvas[margin:margin + h, margin:margin + w]
            else:
                dx, dy, rot = jitter[a + k]
                c, s = math.cos(rot), math.sin(rot)
                tx = margin + w / 2 + dx - (c * w / 2 - s * h / 2)
                ty = margin + h / 2 + dy - (s * w / 2 + c * h / 2)
                m = np.array([[c, -s, tx], [s, c, ty]])
                yield cv2.warpAffine(canvas, m, (w, h), flags=cv2.INTER_LINEAR
                                     | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)


def _camera_jitter(rng: np.random.Generator, n: int, fps: float, w: int) -> np.ndarray:
    """(n,3) hand-held shake: dx, dy (px) and roll (rad), a slow wander plus per-frame noise."""
    px = w / 160
    slow = _smooth_noise(rng, n, fps, 0.5, 1.0, 3) * [1.4 * px, 1.4 * px, 0.01]
    fast = rng.normal(0, 1, (n, 3)) * [0.35 * px, 0.35 * px, 0.002]
    return slow + fast


def _write(path: Path, frames: Iterator[np.ndarray], fps: float, size: tuple[int, int]) -> int:
    """Encode BGR frames as MPEG-4 part 2 ('mp4v') at `path` atomically; returns the count."""
    n = 0
    with replacing(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), size)
        if not writer.isOpened():
            raise OSError(f"{path}: OpenCV cannot open an 'mp4v' writer here; check the folder "
                          "is writable and OpenCV was built with FFmpeg")
        try:
            for frame in frames:
                writer.write(frame)
                n += 1
        finally:
            writer.release()
    return n


@dataclass(frozen=True)
class _Scene:
    """Per-video camera, look and jitter source."""

    camera: _Camera
    look: _Look
    margin: int


def _scene(rng: np.random.Generator, domain: str, size: tuple[int, int]) -> _Scene:
    margin = max(8, size[0] // 10)
    return _Scene(_camera(rng, domain, size, margin), _look(rng, domain, size, margin), margin)


def _render(path: Path, rng: np.random.Generator, scene: _Scene, track: _Track, fps: float,
            size: tuple[int, int]) -> None:
    """Write one video of a pose track (human videos get camera jitter)."""
    jitter = _camera_jitter(rng, len(track), fps, size[0]) if scene.look.domain == "human" \
        else None
    n = _write(path, _frames(track, scene.camera, scene.look, size, scene.margin, jitter),
               fps, size)
    if n != len(track):
        raise OSError(f"{path}: wrote {n} of {len(track)} frames")


# --------------------------------------------------------------------------------------
# videos with ground truth


def _frames_for(seconds: float, fps: float) -> int:
    """Frames lasting about `seconds`, a whole multiple of 1/SAMPLE_FPS where fps allows.

    So every boundary falls on a frame the pipeline samples at 10 fps.
    """
    step = max(1, round(fps / SAMPLE_FPS))
    return step * max(1, round(seconds * fps / step))


def _plan_chain(rng: np.random.Generator, fps: float, n_skills: int | None,
                total_frames: int | None) -> list[tuple[str, int, int]]:
    """(label, skill frames, move frames after it) for a chain of different consecutive skills."""
    plan: list[tuple[str, int, int]] = []
    frames = 0
    while True:
        choices = [s for s in SKILLS if not plan or s != plan[-1][0]]
        label = str(rng.choice(choices))
        n = _frames_for(rng.uniform(*SKILL_SECONDS), fps)
        move = _frames_for(rng.uniform(*MOVE_SECONDS), fps)
        plan.append((label, n, move))
        frames += n + move
        if n_skills is not None and len(plan) == n_skills:
            break
        if total_frames is not None and frames >= total_frames:
            break
    plan[-1] = (plan[-1][0], plan[-1][1], 0)
    if total_frames is not None:   # trim to the exact length; a short tail joins its predecessor
        excess = sum(n + m for _, n, m in plan) - total_frames
        label, n, _ = plan[-1]
        if n - excess < 1.5 * fps and len(plan) > 1:
            plan.pop()
            label_p, n_p, m_p = plan[-1]
            plan[-1] = (label_p, n_p + m_p + n - excess, 0)
        else:
            plan[-1] = (label, n - excess, 0)
    return plan


def _render_chain(path: Path, rng: np.random.Generator, plan: list[tuple[str, int, int]],
                  fps: float, size: tuple[int, int], split: str, synth: dict[str, int]
                  ) -> VideoTruth:
    """Render a long human video of chained skills and return its ground truth."""
    scene = _scene(rng, "human", size)
    tracks = [_skill_track(rng, label, n, fps, _anchor(rng, scene.camera, size, scene.margin))
              for label, n, _ in plan]
    parts: list[_Track] = []
    segments: list[SegmentTruth] = []
    start, carried = 0, 0   # carried: frames of the previous move that open this segment
    step = max(1, round(fps / SAMPLE_FPS))
    for i, ((label, n, move), tr) in enumerate(zip(plan, tracks, strict=True)):
        parts.append(tr)
        if move:
            parts.append(_move(tr, tracks[i + 1], move))
        first_half = step * (move // step // 2)
        end = start + carried + n + first_half
        carried = move - first_half
        segments.append(SegmentTruth(label, start / fps, end / fps, start, end))
        start = end
    _render(path, rng, scene, _Track.concat(parts), fps, size)
    return VideoTruth(path, "human", "long", split, fps, start / fps, tuple(segments), None, None,
                      synth=synth)


def _render_single(path: Path, rng: np.random.Generator, label: str, n: int, fps: float,
                   size: tuple[int, int], kind: str, synth: dict[str, int], *,
                   style: RobotStyle | None = None, truth_label: str | None,
                   template: str | None) -> VideoTruth:
    """Render one motion as a short clip, a person's or (with `style`) a robot execution,
    and return its ground truth."""
    domain = "human" if style is None else "robot"
    scene = _scene(rng, domain, size)
    anchor = _anchor(rng, scene.camera, size, scene.margin)
    track = _skill_track(rng, label, n, fps, anchor, style)
    _render(path, rng, scene, track, fps, size)
    seg = SegmentTruth(label, 0.0, n / fps, 0, n)
    return VideoTruth(path, domain, kind, "-", fps, n / fps, (seg,), truth_label, template,
                      None if style is None else style.as_dict(), synth)


def write_long_video(path: str | os.PathLike, minutes: float, fps: float = 10.0,
                     size: tuple[int, int] = (160, 120), seed: int = 0) -> VideoTruth:
    """Write a long human video of chained skills (any number, not 3-8) and its JSON beside it.

    Rendering is cheap (one background, vectorised poses, a few OpenCV draws per frame) so
    a 30-minute video for memory tests and benchmarks takes well under a minute.
    """
    path = Path(path)
    rng = np.random.default_rng([seed, 9, int(round(minutes * 600))])
    total = max(1, int(round(minutes * 60 * fps)))
    truth = _render_chain(path, rng, _plan_chain(rng, fps, None, total), fps, tuple(size),
                          "-", {"version": SYNTH_VERSION, "seed": seed})
    write_json(path.with_suffix(".json"), truth.to_dict(path.parent))
    return truth


def load_truth(json_path: str | os.PathLike) -> VideoTruth:
    """Read the ground truth JSON written beside a long video."""
    json_path = Path(json_path)
    return VideoTruth.from_dict(json.loads(json_path.read_text()), json_path.parent)


def _settings(seed: int, n_long_train: int, n_long_test: int, clips_per_skill: int,
              size: tuple[int, int], fps: float, robot_clips_per_template: int) -> dict:
    return {"version": SYNTH_VERSION, "seed": seed, "n_long_train": n_long_train,
            "n_long_test": n_long_test, "clips_per_skill": clips_per_skill,
            "size": list(size), "fps": float(fps),
            "robot_clips_per_template": robot_clips_per_template}


def _templates_toml(executions: dict[str, list[tuple[str, RobotStyle]]]) -> dict:
    """The templates.toml document: name, description, parameters (cycles, and the period
    and amplitude of each execution video), video paths per template."""
    doc = []
    for t in TEMPLATES:
        runs = executions[t.name]
        doc.append({"name": t.name, "description": t.description,
                    "video": [path for path, _ in runs],
                    "parameters": {"cycles": t.cycles,
                                   "period_s": [round(st.period(t.motion), 3) for _, st in runs],
                                   "amplitude": [round(st.amplitude, 3) for _, st in runs]}})
    return {"template": doc}


def generate_corpus(
    out_dir: str | os.PathLike, seed: int = 0, *, n_long_train: int = 10, n_long_test: int = 4,
    clips_per_skill: int = 4, size: tuple[int, int] = (160, 120), fps: float = 20.0,
    robot_clips_per_template: int = 1,
) -> Corpus:
    """Render the demo corpus into out_dir (or return it if the same settings are there).

    Every video draws from its own seed derived from (seed, kind, index), so a video does
    not change when another count changes. corpus.json is written last: a corpus
    interrupted mid-way is regenerated, never half-loaded.
    """
    root = Path(out_dir)
    size = (int(size[0]), int(size[1]))
    settings = _settings(seed, n_long_train, n_long_test, clips_per_skill, size, fps,
                         robot_clips_per_template)
    index = root / "corpus.json"
    if index.exists():
        try:
            existing = load_corpus(root)
            same = json.loads(index.read_text()).get("settings") == settings
        except (ValueError, KeyError, TypeError):
            same = False
        if same and all(v.path.exists() for v in existing.videos):
            log.info("corpus at %s already generated with these settings", root)
            return existing
    t0 = time.perf_counter()
    synth = {"version": SYNTH_VERSION, "seed": seed}
    videos: list[VideoTruth] = []
    for i in range(n_long_train + n_long_test):
        rng = np.random.default_rng([seed, 1, i])
        split = "train" if i < n_long_train else "test"
        plan = _plan_chain(rng, fps, int(rng.integers(CHAIN[0], CHAIN[1] + 1)), None)
        path = root / "human" / f"long_{i:03d}.mp4"
        truth = _render_chain(path, rng, plan, fps, size, split, synth)
        write_json(path.with_suffix(".json"), truth.to_dict(path.parent))
        videos.append(truth)
    for s, label in enumerate(SKILLS):
        for j in range(clips_per_skill):
            rng = np.random.default_rng([seed, 2, s, j])
            n = _frames_for(rng.uniform(*CLIP_SECONDS), fps)
            path = root / "human" / "clips" / f"{label}_{j:02d}.mp4"
            videos.append(_render_single(path, rng, label, n, fps, size, "clip", synth,
                                         truth_label=label, template=None))
    executions: dict[str, list[tuple[str, RobotStyle]]] = {}
    for t_index, t in enumerate(TEMPLATES):
        executions[t.name] = []
        for j in range(robot_clips_per_template):
            rng = np.random.default_rng([seed, 3, t_index, j])
            style = RobotStyle.draw(rng)
            name = t.name if j == 0 else f"{t.name}_{j:02d}"
            path = root / "robot" / f"{name}.mp4"
            n = _frames_for(style.period(t.motion) * t.cycles, fps)
            videos.append(_render_single(
                path, rng, t.motion, n, fps, size, "template", synth, style=style,
                truth_label=t.motion if t.motion in SKILLS else None, template=t.name))
            executions[t.name].append((f"robot/{name}.mp4", style))
    templates_file = root / "templates.toml"
    write_text(templates_file, tomli_w.dumps(_templates_toml(executions)))
    write_json(index, {
        "settings": settings, "skills": list(SKILLS), "tasks": SKILL_TASKS,
        "templates_file": "templates.toml", "correct_template": CORRECT_TEMPLATE,
        "videos": [v.to_dict(root) for v in videos],
    })
    log.info("rendered %d videos into %s in %.1fs", len(videos), root,
             time.perf_counter() - t0)
    return load_corpus(root)


def load_corpus(root: str | os.PathLike) -> Corpus:
    """Read a corpus written by `generate_corpus` from its corpus.json."""
    root = Path(root)
    index = root / "corpus.json"
    if not index.exists():
        raise FileNotFoundError(f"{index} does not exist; create the corpus with "
                                f"`vidskill synth {root}` or vidskill.demo.corpus.generate_corpus")
    data = json.loads(index.read_text())
    return Corpus(
        root=root, skills=tuple(data["skills"]),
        videos=tuple(VideoTruth.from_dict(v, root) for v in data["videos"]),
        templates_file=root / data["templates_file"],
        correct_template=dict(data["correct_template"]),
    )
