"""vidskill.video on real media: frame identity, timestamps, resampling, streaming, bad inputs."""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from memory import peak_rss

from vidskill.video import (
    CorruptVideoError,
    EmptyVideoError,
    FrameDecodeError,
    Frames,
    NoImagesError,
    NotAVideoError,
    OutOfRangeError,
    VideoError,
    VideoNotFoundError,
    open_video,
)

BACKENDS = ("pyav", "decord", "opencv")

# --------------------------------------------------------------------------------------
# reading the number drawn in counter.mp4 ("Frame = N" in the bottom right, white on grey)

# Frames are read at half size (960x540, cheaper); the "Frame = N" line lies in these rows
# and columns, the "PTS = ..." line below it.
HALF = (960, 540)
_TEXT_ROWS = slice(395, 450)
_TEXT_COLS = slice(550, 960)
_GLYPH = (12, 20)  # every glyph is compared at this size (w, h)
_LETTERS = 6  # "F", "r", "a", "m", "e", "=" come before the digits


def _digit_glyphs(frame: np.ndarray) -> list[np.ndarray]:
    """The digit glyphs of the "Frame = N" line of a 960x540 frame, as (20,12) float masks."""
    ink = frame[_TEXT_ROWS, _TEXT_COLS].min(axis=2) > 200
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    runs = np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1)
    line = ink[rows[0] : rows[-1] + 1].astype(np.float32)
    return [cv2.resize(line[:, r[0] : r[-1] + 1], _GLYPH, interpolation=cv2.INTER_AREA)
            for r in runs[_LETTERS:]]


@pytest.fixture(scope="module")
def digits(media_dir: Path) -> dict[int, np.ndarray]:
    """Digit templates 0-9 cut from counter.mp4 itself, anchored so a shifted decode fails.

    The anchor is the digit count: only frames 0..8 show one digit ("1".."9") and frame 9
    is the first with two ("10"). If decoding skipped, doubled or shifted a frame, these
    counts would move, or two templates would coincide, and this fixture fails.
    """
    frames = open_video(media_dir / "counter.mp4", size=HALF, backend="decord").read().data
    glyphs = [_digit_glyphs(f) for f in frames]
    assert [len(g) for g in glyphs] == [1] * 9 + [2] * 21
    templates = {d: glyphs[d - 1][0] for d in range(1, 10)} | {0: glyphs[9][1]}
    for a in range(10):
        for b in range(a + 1, 10):
            assert np.abs(templates[a] - templates[b]).mean() > 0.1, (a, b)
    return templates


def _shown(frame: np.ndarray, digits: dict[int, np.ndarray]) -> int:
    """The number counter.mp4 draws on this 960x540 frame."""
    number = 0
    for glyph in _digit_glyphs(frame):
        dist = {d: float(np.abs(glyph - t).mean()) for d, t in digits.items()}
        best, second = sorted(dist, key=dist.get)[:2]
        assert dist[best] < 0.12 and dist[best] < 0.5 * dist[second], f"ambiguous glyph: {dist}"
        number = 10 * number + best
    return number


def _numbers(frames: Frames, digits: dict[int, np.ndarray]) -> list[int]:
    return [_shown(f, digits) for f in frames.data]


@pytest.fixture(scope="module")
def counter(media_dir: Path) -> Path:
    return media_dir / "counter.mp4"


# --------------------------------------------------------------------------------------
# counter.mp4: identity, timestamps, random access, resampling, resizing, streaming


