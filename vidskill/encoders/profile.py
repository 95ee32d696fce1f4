"""`flow-profile`: ordered per-step motion signals, for matching clips across cameras.

A one-shot skill (reach, grasp, push, release) is told apart by the *order* of its phases,
which a change of camera keeps; flow-motion's per-window spectra and a mean over windows
throw order away (on MetaWorld renders from two cameras it matched the task at chance).
This encoder keeps one row per step (0.1 s) of raw motion signals, and every clip-level
descriptor is computed from the clip's own rows once its extent is known (a query clip, a
stored segment, a template execution), so the store and direct comparison use one function.

Per step of 0.1 s (one flow pair at 10 fps; at a higher rate the pairs of a step are
averaged by duration, at a lower rate each pair is one row):
- energy: mean speed of all pixels after subtracting the pair's median flow (camera motion),
  in short sides per second at half resolution (as flow-motion);
- z: flow-motion's structure-weighted mean moving flow (x + iy), for the periodic block;
- shape of the flow field, each free of the image scale or turned into a constant factor
  by it (`field_scalars`): the 99th-percentile speed (the fastest part, usually the
  effector), the share of the frame that moves (participation ratio of the speeds), the
  coherence of the motion (|mean velocity| / mean speed: 1 when everything moves one way),
  and the mean |divergence| and |curl| (motion toward or away from the camera, turning),
  in 1/s. A camera change moves the flow's directions and positions, not these first-order
  properties of the field, nor when they change;
- grid: the camera-compensated mean velocity on a G x G grid (2 G^2 numbers), only ever
  compared with other steps of the *same* clip (self-similarity), never across clips.

Per clip (`signature`), on the clip's own time t / duration resampled to fixed lengths, so
a global change of tempo leaves it unchanged, and without a first or last step that is a
flow failure (over JUMP times faster than its neighbour and the clip's median step: the
flow pair across the hard cut a clip cut from a long video starts or ends with;
`edge_failures`):
- profile (compared by DTW): log energy, the log distance between the flow field at t
  and at t + lag for lags of 1, 2 and 4 of L resampled steps (how fast the motion pattern
  changes: high at phase changes), and the field's shape scalars (logs, coherence as is),
  each z-scored over the clip. A farther camera, a larger arm or a faster tempo multiplies
  a channel by a constant: the log makes it an offset and the z-score removes it;
- ssm: two self-similarity matrices of the flow fields at SSM_STEPS steps: which phases
  resemble or mirror which (after Junejo et al., "View-independent action recognition from
  temporal self-similarities", 2011, who combine several). The Euclidean distances compare
  whole motions, speed included, so the fast phases dominate; the cosines compare the
  pattern of the motion whatever its speed, and a projection keeps a motion and its
  reversal opposite (cosine -1) from any camera. Each upper triangle is centred and
  unit-normalised, the two weighted by COSINE_SHARE (`self_similarity`);
- spectral: flow-motion's window descriptor over the clip's 4 s windows, averaged, for
  repetitive motion;
- gate in [0, 1]: how periodic the clip is: how well its motion path z repeats within
  the clip (see `gate`).

Similarity (`similarities`), with g = max(gate_a, gate_b):

    (1 - g) [(1 - SSM_WEIGHT) DTW-correlation(profiles) + SSM_WEIGHT ssm_a . ssm_b]
      + g spectral_a . spectral_b

DTW-correlation is 1 - (banded squared-Euclidean DTW total) / (2 L C): on the diagonal it
is the mean Pearson correlation of the z-scored channels, and warping can only raise it.
Order over the clip's time means something only when neither clip repeats (a periodic
clip's profile depends on how many cycles it happens to hold), so once either repeats,
spectra decide. The index vector (`embed`) is the same formula with the lockstep
correlation in place of DTW; a store shortlists by it and re-ranks with `compare`.

Assumptions (round values, not fitted to any corpus): the camera is static or moves by a
global translation, and the moving agent covers less than half of the frame (median
subtraction); a clip holds one skill from its start to its end, cut within about BAND of
its length; phase timing survives a change of camera while the relative size of a phase
may not (hence the per-clip z-score of logs); the field's shape scalars rise and fall at
the same phases from any camera, though a camera may scale each (the log and z-score
again); motion is continuous over 0.1 s (JUMP); a clip of a periodic skill shows at least
5/3 cycles (REPEAT_LAGS), and its path repeats with a correlation above GATE_HIGH while a
one-shot clip's stays under GATE_LOW (MetaWorld's one-shot clips: at most 0.43; the demo's
periodic clips: median 0.94, lower quartile 0.86); L = 32 resampled steps resolve phases of
about 1/16 of a clip, so a skill should span at least ~30 steps (3 s at the default 0.1 s
step; sample faster for quicker skills).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

import vidskill.encoders.motion as motion
from vidskill.dtw import sqeuclidean_total
from vidskill.encoders.base import POOLINGS, Features, check_comparable
from vidskill.encoders.flowbase import FlowEncoder, l2
from vidskill.encoders.windows import Steps, Windows
from vidskill.flow import Flow, FlowEstimator

STEP = 0.1          # seconds per row: one flow pair at the default 10 fps (one per pair below)
GRID = 4            # cells per side of the flow field kept for self-similarity
L = 32              # resampled steps of the DTW profile: phases of ~1/16 of the clip
LAGS = (1, 2, 4)    # lags (resampled steps) of the flow-field change channels: within 1/8
SSM_STEPS = 16      # resampled steps of the self-similarity matrix
SSM_WEIGHT = 0.3    # share of the self-similarity block (it is the weaker cue alone)
COSINE_SHARE = 1 / 3   # share of the cosine matrix within that block (Euclidean: the rest)
BAND = 0.1          # DTW half-width, fraction of L: phase timings may differ by 10% of a clip
GATE_LOW, GATE_HIGH = 0.5, 0.8   # repeat correlation: one-shot at or below, periodic above
REPEAT_LAGS = 0.6   # longest lag for a repeat, fraction of the clip: >= 5/3 cycles seen
DESPIKE = 5.0       # robust SDs above the median beyond which a step is a flow failure
JUMP = 5.0          # an end step this many times faster than its neighbour: a flow failure
SPECTRAL_WINDOW, SPECTRAL_STRIDE = 4.0, 1.0   # flow-motion's windows for the periodic block
FLOOR = 1e-3        # floor inside logs, a share of the channel's mean over the clip
TOP_SPEED = 0.99    # quantile of the speeds taken as the fastest part's
SCALARS = ("top", "area", "coherence", "divergence", "curl")   # `field_scalars`, in order
LINEAR = frozenset({"coherence"})   # in [0, 1] and scale-free already: no log
HEAD = 3 + len(SCALARS)   # row: energy, z (re, im), SCALARS, then the grid
VERSION = 3         # bump when the output changes without a settings change


def resample(x: np.ndarray, n: int, times: np.ndarray | None = None) -> np.ndarray:
    """(T, C) rows at `times` (default evenly spaced) linearly resampled to n rows evenly
    spaced over the same span, i.e. on the clip's normalised time [0, 1]."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    if len(x) == 1:
        return np.repeat(x, n, axis=0)
    t = np.arange(len(x), dtype=np.float64) if times is None else np.asarray(times, np.float64)
    tt = np.linspace(t[0], t[-1], n)
    return np.stack([np.interp(tt, t, x[:, j]) for j in range(x.shape[1])], axis=1)


