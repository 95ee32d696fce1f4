"""Pipeline files: each shipped file runs on the demo corpus; bad files name file and key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vidskill.demo.corpus import SKILLS, generate_corpus
from vidskill.errors import ConfigError
from vidskill.jobs import load_pipeline, run_pipeline
from vidskill.store import ClipStore

REPO = Path(__file__).resolve().parents[1]
PIPELINES = REPO / "pipelines"
FAST = ["settings.fps=5", "settings.size=64", "detector.name=uniform",
        "detector.settings.length=2.0"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return generate_corpus(tmp_path_factory.getbasetemp() / "corpus-small", n_long_train=1,
                           n_long_test=0, clips_per_skill=1)


@pytest.fixture(scope="module")
def store(corpus, tmp_path_factory) -> Path:
    """The demo corpus ingested by pipelines/ingest.toml (sources and store overridden)."""
    path = tmp_path_factory.mktemp("run") / "store"
    pipeline = load_pipeline(PIPELINES / "ingest.toml",
                             [f"sources.root={corpus.root}", f"store={path}", *FAST])
    report = run_pipeline(pipeline)
    assert report.ok and len(report.done) == len(corpus.videos)
    return path


def test_ingest_pipeline_labels_and_segments(corpus, store):
    with ClipStore(store) as s:
        assert s.settings()["fps"] == 5 and s.settings()["size"] == 64
        assert s.default_encoder() == "flow-profile" and s.cut_by_encoder() == "flow-hof"
        clips = s.segments(domain="human")
        robot = s.segments(domain="robot")
        long_video = [v for v in s.videos() if v.kind == "long"]
    assert {c.label for c in clips if c.label} == set(SKILLS)
    assert {r.label for r in robot} == {v.template for v in corpus.select(domain="robot")}
    assert len(long_video) == 1
    cuts = [c for c in clips if c.video_id == long_video[0].id]
    assert len(cuts) >= 3 and all(c.end - c.start <= 2.0 + 1e-6 for c in cuts)


def test_query_pipeline_from_the_command_line(corpus, store):
    clip = corpus.select(domain="human", kind="clip")[0].path
    out = subprocess.run(
        [sys.executable, "-m", "vidskill.cli", "run", str(PIPELINES / "query.toml"), "--json",
         "--set", f"store={store}", "--set", f"query.video={clip}", "--set", "k=3"],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)
    assert len(hits) == 3 and {h["domain"] for h in hits} == {"robot"}
    assert hits[0]["score"] >= hits[-1]["score"]


def test_query_by_segment_equals_the_store_search(store, tmp_path):
    with pytest.raises(ConfigError, match="exactly one of video, segment or vector"):
        run_pipeline(load_pipeline(PIPELINES / "query.toml", [f"store={store}",
                                                              "query.segment=2"]))
    own = tmp_path / "q.toml"
    own.write_text(f'job = "query"\nstore = "{store}"\nk = 1\n[query]\nsegment = 2\n')
    hits = run_pipeline(load_pipeline(own))
    with ClipStore(store) as s:
        assert hits == s.search(2, 1) and len(hits) == 1


def test_select_pipeline_ranks_the_templates(corpus, store, tmp_path):
    pipeline = load_pipeline(PIPELINES / "select.toml", [
        f"store={store}", f"templates={corpus.templates_file}", "text=lexical",
        f"cache={tmp_path / 'cache'}", 'skill="stir the soup"'])
    choice = run_pipeline(pipeline)
    names = {v.template for v in corpus.select(domain="robot")}
    assert set(choice.ranking.templates) == names and choice.ranking.method == "evidence"
    assert choice.humans is not None and len(choice.humans.clips) >= 1
    with pytest.raises(ConfigError, match="exactly one of 'human'"):
        run_pipeline(load_pipeline(PIPELINES / "select.toml", [f"human={tmp_path}"]))


def test_paths_resolve_against_the_file_and_overrides_against_cwd(tmp_path, monkeypatch):
    p = load_pipeline(PIPELINES / "ingest.toml")
    assert Path(p.config["store"]) == REPO / "demo-out" / "store"
    assert Path(p.config["sources"]["root"]) == REPO / "demo-out" / "corpus"
    monkeypatch.chdir(tmp_path)
    p = load_pipeline(PIPELINES / "ingest.toml", ["store=s", "engine.workers=2",
                                                  "engine.name=ray"])
    assert Path(p.config["store"]) == tmp_path / "s"
    assert p.config["engine"]["workers"] == 2 and p.config["engine"]["name"] == "ray"
    assert Path(p.config["sources"]["root"]) == REPO / "demo-out" / "corpus"


@pytest.mark.parametrize(("text", "overrides", "message"), [
    ('job = "ingest"\nstore = "s"\n[engine]\nwrkers = 2\n', [],
     r"bad.toml: unknown key 'engine.wrkers'; known here: engine.name, engine.workers"),
    ('job = "ingest"\nstore = "s"\n', ["engine.gpu=1"], r"unknown key 'engine.gpu'"),
    ('job = "ingest"\nstore = "s"\n[settings]\nfps = "fast"\n', [],
     r"bad.toml: 'settings.fps' must be float, got 'fast'"),
    ('job = "ingest"\nstore = "s"\n[engine]\nname = "spark"\n', [],
     r"'engine.name' must be one of \['local', 'ray'\]"),
    ('job = "ingest"\n', [], r"bad.toml: 'store' is required"),
    ('job = "train"\n', [], r"bad.toml: 'job' must be one of"),
    ('job = "ingest"\nstore = "s"\nsources = 3\n', [], r"'sources' must be a table"),
    ('job = "ingest"\nstore = "s"\n[[sources.entries]]\npath = "x"\nkind = "movie"\n', [],
     r"'sources.entries\[0\].kind' must be one of"),
    ('job = "ingest"\nstore = "s"\n[index\n', [], r"bad.toml: not valid TOML"),
    ('job = "query"\nstore = "s"\n', ["k"], r"--set takes KEY=VALUE"),
])
def test_bad_files_name_the_file_and_key(tmp_path, text, overrides, message):
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_pipeline(bad, overrides)


def test_label_from_must_match_every_file(corpus, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(f'job = "ingest"\nstore = "s"\n[sources]\nroot = "{corpus.root}"\n'
                   '[[sources.entries]]\npath = "robot"\nlabel_from = \'^(?P<label>x)\'\n')
    with pytest.raises(ConfigError, match=r"sources.entries\[0\].label_from does not match"):
        run_pipeline(load_pipeline(bad))