@pytest.mark.parametrize("backend", BACKENDS)
def test_counter_frame_i_shows_i_plus_1_at_pts_tenth_i(counter, digits, backend):
    with open_video(counter, backend=backend) as reader:
        info = reader.info
        native = reader.get_frame(0)
    assert (info.frame_count, info.width, info.height, info.rotation) == (30, 1920, 1080, 0)
    assert info.native_fps == pytest.approx(10.0)
    assert info.duration == pytest.approx(3.0, abs=1e-3)
    assert native.data.shape == (1, 1080, 1920, 3) and native.data.dtype == np.uint8
    with open_video(counter, size=HALF, backend=backend) as reader:
        frames = reader.read()
    assert _numbers(frames, digits) == list(range(1, 31))
    np.testing.assert_allclose(frames.timestamps, 0.1 * np.arange(30), atol=1e-4)
    np.testing.assert_array_equal(frames.indices, np.arange(30))
    assert frames.source == str(counter)


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_access_by_index_and_time(counter, digits, backend):
    with open_video(counter, size=HALF, backend=backend) as reader:
        for i in (29, 0, 17, 3, 9, 28, 10):
            assert _shown(reader.get_frame(i).data[0], digits) == i + 1
        assert _shown(reader.get_frame(-1).data[0], digits) == 30
        picked = reader.get_frames([12, 5, 28, 5])
        assert _numbers(picked, digits) == [13, 6, 29, 6]
        np.testing.assert_allclose(picked.timestamps, [1.2, 0.5, 2.8, 0.5], atol=1e-4)
        for i in (0, 4, 19, 29):
            for t in (0.1 * i, 0.1 * i + 0.05, 0.1 * i + 0.099):
                assert reader.index_at(t) == i
            shown = reader.frame_at(0.1 * i + 0.05)
            assert shown.indices.tolist() == [i]
            assert _shown(shown.data[0], digits) == i + 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_resampling_picks_the_frame_on_screen(counter, digits, backend):
    with open_video(counter, fps=5, size=HALF, backend=backend) as reader:
        assert len(reader) == 15
        frames = reader.read()
    np.testing.assert_array_equal(frames.indices, np.arange(0, 30, 2))
    np.testing.assert_allclose(frames.timestamps, 0.2 * np.arange(15), atol=1e-4)
    assert _numbers(frames, digits) == list(range(1, 31, 2))
    assert frames.fps == 5
    with open_video(counter, fps=3, size=HALF, backend=backend) as reader:
        frames = reader.read()
    # At t = k/3 s the frame on screen is the last one whose PTS <= t.
    assert frames.indices.tolist() == [0, 3, 6, 10, 13, 16, 20, 23, 26]
    np.testing.assert_allclose(frames.timestamps, [0, .3, .6, 1, 1.3, 1.6, 2, 2.3, 2.6], atol=1e-4)
    assert _numbers(frames, digits) == [1, 4, 7, 11, 14, 17, 21, 24, 27]
    with open_video(counter, fps=25, backend=backend) as reader:
        assert reader.sample_indices.tolist() == list(range(30)), "a frame is never repeated"


def test_resize_keeps_aspect_and_backends_agree(counter):
    native = open_video(counter, backend="opencv").get_frames([0, 14, 29]).data
    small = {}
    for backend in BACKENDS:
        with open_video(counter, size=160, backend=backend) as reader:
            assert reader.size == (284, 160)
            small[backend] = reader.get_frames([0, 14, 29]).data
        assert small[backend].shape == (3, 160, 284, 3)
    expected = np.stack([cv2.resize(f, (284, 160), interpolation=cv2.INTER_AREA) for f in native])
    for backend in BACKENDS:
        assert np.abs(small[backend].astype(int) - expected).mean() < 3.0, backend
    # PyAV shrinks the YUV planes itself and skips deblocking at this size (a quarter of
    # 1920x1080 or less): still within a grey level of the full frame's area average.
    assert np.abs(small["pyav"].astype(int) - expected).mean() < 1.0
    assert np.abs(small["decord"].astype(int) - small["opencv"]).mean() < 3.0
    # A different frame differs by far more than the two backends do.
    assert np.abs(small["decord"][0].astype(int) - small["decord"][2]).mean() > 0.3
    with open_video(counter, size=(64, 48), backend="decord") as reader:
        assert reader.read(0, 0.2).data.shape == (2, 48, 64, 3)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fps", [None, 5.0])
