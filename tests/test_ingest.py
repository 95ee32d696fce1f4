"""Batch ingest: sources and manifests, failures, skipping, locking, and SIGKILL + resume."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import pytest
from helpers import run_cli as cli

from vidskill.demo.corpus import generate_corpus
from vidskill.encoders import get_encoder
from vidskill.errors import ConfigError
from vidskill.ingest import IngestSettings, ingest
from vidskill.ingest.manifest import Source, resolve_sources
from vidskill.ingest.stages import encode
from vidskill.store import ClipStore

REPO = Path(__file__).resolve().parents[1]
# Small frames and a low rate keep decoding cheap; the pipeline is the same.
FAST = ["--fps", "5", "--size", "64", "--no-progress"]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """The demo corpus at its smallest (one clip per skill; shared with test_query)."""
    return generate_corpus(tmp_path_factory.getbasetemp() / "corpus-small", n_long_train=1,
                           n_long_test=0, clips_per_skill=1)


@pytest.fixture
def clips(corpus, tmp_path) -> Path:
    """A folder of five short human clips."""
    folder = tmp_path / "clips"
    folder.mkdir()
    for i, video in enumerate(corpus.select(domain="human", kind="clip")[:5]):
        shutil.copy(video.path, folder / f"{i}_{video.path.name}")
    return folder



def test_sources_folders_globs_and_manifests(tmp_path, clips):
    names = sorted(p.name for p in clips.iterdir())
    assert [s.path.name for s in resolve_sources([clips])] == names
    assert [s.path.name for s in resolve_sources([str(clips / "*.mp4"), clips / names[0]])] == names
    sub = tmp_path / "lists"
    sub.mkdir()
    (sub / "m.csv").write_text(
        f"path,label,domain,kind,take\n../clips/{names[0]},stir,human,clip,3\n"
        f"{clips / names[1]},,robot,,\n"
    )
    a, b = resolve_sources([sub / "m.csv"], domain="human")
    assert (a.path.resolve(), a.label, a.domain, a.kind, a.metadata) == (
        (clips / names[0]).resolve(), "stir", "human", "clip", {"take": "3"})
    assert (b.label, b.domain, b.kind, b.metadata) == (None, "robot", "long", {})
    (sub / "m.jsonl").write_text(
        json.dumps({"path": f"../clips/{names[2]}", "kind": "template",
                    "metadata": {"robot": "ur5"}, "template": "dip"}) + "\n\n")
    (c,) = resolve_sources([sub / "m.jsonl"])
    assert c.whole and c.metadata == {"robot": "ur5", "template": "dip"}
    (sub / "bad.jsonl").write_text(json.dumps({"path": "../clips/missing.mp4"}) + "\n")
    (missing,) = resolve_sources([sub / "bad.jsonl"])
    assert missing.path.name == "missing.mp4" and re.search(r"listed at .*bad.jsonl:1",
                                                            missing.error)
    (sub / "kind.csv").write_text(f"path,kind\n../clips/{names[0]},movie\n")
    with pytest.raises(ConfigError, match="kind must be one of"):
        resolve_sources([sub / "kind.csv"])
    (nope,) = resolve_sources([tmp_path / "nope.mp4"])
    assert "no such file" in nope.error


def test_corrupt_video_is_recorded_and_the_rest_ingested(tmp_path, clips):
    real = sorted(clips.iterdir())
    bad = clips / "2_zz_broken.mp4"  # sorts into the middle of the folder
    bad.write_bytes(real[0].read_bytes()[:4000])
    store = tmp_path / "store"
    run = cli("ingest", str(clips), "--store", str(store), "--kind", "clip", *FAST)
    assert run.returncode == 1, run.stderr
    assert "ingested 5 video(s)" in run.stdout and "1 failed" in run.stdout
    assert f"failed: {bad}: CorruptVideoError" in run.stdout
    with ClipStore(store) as s:
        failed = s.videos(status="failed")
        assert [v.path for v in failed] == [str(bad)] and "truncated or damaged" in failed[0].error
        assert len(s.videos(status="done")) == 5 and len(s.segments()) == 5
        assert s.index("flow-motion").ntotal == 5
    # a second run skips what is done and retries only the failure
    again = cli("ingest", str(clips), "--store", str(store), "--kind", "clip", *FAST, "--json")
    report = json.loads(again.stdout)
    assert again.returncode == 1 and len(report["skipped"]) == 5 and not report["done"]
    assert [p for p, _ in report["failed"]] == [str(bad)]


def test_reingest_skips_and_other_settings_refuse(tmp_path, clips):
    settings = IngestSettings(fps=5, size=64, segment=False)
    first = ingest([clips], tmp_path / "s", settings, workers=2)
    assert first.ok and len(first.done) == 5 and first.clips == 5
    second = ingest([clips], tmp_path / "s", settings)
    assert second.ok and not second.done and len(second.skipped) == 5
    with ClipStore(tmp_path / "s") as store:
        assert len(store.segments()) == 5
    run = cli("ingest", str(clips), "--store", str(tmp_path / "s"), "--fps", "10", "--no-progress")
    assert run.returncode == 1 and "built with other settings (fps" in run.stderr


def test_second_writer_refuses_naming_the_holder(tmp_path, clips):
    store = ClipStore(tmp_path / "s", create=True)
    store.lock()
    run = cli("ingest", str(clips), "--store", str(tmp_path / "s"), *FAST)
    assert run.returncode == 1
    assert f"another ingest (pid {os.getpid()}) is writing to this store" in run.stderr
    store.close()


def _snapshot(store_dir: Path) -> dict:
    """Everything an ingest leaves: catalog rows (no timestamps), feature files, index."""
    db = sqlite3.connect(store_dir / "catalog.sqlite")
    videos = db.execute("SELECT id, path, content_hash, settings_hash, status, error, kind, label,"
                        " domain, metadata, duration FROM videos ORDER BY id").fetchall()
    segments = db.execute("SELECT * FROM segments ORDER BY id").fetchall()
    vectors = db.execute("SELECT segment_id, encoder, vector FROM embeddings"
                         " ORDER BY encoder, segment_id").fetchall()
    db.close()
    files = {str(p.relative_to(store_dir)): np.load(p).tobytes()
             for p in sorted((store_dir / "features").rglob("*.npy"))}
    index = faiss.read_index(str(store_dir / "index-flow-motion.faiss"))
    ids = faiss.vector_to_array(index.id_map)
    order = np.argsort(ids)
    recon = np.stack([index.reconstruct(int(i)) for i in ids[order]])
    return {"videos": videos, "segments": segments, "vectors": vectors, "files": files,
            "index_ids": ids[order].tolist(), "index_vectors": recon.tobytes(),
            "leftovers": sorted(p.name for p in store_dir.rglob(".*.tmp-*"))}


def _kill_when(args: list[str], store: Path, ready, deadline: float = 90) -> None:
    """Start an ingest and SIGKILL it as soon as `ready(catalog)` holds."""
    proc = subprocess.Popen([sys.executable, "-m", "vidskill.cli", *args], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + deadline
        while time.monotonic() < end and proc.poll() is None:
            if (store / "catalog.sqlite").exists():
                with sqlite3.connect(store / "catalog.sqlite", timeout=30) as db:
                    if ready(db):
                        break
            time.sleep(0.02)
        assert proc.poll() is None, "the ingest finished before the kill point"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def _done(db: sqlite3.Connection) -> int:
    try:
        return db.execute("SELECT count(*) FROM videos WHERE status = 'done'").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def _pending(db: sqlite3.Connection) -> bool:
    try:
        return db.execute("SELECT count(*) FROM videos WHERE status = 'pending'").fetchone()[0] > 0
    except sqlite3.OperationalError:
        return False


@pytest.mark.slow
def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path, clips):
    bad = clips / "3_zz_broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(3000))
    args = lambda store: ["ingest", str(clips), "--store", str(store), "--kind", "clip", *FAST]  # noqa: E731
    reference = tmp_path / "reference"
    assert cli(*args(reference)).returncode == 1
    want = _snapshot(reference)
    assert len(want["videos"]) == 6 and len(want["index_ids"]) == 5
    kill_points = {
        "first_write": lambda db: _pending(db) or _done(db) >= 1,  # the first video's write
        "two_done": lambda db: _done(db) >= 2,  # mid-run, between videos
        "all_done": lambda db: _done(db) >= 5,  # during the failure record / index write
    }
    for name, ready in kill_points.items():
        store = tmp_path / name
        _kill_when(args(store), store, ready)
        if name != "all_done":
            with sqlite3.connect(store / "catalog.sqlite") as db:
                assert _done(db) < 5, f"{name}: the kill came too late to interrupt anything"
        resumed = cli(*args(store))
        assert resumed.returncode == 1 and "1 failed" in resumed.stdout, (name, resumed.stderr)
        assert _snapshot(store) == want, name


def test_long_video_is_cut_by_the_detector_and_features_kept(tmp_path, corpus):
    long_video = corpus.select(kind="long")[0]
    run = cli("ingest", str(long_video.path), "--store", str(tmp_path / "s"), *FAST,
              "--detector", "uniform", "--detector-setting", "length=5", "--domain", "human",
              "--segment-with", "flow-motion")
    assert run.returncode == 0, run.stderr
    with ClipStore(tmp_path / "s") as store:
        (video,) = store.videos(status="done")
        segments = store.segments(video_id=video.id)
        feats = store.features(video.id, "flow-motion")
        assert [s.ordinal for s in segments] == list(range(len(segments)))
        assert len(segments) == int(np.ceil((feats.ends[-1] - feats.starts[0]) / 5 - 1e-9))
        assert all(b.start == pytest.approx(a.end) for a, b in zip(segments, segments[1:], strict=False))
        assert {s.domain for s in segments} == {"human"} and feats.dim == get_encoder("flow-motion").dim
        assert store.settings()["fps"] == 5.0
        # searched by flow-profile, cut by flow-motion's windows; rows keep their settings
        assert store.default_encoder() == "flow-profile" and store.cut_by_encoder() == "flow-motion"
        assert store.features(video.id, "flow-profile").settings == get_encoder(
            "flow-profile").settings
    # the same video with another detector setting is re-cut, not doubled
    again = cli("ingest", str(long_video.path), "--store", str(tmp_path / "s"), *FAST,
                "--detector", "uniform", "--detector-setting", "length=10",
                "--segment-with", "flow-motion")
    assert again.returncode == 0 and "ingested 1 video(s)" in again.stdout
    with ClipStore(tmp_path / "s") as store:
        assert len(store.videos()) == 1 and len(store.segments()) < len(segments)
        assert store.index("flow-motion").ntotal == len(store.segments())


def test_which_encoder_cuts_long_videos():
    default = IngestSettings()
    assert default.encoders == ("flow-profile", "flow-motion")
    # `vidskill segment`'s defaults: motion-kin at the native rate, run only to cut, and SBD
    assert (default.segmenting_encoder, default.cut_only, default.cutting_rate,
            default.detector) == ("motion-kin", True, None, "sbd")
    assert IngestSettings(segment_with="").segmenting_encoder == "flow-motion"  # first with windows
    assert IngestSettings(encoders=("flow-profile",), segment_with="").segmenting_encoder \
        == "flow-profile"
    stored = IngestSettings(encoders=("flow-profile", "flow-hof"), segment_with="flow-hof")
    assert not stored.cut_only and stored.cutting_rate == stored.fps
    cut = IngestSettings(encoders=("flow-profile",), segment_with="flow-hof")
    assert cut.cut_only and cut.cutting_rate == 10.0   # segment's rate for flow-hof
    with pytest.raises(ConfigError, match="segment_with 'nope' is not an encoder; choose one of"):
        IngestSettings(segment_with="nope")
    with pytest.raises(ValueError, match="flow-profile describe whole clips"):
        IngestSettings(pooling="mean+max")
    assert IngestSettings(encoders=("flow-motion",), pooling="mean+max").pooling == "mean+max"



def test_default_ingest_cuts_as_segment_previews(tmp_path, corpus):
    """One set of defaults: a store gets the boundaries `vidskill segment` prints (shots,
    then SBD fitted on the corpus, on motion-kin at the native rate), from one decode per
    video; motion-kin only cuts (not stored), the predictor fitted on the corpus is kept in
    the store, and the detector's signal is kept for reports."""
    from vidskill.export import store_segment_lists
    from vidskill.segment import segment_videos

    path = corpus.select(kind="long")[0].path
    preview = segment_videos([path])[0]
    report = ingest([path], tmp_path / "s", IngestSettings(), kind="long")
    assert report.ok and report.clips == len(preview.segments) > 3
    with ClipStore(tmp_path / "s") as store:
        (video,) = store.videos(status="done")
        stored = store.segments(video_id=video.id)
        np.testing.assert_allclose([s.start for s in stored[1:]],
                                   [s.start for s in preview.segments[1:]], atol=1e-9)
        np.testing.assert_allclose([s.score for s in stored[1:]],
                                   [s.score for s in preview.segments[1:]], atol=1e-6)
        assert [s.kind for s in stored] == [s.kind for s in preview.segments]
        assert store.encoders() == ["flow-profile", "flow-motion"]
        assert (store.cut_by_encoder(), store.cut_with()) == ("motion-kin", "sbd")
        assert (tmp_path / "s" / "sbd-motion-kin.pt").is_file()
        times, values = store.signal(video.id)
        np.testing.assert_allclose(times, preview.signal_times)
        np.testing.assert_allclose(values, preview.signal, rtol=1e-5, atol=1e-6)
        (listed,) = store_segment_lists(store)
        assert listed.detector == "sbd" and len(listed.signal) == len(values)
        assert [s.kind for s in listed.segments] == [s.kind for s in preview.segments]
        with pytest.raises(ConfigError, match="keeps no 'motion-kin' features to recompute a "
                                              "'novelty' signal"):
            store_segment_lists(store, signal_detector="novelty")
    # the features that only cut are kept as SBD reads them: 7 kinematics and 8 PCA values
    # of the thumbnail a window (not 1031), so memory does not grow by them with the video
    fitted = IngestSettings(detector_settings={"predictor": str(tmp_path / "s" /
                                                                "sbd-motion-kin.pt")})
    assert encode(path, fitted)[0]["motion-kin"].dim == 15 < get_encoder("motion-kin").dim


