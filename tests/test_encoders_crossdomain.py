"""Cross-domain retrieval on the demo corpus: robot clip -> nearest human clip, per encoder.

Robot and human videos are filmed from different viewpoints, so this measures what the
view-robust encoder is for. Chance is 1/8 (eight skills, balanced human clips).
"""

import numpy as np
import pytest

from vidskill.demo.corpus import SKILLS, generate_corpus
from vidskill.encoders import clip_model, encode_video_multi, get_encoder
from vidskill.select.similarity import similarities

CHANCE = 1 / len(SKILLS)
ENCODERS = ("flow-hof", "flow-motion", "flow-profile", "flow-cnn")
SIMILARITIES = ("encoder", "dtw")  # flow-profile: its own comparison and the index cosine


@pytest.fixture(scope="module")
def accuracy(tmp_path_factory):
    """Nearest-neighbour skill accuracy of each (encoder, similarity), robot -> human."""
    corpus = generate_corpus(tmp_path_factory.mktemp("xdomain"), seed=0, n_long_train=0,
                             n_long_test=0, clips_per_skill=3, robot_clips_per_template=2)
    robots = [v for v in corpus.select(domain="robot", kind="template") if v.label]
    humans = corpus.select(domain="human", kind="clip")
    assert len(robots) == 16 and len(humans) == 24
    encoders = [get_encoder(name) for name in ENCODERS]  # one flow per video, shared
    feats = {v.path: encode_video_multi(v.path, encoders, fps=10, size=120)
             for v in robots + humans}
    table = {}
    for k, name in enumerate(ENCODERS):
        for sim_name in SIMILARITIES:
            sim = "cosine" if sim_name == "dtw" and clip_model(name).own_comparison else sim_name
            hits = [humans[int(np.argmax(similarities(sim, feats[r.path][k],
                                                      [feats[h.path][k] for h in humans])))
                           ].label == r.label for r in robots]
            table[name, sim_name] = float(np.mean(hits))
    print(f"\ncross-domain NN accuracy (chance {CHANCE:.3f}):")
    for (name, sim_name), acc in table.items():
        print(f"  {name:12s} {sim_name:7s} {acc:.3f}")
    return table


@pytest.mark.slow
@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_view_robust_encoders_match_across_cameras(accuracy, similarity):
    # measured 0.750 with either similarity (12 of 16 robot clips; SYNTH_VERSION 3, robots
    # at their own tempo; 0.938 when they ran at the human tempo) and 0.688 with seed 1:
    # two more clips may go, a halving may not
    assert accuracy["flow-motion", similarity] >= 0.625
    # flow-profile measured 0.750 (its comparison) and 0.688 (index cosine): one more may go
    assert accuracy["flow-profile", similarity] >= 0.5625


@pytest.mark.slow
def test_view_robust_encoder_beats_the_grid_histogram(accuracy):
    # HOF bins directions on an image grid, which a change of camera scrambles: measured
    # 0.062 against flow-motion's 0.750
    assert accuracy["flow-hof", "encoder"] <= 2 * CHANCE
    assert accuracy["flow-motion", "encoder"] >= accuracy["flow-hof", "encoder"] + 0.5