def test_chunks_concatenate_to_read_without_loss_or_repeat(counter, backend, fps):
    with open_video(counter, fps=fps, size=64, backend=backend) as reader:
        whole = reader.read()
        chunks = list(reader.chunks(0.7))
    # 0.7 s runs hold 7 native frames, or 4 and 3 in turn at 5 fps (0.0-0.6 s, 0.8-1.2 s, ...).
    lengths = [7, 7, 7, 7, 2] if fps is None else [4, 3, 4, 3, 1]
    assert [len(c) for c in chunks] == lengths
    joined = Frames.concat(chunks)
    np.testing.assert_array_equal(joined.indices, whole.indices)
    np.testing.assert_array_equal(joined.timestamps, whole.timestamps)
    np.testing.assert_array_equal(joined.data, whole.data)
    for k, chunk in enumerate(chunks):
        assert (chunk.timestamps >= 0.7 * k - 1e-3).all() and (chunk.timestamps < 0.7 * (k + 1)).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_chunks_with_overlap_repeat_the_previous_tail(counter, backend):
    with open_video(counter, size=64, backend=backend) as reader:
        whole = reader.read()
        chunks = list(reader.chunks(0.7, overlap=0.2))
    assert len(chunks[0]) == 7 and [len(c) for c in chunks[1:]] == [9, 9, 9, 4]
    for prev, chunk in zip(chunks, chunks[1:], strict=False):
        np.testing.assert_array_equal(chunk.indices[:2], prev.indices[-2:])
        np.testing.assert_array_equal(chunk.data[:2], prev.data[-2:])
    fresh = [chunks[0]] + [c.slice(2, len(c)) for c in chunks[1:]]
    np.testing.assert_array_equal(Frames.concat(fresh).indices, whole.indices)


@pytest.mark.parametrize("backend", BACKENDS)
def test_first_chunk_on_parallel_decoders_is_the_same(counter, backend, monkeypatch):
    import vidskill.video.reader as video

    monkeypatch.setattr(video, "_MIN_SPLIT", 2)  # split even the 30-frame test video
    with open_video(counter, size=64, backend=backend) as reader:
        serial = list(reader.chunks(2.0, overlap=0.2))
        split = list(reader.chunks(2.0, overlap=0.2, first_decoders=3))
    assert [len(c) for c in split] == [len(c) for c in serial] and len(split[0]) >= 6
    for a, b in zip(serial, split, strict=True):
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_array_equal(a.timestamps, b.timestamps)
        np.testing.assert_array_equal(a.data, b.data)


def test_chunks_reject_bad_lengths(counter):
    with open_video(counter, size=64) as reader:
        for seconds, overlap in ((0, 0), (-1, 0), (1.0, 1.0), (1.0, -0.1)):
            with pytest.raises(ValueError, match="overlap < seconds"):
                next(reader.chunks(seconds, overlap))


def test_a_wrong_opencv_seek_is_caught_by_its_timestamp(counter, digits):
    """OpenCV seeks by frame number; if it lands elsewhere the timestamp check recovers."""
    reader = open_video(counter, size=HALF, backend="opencv")
    backend = reader._backend
    cap = backend._cap

    class Misseeking:
        """A capture whose seeks land three frames late, as a bad VFR seek would."""

        def set(self, prop: int, value: float) -> bool:
            return cap.set(prop, value + 3 if prop == cv2.CAP_PROP_POS_FRAMES else value)

        def __getattr__(self, name: str):
            return getattr(cap, name)

    backend._cap = Misseeking()
    assert _shown(reader.get_frame(20).data[0], digits) == 21
    assert _shown(reader.get_frame(2).data[0], digits) == 3
    reader.close()


# --------------------------------------------------------------------------------------
# the other real files: VFR, rotation, mkv, delayed start


