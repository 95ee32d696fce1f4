"""Fault injection: kills at many points, SIGTERM, orphans, a full disk, read-only and
damaged stores, bad inputs, and credentials that must not leak. Every case checks that no
stored clip is lost and that the CLI says one line (README: Reliability)."""

from __future__ import annotations

import http.server
import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import faiss
import numpy as np
import psutil
import pytest
from helpers import run_cli as cli
from test_ingest import _snapshot

from vidskill.cli import main
from vidskill.demo.corpus import generate_corpus
from vidskill.encoders.cache import content_hash
from vidskill.select.text.base import TextBackendError
from vidskill.select.text.llm import OpenAICompletionsBackend
from vidskill.store import ClipStore

REPO = Path(__file__).resolve().parents[1]
FAST = ["--fps", "5", "--size", "64", "--no-progress"]
ROOT = os.geteuid() == 0
# As root, permission bits bind only without these capabilities (setpriv drops them).
UNPRIVILEGED = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                "--bounding-set=-dac_override,-dac_read_search"] if ROOT else []


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return generate_corpus(tmp_path_factory.mktemp("faults") / "corpus", n_long_train=1,
                           n_long_test=0, clips_per_skill=1)


@pytest.fixture
def clips(corpus, tmp_path) -> Path:
    """Five short human clips and a damaged one sorting into the middle."""
    folder = tmp_path / "clips"
    folder.mkdir()
    videos = corpus.select(domain="human", kind="clip")[:5]
    for i, video in enumerate(videos):
        shutil.copy(video.path, folder / f"{i}_{video.path.name}")
    (folder / "3_zz_broken.mp4").write_bytes(videos[0].path.read_bytes()[:4000])
    return folder


def ingest_args(clips: Path, store: Path, *extra: str) -> list[str]:
    return ["ingest", str(clips), "--store", str(store), "--kind", "clip", *FAST, *extra]


def one_line_error(run, status: int, *needles: str) -> str:
    """Assert a CLI run failed with `status` and one `error:` line holding every needle."""
    err = run.stderr if hasattr(run, "stderr") else run
    lines = [line for line in err.strip().splitlines() if not line.startswith("WARNING")]
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    if hasattr(run, "returncode"):
        assert run.returncode == status, (run.returncode, err)
    return lines[0]


def clips_of(store: Path) -> dict[int, list]:
    """Every stored clip, by video id (the rows that must never be lost)."""
    with sqlite3.connect(store / "catalog.sqlite") as db:
        rows = db.execute("SELECT s.video_id, s.ordinal, s.start, s.end, e.vector FROM segments s"
                          " JOIN embeddings e ON e.segment_id = s.id ORDER BY s.id").fetchall()
    out: dict[int, list] = {}
    for video_id, *rest in rows:
        out.setdefault(video_id, []).append(tuple(rest))
    return out


# -- kills --------------------------------------------------------------------------------

KILL_POINTS = [  # (point, n): 11 places where an ingest can die
    ("lock", 1), ("settings", 1), ("hash", 3), ("reserve", 1), ("feature-file", 1),
    ("feature-file", 5), ("in-transaction", 2), ("committed", 2), ("committed", 4),
    ("failure", 1), ("index-file", 1),
]


@pytest.mark.slow
def test_sigkill_at_every_point_then_resume_loses_nothing(tmp_path, clips):
    reference = tmp_path / "reference"
    assert cli(*ingest_args(clips, reference)).returncode == 1
    want = _snapshot(reference)
    want_clips = clips_of(reference)
    assert len(want["videos"]) == 6 and len(want["index_ids"]) == 5
    for point, n in KILL_POINTS:
        store = tmp_path / f"{point}-{n}"
        killed = subprocess.run(
            [sys.executable, "tests/fault_inject.py", point, str(n), *ingest_args(clips, store)],
            cwd=REPO, capture_output=True, text=True, timeout=300)
        assert killed.returncode == -signal.SIGKILL, (point, n, killed.stderr)
        if (store / "catalog.sqlite").exists():  # what was committed is whole and right
            for video_id, rows in clips_of(store).items():
                assert rows == want_clips[video_id], (point, n, video_id)
        resumed = cli(*ingest_args(clips, store))
        assert resumed.returncode == 1 and "1 failed" in resumed.stdout, (point, resumed.stderr)
        assert _snapshot(store) == want, (point, n)


