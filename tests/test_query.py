"""`vidskill query` and store.search on ingested videos, and retrieval on the demo corpus."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import run_cli as cli

from vidskill.demo.corpus import generate_corpus
from vidskill.encoders.profile import ProfileEncoder
from vidskill.ingest import IngestSettings, ingest, query_features
from vidskill.ingest.manifest import Source
from vidskill.store import ClipStore


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A store of the small corpus's clips (human and robot) at cheap settings."""
    corpus = generate_corpus(tmp_path_factory.getbasetemp() / "corpus-small", n_long_train=1,
                             n_long_test=0, clips_per_skill=1)
    sources = [Source(v.path, "clip", v.label, v.domain)
               for v in corpus.select(kind="clip") + corpus.select(kind="template")]
    store = tmp_path_factory.mktemp("query") / "store"
    report = ingest(sources, store, IngestSettings(fps=5, size=64), workers=1)
    assert report.ok and report.clips == len(sources)
    long_video = corpus.select(kind="long")[0]
    return store, corpus, long_video


def test_query_by_segment_vector_and_clip_agree(small, tmp_path):
    """With flow-motion (its comparison is the index's inner product) a segment and its own
    vector find the same clips; with the default flow-profile a segment query is re-ranked by
    the encoder's comparison, a bare vector keeps the index's order."""
    store, corpus, _ = small
    with ClipStore(store) as s:
        assert s.default_encoder() == "flow-profile"
        seg = s.segments(domain="robot")[0]
        vec = s.embedding(seg.id, "flow-motion")
    enc = ["--encoder", "flow-motion"]
    by_segment = json.loads(cli("query", "--store", str(store), "--segment", str(seg.id),
                                "-k", "4", "--json", *enc).stdout)
    assert len(by_segment) == 4 and seg.id not in [h["segment_id"] for h in by_segment]
    np.save(tmp_path / "q.npy", vec)
    by_vector = json.loads(cli("query", "--store", str(store), "--vector", str(tmp_path / "q.npy"),
                               "-k", "5", "--json", *enc).stdout)
    assert by_vector[0]["segment_id"] == seg.id and by_vector[0]["score"] == pytest.approx(1.0)
    assert [h["segment_id"] for h in by_vector[1:]] == [h["segment_id"] for h in by_segment]
    with ClipStore(store) as s:
        reranked = s.search(seg.id, 4)
        mine = s.clip_features(seg, "flow-profile")
        want = [ProfileEncoder.compare(mine, s.clip_features(s.segment(h.segment_id),
                                                             "flow-profile")) for h in reranked]
        assert [h.score for h in reranked] == pytest.approx(want)
        assert want == sorted(want, reverse=True)
    # the clip file itself, re-encoded with the store's settings, finds its own segment
    by_clip = json.loads(cli("query", seg.video_path, "--store", str(store), "-k", "1",
                             "--json").stdout)
    assert by_clip[0]["segment_id"] == seg.id and by_clip[0]["score"] > 0.999


def test_filters_table_and_errors(small, tmp_path):
    store, corpus, long_video = small
    run = cli("query", str(long_video.path), "--start", "2", "--end", "6", "--store", str(store),
              "--domain", "human", "-k", "3")
    lines = run.stdout.splitlines()
    assert run.returncode == 0 and lines[0].split()[:3] == ["rank", "score", "segment"]
    assert len(lines) == 4 and all(" human " in line for line in lines[1:])
    label = corpus.select(kind="clip")[0].label
    hits = json.loads(cli("query", "--store", str(store), "--segment", "1", "--label", label,
                          "--json", "-k", "10").stdout)
    assert hits and {h["label"] for h in hits} == {label}
    np.save(tmp_path / "bad.npy", np.ones(7, np.float32))
    bad = cli("query", "--store", str(store), "--vector", str(tmp_path / "bad.npy"))
    assert bad.returncode == 2 and "dimension 7" in bad.stderr  # a usage error
    assert cli("query", "--store", str(store)).returncode == 2
    missing = cli("query", "--store", str(tmp_path / "none"), "--segment", "1")
    assert missing.returncode == 1 and "no clip store here" in missing.stderr
    with ClipStore(store) as s:
        feats = query_features(long_video.path, s, 2.0, 6.0)["flow-motion"]
        half = feats.settings["window"] / 2  # windows whose centre lies in [2, 6)
        assert len(feats) and feats.starts.min() >= 2.0 - half and feats.ends.max() <= 6.0 + half


@pytest.mark.slow
def test_robot_templates_retrieve_human_clips_of_their_skill(tmp_path_factory):
    """The demo check: each correct template's clip finds human clips of its skill."""
    corpus = generate_corpus(tmp_path_factory.getbasetemp() / "corpus-clips", n_long_train=0,
                             n_long_test=0, clips_per_skill=4)
    humans = corpus.select(domain="human", kind="clip")
    templates = corpus.select(kind="template")
    sources = [Source(v.path, "clip", v.label, v.domain, {"template": v.template or ""})
               for v in humans + templates]
    store_dir = tmp_path_factory.mktemp("demo") / "store"
    report = ingest(sources, store_dir, IngestSettings(encoders=("flow-motion",)), workers=2)
    assert report.ok, report.summary()
    recalls = []
    with ClipStore(store_dir) as store:
        for template in (t for t in templates if t.label):
            (seg,) = [s for s in store.segments(domain="robot")
                      if s.metadata["template"] == template.template]
            hits = store.search(seg.id, 5, domain="human")
            relevant = len(store.segments(domain="human", label=template.label))
            recalls.append(sum(h.label == template.label for h in hits) / relevant)
    chance = 5 / len(humans)
    recall = float(np.mean(recalls))
    print(f"recall@5 of human clips for {len(recalls)} robot templates: {recall:.3f} "
          f"(chance {chance:.3f})")
    assert recall >= 2 * chance