def log_floored(x: np.ndarray) -> np.ndarray:
    """log(x + FLOOR mean(x)): a still step (x = 0, which renders have) sits a bounded
    distance below the clip's typical step, and x times any constant is the same curve
    shifted, as the per-clip z-score needs (a fixed floor would break that near zero)."""
    x = np.asarray(x, np.float64)
    return np.log(x + FLOOR * float(x.mean()) + 1e-300)


def zscore(x: np.ndarray) -> np.ndarray:
    """Each column minus its mean over time, over its standard deviation (a flat column
    stays zero rather than amplifying noise)."""
    x = x - x.mean(axis=0)
    sd = x.std(axis=0)
    return x / np.where(sd > 1e-9, sd, np.inf)


def centred_unit(x: np.ndarray) -> np.ndarray:
    """x flattened, centred and scaled to unit L2 norm (zero stays zero)."""
    x = np.asarray(x, np.float64).ravel()
    return l2(x - x.mean(), 1e-12)


def repeat_strength(x: np.ndarray, longest: float = REPEAT_LAGS) -> float:
    """Highest local maximum of x's normalised autocorrelation after its first zero
    crossing, at lags up to `longest` of the clip; 1 = a perfect repeat, 0 = none.

    Only peaks after the autocorrelation has gone negative count (as in pitch detection): a
    slow one-shot motion decorrelates slowly and wiggles on the way, which is no repeat.
    """
    x = np.asarray(x) - np.mean(x)
    n = len(x)
    power = float(np.vdot(x, x).real)
    top = int(longest * n)
    if n < 6 or power <= 0:
        return 0.0
    ac = np.array([np.vdot(x[:n - k], x[k:]).real / (n - k) for k in range(top + 2)])
    ac /= power / n
    negative = np.flatnonzero(ac[1:] < 0)
    if len(negative) == 0:
        return 0.0
    peaks = [ac[k] for k in range(int(negative[0]) + 1, top + 1)
             if ac[k] >= ac[k - 1] and ac[k] >= ac[k + 1]]
    return float(np.clip(max(peaks, default=0.0), 0.0, 1.0))