def test_vfr_timestamps_come_from_the_container(media_dir):
    path = media_dir / "goldeneye-vfr-drop3.mp4"
    cap = cv2.VideoCapture(str(path))
    container = []
    while cap.grab():
        container.append(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
    cap.release()
    for backend in BACKENDS:
        with open_video(path, size=64, backend=backend) as reader:
            ts = reader.read(0, 2.0).timestamps
            all_ts = reader.timestamps
        assert len(all_ts) == len(container) == 160
        np.testing.assert_allclose(all_ts, container, atol=1e-4)
        assert (np.diff(all_ts) > 0).all()
        steps = np.diff(all_ts)
        assert steps.max() > 1.8 * steps.min(), "dropped frames leave double-length gaps"
        np.testing.assert_allclose(ts, [t for t in container if t < 2.0], atol=1e-4)
    # At 10 fps each sample is the frame on screen at k/10 s, up to the last one at 9.9 s.
    on_screen = [max(i for i, t in enumerate(container) if t <= k / 10 + 1e-6) for k in range(100)]
    with open_video(path, fps=10, backend="decord") as reader:
        assert reader.sample_indices.tolist() == sorted(set(on_screen))
        assert len(reader) == 100 and (np.diff(reader.timestamps) > 0).all()


def test_rotated_video_comes_out_display_oriented(media_dir):
    upright = open_video(media_dir / "goldeneye-vfr-drop3.mp4", size=160).get_frame(0).data[0]
    frames = {}
    for backend in BACKENDS:
        with open_video(media_dir / "issue-134-rotate.mp4", size=160, backend=backend) as reader:
            assert reader.info.rotation == 90
            assert (reader.info.width, reader.info.height) == (544, 1280)
            frames[backend] = reader.get_frames([0, 120]).data
        assert frames[backend].shape == (2, 376, 160, 3)
        # Rotation 90 means "turn clockwise to display": the same picture as the upright file.
        clockwise = np.rot90(upright, k=-1).astype(int)
        assert np.abs(frames[backend][0] - clockwise).mean() < 3.0
        assert np.abs(np.rot90(upright, k=1).astype(int) - frames[backend][0]).mean() > 20
    assert np.abs(frames["decord"].astype(int) - frames["opencv"]).mean() < 3.0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("name", "count", "fps"),
    [("issue-236-split-copy.mkv", 48, 23.976), ("delayed_start.mp4", 24, 25.0),
     ("issue-134-rotate.mp4", 240, 23.976)],
)
def test_other_media_open_and_decode_fully(media_dir, backend, name, count, fps):
    with open_video(media_dir / name, size=96, backend=backend) as reader:
        assert reader.info.frame_count == count
        assert reader.info.native_fps == pytest.approx(fps, rel=1e-3)
        frames = Frames.concat(list(reader.chunks(1.0)))
    assert len(frames) == count
    np.testing.assert_array_equal(frames.indices, np.arange(count))
    assert (np.diff(frames.timestamps) > 0).all()
    assert frames.timestamps[0] == pytest.approx(0.0, abs=1e-6)
    assert frames.data.std() > 5, "decoded frames are not blank"


# --------------------------------------------------------------------------------------
# bad inputs: each raises a specific VideoError naming the file and saying what to do


def _boxes(data: bytes | bytearray, start: int, end: int):
    """(offset, size, type) of the MP4 boxes between start and end."""
    while start < end:
        size, kind = struct.unpack(">I4s", data[start : start + 8])
        yield start, size, kind
        start += size


def _faststart(data: bytes) -> bytes:
    """The same MP4 with its index (moov) moved before the media, as streaming files have."""
    top = {kind: (off, size) for off, size, kind in _boxes(data, 0, len(data))}
    moov_at, moov_size = top[b"moov"]
    moov = bytearray(data[moov_at : moov_at + moov_size])

    def shift_chunk_offsets(start: int, end: int) -> None:
        for off, size, kind in _boxes(moov, start, end):
            if kind in (b"trak", b"mdia", b"minf", b"stbl"):
                shift_chunk_offsets(off + 8, off + size)
            elif kind == b"stco":
                (n,) = struct.unpack(">I", moov[off + 12 : off + 16])
                for p in range(off + 16, off + 16 + 4 * n, 4):
                    (v,) = struct.unpack(">I", moov[p : p + 4])
                    moov[p : p + 4] = struct.pack(">I", v + moov_size)

    shift_chunk_offsets(8, moov_size)
    ftyp_at, ftyp_size = top[b"ftyp"]
    return data[:ftyp_size] + bytes(moov) + data[ftyp_size:moov_at]