def test_fit_sample_is_the_same_for_ingest_and_segment(tmp_path, monkeypatch):
    """SBD is fitted on at most FIT_SECONDS of video, the first seconds of videos spread
    over the corpus, and `ingest` (which decodes only that much to fit) and `segment`
    (which has every video decoded) take the same sample, so they cut alike."""
    from vidskill.demo.corpus import write_long_video

    seg = importlib.import_module("vidskill.segment")   # the module (the package exports
    # a function of the same name)

    assert seg.fit_order(12) == [0, 8, 4, 2, 6, 10, 1, 3, 5, 7, 9, 11]   # spread first
    monkeypatch.setattr(seg, "FIT_SECONDS", 24.0)
    monkeypatch.setattr(seg, "FIT_VIDEO_SECONDS", 12.0)   # two of three videos, 12 s each
    budget = seg.FitBudget(3)
    assert budget.share() == 12.0   # 24 / 3 = 8 is less than a video's least share
    budget.spend(5.0)   # a short video leaves its unused share to the rest
    assert budget.left == 19.0 and budget.share() == 12.0 and not budget.spent
    budget.spend(60.0)
    budget.spend(60.0)
    assert budget.spent
    paths = [write_long_video(tmp_path / "in" / f"v{s}.mp4", minutes=0.5, seed=s).path
             for s in (1, 2, 3)]
    preview = seg.segment_videos(paths)
    report = ingest(paths, tmp_path / "s", IngestSettings(), kind="long")
    assert report.ok
    card = json.loads((tmp_path / "s" / "sbd-motion-kin.json").read_text())
    assert card["data"]["videos"] == ["v1.mp4", "v3.mp4"]
    with ClipStore(tmp_path / "s") as store:
        for video, listed in zip(store.videos(status="done"), preview, strict=True):
            stored = [s.start for s in store.segments(video_id=video.id)]
            np.testing.assert_allclose(stored[1:], [s.start for s in listed.segments[1:]])


def test_clips_are_not_decoded_for_a_cut(clips):
    """A clip (kind clip or template) is one segment: only the stored encoders run on it,
    at the store's rate, with no shot stage and no encoder that only cuts."""
    from vidskill.ingest.stages import encode_source

    clip = sorted(clips.iterdir())[0]
    result = encode_source(Source(clip, "clip"), IngestSettings())
    assert result.error is None and set(result.features) == {"flow-profile", "flow-motion"}
    assert not result.shots.cuts
