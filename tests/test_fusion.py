"""Fusion rules against rankings worked out by hand, and the selector's refusals."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest

from vidskill.errors import ConfigError
from vidskill.select.fusion import (
    EvidenceFusion,
    NoHumanClipsError,
    TemplateSelector,
    TopKFusion,
    WeightedFusion,
    fuse,
    get_fusion,
    zscore,
)
from vidskill.select.templates import Template

NAMES = ["stir", "cut", "pour", "wipe"]
TEXT = np.array([-1.0, -2.0, -3.0, -4.0])  # text prior: stir > cut > pour > wipe
FLOW = np.array([0.2, 0.9, 0.8, 0.95])  # flow similarity: wipe > cut > pour > stir


def test_topk_text_keeps_two_and_flow_picks_among_them() -> None:
    ranking = fuse("skill", NAMES, {"text": TEXT, "flow": FLOW}, TopKFusion(k=2))
    # kept by text: stir, cut; flow picks cut (0.9) over stir (0.2); then pour, wipe by text
    assert ranking.templates == ("cut", "stir", "pour", "wipe")
    assert ranking.best == "cut" and ranking.ties == ()  # the dropped: by the prior, no tie
    np.testing.assert_allclose(ranking.fused, [0.9, 0.2, -np.inf, -np.inf])
    np.testing.assert_allclose(ranking.scores["text"], [-2.0, -1.0, -3.0, -4.0])
    np.testing.assert_allclose(ranking.scores["flow"], [0.9, 0.2, 0.8, 0.95])
    assert ranking.method == "topk"
    assert ranking.settings == {"k": 2, "prior": "text", "picker": None}


def test_topk_with_k1_is_text_only_and_k_all_is_flow_only() -> None:
    scores = {"text": TEXT, "flow": FLOW}
    assert fuse("s", NAMES, scores, TopKFusion(k=1)).best == "stir"
    assert fuse("s", NAMES, scores, TopKFusion(k=10)).templates == ("wipe", "cut", "pour", "stir")


def test_topk_needs_a_named_picker_when_several_video_sources() -> None:
    scores = {"text": TEXT, "flow": FLOW, "r3d": -FLOW}
    with pytest.raises(ConfigError, match="picker"):
        fuse("s", NAMES, scores, TopKFusion(k=2))
    ranking = fuse("s", NAMES, scores, TopKFusion(k=3, picker="r3d"))
    # kept: stir, cut, pour; r3d = -flow picks stir (-0.2) > pour (-0.8) > cut (-0.9)
    assert ranking.templates == ("stir", "pour", "cut", "wipe")
    assert set(ranking.scores) == {"text", "flow", "r3d"}


def test_weighted_sum_of_zscores_by_hand() -> None:
    text = np.array([3.0, 1.0, 2.0])  # z = [1.2247, -1.2247, 0]
    flow = np.array([0.0, 10.0, 5.0])  # z = [-1.2247, 1.2247, 0]
    rule = WeightedFusion({"text": 1.0, "flow": 2.0})
    ranking = fuse("s", ["a", "b", "c"], {"text": text, "flow": flow}, rule)
    z = np.sqrt(1.5)
    # fused: a = z - 2z = -z, b = -z + 2z = z, c = 0
    assert ranking.templates == ("b", "c", "a")
    np.testing.assert_allclose(ranking.fused, [z, 0.0, -z])
    assert ranking.method == "weighted"


def test_equal_scores_are_reported_as_a_tie_and_constant_source_counts_zero() -> None:
    np.testing.assert_array_equal(zscore(np.array([4.0, 4.0, 4.0])), [0.0, 0.0, 0.0])
    ranking = fuse("s", ["a", "b", "c"], {"text": np.ones(3)}, WeightedFusion())
    assert ranking.groups == (("a", "b", "c"),) and ranking.tied == ("a", "b", "c")
    # b and c tie (0.1 + 0.2 and 0.3 differ only by float rounding), a is ahead alone
    ranking = fuse("s", ["c", "a", "b"], {"flow": np.array([0.3, 0.5, 0.1 + 0.2])},
                   WeightedFusion({"flow": 1.0}))
    assert ranking.groups == (("a",), ("c", "b")) and ranking.tied == ("a",)
    assert ranking.ties == (("c", "b"),) and ranking.as_dict()["ties"] == [["c", "b"]]


def test_topk_keeps_every_template_tied_with_the_kth() -> None:
    # the prior ties cut, pour and wipe at the 2nd place: all three stay, whatever the order
    text = np.array([-1.0, -2.0, -2.0, -2.0])
    for names in (NAMES, NAMES[::-1]):
        order = [NAMES.index(n) for n in names]
        ranking = fuse("s", names, {"text": text[order], "flow": FLOW[order]}, TopKFusion(k=2))
        assert ranking.templates == ("wipe", "cut", "pour", "stir")
        assert np.isfinite(ranking.fused).all()


def test_bad_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        fuse("s", NAMES, {"text": TEXT[:3]}, WeightedFusion())
    with pytest.raises(ValueError, match="NaN"):
        fuse("s", NAMES, {"text": np.array([0.0, np.nan, 1.0, 2.0])}, WeightedFusion())
    with pytest.raises(ConfigError, match="needs scores from flow"):
        fuse("s", NAMES, {"text": TEXT}, WeightedFusion({"text": 1.0, "flow": 1.0}))
    with pytest.raises(ConfigError, match="k >= 1"):
        TopKFusion(k=0)
    with pytest.raises(ConfigError, match="unknown fusion rule"):
        get_fusion("vote")
    with pytest.raises(ConfigError, match="bad settings"):
        get_fusion("topk", kk=2)
    assert get_fusion("topk", k=2) == TopKFusion(k=2)


def test_ranking_as_dict_is_json_with_nulls_for_dropped() -> None:
    ranking = fuse("stir the soup", NAMES, {"text": TEXT, "flow": FLOW}, TopKFusion(k=2))
    data = json.loads(json.dumps(ranking.as_dict()))
    assert data["templates"] == ["cut", "stir", "pour", "wipe"]
    assert data["fused"] == [0.9, 0.2, None, None]
    assert data["scores"]["flow"] == [0.9, 0.2, 0.8, 0.95]


class FixedText:
    """A text scorer returning a fixed array, recording what it was asked."""

    name = "fixed"

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, skill: str, descriptions: Sequence[str]) -> np.ndarray:
        self.calls.append((skill, list(descriptions)))
        return self.values


TEMPLATES = [Template(n, f"{n} description") for n in NAMES]


def test_selector_scores_descriptions_and_fuses() -> None:
    text = FixedText(TEXT)
    selector = TemplateSelector(TEMPLATES, text, TopKFusion(k=2))
    ranking = selector.rank("cut the carrot", {"flow": FLOW})
    assert text.calls == [("cut the carrot", [f"{n} description" for n in NAMES])]
    assert ranking.templates == ("cut", "stir", "pour", "wipe")
    assert ranking.skill == "cut the carrot"


def test_selector_without_human_clips_refuses_video_rules() -> None:
    selector = TemplateSelector(TEMPLATES, FixedText(TEXT), TopKFusion(k=2))
    with pytest.raises(NoHumanClipsError, match="no human clips for skill 'fold the towel'"):
        selector.rank("fold the towel", {})
    with pytest.raises(NoHumanClipsError, match="--human DIR"):
        TemplateSelector(TEMPLATES, None, WeightedFusion({"flow": 1.0})).rank("fold", None)


def test_selector_text_only_needs_no_video_and_video_only_no_text() -> None:
    text_only = TemplateSelector(TEMPLATES, FixedText(TEXT), WeightedFusion())
    assert text_only.rank("stir the soup").templates == ("stir", "cut", "pour", "wipe")
    video_only = TemplateSelector(TEMPLATES, None, WeightedFusion({"flow": 1.0}))
    ranking = video_only.rank("wipe", {"flow": FLOW})
    assert ranking.templates == ("wipe", "cut", "pour", "stir")
    assert set(ranking.scores) == {"flow"}
    with pytest.raises(ConfigError, match="give a text scorer"):
        TemplateSelector(TEMPLATES, None, TopKFusion(k=2)).rank("wipe", {"flow": FLOW})


def test_evidence_fusion_adds_scores_as_they_are() -> None:
    # video in standard errors: a clearly ahead (by 6), b and c within one of each other;
    # text in nats per token: prefers c by 0.5 over b and by 2 over a
    video = np.array([10.0, 4.0, 3.6])
    text = np.array([-3.0, -1.5, -1.0])
    ranking = fuse("s", ["a", "b", "c"], {"text": text, "flow": video},
                   EvidenceFusion({"text": 1.0, "flow": 1.0}))
    # fused: a = 7.0, b = 2.5, c = 2.6 -> the prior cannot outvote 6 standard errors, but it
    # reorders the near-tie b / c
    assert ranking.templates == ("a", "c", "b")
    np.testing.assert_allclose(ranking.fused, [7.0, 2.6, 2.5])
    assert ranking.method == "evidence" and get_fusion("evidence").needs_video is False
