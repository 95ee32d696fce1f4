"""Encoders: registry, flow-hof, flow-motion's view robustness, streaming, cache, errors."""

import json

import cv2
import numpy as np
import pytest

from vidskill.encoders import (
    Features,
    TooShortError,
    available_encoders,
    encode_video,
    encode_video_multi,
    get_encoder,
)
from vidskill.encoders.cache import FeatureCache, content_hash
from vidskill.encoders.stream import CHUNK_FRAMES
from vidskill.errors import DimensionMismatchError, VidskillError
from vidskill.flow import DISFlow
from vidskill.select.similarity import cosine, dtw_similarity
from vidskill.video import Frames, open_video

FPS = 10.0


def moving_disc(path: str = "circle", seconds: float = 4.0, size: int = 96, period: float = 1.0,
                seed: int = 0) -> Frames:
    """A textured disc moving along `path` ('circle', 'line', 'still') over a textured floor."""
    rng = np.random.default_rng(seed)
    floor = cv2.GaussianBlur(rng.random((size, size, 3)).astype(np.float32), (0, 0), 3) * 120
    disc = cv2.GaussianBlur(rng.random((size, size, 3)).astype(np.float32), (0, 0), 1.5) * 255
    n = int(seconds * FPS)
    yy, xx = np.mgrid[0:size, 0:size]
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        phase = 2 * np.pi * i / FPS / period
        r = 0.22 * size
        cx, cy = {"circle": (r * np.cos(phase), r * np.sin(phase)),
                  "line": (r * np.sin(phase), 0.0), "still": (0.0, 0.0)}[path]
        cx, cy = size / 2 + cx, size / 2 + cy
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 < (0.18 * size) ** 2
        shifted = np.roll(disc, (int(round(cy)), int(round(cx))), axis=(0, 1))
        out[i] = np.where(mask[..., None], shifted, floor).clip(0, 255).astype(np.uint8)
    return Frames(out, np.arange(n) / FPS, np.arange(n), f"disc-{path}", FPS)


def rotate_mirror(frames: Frames) -> Frames:
    """The same scene seen by a camera rolled 90 degrees and mirrored."""
    data = np.ascontiguousarray(np.rot90(frames.data, 1, axes=(1, 2))[:, :, ::-1])
    return Frames(data, frames.timestamps, frames.indices, frames.source + "-rot", frames.fps)


