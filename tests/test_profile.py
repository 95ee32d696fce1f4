"""flow-profile's clip descriptors on synthetic rows: what a change of camera or tempo must
leave alone, what order must change, the periodic gate, the index vector, and the store's
re-ranking with the encoder's own comparison."""

from __future__ import annotations

import numpy as np
import pytest

from vidskill.boundaries.base import Segment
from vidskill.encoders.base import Features
from vidskill.encoders.profile import (
    COSINE_SHARE,
    GRID,
    SCALARS,
    ProfileEncoder,
    clip_vector,
    edge_failures,
    field_scalars,
    self_similarity,
    similarities,
)
from vidskill.store import ClipStore

P = ProfileEncoder


def rows(energy: np.ndarray, seed: int = 0, step: float = 0.1) -> Features:
    """flow-profile rows: the given energy, a mean flow z along with it, field scalars that
    follow it (coherence falling as it rises), and a random flow field scaled by it."""
    n = len(energy)
    rng = np.random.default_rng(seed)
    z = energy * (0.6 + 0.3j)
    scalars = np.column_stack([2 * energy, 0.2 + 0.1 * energy, 1 / (1 + energy),
                               5 * energy, 2 * energy * (1 + energy)])
    grid = rng.normal(size=(n, 2 * GRID ** 2)) * energy[:, None]
    data = np.column_stack([energy, z.real, z.imag, scalars, grid]).astype(np.float32)
    t = np.arange(n) * step
    return Features(data, t, t + step, "flow-profile")


def one_shot(n: int = 40, peak: float = 0.7) -> np.ndarray:
    """A slow acceleration until `peak` of the clip, then a quick stop (no repeat)."""
    t = np.linspace(0, 1, n)
    return 0.05 + np.where(t < peak, (t / peak) ** 2, np.exp(-(t - peak) / 0.05))


def test_a_farther_camera_gives_the_same_signature():
    a = rows(one_shot())
    b = Features(a.data * np.float32(0.4), a.starts, a.ends, a.encoder)  # all speeds x 0.4
    sa, sb = P.signature(a), P.signature(b)
    np.testing.assert_allclose(sa.profile, sb.profile, atol=1e-5)
    np.testing.assert_allclose(sa.ssm, sb.ssm, atol=1e-5)
    assert P.compare(a, b) > 0.999


def test_a_farther_camera_gives_the_same_signature_with_still_steps():
    """A render holds perfectly still (zero speed) at times; the floor inside the logs is a
    share of the clip's own mean, so scaling every speed still only shifts the logs."""
    e = one_shot()
    e[5:12] = 0.0
    a = rows(e)
    b = Features(a.data * np.float32(0.01), a.starts, a.ends, a.encoder)
    np.testing.assert_allclose(P.signature(a).profile, P.signature(b).profile, atol=1e-4)


def test_another_tempo_keeps_the_energy_profile():
    fast, slow = P.signature(rows(one_shot(40))), P.signature(rows(one_shot(80)))
    assert np.corrcoef(fast.profile[:, 0], slow.profile[:, 0])[0, 1] > 0.99


def test_order_matters():
    """The same phases in the other order are further than a small shift of timing."""
    e = one_shot()
    a = rows(e)
    assert P.compare(a, rows(one_shot(peak=0.73))) > P.compare(a, rows(e[::-1].copy())) + 0.2


