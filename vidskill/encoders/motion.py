"""`flow-motion`: a flow descriptor meant to survive a change of camera.

Human and robot videos never share a viewpoint, so a grid of flow directions (HOF) does
not match across them. This encoder keeps only what a change of camera (in-plane rotation,
mirroring, distance, position in the frame, a hand-held camera's shake) leaves roughly
unchanged:

- the *shape* of the distribution of flow directions (one way, back and forth, all around),
  as magnitudes of its circular Fourier coefficients |sum w exp(i k theta)| / sum w, which a
  rotation or a mirror of the image leaves unchanged: over the whole window, and per pair
  (how spread the directions are at one instant: a translating vs a turning tool);
- how the mean motion direction evolves: its autocorrelation at fixed lags in seconds
  (real part and |imaginary part|: reversals, turning, circling, rotation/mirror-free);
- the motion-energy profile over time: variation, periodicity, duty cycle, spectrum bands;
- the local structure of the flow: coherence (translation vs deformation), anisotropy,
  share of curl vs divergence, net expansion vs contraction;
- the moving region's trajectory: elongation of its path (line vs loop), straightness, and
  its spread relative to the moving region's size (camera distance cancels out);
- the speed level, with a low weight, since it depends on the camera's distance.

Assumptions of the defaults (stated, not fitted to any corpus): camera motion is removed by
subtracting each pair's median flow, which assumes the moving subject covers less than half
the frame; a pixel moves when faster than 0.02 short sides per second; skills have
characteristic motions at 0.25-5 Hz seen through windows of 2 s sampled at about 10 fps.
Each block is centred (values mapped to [-1, 1]) so cosine similarity is
informative without corpus statistics, L2-normalised, and weighted equally.
"""

from __future__ import annotations

import numpy as np

from vidskill.encoders.flowbase import FlowEncoder, l2, velocity
from vidskill.encoders.hof import MOVING, TYPICAL
from vidskill.flow import Flow, FlowEstimator

LAGS = (0.1, 0.2, 0.4, 0.8)            # seconds
BANDS = (0.25, 0.75, 1.5, 3.0, 5.0)    # Hz: edges of the energy-spectrum bands
SPEED_WEIGHT = 0.5                     # view-dependent speed level counts half


def _centred(x: float) -> float:
    """A value in [0, 1] mapped to [-1, 1]."""
    return 2.0 * float(np.clip(x, 0.0, 1.0)) - 1.0


