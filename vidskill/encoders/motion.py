"""`flow-motion`: a flow descriptor meant to survive a change of camera.

Human and robot videos never share a viewpoint, so a grid of flow directions (HOF) does
not match across them. What a change of camera (rotation, mirroring, distance, position in
the frame, a hand-held camera's shake) leaves unchanged is *time*: how often the motion
repeats and how its speed rises and falls. Each window is described by three blocks:

- the spectrum of the mean moving flow z(t) (a complex signal: x + iy), as power on
  log-spaced frequency bins, folded over the sign of the frequency (|Z(f)|^2 + |Z(-f)|^2)
  so a mirrored view or the opposite turning sense gives the same spectrum, and divided by
  (2 pi f)^2 so it is the spectrum of the path (displacement), where the fundamental of a
  motion outweighs the harmonics that velocity stresses;
- the spectrum of the motion energy (mean flow magnitude) on the same bins: pulses, holds
  and the double-frequency beat of a back-and-forth stroke; weighted by how much the energy
  varies (tanh(2 cv), cv = std / mean), since the spectrum of a nearly flat energy (a
  steady circle) is only flow noise;
- circularity, the share of |Z(f)|^2 - |Z(-f)|^2 in the total (a circle vs a line; free of
  the turning sense), at the weight of one block;
- the distribution of the relative speed |z(t)| / (its 90th percentile in the window) on 5
  soft bins over [0, 1]: holds and pauses put mass near 0, a steady circle near 1, a
  back-and-forth stroke spreads it (arcsine-like). Free of tempo, distance and direction.

The mean moving flow is weighted by image structure (the smaller eigenvalue of the local
structure tensor of the pair's first frame, as in Shi-Tomasi "good features to track"):
on a plain, untextured part (a robot's bar-shaped arm) flow is only known across edges
(the aperture problem), so a circling arm read as a line; corners and textured parts carry
both components. Structure within one DIS patch of the frame border is ignored: there the
frame edge cuts moving edges into false corners whose flow slides along the edge.

Direction-histogram shape, flow structure (curl, divergence) and the moving region's path
were dropped: on the demo corpus each alone matched robot to human clips at about chance,
so they added camera-dependent noise. Speed was dropped because it scales with distance.

Assumptions of the defaults (stated, not fitted to any corpus): camera motion is removed by
subtracting each pair's median flow, which assumes the moving subject covers less than half
the frame; a pixel moves when faster than 0.02 short sides per second; skills repeat at
0.25-4 Hz (periods 0.25-4 s), so bins span 0.25-4 Hz at 3 per octave, each a Gaussian in
log frequency one bin wide (a ±25% change of tempo moves power about one bin); windows are
4 s (stride 1 s) so a 3-4 s period shows about once and a 0.25 Hz bin is resolved at all;
flow is sampled at >= 8 fps (bins above the Nyquist frequency stay empty). The structure
tensor integrates over a Gaussian of 1% of the short side (1.5 px at 160 px) and the
border band is 5% of it (DIS's 8 px patch at 160 px). Relative-speed bins are 0.2 wide,
so "slower than a fifth of the usual speed" (a hold) is the first bin. Each block counts
alike (no block is preferred without evidence). Each distribution is centred by
subtracting its uniform value (its analytic midpoint, no corpus statistics) and
L2-normalised, so cosine similarity compares shapes.
"""

from __future__ import annotations

import cv2
import numpy as np

from vidskill.encoders.flowbase import FlowEncoder, l2, velocity
from vidskill.encoders.hof import MOVING
from vidskill.flow import Flow, FlowEstimator

LOW_HZ, HIGH_HZ, PER_OCTAVE = 0.25, 4.0, 3
CIRCULARITY_WEIGHT = 1.0   # one block's weight, like the spectra and the speed distribution
MODULATION_GAIN = 2.0      # energy-spectrum weight tanh(2 cv): 0.75 for a sine stroke, ~0 if flat
STRUCTURE_SIGMA = 0.01     # structure-tensor integration scale, short sides (1.5 px at 160 px)
BORDER = 0.05              # border band without structure weight, short sides (8 px at 160 px)
SPEED_BINS = 5             # relative-speed bins over [0, 1] of |z| / p90(|z|), 0.2 wide
VERSION = 3                # bump when the output changes without a settings change


def log_bins(low: float, high: float, per_octave: int) -> np.ndarray:
    """Log-spaced bin centres (Hz) from low to high, per_octave to the octave."""
    n = int(round(np.log2(high / low) * per_octave)) + 1
    return low * 2.0 ** (np.arange(n) / per_octave)