def test_field_scalars_of_translation_rotation_and_expansion():
    """Top speed, moving share, coherence, |div| and |curl| of textbook flow fields, as rates
    that do not depend on the grid's resolution."""
    def field(kind: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        y, x = (np.mgrid[0:n, 0:n] - (n - 1) / 2) / n   # short sides, centred
        u, v = {"translate": (np.ones_like(x), np.zeros_like(x)),
                "rotate": (-0.5 * y, 0.5 * x),          # 0.5 rad/s: curl 1/s
                "expand": (0.25 * x, 0.25 * y)}[kind]   # div 0.5/s
        return u[None], v[None]

    def scalars(kind: str, n: int = 32) -> dict[str, float]:
        u, v = field(kind, n)
        return dict(zip(SCALARS, field_scalars(u, v, np.hypot(u, v))[0], strict=True))

    moved = scalars("translate")
    assert moved["top"] == pytest.approx(1.0) and moved["area"] == pytest.approx(1.0)
    assert moved["coherence"] == pytest.approx(1.0)
    assert moved["divergence"] == pytest.approx(0.0) and moved["curl"] == pytest.approx(0.0)
    turned, grown = scalars("rotate"), scalars("expand")
    assert turned["curl"] == pytest.approx(1.0) and turned["divergence"] == pytest.approx(0.0)
    assert grown["divergence"] == pytest.approx(0.5) and grown["curl"] == pytest.approx(0.0)
    assert turned["coherence"] < 1e-9 and grown["coherence"] < 1e-9   # no net drift
    assert scalars("rotate", 64)["curl"] == pytest.approx(1.0)        # a rate: any resolution
    one = np.zeros((1, 10, 10))
    one[0, 3, 4] = 2.0
    assert field_scalars(one, 0 * one, one)[0, 1] == pytest.approx(1 / 100)  # one pixel moves
    still = field_scalars(0 * one, 0 * one, 0 * one)[0]
    assert np.all(still == 0)   # no motion: zeros, not NaN


def test_self_similarity_keeps_reversals_from_any_camera_and_ignores_speed():
    """A reach out and back: the cosine triangle gives the back stroke -1 against the out
    stroke whatever linear map a camera applies to the flow vectors, and a phase's speed
    changes only the Euclidean triangle."""
    rng = np.random.default_rng(0)
    pattern = rng.normal(size=(GRID * GRID, 2))
    speed = np.array([1.0, 2.0, 0.5, 1.5])
    sign = np.array([1.0, 1.0, -1.0, -1.0])            # out, out, back, back
    fields = (sign * speed)[:, None, None] * pattern    # (4, cells, 2)
    m = len(speed) * (len(speed) - 1) // 2
    cosines = np.array([1.0, -1, -1, -1, -1, 1])   # pairs 01 02 03 12 13 23
    cosines = (cosines - cosines.mean()) / np.linalg.norm(cosines - cosines.mean())
    for camera in (np.eye(2), np.array([[0.3, -1.2], [0.8, 0.4]])):
        block = self_similarity((fields @ camera.T).reshape(len(speed), -1))
        assert block.shape == (2 * m,)
        assert np.linalg.norm(block) == pytest.approx(1.0)
        np.testing.assert_allclose(block[m:], np.sqrt(COSINE_SHARE) * cosines, atol=1e-9)
    faster = fields * np.array([3.0, 1.0, 1.0, 1.0])[:, None, None]
    a, b = (self_similarity(f.reshape(len(speed), -1)) for f in (fields, faster))
    np.testing.assert_allclose(a[m:], b[m:], atol=1e-9)
    assert not np.allclose(a[:m], b[:m], atol=1e-3)
    still = self_similarity(np.vstack([np.zeros((1, 2 * GRID * GRID)),
                                       fields.reshape(len(speed), -1)]))
    assert np.all(np.isfinite(still))


def test_periodic_and_one_shot_clips_are_told_apart():
    t = np.arange(60) * 0.1
    assert P.signature(rows(1.0 + 0.8 * np.sin(2 * np.pi * t / 1.0))).gate == 1.0
    assert P.signature(rows(one_shot(60))).gate == 0.0


def test_index_vector_is_the_lockstep_similarity():
    a, b = P.signature(rows(one_shot())), P.signature(rows(one_shot(peak=0.75), seed=1))
    va, vb = clip_vector(a), clip_vector(b)
    assert np.linalg.norm(va) == pytest.approx(1.0, abs=1e-5)
    assert float(va @ vb) == pytest.approx(similarities(a, [b], band=0)[0], abs=1e-5)
    assert similarities(a, [b])[0] >= float(va @ vb) - 1e-6   # warping only helps


def test_symmetric_and_short_clips():
    a, b = rows(one_shot()), rows(one_shot(55, 0.75), seed=2)
    assert P.compare(a, b) == pytest.approx(P.compare(b, a))
    single = rows(np.array([0.3]))
    assert np.all(np.isfinite(P.embed(single)))
    with pytest.raises(ValueError, match="too short"):
        P.embed(Features.empty(P().dim, "flow-profile"))
    with pytest.raises(ValueError, match="not flow-profile features.*earlier version"):
        P.embed(Features(np.ones((5, 8), np.float32), np.arange(5.0), np.arange(5.0) + 1, "x"))
    with pytest.raises(ValueError, match="pooling"):
        P.embed(a, "mean+max")


def test_store_reranks_its_shortlist_with_the_encoder_comparison(tmp_path):
    """Hits come in the order, and with the scores, of `compare` on the stored rows, which
    here differs from the index's inner product."""
    rng = np.random.default_rng(5)
    store = ClipStore(tmp_path / "s", create=True)
    store.lock()
    store.use_settings({"encoders": ["flow-profile"], "encoder_settings": {"flow-profile": {}},
                        "fps": 10.0, "size": 160, "pooling": "mean"})
    clips = []
    for v in range(12):  # each video: two clips, one-shot motions with their peak elsewhere
        parts = [one_shot(int(rng.integers(30, 60)), float(rng.uniform(0.3, 0.8)))
                 for _ in range(2)]
        f = rows(np.concatenate(parts), seed=v)
        cut = len(parts[0]) * 0.1
        segs = [Segment(0.0, cut), Segment(cut, float(f.ends[-1]))]
        store.add_video(f"v{v}.mp4", f"h{v}", "s", {"flow-profile": f}, segs, domain="human")
        clips += [f.clip(s.start, s.end) for s in segs]
    query = rows(one_shot(45, 0.55), seed=99)
    hits = store.search(query, 24)
    want = P.compare_many(query, clips)
    got = np.array([h.score for h in hits])
    np.testing.assert_allclose(np.sort(got)[::-1], np.sort(want)[::-1], atol=1e-9)
    assert np.all(np.diff(got) <= 0)
    index_order = np.argsort(-(np.stack([P.embed(c) for c in clips]) @ P.embed(query)))
    assert list(np.argsort(-want)) != list(index_order)  # re-ranking changes the order here
    # a segment-id query is re-ranked from the stored rows too, and excludes itself
    first = store.search(hits[0].segment_id, 3)
    assert hits[0].segment_id not in [h.segment_id for h in first]
    seg = store.segment(first[0].segment_id)
    assert first[0].score == pytest.approx(P.compare(
        store.clip_features(store.segment(hits[0].segment_id), "flow-profile"),
        store.clip_features(seg, "flow-profile")))
    assert store.features(seg.video_id, "flow-profile").settings == {}  # as given here
    store.close()


def test_one_row_per_flow_pair_at_a_low_frame_rate():
    """Flow pairs longer than a step (5 fps) still give rows: one per pair."""
    from vidskill.flow import Flow

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (9, 40, 40, 3), dtype=np.uint8)
    flow = Flow(rng.normal(size=(8, 40, 40, 2)).astype(np.float32), np.arange(8) * 0.2,
                np.full(8, 0.2), "five-fps")
    enc = ProfileEncoder()
    feats = enc.encode_flow(flow, frames=_frames(images, 0.2))
    assert len(feats) == 8 and np.allclose(feats.times, np.arange(8) * 0.2 + 0.15)
    assert len(enc.encode_flow(Flow(flow.data, np.arange(8) * 0.05, np.full(8, 0.05), "x"),
                               frames=_frames(images, 0.05))) == 4  # 20 fps: two pairs a step