def despike(x: np.ndarray, k: float = DESPIKE) -> np.ndarray:
    """x with samples more than k robust SDs (1.4826 MAD) above the median magnitude shrunk
    to that limit: a one-step flow failure must not hide a repeat."""
    m = np.abs(x)
    med = float(np.median(m))
    top = med + k * max(1.4826 * float(np.median(np.abs(m - med))), 1e-12)
    return np.where(m > top, x * (top / np.maximum(m, 1e-12)), x)


def edge_failures(energy: np.ndarray, jump: float = JUMP) -> np.ndarray:
    """Whether a clip's first and last steps are flow failures: over `jump` times faster
    than both the step next to them and the clip's median step. A clip cut from a long
    video at a hard cut starts or ends with the flow pair across the cut (two unrelated
    images), while motion is continuous over 0.1 s. Only the ends are tested: a sudden
    motion inside a clip is motion (renders have them), and the median keeps a small motion
    at a clip's end after a perfectly still stretch from counting."""
    e = np.asarray(energy, np.float64)
    out = np.zeros(len(e), bool)
    if len(e) >= 3:
        typical = float(np.median(e))
        out[0] = e[0] > jump * max(e[1], typical)
        out[-1] = e[-1] > jump * max(e[-2], typical)
    return out


def gate(z: np.ndarray) -> float:
    """Periodic share of a clip in [0, 1]: the repeat strength of its motion path z (the
    mean moving flow, direction included), mapped linearly from [GATE_LOW, GATE_HIGH] to
    [0, 1]. Not of the energy: a one-shot manipulation has several bursts of motion
    (reach, carry) whose energy repeats while their directions do not; a repeated skill
    repeats its path."""
    p = repeat_strength(despike(z))
    return float(np.clip((p - GATE_LOW) / (GATE_HIGH - GATE_LOW), 0.0, 1.0))


def spectral_block(energy: np.ndarray, z: np.ndarray, starts: np.ndarray,
                   ends: np.ndarray) -> np.ndarray:
    """flow-motion's descriptor of the clip (default bins), over its 4 s windows every 1 s
    (one shorter window for a shorter clip), averaged and unit-normalised: flow-motion's
    mean-pooled clip embedding when a step is one flow pair."""
    windows = Windows(SPECTRAL_WINDOW, SPECTRAL_STRIDE)
    centres = motion.log_bins(motion.LOW_HZ, motion.HIGH_HZ, motion.PER_OCTAVE)
    width = float(np.log(2) / motion.PER_OCTAVE)
    dt = ends - starts
    tol = 0.25 * float(np.median(dt))
    spans = windows.spans(float(starts[0]), float(ends[-1]), None, tol)
    rows = [motion.describe(z[idx], energy[idx], float(np.median(dt[idx])), centres, width)
            for idx in windows.members(starts, ends, spans, tol) if len(idx)]
    return l2(np.mean(rows, axis=0))


def field_scalars(u: np.ndarray, v: np.ndarray, speed: np.ndarray,
                  energy: np.ndarray | None = None) -> np.ndarray:
    """(P, len(SCALARS)) shape of each camera-compensated flow field (u, v, |v|: (P, H, W),
    short sides per second): top speed, moving share, coherence, mean |div| and |curl|.
    energy: each field's mean speed, when the caller has it.

    The moving share is the participation ratio (sum s)^2 / (N sum s^2) of the speeds s,
    1 when all N pixels move alike, 1/N when one does: no speed threshold to choose.
    Divergence and curl are taken per short side (x the grid's short side in pixels), so
    they are rates in 1/s whatever the resolution.
    """
    p = len(speed)
    s = speed.reshape(p, -1)
    n = s.shape[1]
    total = (s.mean(1) if energy is None else np.asarray(energy, np.float64)) * n
    power = np.einsum("ij,ij->i", s, s)
    k = int(TOP_SPEED * (n - 1))
    top = np.partition(s, k, axis=1)[:, k]
    area = np.divide(total ** 2, n * power, out=np.zeros(p), where=power > 0)
    drift = np.hypot(u.reshape(p, -1).sum(1), v.reshape(p, -1).sum(1))
    coherence = np.divide(drift, total, out=np.zeros(p), where=total > 0)
    scale = min(u.shape[1:])
    du_dy, du_dx = np.gradient(u, axis=(1, 2))
    dv_dy, dv_dx = np.gradient(v, axis=(1, 2))
    div = np.abs(du_dx + dv_dy).reshape(p, -1).mean(1) * scale
    curl = np.abs(dv_dx - du_dy).reshape(p, -1).mean(1) * scale
    return np.stack([top, area, coherence, div, curl], axis=1)