class MotionEncoder(FlowEncoder):
    """View-robust motion statistics per window (see the module docstring)."""

    name = "flow-motion"

    def __init__(self, window: float = 2.0, stride: float = 0.5, harmonics: int = 4,
                 lags: tuple[float, ...] = LAGS, flow: FlowEstimator | str | dict = "dis"):
        super().__init__(window, stride, flow)
        if harmonics < 1:
            raise ValueError(f"harmonics must be >= 1, got {harmonics}")
        self.harmonics, self.lags = int(harmonics), tuple(float(x) for x in lags)
        self.dim = 2 * self.harmonics + 2 * len(self.lags) + (3 + len(BANDS) - 1) + 4 + 3 + 1

    def params(self) -> dict:
        return {"harmonics": self.harmonics, "lags": list(self.lags)}

    def prepare(self, flow: Flow) -> dict[str, np.ndarray]:
        v = velocity(flow)[:, ::2, ::2]  # flow is smooth: half resolution loses nothing here
        p, h, w = v.shape[:3]
        v = v - np.median(v.reshape(p, -1, 2), axis=1)[:, None, None, :]  # camera motion
        u, vv = v[..., 0], v[..., 1]
        mag = np.hypot(u, vv)
        moving = mag >= MOVING
        wgt = np.where(moving, mag, 0.0)
        total = wgt.reshape(p, -1).sum(1) + 1e-12
        short = min(h, w)
        ys, xs = np.mgrid[0:h, 0:w] / short
        cx = (wgt * xs).reshape(p, -1).sum(1) / total
        cy = (wgt * ys).reshape(p, -1).sum(1) / total
        zsum = (wgt * (u + 1j * vv) / np.maximum(mag, 1e-12)).reshape(p, -1).sum(1)
        ang = np.arctan2(vv, u).reshape(p, -1)
        k = np.arange(1, self.harmonics + 1)
        # circular Fourier coefficients of the magnitude-weighted direction distribution
        fourier = np.einsum("pn,pnk->pk", wgt.reshape(p, -1), np.exp(1j * ang[..., None] * k))
        du_dy, du_dx = np.gradient(u, axis=(1, 2))
        dv_dy, dv_dx = np.gradient(vv, axis=(1, 2))
        div, curl = (du_dx + dv_dy) * short, (dv_dx - du_dy) * short  # 1/s
        uu = (wgt * u * u).reshape(p, -1).sum(1)
        vv2 = (wgt * vv * vv).reshape(p, -1).sum(1)
        uv = (wgt * u * vv).reshape(p, -1).sum(1)
        tr, det = uu + vv2, uu * vv2 - uv * uv
        disc = np.sqrt(np.maximum(tr * tr / 4 - det, 0.0))
        aniso = (tr / 2 - disc) / np.maximum(tr / 2 + disc, 1e-12)
        return {
            "energy": mag.reshape(p, -1).mean(1),
            "z": (wgt * (u + 1j * vv)).reshape(p, -1).sum(1) / total,   # mean moving flow
            "coherence": np.abs(zsum) / (moving.reshape(p, -1).sum(1) + 1e-12),
            "fourier": fourier,
            "weight": total,
            "div": (wgt * div).reshape(p, -1).sum(1) / total,
            "absdiv": (wgt * np.abs(div)).reshape(p, -1).sum(1) / total,
            "abscurl": (wgt * np.abs(curl)).reshape(p, -1).sum(1) / total,
            "aniso": aniso,
            "centroid": cx + 1j * cy,
            "moving": moving.reshape(p, -1).any(1),
            "extent": np.sqrt(moving.reshape(p, -1).mean(1) * h * w) / short,  # short sides
        }

    def pool(self, prepared, idx: np.ndarray, dt: np.ndarray) -> np.ndarray:
        step = float(np.median(dt))
        e = prepared["energy"][idx]
        mean_e = float(e.mean())
        fourier, weight = prepared["fourier"][idx], prepared["weight"][idx]
        window_shape = np.abs(fourier.sum(0)) / weight.sum()
        instant_shape = (np.abs(fourier) / weight[:, None]).mean(0)
        shape = np.concatenate([window_shape, instant_shape]) * 2 - 1
        blocks = [l2(shape), l2(self._lag_block(prepared["z"][idx], step)),
                  l2(self._energy_block(e, step)), l2(self._structure_block(prepared, idx)),
                  l2(self._path_block(prepared["centroid"][idx], prepared["moving"][idx],
                                      prepared["extent"][idx])),
                  SPEED_WEIGHT * np.array([np.tanh(np.log((mean_e + 1e-6) / TYPICAL))])]
        return l2(np.concatenate(blocks))

    def _lag_block(self, z: np.ndarray, step: float) -> np.ndarray:
        """Autocorrelation of the mean motion direction at each lag: (Re, |Im|) pairs."""
        out = []
        for lag in self.lags:
            k = int(round(lag / step))
            if k < 1 or k >= len(z):
                out += [0.0, 0.0]  # lag outside the window: no evidence either way
                continue
            a, b = z[:-k], z[k:]
            r = (a * np.conj(b)).sum() / np.sqrt((np.abs(a) ** 2).sum() * (np.abs(b) ** 2).sum()
                                                 + 1e-12)
            out += [float(r.real), 2 * abs(float(r.imag)) - 1]
        return np.array(out)

    def _energy_block(self, e: np.ndarray, step: float) -> np.ndarray:
        """Variation, periodicity, duty cycle and spectrum bands of the motion energy."""
        mean = e.mean() + 1e-9
        cv = np.tanh(e.std() / mean)
        x = (e - e.mean()) / mean
        acf = [float((x[:-k] * x[k:]).mean() / ((x * x).mean() + 1e-12))
               for k in range(max(1, int(round(0.2 / step))), len(x) // 2 + 1)]
        periodic = max(acf) if acf else 0.0
        duty = (e > 0.5 * e.max()).mean() if e.max() > MOVING else 0.0
        spec = np.abs(np.fft.rfft(x)) ** 2
        freqs = np.fft.rfftfreq(len(x), d=step)
        bands = np.array([spec[(freqs >= lo) & (freqs < hi)].sum()
                          for lo, hi in zip(BANDS[:-1], BANDS[1:], strict=True)])
        bands = l1(bands) - 1.0 / len(bands) if bands.sum() > 0 else np.zeros(len(bands))
        return np.concatenate([[2 * cv - 1, periodic, _centred(duty)], bands])

    @staticmethod
    def _structure_block(prepared, idx: np.ndarray) -> np.ndarray:
        """Coherence, anisotropy, curl share and net divergence of the moving flow."""
        absdiv, abscurl = prepared["absdiv"][idx].mean(), prepared["abscurl"][idx].mean()
        return np.array([
            _centred(prepared["coherence"][idx].mean()),
            _centred(prepared["aniso"][idx].mean()),
            _centred(abscurl / (absdiv + abscurl + 1e-12)),
            float(prepared["div"][idx].mean() / (absdiv + 1e-12)),
        ])

    @staticmethod
    def _path_block(c: np.ndarray, moving: np.ndarray, extent: np.ndarray) -> np.ndarray:
        """Elongation (line vs loop), straightness and relative spread of the moving path."""
        c, extent = c[moving], extent[moving]
        if len(c) < 3:
            return np.zeros(3)
        d = c - c.mean()
        cov = np.cov(np.stack([d.real, d.imag]))
        ev = np.linalg.eigvalsh(cov)
        roundness = np.sqrt(max(ev[0], 0.0) / max(ev[1], 1e-12))
        path = np.abs(np.diff(c)).sum()
        straight = np.abs(c[-1] - c[0]) / path if path > 0 else 0.0
        spread = np.sqrt((np.abs(d) ** 2).mean()) / max(float(extent.mean()), 1e-6)
        return np.array([_centred(roundness), _centred(straight), _centred(spread / (1 + spread))])


def l1(x: np.ndarray) -> np.ndarray:
    """x scaled to sum 1 (a histogram), zero stays zero."""
    s = float(x.sum())
    return x / s if s > 0 else x