def binned_power(x: np.ndarray, step: float, centres: np.ndarray, width: float,
                 path: bool) -> tuple[np.ndarray, np.ndarray]:
    """Power of x (sampled every `step` s) at +f and -f on soft log-frequency bins.

    The mean is removed and a Hann taper limits leakage; zero padding gives a fine grid
    that Gaussian bins (sd `width` in log frequency) gather. path: divide by f^2 (a
    velocity's spectrum turned into its displacement's).
    """
    n = len(x)
    x = x - x.mean()
    if n > 2:
        x = x * np.hanning(n)
    nfft = max(256, 1 << int(np.ceil(np.log2(4 * n))))
    power = np.abs(np.fft.fft(x, nfft)) ** 2
    k = np.arange(1, nfft // 2)
    f = k / (nfft * step)
    plus, minus = power[k], power[nfft - k]
    if path:
        plus, minus = plus / f ** 2, minus / f ** 2
    w = np.exp(-0.5 * ((np.log(f)[None] - np.log(centres)[:, None]) / width) ** 2)
    return w @ plus, w @ minus


def structure(images: np.ndarray, sigma: float = STRUCTURE_SIGMA,
              border: float = BORDER) -> np.ndarray:
    """(P,H,W) smaller eigenvalue of each image's structure tensor (>= 0), zero near the border.

    sigma and border are fractions of the short side. Large where the image has texture or a
    corner (flow known in both directions), ~0 on flat areas and along straight edges.
    """
    p, h, w = images.shape[:3]
    short = min(h, w)
    s = max(1.0, sigma * short)
    band = int(round(border * short))
    out = np.zeros((p, h, w), np.float32)
    for i, im in enumerate(images):
        g = cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
        gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
        a = cv2.GaussianBlur(gx * gx, (0, 0), s)
        b = cv2.GaussianBlur(gx * gy, (0, 0), s)
        d = cv2.GaussianBlur(gy * gy, (0, 0), s)
        out[i] = np.maximum(0.5 * (a + d) - np.sqrt(0.25 * (a - d) ** 2 + b * b), 0.0)
    if band:
        out[:, :band] = out[:, -band:] = 0.0
        out[:, :, :band] = out[:, :, -band:] = 0.0
    return out


def moving_flow(flow: Flow, images: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(u, v, |v|, weight), each (P,H/2,W/2): camera-compensated velocity at half resolution
    and each pixel's weight in the mean moving flow (speed above MOVING times structure)."""
    v = velocity(flow)[:, ::2, ::2]  # flow is smooth: half resolution loses nothing here
    p = v.shape[0]
    v = v - np.median(v.reshape(p, -1, 2), axis=1)[:, None, None, :]  # camera motion
    u, vv = v[..., 0], v[..., 1]
    mag = np.hypot(u, vv)
    st = structure(images)
    if st.shape[1:] != flow.data.shape[1:3]:   # flow at another size than the frames
        st = np.stack([cv2.resize(x, flow.data.shape[2:0:-1], interpolation=cv2.INTER_AREA)
                       for x in st])
    return u, vv, mag, np.where(mag >= MOVING, mag, 0.0) * st[:, ::2, ::2]


def speed_distribution(speed: np.ndarray, bins: int = SPEED_BINS) -> np.ndarray:
    """Soft histogram of speed / its 90th percentile (clipped to [0, 1]) on `bins` bins."""
    top = float(np.percentile(speed, 90))
    r = np.clip(speed / top, 0.0, 1.0) if top > 0 else np.zeros_like(speed)
    centres = (np.arange(bins) + 0.5) / bins
    return np.exp(-0.5 * ((r[:, None] - centres[None]) * bins) ** 2).sum(0)


def centred_distribution(p: np.ndarray) -> np.ndarray:
    """p scaled to sum 1 minus the uniform share (zero when p is all zero)."""
    s = float(p.sum())
    return p / s - 1.0 / len(p) if s > 0 else np.zeros(len(p))


class MotionEncoder(FlowEncoder):
    """View-robust motion spectra per window (see the module docstring)."""

    name = "flow-motion"
    needs_images = True   # structure weights come from the frames

    def __init__(self, window: float = 4.0, stride: float = 1.0, low_hz: float = LOW_HZ,
                 high_hz: float = HIGH_HZ, per_octave: int = PER_OCTAVE,
                 flow: FlowEstimator | str | dict = "dis"):
        super().__init__(window, stride, flow)
        if not (0 < low_hz < high_hz) or per_octave < 1:
            raise ValueError(f"need 0 < low_hz < high_hz and per_octave >= 1, got {low_hz}, "
                             f"{high_hz}, {per_octave}")
        self.low_hz, self.high_hz, self.per_octave = float(low_hz), float(high_hz), per_octave
        self.centres = log_bins(self.low_hz, self.high_hz, per_octave)
        self.width = float(np.log(2) / per_octave)
        self.dim = 2 * len(self.centres) + 1 + SPEED_BINS

    def params(self) -> dict:
        return {"low_hz": self.low_hz, "high_hz": self.high_hz, "per_octave": self.per_octave,
                "version": VERSION}

    def prepare(self, flow: Flow, images: np.ndarray) -> dict[str, np.ndarray]:
        u, vv, mag, wgt = moving_flow(flow, images)
        p = len(u)
        total = wgt.reshape(p, -1).sum(1) + 1e-12
        return {
            "energy": mag.reshape(p, -1).mean(1),
            "z": (wgt * (u + 1j * vv)).reshape(p, -1).sum(1) / total,   # mean moving flow
        }

    def pool(self, prepared, idx: np.ndarray, dt: np.ndarray) -> np.ndarray:
        return describe(prepared["z"][idx], prepared["energy"][idx], float(np.median(dt)),
                        self.centres, self.width)


def describe(z: np.ndarray, energy: np.ndarray, step: float, centres: np.ndarray,
             width: float) -> np.ndarray:
    """The unit descriptor of one window from its mean moving flow z (complex) and motion
    energy, sampled every `step` s, on frequency bins `centres` of log-width `width`."""
    plus, minus = binned_power(z, step, centres, width, True)
    both = plus + minus
    circ = float(np.abs(plus - minus).sum() / both.sum()) if both.sum() > 0 else 0.0
    e_plus, e_minus = binned_power(energy, step, centres, width, False)
    modulation = np.tanh(MODULATION_GAIN * energy.std() / (energy.mean() + 1e-9))
    speed = speed_distribution(np.abs(z))
    return l2(np.concatenate([l2(centred_distribution(both)),
                              modulation * l2(centred_distribution(e_plus + e_minus)),
                              [CIRCULARITY_WEIGHT * (2 * circ - 1)],
                              l2(centred_distribution(speed))]))
