"""ClipStore on synthetic features: catalog, clip embeddings, indexes, filters, locking."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import faiss
import numpy as np
import pytest

from vidskill.boundaries.base import Segment
from vidskill.encoders.base import Features
from vidskill.errors import DimensionMismatchError
from vidskill.store import (
    CATALOG,
    ClipStore,
    SegmentNotFoundError,
    StoreLockedError,
    StoreNotFoundError,
    StoreSettingsError,
    clip_embedding,
)

DIM = 12
SETTINGS = {"encoders": ["e"], "encoder_settings": {"e": {}}, "fps": 10.0, "size": 160,
            "pooling": "mean"}


def features(rng: np.random.Generator, seconds: float, centre: np.ndarray | None = None,
             encoder: str = "e", dim: int = DIM) -> Features:
    """1 s windows every 0.5 s around `centre` (random when None)."""
    starts = np.arange(0.0, seconds - 0.5, 0.5)
    base = rng.normal(size=dim) if centre is None else centre
    data = (base + 0.1 * rng.normal(size=(len(starts), dim))).astype(np.float32)
    return Features(data, starts, starts + 1.0, encoder)


def new_store(path, settings=SETTINGS) -> ClipStore:
    store = ClipStore(path, create=True)
    store.lock()
    store.use_settings(settings)
    return store


def fill(store: ClipStore, n_videos: int, seed: int = 0, domains=("human", "robot")) -> None:
    """Videos of two 5 s clips each; clip j of video v sits near a centre of its own."""
    rng = np.random.default_rng(seed)
    for v in range(n_videos):
        f = features(rng, 10.0)
        store.add_video(f"v{v}.mp4", f"hash{v}", "s", {"e": f}, [Segment(0, 5), Segment(5, 10)],
                        domain=domains[v % len(domains)], label=f"skill{v % 3}",
                        metadata={"take": v})


def test_clip_embedding_pools_windows_inside_the_segment():
    starts = np.arange(6, dtype=float)
    data = np.eye(6, 4, dtype=np.float32) + 1.0
    f = Features(data, starts, starts + 1.0, "e")
    vec = clip_embedding(f, 1.0, 3.0)  # centres 1.5 and 2.5 -> rows 1 and 2
    want = data[1:3].mean(0)
    np.testing.assert_allclose(vec, want / np.linalg.norm(want), rtol=1e-6)
    both = clip_embedding(f, 1.0, 3.0, "mean+max")
    assert both.shape == (8,) and np.isclose(np.linalg.norm(both), 1.0)
    # shorter than a window: the overlapping windows are used, never an empty mean
    short = clip_embedding(f, 2.2, 2.4)
    assert np.all(np.isfinite(short)) and np.isclose(np.linalg.norm(short), 1.0)


def test_search_matches_exact_cosine_and_reopens(tmp_path):
    store = new_store(tmp_path / "s")
    fill(store, 8)
    ids, vecs = store.vectors("e")
    assert len(ids) == 16 and np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    q = np.random.default_rng(5).normal(size=DIM)
    hits = store.search(q, k=5)
    want = ids[np.argsort(-(vecs @ (q / np.linalg.norm(q))))[:5]]
    assert [h.segment_id for h in hits] == list(want)
    assert hits[0].metadata == {"take": store.segment(hits[0].segment_id).metadata["take"]}
    store.close()
    # the index is written at sync and read back by a fresh store
    again = ClipStore(tmp_path / "s")
    assert [h.segment_id for h in again.search(q, k=5)] == list(want)
    assert again.index_path("e").exists()


def test_segment_query_excludes_itself_and_finds_its_neighbour(tmp_path):
    store = new_store(tmp_path / "s")
    rng = np.random.default_rng(1)
    centre = rng.normal(size=DIM)
    fill(store, 4, seed=2)
    store.add_video("a.mp4", "ha", "s", {"e": features(rng, 4.0, centre)}, [Segment(0, 4)])
    store.add_video("b.mp4", "hb", "s", {"e": features(rng, 4.0, centre)}, [Segment(0, 4)])
    a = store.segments(video_id=store.find_video("ha").id)[0]
    hits = store.search(a.id, k=3)
    assert a.id not in [h.segment_id for h in hits] and len(hits) == 3
    assert hits[0].video_path == "b.mp4" and hits[0].score > 0.9


@pytest.mark.parametrize("factory", ["Flat", "HNSW32", "IVF8,Flat"])
def test_filters_return_k_matching_hits(tmp_path, factory):
    store = new_store(tmp_path / "s")
    # 60 robot videos and 3 human ones: human clips are rare and mostly far from the query
    fill(store, 63, domains=("robot",) * 20 + ("human",))
    store.rebuild_index("e", factory)
    store.exact_filter_limit = 0  # go through the index, over-fetching
    q = store.embedding(1)
    # human videos are 20, 41, 62 (all skill2): 2 clips each
    for kwargs, n_match in (({"domain": "human"}, 6), ({"label": "skill1"}, 42),
                            ({"domain": "human", "label": "skill2"}, 6),
                            ({"domain": "human", "label": "skill0"}, 0)):
        hits = store.search(q, k=5, **kwargs)
        ids, vecs = store.vectors("e", **kwargs)
        assert len(hits) == min(5, n_match) and len(ids) == n_match
        assert all(getattr(h, key) == value for h in hits for key, value in kwargs.items())
        exact = ids[np.argsort(-(vecs @ q))[: len(hits)]]
        assert [h.segment_id for h in hits] == list(exact)
    via_index = store.search(q, k=4, domain="human")
    store.exact_filter_limit = 10**9  # the exact path over the catalog agrees
    assert [h.segment_id for h in store.search(q, k=4, domain="human")] == [
        h.segment_id for h in via_index]


def test_dimension_mismatch_is_reported(tmp_path):
    store = new_store(tmp_path / "s")
    fill(store, 2)
    with pytest.raises(DimensionMismatchError, match="dimension 5.*another version"):
        store.search(np.ones(5), k=3)
    wrong = features(np.random.default_rng(0), 4.0, dim=DIM + 1)
    with pytest.raises(DimensionMismatchError, match="another version of the encoder"):
        store.add_video("w.mp4", "hw", "s", {"e": wrong}, [Segment(0, 4)])
    assert store.find_video("hw").status == "pending"  # reserved, never done: no clip
    assert len(store.segments()) == 4


def test_a_clip_added_in_the_same_process_is_found_by_the_next_search(tmp_path):
    store = new_store(tmp_path / "s")
    fill(store, 4)
    rng = np.random.default_rng(7)
    centre = rng.normal(size=DIM)
    assert store.search(centre, k=3)  # the index is now built and held in memory
    store.add_video("late.mp4", "hlate", "s", {"e": features(rng, 4.0, centre)},
                    [Segment(0, 4)])
    hits = store.search(centre, k=3)
    assert hits[0].video_path == "late.mp4" and hits[0].score > 0.9
    assert store.index("e").ntotal == 9


def test_index_is_derived_from_the_catalog(tmp_path):
    store = new_store(tmp_path / "s")
    fill(store, 5)
    store.sync_indexes()
    path = store.index_path("e")
    store.close()
    # a writer adds clips without updating the file: a reader sees them anyway
    writer = new_store(tmp_path / "s")
    rng = np.random.default_rng(9)
    writer.add_video("new.mp4", "hnew", "s", {"e": features(rng, 4.0)}, [Segment(0, 4)])
    new_id = writer.segments(video_id=writer.find_video("hnew").id)[0].id
    writer.unlock()
    reader = ClipStore(tmp_path / "s")
    assert reader.search(new_id, k=20)[-1].segment_id != new_id
    assert new_id in faiss.vector_to_array(reader.index("e").id_map)
    # a corrupt or missing index file is rebuilt from the catalog
    path.write_bytes(b"not an index")
    assert reader.index("e").ntotal == 11  # cached in memory
    fresh = ClipStore(tmp_path / "s")
    assert fresh.index("e").ntotal == 11
    path.unlink()
    fresh.lock()
    index = fresh.rebuild_index("e", "HNSW32")
    assert isinstance(faiss.downcast_index(index.index), faiss.IndexHNSWFlat)
    assert path.exists() and fresh.index_factory("e") == "HNSW32"
    assert sorted(faiss.vector_to_array(index.id_map)) == [s.id for s in fresh.segments()]


def test_replacing_a_video_and_recording_a_failure(tmp_path):
    store = new_store(tmp_path / "s")
    fill(store, 2)
    first = store.find_video("hash0")
    old = {s.id for s in store.segments(video_id=first.id)}
    rng = np.random.default_rng(3)
    store.add_video("v0.mp4", "hash0", "other", {"e": features(rng, 9.0)},
                    [Segment(0, 3), Segment(3, 6), Segment(6, 9)])
    now = store.segments(video_id=first.id)
    assert len(now) == 3 and not old & {s.id for s in now}
    assert store.find_video("hash0").settings_hash == "other"
    assert store.features(first.id, "e").data.shape == (17, DIM)
    with pytest.raises(SegmentNotFoundError):
        store.segment(next(iter(old)))
    # a failed re-run keeps the clips stored before (only a committed replacement drops them)
    store.record_failure("v0.mp4", "hash0", "again", "CorruptVideoError: truncated")
    video = store.find_video("hash0")
    assert (video.status, video.settings_hash) == ("done", "other")
    assert "CorruptVideoError: truncated" in video.error
    assert len(store.segments(video_id=first.id)) == 3
    store.record_failure("new.mp4", "hashnew", "s", "CorruptVideoError: truncated")
    assert store.find_video("hashnew").status == "failed"
    assert store.index("e").ntotal == len(store.segments()) == 5


def test_settings_lock_and_missing_store(tmp_path):
    with pytest.raises(StoreNotFoundError, match="vidskill ingest"):
        ClipStore(tmp_path / "none")
    store = new_store(tmp_path / "s")
    with pytest.raises(StoreSettingsError, match="pooling"):
        store.use_settings({**SETTINGS, "pooling": "mean+max"})
    code = ("import sys\nfrom vidskill.store import ClipStore, StoreLockedError\n"
            "try:\n    ClipStore(sys.argv[1]).lock()\nexcept StoreLockedError as e:\n"
            "    print(e); sys.exit(3)\n")
    other = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s")],
                           capture_output=True, text=True, timeout=60)
    assert other.returncode == 3 and f"pid {__import__('os').getpid()}" in other.stdout
    second = ClipStore(tmp_path / "s")
    with pytest.raises(StoreLockedError):
        second.lock()
    store.unlock()
    second.lock()  # free once the holder lets go


def test_clips_keep_the_kind_and_confidence_of_their_boundary_and_format_1_opens(tmp_path):
    """Each stored clip keeps the kind and confidence of the boundary that starts it, and a
    search hit carries both beside its similarity; a store of format 1 (before kinds were
    kept) is read with kinds "" and gains the column on a writable open."""
    store = new_store(tmp_path / "s")
    rng = np.random.default_rng(0)
    cuts = [Segment(0, 3, score=1.0, kind="start"), Segment(3, 6, score=0.9, kind="cut"),
            Segment(6, 9, score=0.6, kind="skill")]
    store.add_video("v.mp4", "h", "s", {"e": features(rng, 9.0)}, cuts)
    got = store.segments()
    assert [(s.kind, s.score) for s in got] == [("start", 1.0), ("cut", 0.9), ("skill", 0.6)]
    hit = store.search(got[0].id, 1)[0]
    assert hit.as_dict()["kind"] in ("cut", "skill") and hit.confidence in (0.9, 0.6)
    store.unlock()
    store.close()
    db = sqlite3.connect(tmp_path / "s" / CATALOG)   # make it a format-1 store
    db.execute("ALTER TABLE segments DROP COLUMN kind")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    db.commit()
    db.close()
    with ClipStore(tmp_path / "s", readonly=True) as old:
        assert [s.kind for s in old.segments()] == ["", "", ""]
    with ClipStore(tmp_path / "s") as upgraded:
        assert [s.kind for s in upgraded.segments()] == ["", "", ""]
    db = sqlite3.connect(tmp_path / "s" / CATALOG)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("2",)
    db.close()