def _frames(images, step):
    from vidskill.video import Frames

    return Frames(images, np.arange(len(images)) * step, np.arange(len(images)), "x", 1 / step)


def disc_video(kind: str, n: int = 20, size: int = 96, fps: float = 10.0, seed: int = 3):
    """A textured disc over a textured floor, spinning in place or sliding sideways."""
    import cv2

    from vidskill.video import Frames

    rng = np.random.default_rng(seed)
    floor = cv2.GaussianBlur(rng.random((size, size, 3)).astype(np.float32), (0, 0), 3) * 120
    disc = cv2.GaussianBlur(rng.random((size, size, 3)).astype(np.float32), (0, 0), 1.5) * 255
    yy, xx = np.mgrid[0:size, 0:size]
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        dx = 2.0 * i if kind == "slide" else 0.0
        turn = cv2.getRotationMatrix2D((size / 2, size / 2), 8.0 * i if kind == "spin" else 0, 1)
        turn[0, 2] += dx
        moved = cv2.warpAffine(disc, turn, (size, size), borderMode=cv2.BORDER_REFLECT)
        mask = (xx - size / 2 - dx) ** 2 + (yy - size / 2) ** 2 < (0.3 * size) ** 2
        out[i] = np.where(mask[..., None], moved, floor).clip(0, 255).astype(np.uint8)
    return Frames(out, np.arange(n) / fps, np.arange(n), kind, fps)