def self_similarity(fields: np.ndarray) -> np.ndarray:
    """The self-similarity block of (n, D) flow fields: the upper triangles of the Euclidean
    distances and of the cosines between every two steps (a still step, a zero field, has
    cosine 0 with all), each centred and unit-normalised, scaled by sqrt(1 - COSINE_SHARE)
    and sqrt(COSINE_SHARE): the inner product of two blocks is that share of the cosine
    triangles' inner product plus the rest of the Euclidean ones'."""
    upper = np.triu_indices(len(fields), 1)
    gram = fields @ fields.T
    sq = np.diag(gram)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None] - 2 * gram, 0.0))
    norm = np.maximum(np.sqrt(sq), 1e-12)
    cosine = gram / np.outer(norm, norm)
    return np.concatenate([np.sqrt(1 - COSINE_SHARE) * centred_unit(dist[upper]),
                           np.sqrt(COSINE_SHARE) * centred_unit(cosine[upper])])


@dataclass(frozen=True)
class Signature:
    """Clip-level descriptors of one clip (see the module docstring)."""

    profile: np.ndarray    # (L, 1 + len(LAGS) + len(SCALARS)) z-scored, compared by DTW
    ssm: np.ndarray        # (SSM_STEPS (SSM_STEPS - 1),) unit `self_similarity` block
    spectral: np.ndarray   # flow-motion descriptor, unit
    gate: float            # periodic share in [0, 1]


def similarities(query: Signature, others: Sequence[Signature],
                 band: float | None = BAND) -> np.ndarray:
    """The clip similarity (module docstring) of one signature to each of `others`."""
    if not others:
        return np.zeros(0)
    total = sqeuclidean_total(query.profile, np.stack([o.profile for o in others]), band)
    prof = 1.0 - total / (2.0 * query.profile.size)
    ssm = np.stack([o.ssm for o in others]) @ query.ssm
    spec = np.stack([o.spectral for o in others]) @ query.spectral
    g = np.maximum(query.gate, np.array([o.gate for o in others]))
    return (1 - g) * ((1 - SSM_WEIGHT) * prof + SSM_WEIGHT * ssm) + g * spec


def clip_vector(sig: Signature) -> np.ndarray:
    """The unit index vector [sqrt((1-g)(1-w)) profile / sqrt(L C), sqrt((1-g) w) ssm,
    sqrt(g) spectral] (w = SSM_WEIGHT).

    Its inner product is `similarities` with the lockstep correlation in place of DTW for
    two clips of the same gate (both one-shot or both periodic); for a one-shot and a
    periodic clip it is lower. DTW only raises the profile term, so the inner product is a
    shortlist key and `compare` re-ranks.
    """
    p = sig.profile.ravel() / np.sqrt(sig.profile.size)
    g = sig.gate
    vec = np.concatenate([np.sqrt((1 - g) * (1 - SSM_WEIGHT)) * p,
                          np.sqrt((1 - g) * SSM_WEIGHT) * sig.ssm, np.sqrt(g) * sig.spectral])
    return l2(vec).astype(np.float32)