def write_folder(frames: Frames, folder) -> str:
    """Frames as numbered PNGs (lossless), a video the readers open at `FPS`."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames.data):
        cv2.imwrite(str(folder / f"{i:04d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return str(folder)


@pytest.fixture(scope="module")
def circle():
    return moving_disc("circle", period=2.0)


def test_registry_lists_every_encoder_and_refuses_unknown_names():
    names = available_encoders()
    for name in ("flow-hof", "flow-motion", "flow-cnn", "appearance", "r3d_18", "r2plus1d_18",
                 "mc3_18", "s3d", "mvit_v2_s"):
        assert name in names
    with pytest.raises(VidskillError, match="available: flow-hof"):
        get_encoder("hog")


def test_flow_hof_windows_norm_and_direction(circle):
    enc = get_encoder("flow-hof", flow=DISFlow("fast"))
    feats = enc.encode(circle)
    assert feats.data.shape == (6, enc.dim) and feats.data.dtype == np.float32
    np.testing.assert_allclose(feats.starts, np.arange(6) * 0.5)  # last frame at 3.9 s
    np.testing.assert_allclose(feats.ends - feats.starts, 1.0)
    np.testing.assert_allclose(np.linalg.norm(feats.data, axis=1), 1.0, atol=1e-5)
    assert feats.encoder == "flow-hof" and feats.settings["flow"]["preset"] == "fast"
    right = moving_disc("line", period=8.0)  # first 2 s: moving right
    first = right.slice(0, 11)
    left = Frames(first.data[::-1].copy(), first.timestamps, first.indices, "left", FPS)
    r, l_ = enc.encode(first), enc.encode(left)
    assert cosine(r, l_) < 0.6 < cosine(r, enc.encode(right.slice(1, 12)))


def test_still_video_is_not_a_zero_vector():
    feats = get_encoder("flow-hof").encode(moving_disc("still", seconds=1.5))
    assert np.all(np.linalg.norm(feats.data, axis=1) > 0.99)
    motion = get_encoder("flow-motion").encode(moving_disc("still", seconds=2.5))
    assert np.isfinite(motion.data).all()


def test_flow_motion_survives_a_camera_roll_and_mirror_that_breaks_hof(circle):
    line = moving_disc("line", seed=1, period=2.0)
    seen = {"circle": circle, "circle-rot": rotate_mirror(circle),
            "line": line, "line-rot": rotate_mirror(line)}
    for name in ("flow-motion", "flow-hof"):
        enc = get_encoder(name)
        f = {k: enc.encode(v) for k, v in seen.items()}
        same = min(cosine(f["circle"], f["circle-rot"]), cosine(f["line"], f["line-rot"]))
        other = max(cosine(f["circle"], f["line-rot"]), cosine(f["line"], f["circle-rot"]))
        if name == "flow-motion":
            assert same > 0.95 and same - other > 0.2, (same, other)
        else:
            assert same - other < 0.2  # HOF is tied to the viewpoint


def test_flow_motion_settings_and_dim_agree(circle):
    enc = get_encoder("flow-motion", window=1.5, low_hz=0.5, high_hz=4.0, per_octave=2)
    feats = enc.encode(circle)
    assert feats.dim == enc.dim == 2 * 7 + 1 + 5 and feats.settings["per_octave"] == 2
    assert feats.settings["window"] == 1.5


def test_short_inputs(circle):
    enc = get_encoder("flow-hof")
    with pytest.raises(TooShortError, match="at least 2 frames"):
        enc.encode(circle.slice(0, 1))
    short = enc.encode(circle.slice(0, 5))  # 0.4 s of flow, window 1 s: one short window
    assert len(short) == 1 and short.starts[0] == 0.0 and short.ends[0] == pytest.approx(0.4)


def test_shared_flow_chunks_and_cache(tmp_path, circle):
    folder = write_folder(circle, tmp_path / "circle")
    hof, motion = get_encoder("flow-hof"), get_encoder("flow-motion")
    whole = [hof.encode(circle), motion.encode(circle)]
    with open_video(folder, fps=FPS, image_fps=FPS) as reader:
        chunked = encode_video_multi(reader, [hof, motion], chunk_seconds=1.5)
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_allclose(b.starts, a.starts)
        np.testing.assert_allclose(b.data, a.data, atol=1e-5)
    cache = FeatureCache(tmp_path / "cache")
    with open_video(folder, fps=FPS, image_fps=FPS) as reader:
        first = encode_video(reader, hof, cache=cache)
    files = sorted((tmp_path / "cache").rglob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["dim"] == hof.dim
    npy = files[0].with_suffix(".npy")
    np.save(npy, first.data * 2)  # a hit reads the file back, it does not recompute
    with open_video(folder, fps=FPS, image_fps=FPS) as reader:
        again = encode_video(reader, hof, cache=cache)
        np.testing.assert_allclose(again.data, first.data * 2)
        other = encode_video(reader, get_encoder("flow-hof", bins=6), cache=cache)
        assert other.dim != hof.dim  # other settings: a miss, computed afresh
        np.save(npy, np.zeros((len(first), 7), np.float32))
        with pytest.raises(DimensionMismatchError, match="delete"):
            encode_video(reader, hof, cache=cache)


def count_flow_pairs(encoder) -> list[int]:
    """Wrap `encoder`'s flow estimator (the real one) to note how many pairs each call
    computes; returns that list, filled as the encoder runs."""
    real, pairs = encoder.flow, []

    class Counting:
        name, settings = real.name, real.settings

        def __call__(self, frames):
            pairs.append(len(frames) - 1)
            return real(frames)

    encoder.flow = Counting()
    return pairs


def in_chunks(tmp_path, name: str, chunk_seconds: float, seconds: float
              ) -> tuple[int, list[int]]:
    """A moving disc at 10 fps encoded by `name` in chunks, checked equal to one pass over
    it: its frame count and the flow pairs each flow call computed."""
    clip = moving_disc("circle", seconds=seconds, period=2.0)
    folder = write_folder(clip, tmp_path / "circle")
    enc = get_encoder(name)
    pairs = count_flow_pairs(enc)
    with open_video(folder, fps=FPS, image_fps=FPS) as reader:
        chunked = encode_video(reader, enc, chunk_seconds=chunk_seconds)
    whole = get_encoder(name).encode(clip)
    np.testing.assert_allclose(chunked.starts, whole.starts)
    np.testing.assert_allclose(chunked.data, whole.data, atol=1e-5)
    return len(clip), pairs


def test_chunks_compute_each_pair_flow_once(tmp_path):
    frames, pairs = in_chunks(tmp_path, "flow-hof", chunk_seconds=2.0, seconds=8.0)
    # several overlapping chunks, yet every pair's flow once: the overlap's flow is carried
    assert len(pairs) >= 3 and sum(pairs) == frames - 1, pairs


def test_a_chunk_holds_at_most_chunk_frames_frames(tmp_path):
    """However long a chunk is asked to be, it brings at most CHUNK_FRAMES new frames, so at
    most that many flow pairs are computed at once (a high native rate must not grow the
    frames and flow held per chunk); the features are the same as in one pass."""
    frames, pairs = in_chunks(tmp_path, "flow-hof", chunk_seconds=600, seconds=16.0)
    assert len(pairs) >= frames // CHUNK_FRAMES and max(pairs) <= CHUNK_FRAMES, pairs


@pytest.mark.parametrize("spill", [False, True])
def test_window_rows_grow_past_their_estimate_and_keep_every_row(spill):
    """The buffer a video's windows are written into is sized from the video's span; an
    encoder that gives more rows than that estimate must still get them all, in order,
    in memory or spilled to a temporary file."""
    from vidskill.encoders.spill import file_mapping
    from vidskill.encoders.stream import _Rows

    hof = get_encoder("flow-hof")
    rng = np.random.default_rng(0)
    chunks = [Features(rng.random((n, hof.dim), dtype=np.float32), np.arange(n) + 10.0 * i,
                       np.arange(n) + 10.0 * i + 1, hof.name, hof.settings, "x")
              for i, n in enumerate((3, 5, 4))]
    rows = _Rows(hof, capacity=2, spill=spill)
    for c in chunks:
        rows.add(c, np.arange(len(c)) != 1)
    out = rows.features("x")
    assert (file_mapping(out.data) is not None) == spill
    np.testing.assert_array_equal(out.data, np.concatenate([c.data[[0, *range(2, len(c))]]
                                                            for c in chunks]))
    np.testing.assert_array_equal(out.starts, np.concatenate([c.starts[np.arange(len(c)) != 1]
                                                              for c in chunks]))
    assert len(_Rows(hof, capacity=4, spill=spill).features("x")) == 0


def test_spilled_rows_are_read_back_a_block_at_a_time():
    """Rows in a temporary file come back whole through any view, and `row_blocks` gives
    copies of them block by block (a mapped block's pages are handed back after it)."""
    from vidskill.encoders.spill import RowSpill, row_blocks

    data = np.random.default_rng(1).random((10, 3), dtype=np.float32)
    spill = RowSpill(3)
    spill.append(data[:4])
    spill.append(data[4:])
    with pytest.raises(ValueError, match="3-column"):
        spill.append(np.zeros((2, 4), np.float32))
    mapped = spill.array()
    assert not mapped.flags.writeable
    view = mapped[2:9]
    blocks = list(row_blocks(view, rows=3))
    assert [len(b) for b in blocks] == [3, 3, 1]
    assert all(b.flags.owndata for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks), data[2:9])
    np.testing.assert_array_equal(view, data[2:9])   # still readable after the release
    assert [len(b) for b in row_blocks(data, rows=4)] == [4, 4, 2]
    assert RowSpill(5).array().shape == (0, 5)


