"""`vidskill select` on a folder of human clips and on a store; its errors as one line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from helpers import run_cli as cli

from vidskill.ingest import IngestSettings, ingest
from vidskill.ingest.manifest import Source


@pytest.fixture(scope="module")
def corpus(select_corpus):
    return select_corpus


@pytest.fixture(scope="module")
def cache(select_cache):
    return str(select_cache)


def test_select_with_human_folder_prints_every_score(corpus, cache, tmp_path):
    # press: flow-motion puts press_hold first by 0.5 z (seed 0, SYNTH_VERSION 3), and the
    # lexical prior ("press" ~ "pushing") agrees, so every method chooses it
    folder = tmp_path / "press"
    folder.mkdir()
    for v in corpus.select(domain="human", kind="clip", label="press"):
        shutil.copy(v.path, folder / v.path.name)
    run = cli("select", "--skill", "press the dough", "--templates", str(corpus.templates_file),
              "--human", str(folder), "--method", "weighted", "--text", "lexical",
              "--cache", cache)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("2 human clips of 'press the dough'")
    assert lines[1].startswith("no hubness: too few human clips of other skills")
    assert lines[2].split() == ["rank", "template", "fused", "text", "flow-profile"]
    assert len(lines) == 3 + 10 + 1 and lines[-1].startswith("chosen: press_hold ")
    assert lines[3].split()[:2] == ["1", "press_hold"]
    out = json.loads(cli("select", "--skill", "press the dough", "--templates",
                         str(corpus.templates_file), "--human", str(folder), "--method", "flow",
                         "--encoder", "flow-motion", "--similarity", "dtw", "--cache", cache,
                         "--json").stdout)
    assert list(out["scores"]) == ["flow-motion:dtw"] and len(out["templates"]) == 10
    assert out["templates"][0] == "press_hold" and out["ties"] == []
    assert out["fused"] == sorted(out["fused"], reverse=True) and len(out["human_clips"]) == 2
    # the default method: text log-prob plus video in standard errors, summed as they are
    run = cli("select", "--skill", "press the dough", "--templates", str(corpus.templates_file),
              "--human", str(folder), "--text", "lexical", "--cache", cache)
    assert run.returncode == 0 and "units: text = log-probability" in run.stdout, run.stderr
    assert "chosen: press_hold (evidence" in run.stdout
    out = json.loads(cli("select", "--skill", "press the dough", "--templates",
                         str(corpus.templates_file), "--human", str(folder), "--text",
                         "lexical", "--cache", cache, "--json").stdout)
    assert out["method"] == "evidence" and out["templates"][0] == "press_hold"
    np.testing.assert_allclose(out["fused"], np.add(out["scores"]["text"],
                                                    out["scores"]["flow-profile"]))
    # flow-profile compares whole clips itself: DTW over its rows is refused, as a usage error
    bad = cli("select", "--skill", "cut the carrot", "--templates", str(corpus.templates_file),
              "--human", str(folder), "--similarity", "dtw", "--cache", cache)
    assert bad.returncode == 2 and "flow-profile compares clips itself" in bad.stderr


def test_a_reference_folder_marks_down_a_template_near_every_skill(corpus, cache, tmp_path):
    # cut: circle_sweep's execution is near the clips of many skills (it also wins scoop)
    # and beats vertical_saw on the two cut clips alone (seed 0, SYNTH_VERSION 3); with the
    # other skills' clips as the reference its hubness takes it back below vertical_saw
    root = tmp_path / "humans"
    for v in corpus.select(domain="human", kind="clip"):
        (root / v.label).mkdir(parents=True, exist_ok=True)
        shutil.copy(v.path, root / v.label / v.path.name)
    base = ["select", "--skill", "cut the carrot", "--templates", str(corpus.templates_file),
            "--human", str(root / "cut"), "--method", "flow", "--cache", cache, "--json"]
    alone = json.loads(cli(*base).stdout)
    assert alone["templates"][:2] == ["circle_sweep", "vertical_saw"]
    with_reference = json.loads(cli(*base, "--reference", str(root)).stdout)
    assert with_reference["templates"][:2] == ["vertical_saw", "circle_sweep"]
    assert with_reference["human_clips"] == alone["human_clips"]   # its own clips stay its own
    assert (alone["reference_clips"], with_reference["reference_clips"]) == (0, 14)
    shown = cli(*base[:-1], "--reference", str(root)).stdout.splitlines()
    assert shown[1] == ("14 human clips of other skills: each template's score is less half "
                        "its hubness against them")
    bad = cli("select", "--skill", "cut the carrot", "--templates", str(corpus.templates_file),
              "--store", str(tmp_path / "store"), "--reference", str(root), "--method", "flow")
    assert bad.returncode == 2 and "--reference goes with --human" in bad.stderr


def test_select_from_store_by_skill_text(corpus, cache, tmp_path):
    store = tmp_path / "store"
    sources = [Source(v.path, "clip", v.label, "human")
               for v in corpus.select(domain="human", kind="clip")]
    assert ingest(sources, store, IngestSettings(encoders=("flow-motion",))).ok
    run = cli("select", "--skill", "shake the bottle", "--templates", str(corpus.templates_file),
              "--store", str(store), "--method", "llm+flow", "--text", "lexical", "--cache",
              cache, "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert list(out["scores"]) == ["text", "flow-motion"]  # the store's encoder
    assert all("shake_" in n for n in out["human_clips"]) and len(out["human_clips"]) == 2
    # no description shares a word with "shake the bottle": the prior ties all ten, so its
    # top 3 keeps all ten (a tie at the 3rd place is kept whole) and flow picks
    assert sum(v is None for v in out["fused"]) == 0 and out["templates"][0] == "rapid_oscillate"
    missing = cli("select", "--skill", "fold the towel", "--templates",
                  str(corpus.templates_file), "--store", str(store), "--method", "flow")
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1
    assert "no human clips for skill 'fold the towel'" in missing.stderr


def test_a_tie_is_reported_not_decided_by_the_file_order(corpus):
    run = cli("select", "--skill", "stir the soup", "--templates", str(corpus.templates_file),
              "--method", "llm", "--text", "lexical")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:11]] == ["1="] * 10
    assert lines[-1].startswith("tie: circle_sweep, vertical_saw, lateral_sweep,")
    assert "score the same" in lines[-1]


def test_select_errors_are_one_line(corpus, tmp_path):
    base = ["select", "--skill", "stir", "--method", "llm", "--text", "lexical"]
    video = corpus.select(kind="template")[0].path
    cases = {
        "missing.toml": ('[[template]]\nname = "a"\ndescription = "x"\nvideo = "gone.mp4"\n',
                         "does not exist"),
        "unknown.toml": ('[[template]]\nname = "a"\ndescription = "x"\ncolour = "red"\n',
                         "unknown field(s) colour"),
        "dup.toml": ('[[template]]\nname = "a"\ndescription = "x"\n'
                     '[[template]]\nname = "a"\ndescription = "y"\n', "duplicate name 'a'"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        run = cli(*base, "--templates", str(tmp_path / name))
        assert run.returncode != 0 and message in run.stderr, (name, run.stderr)
        assert run.stderr.count("\n") == 1 and run.stderr.startswith("error: ")
    (tmp_path / "ok.toml").write_text(
        f'[[template]]\nname = "a"\ndescription = "stir"\nvideo = "{video}"\n')
    neither = cli("select", "--skill", "stir", "--templates", str(tmp_path / "ok.toml"))
    assert neither.returncode != 0 and "--human DIR or --store S" in neither.stderr
    text_only = cli(*base, "--templates", str(tmp_path / "ok.toml"))
    assert text_only.returncode == 0 and "chosen: a" in text_only.stdout