class ProfileEncoder(FlowEncoder):
    """Per-step raw motion signals; clips are described by `signature` (module docstring)."""

    name = "flow-profile"
    needs_images = True   # z is weighted by image structure, as in flow-motion
    own_comparison: ClassVar[bool] = True

    def __init__(self, step: float = STEP, grid: int = GRID,
                 flow: FlowEstimator | str | dict = "dis"):
        super().__init__(step, step, flow)
        self.windows = Steps(float(step), float(step))   # one row per pair at a low rate
        if grid < 1:
            raise ValueError(f"grid needs at least one cell per side, got {grid}")
        self.grid = int(grid)
        self.dim = HEAD + 2 * self.grid ** 2

    def params(self) -> dict:
        return {"grid": self.grid, "version": VERSION}

    def prepare(self, flow: Flow, images: np.ndarray) -> dict[str, np.ndarray]:
        u, vv, mag, wgt = motion.moving_flow(flow, images)   # half resolution, median removed
        p = len(u)
        total = wgt.reshape(p, -1).sum(1) + 1e-12
        v = np.stack([u, vv], axis=-1).astype(np.float32)   # cell means: half resolution will do
        cells = np.stack([cv2.resize(f, (self.grid, self.grid), interpolation=cv2.INTER_AREA)
                          for f in v])
        energy = mag.reshape(p, -1).mean(1)
        return {"energy": energy,
                "z": (wgt * (u + 1j * vv)).reshape(p, -1).sum(1) / total,
                "scalars": field_scalars(u, vv, mag, energy),
                "grid": cells.reshape(p, -1)}

    def pool(self, prepared, idx: np.ndarray, dt: np.ndarray) -> np.ndarray:
        w = dt / dt.sum()
        z = w @ prepared["z"][idx]
        return np.concatenate([[w @ prepared["energy"][idx], z.real, z.imag],
                               w @ prepared["scalars"][idx], w @ prepared["grid"][idx]])

    # -- clips ----------------------------------------------------------------------------

    @classmethod
    def signature(cls, features: Features) -> Signature:
        """The clip descriptors of a clip (all rows of `features` are the clip, less its
        `edge_failures`)."""
        if len(features) == 0:
            raise ValueError(f"no feature rows in {features.source or 'the clip'}; "
                             "it is too short")
        cells = (features.dim - HEAD) / 2
        if features.dim < HEAD + 2 or cells != int(np.sqrt(cells)) ** 2:
            raise ValueError(f"{features.dim}-dimensional rows are not {cls.name} features "
                             f"({HEAD} + 2 G^2 numbers per step); rows kept by an earlier "
                             f"version (before {VERSION}) need encoding again, e.g. a "
                             "re-ingest into a new --store")
        features = features.subset(~edge_failures(features.data[:, 0]))
        data = features.data.astype(np.float64)
        energy, z, fields = data[:, 0], data[:, 1] + 1j * data[:, 2], data[:, HEAD:]
        t = features.times
        f = resample(fields, L, t)
        channels = [log_floored(resample(energy, L, t)[:, 0])]
        for lag in LAGS:
            d = np.linalg.norm(f[lag:] - f[:-lag], axis=1)
            channels.append(log_floored(np.concatenate([d, np.repeat(d[-1:], lag)])))
        scalars = resample(data[:, 3:HEAD], L, t)
        channels += [col if name in LINEAR else log_floored(col)
                     for name, col in zip(SCALARS, scalars.T, strict=True)]
        profile = zscore(np.stack(channels, axis=1))
        ssm = self_similarity(resample(fields, SSM_STEPS, t))
        spectral = spectral_block(energy, z, np.asarray(features.starts, np.float64),
                                  np.asarray(features.ends, np.float64))
        return Signature(profile, ssm, spectral, gate(z))

    @classmethod
    def embed(cls, features: Features, pooling: str = "mean") -> np.ndarray:
        """`clip_vector` of the clip's signature. The clip is described as a whole, so a
        store's window pooling other than the default does not apply."""
        if pooling != POOLINGS[0]:
            raise ValueError(f"{cls.name} describes a clip from its ordered rows, so pooling "
                             f"{pooling!r} does not apply; use pooling {POOLINGS[0]!r}")
        return clip_vector(cls.signature(features))

    @classmethod
    def compare_many(cls, query: Features, others: Sequence[Features]) -> np.ndarray:
        """`similarities` of the clips' signatures (DTW over the profiles, batched)."""
        return cls.compare_matrix([query], others)[0]

    @classmethod
    def compare_matrix(cls, queries: Sequence[Features],
                       others: Sequence[Features]) -> np.ndarray:
        """`similarities` of every query's signature to every other's, each clip's signature
        computed once (a signature costs far more than comparing two)."""
        if not queries or not others:
            return np.zeros((len(queries), len(others)))
        for q in queries:
            check_comparable(q, others)
        theirs = [cls.signature(o) for o in others]
        return np.stack([similarities(cls.signature(q), theirs) for q in queries])