def test_content_hash_follows_content(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"x" * 5000)
    b.write_bytes(b"x" * 5000)
    assert content_hash(a) == content_hash(b)
    b.write_bytes(b"x" * 4999 + b"y")
    assert content_hash(a) != content_hash(b)
    big = bytearray(5 << 20)  # sampled at start, middle and end
    a.write_bytes(big)
    before = content_hash(a)
    big[len(big) // 2] = 1
    a.write_bytes(big)
    assert content_hash(a) != before
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "0001.png").write_bytes(b"one")
    before = content_hash(folder)
    (folder / "0001.png").write_bytes(b"two")
    assert content_hash(folder) != before


def test_similarities():
    rng = np.random.default_rng(0)
    seq = rng.normal(size=(6, 8)).astype(np.float32)
    slow = np.repeat(seq, 2, axis=0)  # the same motion at half speed
    a = Features(seq, np.arange(6.0), np.arange(6.0) + 1, "x")
    assert dtw_similarity(a, slow) == pytest.approx(1.0)
    assert dtw_similarity(seq, rng.normal(size=(5, 8))) < 0.5
    assert dtw_similarity(seq, slow[::-1]) == pytest.approx(dtw_similarity(slow[::-1], seq))
    assert cosine(seq, seq) == pytest.approx(1.0)
    # every window of one at 45 degrees to every window of the other: both similarities are
    # cos 45 whatever the lengths (DTW averages along its path, so length does not count)
    e1, e2 = np.eye(8, dtype=np.float32)[:2]
    assert dtw_similarity(np.tile(e1, (3, 1)), np.tile(e1 + e2, (7, 1))) == pytest.approx(
        np.sqrt(0.5))
    assert cosine(np.tile(e1, (3, 1)), np.tile(e1 + e2, (7, 1))) == pytest.approx(np.sqrt(0.5))
    with pytest.raises(DimensionMismatchError):
        cosine(seq, np.ones((2, 3)))
    with pytest.raises(ValueError, match="empty"):
        dtw_similarity(seq, np.zeros((0, 8)))