def _descendants(proc: subprocess.Popen) -> list[psutil.Process]:
    return psutil.Process(proc.pid).children(recursive=True)


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.fixture(scope="module")
def many_clips(tmp_path_factory) -> Path:
    """Forty distinct human clips (copies would be skipped by content hash) and a bad file:
    enough work that two workers are still busy after the first video is committed."""
    made = generate_corpus(tmp_path_factory.mktemp("many") / "corpus", n_long_train=0,
                           n_long_test=0, clips_per_skill=5)
    folder = tmp_path_factory.mktemp("many") / "clips"
    folder.mkdir()
    for i, video in enumerate(made.select(domain="human", kind="clip")):
        shutil.copy(video.path, folder / f"{i:02d}_{video.path.name}")
    (folder / "99_noise.mp4").write_bytes(b"noise" * 999)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_parallel_ingest_leaves_no_orphans_and_resumes(tmp_path, many_clips, sig):
    slow = ["ingest", str(many_clips), "--kind", "clip", "--no-progress"]  # 10 fps, 160 px
    args = [*slow, "--store", str(tmp_path / "s"), "--workers", "2"]
    reference = tmp_path / "reference"
    assert cli(*slow, "--store", str(reference)).returncode == 1
    features = tmp_path / "s" / "features"
    proc = subprocess.Popen([sys.executable, "-m", "vidskill.cli", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        # The signal comes once the workers have handed back their first video.
        while (len(_descendants(proc)) < 3 or not any(features.glob("*"))) \
                and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        family = _descendants(proc)
        assert len(family) >= 3, f"the workers did not start: {family}"  # 2 workers + tracker
        assert proc.poll() is None, "the ingest finished before the signal"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if sig == signal.SIGTERM:
        assert proc.returncode == 143 and "terminated (SIGTERM)" in err and "Traceback" not in err
    else:
        assert proc.returncode == -signal.SIGKILL
    psutil.wait_procs(_alive(family), timeout=30)
    assert not _alive(family), [p.cmdline()[:3] for p in _alive(family)]
    resumed = cli(*args)
    assert resumed.returncode == 1, resumed.stderr
    assert _snapshot(tmp_path / "s") == _snapshot(reference)


# -- bad options on a finished store --------------------------------------------------------


def test_bad_options_on_a_finished_store_change_nothing(tmp_path, clips):
    store = tmp_path / "s"
    assert cli(*ingest_args(clips, store)).returncode == 1
    before = _snapshot(store)
    cases = [
        (["--detector-setting", "typo_option=1"], "typo_option"),
        (["--detector-setting", "min_len=-5"], "need 0 <= min_len < max_len"),
        (["--detector", "sbd", "--detector-setting", "calibration=sometimes"],
         "calibration must be"),
        (["--encoder-setting", "window=-1"], "window"),
    ]
    for extra, needle in cases:
        run = cli("ingest", str(clips), "--store", str(store), "--no-progress", *extra)
        one_line_error(run, 2, needle)
        assert _snapshot(store) == before, extra


def test_a_failed_rerun_keeps_the_clips_and_label_conflicts_are_reported(tmp_path, clips):
    store = tmp_path / "s"
    good = sorted(clips.glob("[0-4]_*.mp4"))
    assert cli(*ingest_args(good[0], store, "--label", "stir")).returncode == 0
    before = clips_of(store)
    run = cli(*ingest_args(good[0], store, "--label", "shake"))
    assert run.returncode == 0 and "skipped 1" in run.stdout
    assert "with label 'stir', kept" in run.stdout
    assert f"vidskill store relabel --store {store} --video 1 --label shake" in run.stdout
    copy = clips / "same_content.mp4"
    shutil.copy(good[0], copy)
    run = cli("ingest", str(good[0]), str(copy), "--store", str(store), "--kind", "clip",
              *FAST, "--label", "stir")
    assert run.returncode == 0 and "skipped 2" in run.stdout and "conflict" not in run.stdout
    assert clips_of(store) == before


# -- the store commands ---------------------------------------------------------------------


def test_store_list_stats_relabel_remove_keep_the_index_in_step(tmp_path, clips, capsys):
    store = tmp_path / "s"
    assert cli(*ingest_args(clips, store, "--label", "stir")).returncode == 1
    assert main(["store", "list", "--store", str(store), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(v["status"], v["clips"]) for v in listed] == [("done", 1)] * 4 + [
        ("failed", 0), ("done", 1)]
    assert "CorruptVideoError" in listed[4]["error"]
    assert main(["store", "relabel", "--store", str(store), "--video", "1", "--video", "2",
                 "--label", "shake"]) == 0
    assert "relabelled 2 video(s) (2 clips)" in capsys.readouterr().out
    assert main(["store", "stats", "--store", str(store), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["labels"] == {"stir": 3, "shake": 2} and stats["clips"] == 5
    assert stats["videos"] == {"done": 5, "failed": 1}
    assert main(["store", "remove", "--store", str(store), "--path",
                 str(sorted(clips.iterdir())[0]), "--status", "failed"]) == 0
    assert "removed 2 video(s) and their 1 clips" in capsys.readouterr().out
    with ClipStore(store, readonly=True) as s:
        assert [v.id for v in s.videos()] == [2, 3, 4, 6]
        ids = sorted(seg.id for seg in s.segments())
        assert sorted(faiss.vector_to_array(s.index("flow-motion").id_map)) == ids
        assert s.search(ids[0], k=10, label="shake") == []
        assert sorted(h.label for h in s.search(ids[1], k=10)) == ["shake", "stir", "stir"]
    assert not (store / "features" / "1").exists()
    assert main(["store", "remove", "--store", str(store), "--video", "99"]) == 1
    one_line_error(capsys.readouterr().err, 1, "has no video 99")
    assert main(["store", "relabel", "--store", str(store), "--video", "2"]) == 2


def test_saved_flat_index_is_reused(tmp_path, clips, caplog):
    store = tmp_path / "s"
    assert cli(*ingest_args(clips, store)).returncode == 1
    caplog.set_level(logging.INFO, logger="vidskill.store.store")
    with ClipStore(store, readonly=True) as s:
        assert s.index("flow-motion").ntotal == 5
    assert not [r for r in caplog.records if "rebuilding" in r.getMessage()]


# -- hashing --------------------------------------------------------------------------------


def test_a_copy_damaged_in_the_middle_is_a_new_video(tmp_path):
    data = np.random.default_rng(0).integers(0, 256, 5 << 20, dtype=np.uint8).tobytes()
    original, damaged = tmp_path / "a.mp4", tmp_path / "b.mp4"
    original.write_bytes(data)
    middle = len(data) // 2 - 100_000
    damaged.write_bytes(data[:middle] + bytes(200_000) + data[middle + 200_000:])
    assert content_hash(original) != content_hash(damaged)
    assert content_hash(original) == content_hash(tmp_path / "a.mp4")


def test_a_rerun_hashes_only_changed_files(tmp_path, clips):
    video = sorted(clips.glob("[0-4]_*.mp4"))[0]
    store = tmp_path / "s"
    assert cli(*ingest_args(video, store)).returncode == 0
    with sqlite3.connect(store / "catalog.sqlite") as db:
        (remembered,) = db.execute("SELECT path, content_hash FROM file_hashes").fetchall()
    assert remembered == (str(video), content_hash(video))
    before = video.stat()
    data = bytearray(video.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, and the modification time put back
    video.write_bytes(bytes(data))
    os.utime(video, ns=(before.st_atime_ns, before.st_mtime_ns))
    run = cli(*ingest_args(video, store))
    assert "skipped 0" in run.stdout, run.stdout
    assert "the file changed since it was stored as video 1" in run.stdout


def test_a_store_keyed_by_the_old_sampled_hash_is_not_doubled(tmp_path, clips):
    from vidskill.store.catalog import _sampled_hash

    store = tmp_path / "s"
    assert cli(*ingest_args(clips, store)).returncode == 1
    with sqlite3.connect(store / "catalog.sqlite") as db:  # as a store made before the change
        for video_id, path in db.execute("SELECT id, path FROM videos").fetchall():
            db.execute("UPDATE videos SET content_hash = ? WHERE id = ?",
                       (_sampled_hash(Path(path)), video_id))
        db.execute("DELETE FROM meta WHERE key = 'hash'")
    run = cli(*ingest_args(clips, store))
    assert "ingested 0 video(s)" in run.stdout and "skipped 5" in run.stdout
    assert len(clips_of(store)) == 5


# -- disk, permissions, damaged files -------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MiB tmpfs (root only: mounting needs it)."""
    if not ROOT:
        pytest.skip("a full disk is simulated with an 8 MiB tmpfs, and mounting one needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    """Fill `disk` but `leave` bytes; returns the filler file."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    with open(filler, "wb") as f:
        f.write(bytes(max(0, free - leave)))
    return filler


@pytest.mark.slow
def test_full_disk_says_one_line_and_loses_nothing(small_disk, tmp_path, clips,
                                                    monkeypatch):
    good = sorted(clips.glob("[0-4]_*.mp4"))
    reference = tmp_path / "reference"
    for args in (ingest_args(good[0], reference), ingest_args(clips, reference)):
        cli(*args)
    store = small_disk / "store"
    assert cli(*ingest_args(good[0], store)).returncode == 0
    before = clips_of(store)
    filler = _fill(small_disk, 16_000)
    run = cli(*ingest_args(clips, store))
    one_line_error(run, 1, "no space left on the device")
    assert {k: v for k, v in clips_of(store).items() if k in before} == before
    for command, name in ((["features", str(good[1]), "--out"], "out.npy"),
                          (["segment", str(good[1]), "--out"], "out.json")):
        filler.unlink()
        target = small_disk / name
        target.write_bytes(b"old")
        _fill(small_disk, 0)
        one_line_error(cli(*command, str(target)), 1, str(target), "no space left")
        assert target.read_bytes() == b"old"  # the old file stands, no empty one
    # segment keeps its features in TMPDIR while it works (a clip's: ~350 KB): a full one is
    # named and nothing is written (Python moves TMPDIR to /tmp when it cannot write there)
    filler.unlink()
    filler = _fill(small_disk, 64_000)
    monkeypatch.setenv("TMPDIR", str(small_disk))
    one_line_error(cli("segment", str(good[1]), "--out", str(tmp_path / "s.json")), 1,
                   str(small_disk), "no space left", "TMPDIR")
    assert not (tmp_path / "s.json").exists()
    monkeypatch.delenv("TMPDIR")
    filler.unlink()
    assert cli(*ingest_args(clips, store)).returncode == 1
    assert _snapshot(store) == _snapshot(reference)


@pytest.mark.skipif(ROOT and shutil.which("setpriv") is None, reason="needs setpriv as root")
def test_read_only_store_is_searched_and_unwritable_one_refused(tmp_path, clips):
    store = tmp_path / "s"
    assert cli(*ingest_args(clips, store)).returncode == 1
    want = cli("query", "--store", str(store), "--segment", "2", "--json")
    files_before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    for p in [store, *store.rglob("*")]:
        p.chmod(p.stat().st_mode & 0o555)
    try:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        run = subprocess.run([*UNPRIVILEGED, sys.executable, "-m", "vidskill.cli", "query",
                              "--store", str(store), "--segment", "2", "--json"],
                             capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout) == json.loads(want.stdout)
        ingest = subprocess.run([*UNPRIVILEGED, sys.executable, "-m", "vidskill.cli",
                                 *ingest_args(clips, store)],
                                capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
        one_line_error(ingest, 1, "permission")
        unreadable = clips / "0_unreadable.mp4"
        shutil.copy(sorted(clips.glob("[0-4]_*.mp4"))[0], unreadable)
        unreadable.chmod(0)
        info = subprocess.run([*UNPRIVILEGED, sys.executable, "-m", "vidskill.cli", "info",
                               str(unreadable)], capture_output=True, text=True, cwd=REPO,
                              env=env, timeout=300)
        one_line_error(info, 1, str(unreadable), "permission denied")
    finally:
        for p in [store, *store.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == files_before
    other = tmp_path / "other"
    run = subprocess.run([*UNPRIVILEGED, sys.executable, "-m", "vidskill.cli",
                          *ingest_args(clips, other)],
                         capture_output=True, text=True, cwd=REPO, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert run.returncode == 1 and "permission denied" in run.stdout  # the unreadable clip
    with ClipStore(other, readonly=True) as s:
        failed = {Path(v.path).name: v.error for v in s.videos(status="failed")}
    assert "permission denied" in failed["0_unreadable.mp4"] and len(failed) == 2


def test_odd_paths_are_recorded_as_failures_and_the_batch_goes_on(tmp_path, clips):
    (clips / "folder.mp4").mkdir()
    (clips / "link.mp4").symlink_to(tmp_path / "gone.mp4")
    os.mkfifo(clips / "pipe.mp4")
    store = tmp_path / "s"
    run = cli("ingest", str(clips), str(tmp_path / "missing.mp4"), "--store", str(store),
              "--kind", "clip", *FAST)
    assert run.returncode == 1 and "ingested 5 video(s)" in run.stdout, run.stderr
    with ClipStore(store, readonly=True) as s:
        failed = {Path(v.path).name: v.error for v in s.videos(status="failed")}
    assert set(failed) == {"folder.mp4", "link.mp4", "pipe.mp4", "missing.mp4",
                           "3_zz_broken.mp4"}
    assert "folder named like a video" in failed["folder.mp4"]
    assert "broken symbolic link" in failed["link.mp4"]
    assert "FIFO" in failed["pipe.mp4"] and "no such file" in failed["missing.mp4"]
    for name in failed:
        assert f"failed: {clips / name if name != 'missing.mp4' else tmp_path / name}: " \
            in run.stdout
    nothing = tmp_path / "nothing"
    one_line_error(cli("ingest", str(tmp_path / "missing.mp4"), "--store", str(nothing)), 2,
                   "nothing to ingest", "missing.mp4: no such file")
    assert not nothing.exists()  # no empty store left behind


@pytest.fixture(scope="module")
def store_and_media(corpus, tmp_path_factory):
    """A finished store of five clips, and odd files to query it with."""
    root = tmp_path_factory.mktemp("bad-inputs")
    store = root / "store"
    clips = root / "clips"
    clips.mkdir()
    for video in corpus.select(domain="human", kind="clip")[:5]:
        shutil.copy(video.path, clips / video.path.name)
    assert cli("ingest", str(clips), "--store", str(store), "--kind", "clip", *FAST
               ).returncode == 0
    import cv2

    writer = cv2.VideoWriter(str(root / "zero.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10,
                             (64, 48))
    writer.release()  # an mp4 container that never got a frame
    (root / "text.mp4").write_text("a text file renamed .mp4\n")
    np.savez(root / "x.npz", a=np.ones(32))
    np.save(root / "zeros.npy", np.zeros(32, np.float32))
    np.save(root / "ok.npy", np.ones(32, np.float32))
    (root / "taken.npy").mkdir()  # a folder where a file is named: --out FOLDER (no suffix)
    (root / "taken.json").mkdir()  # is where a command writes one file per video
    (root / "afile").write_text("x")
    return store, root, sorted(clips.iterdir())


def _bad_inputs(store: Path, root: Path, clip: Path) -> list[tuple[list[str], int, list[str]]]:
    """(argv, exit status, what the one line must say) for every bad input."""
    return [
        (["query", "--store", str(store), "--segment", "1", "--encoder", "flow-hof"], 1,
         ["holds no 'flow-hof' clips", "flow-motion"]),
        (["query", "--store", str(store), "--vector", str(root / "ok.npy"), "--encoder", "nope"],
         1, ["holds no 'nope' clips"]),
        (["query", "--store", str(store), "--vector", str(root / "x.npz")], 2,
         ["x.npz", "one embedding saved with numpy.save"]),
        (["query", "--store", str(store), "--vector", str(root / "zeros.npy")], 2,
         ["all zeros"]),
        (["query", "--store", str(store), "--segment", "1", "--domain", "robot"], 1,
         ["no other clip", "domain 'robot'", "vidskill store stats"]),
        (["query", "--store", str(store), str(clip), "--start", "50", "--end", "60"], 2,
         [clip.name, "no flow-profile window lies in 50-60 s", "give a range inside the video"]),
        (["query", "--store", str(root / "afile"), "--segment", "1"], 2,
         ["afile is a file, not a store folder"]),
        (["ingest", str(clip), "--store", str(root / "afile")], 2, ["afile is a file"]),
        (["features", str(clip), "--out", str(root / "taken.npy")], 2, ["taken.npy is a folder"]),
        (["segment", str(clip), "--out", str(root / "taken.json")], 2,
         ["taken.json is a folder"]),
        (["info", str(root / "zero.mp4")], 1, ["zero.mp4", "holds no video stream"]),
        (["segment", str(root / "text.mp4")], 1, ["text.mp4", "no backend can decode it"]),
        (["query", "--store", str(store), str(root / "zero.mp4")], 1, ["holds no video stream"]),
    ]


def test_every_bad_input_gets_one_line(store_and_media, capsys):
    store, root, clips = store_and_media
    cases = _bad_inputs(store, root, clips[0])
    for argv, status, needles in cases:
        assert main(argv) == status, argv
        one_line_error(capsys.readouterr().err, status, *needles)


def test_damaged_or_edited_stores_and_caches(store_and_media, tmp_path, capsys):
    store, root, clips = store_and_media
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    with sqlite3.connect(copy / "catalog.sqlite") as db:  # fps edited by hand
        db.execute("UPDATE meta SET value = replace(value, '\"fps\": 5.0', '\"fps\": 7.0')"
                   " WHERE key = 'settings'")
    assert main(["query", "--store", str(copy), str(clips[0])]) == 1
    one_line_error(capsys.readouterr().err, 1, "changed after the clips were made", "7.0")
    (copy / "catalog.sqlite").write_bytes(b"garbage" * 1000)
    for argv in (["query", "--store", str(copy), "--segment", "1"],
                 ["store", "list", "--store", str(copy)],
                 ["ingest", str(clips[0]), "--store", str(copy), "--no-progress"]):
        assert main(argv) == 1, argv
        one_line_error(capsys.readouterr().err, 1, "catalog is damaged", "new --store")
    cache = tmp_path / "cache"
    out = tmp_path / "f.npy"
    argv = ["features", str(clips[0]), "--out", str(out), "--cache", str(cache)]
    assert main(argv) == 0
    want = np.load(out)
    for cached in cache.rglob("*.npy"):
        cached.write_bytes(b"\x93NUMPY damaged")
    assert main(argv) == 0
    assert np.array_equal(np.load(out), want)


# -- credentials ----------------------------------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers per `self.server.answer`; records every request's path and headers."""

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        self.server.seen.append((self.path, dict(self.headers)))
        code, headers, body = self.server.answer(self)
        self.send_response(code)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _server(answer):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    httpd.seen, httpd.answer = [], answer
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_a_redirect_never_carries_the_key_to_another_host(monkeypatch, code):
    monkeypatch.setenv("VIDSKILL_TEST_KEY", "sk-secret-123")
    other = _server(lambda h: (200, {}, b"{}"))
    first = _server(lambda h: (code, {"Location": f"http://localhost:{other.server_port}/v1/"
                                      "completions"}, b""))
    try:
        backend = OpenAICompletionsBackend(f"http://127.0.0.1:{first.server_port}",
                                           api_key_env="VIDSKILL_TEST_KEY")
        with pytest.raises(TextBackendError, match=f"answered {code} redirecting to "
                           f"http://localhost:{other.server_port}/v1/completions; not followed"):
            backend.continuation_logprobs([("a", " b")])
        assert first.seen[0][1]["Authorization"] == "Bearer sk-secret-123"
        assert other.seen == []
    finally:
        first.shutdown()
        other.shutdown()


def test_the_key_is_never_printed_and_plain_http_warns(monkeypatch, caplog):
    monkeypatch.setenv("VIDSKILL_TEST_KEY", "sk-secret-123")
    echo = _server(lambda h: (500, {}, f"bad key {h.headers['Authorization']}".encode()))
    try:
        backend = OpenAICompletionsBackend(f"http://127.0.0.1:{echo.server_port}/v1?token=abc",
                                           api_key_env="VIDSKILL_TEST_KEY")
        with pytest.raises(TextBackendError) as e:
            backend.continuation_logprobs([("a", " b")])
        assert "answered 500: bad key Bearer ***" in str(e.value)
        assert "sk-secret" not in str(e.value) and "abc" not in str(e.value)
    finally:
        echo.shutdown()
    assert not caplog.records  # loopback: nothing crosses a network
    with pytest.raises(Exception, match="holds credentials") as e:
        OpenAICompletionsBackend("https://user:hunter2@example.invalid/v1")
    assert "hunter2" not in str(e.value)
    OpenAICompletionsBackend("http://example.invalid:9/v1", api_key_env="VIDSKILL_TEST_KEY")
    assert "over plain http" in caplog.text and "sk-secret" not in caplog.text