@pytest.fixture(scope="module")
def bad(tmp_path_factory, media_dir) -> dict[str, Path]:
    """Broken inputs made from the real media."""
    root = tmp_path_factory.mktemp("bad")
    counter = (media_dir / "counter.mp4").read_bytes()
    mkv = (media_dir / "issue-236-split-copy.mkv").read_bytes()
    fast = _faststart(counter)
    garbage = bytearray(counter)
    mid = len(counter) // 2
    garbage[mid : mid + 4000] = bytes(range(256)) * 15 + bytes(160)
    files = {
        "empty": b"",
        "text": b"this is a text file with a video name\n",
        "truncated": counter[: len(counter) // 2],
        "truncated_mkv": mkv[: len(mkv) // 2],
        "truncated_indexed": fast[: len(fast) * 2 // 3],
        "garbage": bytes(garbage),
        "faststart": fast,
    }
    out = {}
    for name, data in files.items():
        suffix = ".mkv" if name.endswith("mkv") else ".mp4"
        out[name] = root / f"{name}{suffix}"
        out[name].write_bytes(data)
    out["missing"] = root / "missing.mp4"
    (root / "no_images").mkdir()
    (root / "no_images" / "notes.txt").write_text("no frames here")
    out["no_images"] = root / "no_images"
    return out


def test_faststart_helper_keeps_the_video_intact(bad, counter, digits):
    """The truncated-with-index case below is only meaningful if the untruncated file plays."""
    frames = open_video(bad["faststart"], size=HALF, backend="decord").read()
    assert _numbers(frames, digits) == list(range(1, 31))


OPEN_ERRORS = [
    ("missing", VideoNotFoundError, ["no such file"]),
    ("empty", EmptyVideoError, ["empty (0 bytes)", "re-copy"]),
    ("text", NotAVideoError, ["not a video", "supported format"]),
    ("truncated", CorruptVideoError, ["truncated or damaged", "ffmpeg"]),
    ("truncated_mkv", CorruptVideoError, ["truncated or damaged", "ffmpeg"]),
    ("no_images", NoImagesError, ["holds no images", "folder of numbered frames"]),
]


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
@pytest.mark.parametrize(("name", "error", "words"), OPEN_ERRORS)
def test_bad_file_raises_a_specific_error_on_open(bad, backend, name, error, words):
    with pytest.raises(error) as caught:
        open_video(bad[name], backend=backend)
    message = str(caught.value)
    assert message.startswith(str(bad[name]))
    assert caught.value.path == str(bad[name])
    for word in words:
        assert word in message


@pytest.mark.parametrize("name", ["truncated_indexed", "garbage"])
def test_damage_inside_a_video_is_a_frame_decode_error(bad, name):
    # decord opens from the index and finds the damage when it decodes there...
    reader = open_video(bad[name], backend="decord")
    with pytest.raises(FrameDecodeError, match=r"decoding fails around frame \d+ \(t=") as caught:
        reader.read()
    assert str(caught.value).startswith(str(bad[name]))
    assert "damaged or truncated" in str(caught.value) and "ffmpeg" in str(caught.value)
    # ...OpenCV already finds it while it reads every timestamp at open.
    with pytest.raises(FrameDecodeError, match=r"decoding fails after frame \d+ \(t=") as caught:
        open_video(bad[name], backend="opencv")
    assert str(caught.value).startswith(str(bad[name]))
    assert "of 30" in str(caught.value) and "-c copy" in str(caught.value)


def test_pyav_finds_a_truncation_at_open_and_damage_where_it_decodes(bad):
    # PyAV reads the packet index at open: packets missing from the end are found there...
    with pytest.raises(FrameDecodeError, match=r"decoding fails after frame 20 \(t=2.200s\) "
                       r"of 30") as caught:
        open_video(bad["truncated_indexed"], backend="pyav")
    assert "-t 2.200 -c copy" in str(caught.value)
    # ...damaged bytes inside a packet when the decoder reaches them.
    reader = open_video(bad["garbage"], backend="pyav")
    assert reader.info.frame_count == 30
    with pytest.raises(FrameDecodeError, match=r"decoding fails around frame \d+ \(t=") as caught:
        reader.read()
    assert str(caught.value).startswith(str(bad["garbage"])) and "ffmpeg" in str(caught.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_requests_past_the_end(counter, backend):
    with open_video(counter, size=64, backend=backend) as reader:
        with pytest.raises(OutOfRangeError, match=r"frame 30 is past the end: .* 30 frames \(0..29\)"):
            reader.get_frame(30)
        with pytest.raises(OutOfRangeError, match="frame -31 is past the end"):
            reader.get_frames([0, -31])
        for t in (3.0, 7.5, -0.5):
            with pytest.raises(OutOfRangeError, match=r"outside the video \(0.000s to 3.000s\)"):
                reader.frame_at(t)
        with pytest.raises(OutOfRangeError, match="no frame between 5.0s and 6.0s") as caught:
            reader.read(5.0, 6.0)
        assert str(caught.value).startswith(str(counter))
        assert isinstance(caught.value, IndexError)


def test_bad_arguments_are_value_errors(counter):
    for kwargs, words in (({"fps": 0}, "fps must be"), ({"backend": "ffmpeg"}, "backend must"),
                          ({"size": 0}, "size must be"), ({"size": (0, 10)}, "size must be")):
        with pytest.raises(ValueError, match=words):
            open_video(counter, **kwargs)


def test_errors_are_video_errors_and_decoders_stay_silent(bad, capfd):
    """What decord and FFmpeg print from C goes to the debug log, not to the user's stderr."""
    for backend in ("auto", "opencv", "pyav"):  # auto is decord, then OpenCV if decord fails
        for name in ("text", "truncated", "truncated_mkv", "truncated_indexed", "garbage"):
            with pytest.raises(VideoError):
                open_video(bad[name], backend=backend).read()
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_pyav_adds_frame_threads_only_while_their_frames_fit_the_budget():
    """More frames in flight keep two cores busy at 720p; a 4K stream keeps FFmpeg's own
    thread count, so its frames in flight do not take hundreds of MiB."""
    from vidskill.video.backends.pyav import AUTO_THREADS, FRAME_BUDGET, frame_threads

    assert frame_threads(1280, 720) >= 8
    for w, h in [(160, 160), (1280, 720), (1920, 1080), (2560, 1440), (3840, 2160)]:
        n = frame_threads(w, h)
        assert n == AUTO_THREADS or n * w * h * 3 // 2 <= FRAME_BUDGET, (w, h, n)
    assert frame_threads(3840, 2160) == AUTO_THREADS


def test_stderr_redirects_of_two_threads_leave_stderr_where_it_was(capfd):
    """Two decoders in two threads route fd 2 to the log, the first leaving first: fd 2 must
    end where it started (each thread restoring its own saved copy would leave the second's
    view, a temporary file, as the process's stderr)."""
    from vidskill.video.backends.base import _native_stderr_to_log

    before = os.fstat(2)
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with _native_stderr_to_log():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with _native_stderr_to_log():
            second_in.set()
            os.write(2, b"decoder noise\n")
            first_out.wait(5)

    threads = [threading.Thread(target=f) for f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    os.write(2, b"user-visible\n")
    assert capfd.readouterr().err == "user-visible\n"


# --------------------------------------------------------------------------------------
# folders of numbered images


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """frame_1.png .. frame_12.png; frame k is filled with grey level 20*k (order is visible)."""
    for k in range(1, 13):
        cv2.imwrite(str(tmp_path / f"frame_{k}.png"), np.full((30, 40, 3), 20 * k, np.uint8))
    (tmp_path / "readme.txt").write_text("not a frame")
    return tmp_path


def test_image_folder_in_natural_order_at_image_fps(image_folder):
    with open_video(image_folder, image_fps=5.0) as reader:
        assert reader.info.backend == "images"
        assert (reader.info.frame_count, reader.info.width, reader.info.height) == (12, 40, 30)
        assert reader.info.duration == pytest.approx(12 / 5)
        frames = reader.read()
    assert frames.data[:, 0, 0, 0].tolist() == [20 * k for k in range(1, 13)]
    np.testing.assert_allclose(frames.timestamps, np.arange(12) / 5.0)
    with open_video(image_folder, image_fps=5.0, fps=2.5) as reader:
        assert reader.read().data[:, 0, 0, 0].tolist() == [20, 60, 100, 140, 180, 220]
    with open_video(image_folder, size=16, backend="images") as reader:
        assert reader.read().data.shape == (12, 16, 22, 3)
        assert reader.get_frame(9).data[0, 5, 5].tolist() == [200, 200, 200]


def test_square_frames_resize_to_the_exact_size(tmp_path):
    for k in range(3):
        cv2.imwrite(str(tmp_path / f"{k}.png"), np.full((40, 40, 3), 9, np.uint8))
    assert open_video(tmp_path, size=21).read().data.shape == (3, 21, 21, 3)


def test_corrupt_image_in_the_middle_names_the_file(image_folder, capfd):
    bad = image_folder / "frame_7.png"
    bad.write_bytes(bad.read_bytes()[:40])
    reader = open_video(image_folder)
    assert len(reader.read(0, 6 / 30).data) == 6
    with pytest.raises(FrameDecodeError) as caught:
        reader.read()
    assert str(caught.value).startswith(str(bad))
    assert "frame 6 of the folder" in str(caught.value) and "replace it or remove it" in str(caught.value)
    assert capfd.readouterr().err == ""


def test_image_backend_needs_a_folder(counter):
    with pytest.raises(NotAVideoError, match="needs a folder of image files"):
        open_video(counter, backend="images")


# --------------------------------------------------------------------------------------
# memory while streaming a long video

_STREAM = """
    import numpy as np
    from vidskill.video import open_video

    seen, last = 0, -1
    with open_video(sys.argv[1], fps=10) as reader:
        for chunk in reader.chunks(10.0):
            assert chunk.indices[0] == last + 1 and (np.diff(chunk.indices) == 1).all()
            last = int(chunk.indices[-1])
            seen += len(chunk)
        total = reader.info.frame_count
    print(seen, total)
"""


@pytest.mark.slow
def test_streaming_30_minutes_stays_under_1_gb(tmp_path):
    path = tmp_path / "long.avi"
    n = 30 * 60 * 10
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 120))
    frame = np.zeros((120, 160, 3), np.uint8)
    for i in range(n):
        frame[:] = 0
        frame[:, (i * 3) % 160] = 255  # a moving bar keeps frames different
        writer.write(frame)
    writer.release()
    peak, out = peak_rss(_STREAM, str(path), timeout=120)
    seen, total = map(int, out.split())
    assert seen == total == n
    assert peak < 1 << 30, f"peak RSS {peak / 2**20:.0f} MiB while streaming"


@pytest.mark.slow
def test_decord_does_not_decode_ahead_while_the_caller_works(tmp_path):
    """decord keeps decoding after a batch unless parked: idle seconds must not cost memory."""
    from vidskill.demo.corpus import write_long_video

    if not Path("/proc/self/status").exists():
        pytest.skip("reads VmRSS from /proc (Linux)")
    video = write_long_video(tmp_path / "v.mp4", minutes=3, seed=1)
    code = """
        import time
        from vidskill.video import open_video

        def rss():
            with open("/proc/self/status") as f:
                return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

        with open_video(sys.argv[1], fps=10, size=160, backend="decord") as reader:
            reader.read(0.0, 30.0)
            before = rss()
            time.sleep(2.0)  # a slow consumer (optical flow) working on the frames
            print(rss() - before)
    """
    _, out = peak_rss(code, str(video.path))
    # Unparked, decord filled ~300 MB per second here (the rest of the video, decoded).
    assert int(out) * 1024 < 50e6, f"RSS grew {int(out) / 1024:.0f} MiB while idle"
