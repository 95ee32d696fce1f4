"""The ray engine (Ray local mode) writes the same store as the local engine."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from vidskill.demo.corpus import generate_corpus
from vidskill.ingest import IngestSettings, ingest, make_executor
from vidskill.ingest.manifest import Source
from vidskill.ingest.ray import RayExecutor, RayUnavailableError, fit_batches, uses_gpu_models
from vidskill.store import ClipStore

SETTINGS = IngestSettings(fps=5, size=64)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> list[Source]:
    """A long video, three labelled human clips, a robot template and a damaged file."""
    corpus = generate_corpus(tmp_path_factory.getbasetemp() / "corpus-small", n_long_train=1,
                             n_long_test=0, clips_per_skill=1)
    picked = [*corpus.select(kind="long")[:1], *corpus.select(domain="human", kind="clip")[:3],
              *corpus.select(domain="robot")[:1]]
    broken = tmp_path_factory.mktemp("broken") / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(4000))
    return [Source(v.path, "long" if v.kind == "long" else "clip", v.label, v.domain)
            for v in picked] + [Source(broken, "clip")]


def _catalog(path) -> tuple[list, list, dict, dict]:
    """Videos, clips, features, and every clip's 4 nearest neighbours (ids, scores) of a store."""
    with ClipStore(path) as store:
        videos = [(v.id, v.path, v.content_hash, v.settings_hash, v.status, v.error, v.kind,
                   v.label, v.domain, v.duration) for v in store.videos()]
        segments = store.segments()
        neighbours = {s.id: [(h.segment_id, round(h.score, 5)) for h in store.search(s.id, 4)]
                      for s in segments}
        features = {v[0]: store.features(v[0], "flow-motion").data for v in videos if v[4] == "done"}
    return videos, segments, features, neighbours


@pytest.mark.slow
def test_ray_store_equals_local_store(sources, tmp_path):
    ray = pytest.importorskip("ray")
    local = ingest(sources, tmp_path / "local", SETTINGS, executor=make_executor("local"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        report = ingest(sources, tmp_path / "ray", SETTINGS, executor=RayExecutor())
        again = ingest(sources, tmp_path / "ray", SETTINGS, executor=RayExecutor())
    finally:
        ray.shutdown()
    assert report.done == local.done and len(report.done) == 5
    assert report.clips == local.clips >= 5
    assert [p for p, _ in report.failed] == [p for p, _ in local.failed] == [str(sources[-1].path)]
    assert again.skipped == [str(s.path) for s in sources[:-1]] and not again.done
    videos_l, segs_l, feats_l, nn_l = _catalog(tmp_path / "local")
    videos_r, segs_r, feats_r, nn_r = _catalog(tmp_path / "ray")
    assert videos_r == videos_l
    assert segs_r == segs_l
    assert feats_r.keys() == feats_l.keys()
    assert all(np.array_equal(feats_r[k], feats_l[k]) for k in feats_l)
    assert nn_r == nn_l and all(len(v) == 4 for v in nn_l.values())


def test_missing_ray_names_the_extra(monkeypatch, sources, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(RayUnavailableError, match=r"vidskill\[ray\]"):
        ingest(sources[:1], tmp_path / "s", SETTINGS, executor=make_executor("ray"))


def test_gpu_batches_follow_memory_and_models():
    small, big = fit_batches(SETTINGS, 2**30), fit_batches(SETTINGS, 80 * 2**30)
    assert 1 <= small["raft"] < big["raft"] and small["frames"] < big["frames"]
    assert fit_batches(SETTINGS, 0) == {"raft": 1, "frames": 1}
    assert not uses_gpu_models(SETTINGS)
    assert uses_gpu_models(IngestSettings(encoders=("r3d_18",)))
    assert uses_gpu_models(IngestSettings(encoder_settings={"flow-motion": {"flow": {
        "method": "raft", "model": "small"}}}))


def test_unknown_engine_and_address_without_ray():
    with pytest.raises(ValueError, match="engine must be one of"):
        make_executor("spark")
    with pytest.raises(ValueError, match="--address and resources are for --engine ray"):
        make_executor("local", address="auto")


def test_prefetched_chunks_equal_plain_chunks_and_errors_surface(sources):
    from vidskill.ingest import PrefetchReader, prefetch
    from vidskill.video import open_video

    path = sources[0].path
    with open_video(path, fps=5, size=64) as plain, PrefetchReader(path, fps=5, size=64) as ahead:
        a, b = list(plain.chunks(4.0, 1.0)), list(ahead.chunks(4.0, 1.0))
    assert len(a) == len(b) > 2
    assert all(np.array_equal(x.data, y.data) and np.array_equal(x.timestamps, y.timestamps)
               for x, y in zip(a, b, strict=True))

    def failing():
        yield 1
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        got.extend(prefetch(failing(), 1))
    assert got == [1]
    with pytest.raises(ValueError, match="at least 1"):
        next(prefetch(iter(range(3)), 0))
    early = prefetch(iter(range(100)), 2)
    assert next(early) == 0
    early.close()  # stops the producer thread instead of leaving it blocked
    assert not any(t.name == "vidskill-prefetch" for t in threading.enumerate())