def test_real_flow_tells_a_spinning_disc_from_a_sliding_one():
    """Through DIS flow and the encoder's rows: a disc turning in place has more curl per
    unit of motion, and far less coherence, than the same disc sliding sideways."""
    head = 3   # energy and the mean flow come first, then the scalars
    rows = {kind: ProfileEncoder().encode(disc_video(kind)).data for kind in ("spin", "slide")}
    col = {name: head + i for i, name in enumerate(SCALARS)}
    spin, slide = rows["spin"].mean(0), rows["slide"].mean(0)
    assert spin[col["curl"]] / spin[0] > 2 * slide[col["curl"]] / slide[0]   # per energy
    assert slide[col["coherence"]] > 0.5 > spin[col["coherence"]] + 0.3


def test_a_clip_cut_at_a_hard_cut_matches_the_clip_alone():
    """Two scenes joined by a hard cut, encoded whole and cut at the cut as a store cuts
    clips: the flow pair across the cut is a flow failure, left out, so each part is
    described as when it is encoded alone."""
    from vidskill.video import Frames

    first, second = disc_video("slide", seed=3), disc_video("spin", seed=4)
    n, fps = len(first.data), first.fps
    joined = Frames(np.concatenate([first.data, second.data]), np.arange(2 * n) / fps,
                    np.arange(2 * n), "joined", fps)
    whole = ProfileEncoder().encode(joined)
    cut = n / fps
    alone = [ProfileEncoder().encode(v) for v in (first, second)]
    parts = [whole.clip(0, cut), whole.clip(cut, 2 * cut)]
    across = int(np.flatnonzero(whole.ends >= cut - 1e-6)[0])   # the pair across the cut
    assert whole.times[across] in parts[0].times
    assert list(np.flatnonzero(edge_failures(parts[0].data[:, 0]))) == [len(parts[0]) - 1]
    for part, ref in zip(parts, alone, strict=True):
        assert P.compare(part, ref) > 0.95
    assert not edge_failures(np.array([0.01, 0.012, 0.5, 0.45, 0.011])).any()  # sustained
    assert not edge_failures(np.array([0.01, 0.012, 0.5, 0.01, 0.011])).any()  # inside
    assert list(edge_failures(np.array([0.4, 0.01, 0.012, 0.011]))) == [True, False, False,
                                                                      False]
    assert not edge_failures(np.array([0.0, 0.0, 0.0, 0.004, 0.0])).any()  # after stillness