def test_lanes_at_two_rates_equal_two_decodes(media_dir):
    """One decode at the native rate feeds an encoder that reads every frame and one at
    10 fps: each gets what a reader at its own rate gives (the same frames of this
    variable-frame-rate film, so the same features), the shot stage's hook sees every
    native frame once, and the 10 fps lane computes the flow of its own pairs only."""
    path = media_dir / "goldeneye-vfr-drop3.mp4"
    kin, motion = get_encoder("motion-kin"), get_encoder("flow-motion")
    pairs = count_flow_pairs(motion)
    seen = []
    with open_video(path, fps=None, size=160) as reader:
        native = len(reader)
        tenth = len(reader.sampled_at(10.0))
        both = encode_video_multi(reader, [kin, motion], rates=[None, 10.0],
                                  on_frames=lambda f: seen.extend(f.indices.tolist()))
    assert seen == list(range(native)) and tenth < 0.7 * native
    assert sum(pairs) == tenth - 1, pairs
    alone = [encode_video(path, get_encoder("motion-kin"), fps=None, size=160),
             encode_video(path, get_encoder("flow-motion"), fps=10.0, size=160)]
    for a, b in zip(alone, both, strict=True):
        assert len(a) >= 6
        np.testing.assert_allclose(b.starts, a.starts)
        np.testing.assert_allclose(b.data, a.data, atol=1e-5)
    with open_video(path, fps=None, size=160) as reader, pytest.raises(ValueError, match="rates"):
        encode_video_multi(reader, [kin, motion], rates=[None])


def test_long_windows_hold_only_the_new_pairs_flow(tmp_path):
    """flow-motion's 4 s windows need 4.2 s of overlap between chunks; its pairs' `prepare`
    rows are carried across, so a chunk computes (and holds) the flow of about one overlap
    of new pairs, not twice that, and the features are those of one pass."""
    frames, pairs = in_chunks(tmp_path, "flow-motion", chunk_seconds=1.0, seconds=16.0)
    assert sum(pairs) == frames - 1 and max(pairs) <= 44, pairs   # 4.2 s of new pairs


@pytest.mark.parametrize("n", [1, 2, 10, 11, 284 * 160])
def test_motion_kin_p90_is_numpys_percentile(n):
    """motion-kin's 90th percentile of speeds (one partition per flow pair) is numpy's
    linear-interpolation percentile, ties and the smallest fields included."""
    from vidskill.encoders.kinematics import _p90

    rng = np.random.default_rng(n)
    for x in (rng.gamma(0.5, 2.0, n).astype(np.float32),
              rng.integers(0, 3, n).astype(np.float32)):   # many ties
        assert _p90(x) == pytest.approx(float(np.percentile(x, 90)), rel=1e-6, abs=1e-7)
