"""The demo corpus: determinism, ground truth consistent with the files, and no trivial cue."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from vidskill.demo import corpus as synth
from vidskill.demo.corpus import (
    BASE_PERIOD,
    HUMAN_SPEED,
    ROBOT_TEMPO,
    SKILL_TASKS,
    SKILLS,
    SYNTH_VERSION,
    TEMPLATES,
    Corpus,
    generate_corpus,
    load_corpus,
    load_truth,
    write_long_video,
)
from vidskill.video import open_video, read_video

SMALL = {"n_long_train": 2, "n_long_test": 1, "clips_per_skill": 3}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    return generate_corpus(tmp_path_factory.mktemp("corpus"), seed=3, **SMALL)


def _first_frame(path: Path) -> np.ndarray:
    with open_video(path) as reader:
        return reader.get_frame(0).data[0]


def test_same_seed_same_corpus(corpus, tmp_path):
    """Same seed, same videos; each video's seed is its own, so smaller counts keep it."""
    again = generate_corpus(tmp_path, seed=3, n_long_train=1, n_long_test=0, clips_per_skill=1)
    first = {v.to_dict(corpus.root)["path"]: v.to_dict(corpus.root) for v in corpus.videos}
    for b in again.videos:
        assert b.to_dict(again.root) == first[b.to_dict(again.root)["path"]]
    for kind in ("long", "clip", "template"):
        a, b = corpus.select(kind=kind)[0], again.select(kind=kind)[0]
        np.testing.assert_array_equal(_first_frame(a.path), _first_frame(b.path))


def test_other_seed_other_corpus(corpus, tmp_path):
    other = generate_corpus(tmp_path, seed=4, n_long_train=1, n_long_test=0, clips_per_skill=0)
    a, b = corpus.select(kind="long")[0], other.select(kind="long")[0]
    assert a.segments != b.segments


def test_regenerating_returns_existing_without_rendering(corpus, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("re-rendered an existing corpus")

    monkeypatch.setattr(synth, "_render", fail)
    again = generate_corpus(corpus.root, seed=3, **SMALL)
    assert again == load_corpus(corpus.root)
    assert again.videos == corpus.videos


def test_layout_and_counts(corpus):
    root = corpus.root
    assert (root / "corpus.json").exists() and corpus.templates_file == root / "templates.toml"
    longs = corpus.select(kind="long")
    assert [v.split for v in longs] == ["train", "train", "test"]
    assert [v.path.name for v in longs] == ["long_000.mp4", "long_001.mp4", "long_002.mp4"]
    assert len(corpus.select(domain="human", kind="clip")) == 3 * len(SKILLS)
    for label in SKILLS:
        clips = corpus.select(kind="clip", label=label)
        assert [v.path.name for v in clips] == [f"{label}_{j:02d}.mp4" for j in range(3)]
        assert all(v.path.parent == root / "human" / "clips" for v in clips)
    robots = corpus.select(domain="robot")
    assert {v.kind for v in robots} == {"template"}
    assert all(v.path.parent == root / "robot" for v in robots)
    for video in longs:
        assert load_truth(video.path.with_suffix(".json")) == video
    index = json.loads((root / "corpus.json").read_text())
    assert all(not Path(v["path"]).is_absolute() for v in index["videos"])


def test_boundaries_consistent_with_frames(corpus):
    for video in corpus.videos:
        segs = video.segments
        assert segs[0].start_frame == 0 and segs[0].start == 0.0
        assert video.n_frames == round(video.duration * video.fps)
        for a, b in zip(segs, segs[1:], strict=False):
            assert a.end_frame == b.start_frame and a.end == b.start
        for s in segs:
            assert s.start_frame < s.end_frame
            assert s.start == pytest.approx(s.start_frame / video.fps)
            assert s.end == pytest.approx(s.end_frame / video.fps)
        assert segs[-1].end == pytest.approx(video.duration)
        assert corpus.boundaries(video) == corpus.boundaries(video.path) == tuple(
            s.start for s in segs[1:]
        )


def test_long_videos_chain_three_to_eight_different_skills(corpus):
    for video in corpus.select(kind="long"):
        labels = [s.label for s in video.segments]
        assert 3 <= len(labels) <= 8
        assert all(label in SKILLS for label in labels)
        assert all(a != b for a, b in zip(labels, labels[1:], strict=False))
        for s in video.segments[:-1]:   # a skill lasts 3-7 s, plus half of each move beside it
            assert 3.0 - 1e-9 <= s.end - s.start <= 7.8 + 1e-9
        assert video.label is None and video.template is None


def test_each_task_has_exactly_one_correct_template(corpus):
    doc = tomllib.loads(corpus.templates_file.read_text())
    templates = {t["name"]: t for t in doc["template"]}
    assert len(templates) == len(SKILLS) + 2
    assert set(corpus.correct_template) == set(SKILLS) == set(SKILL_TASKS)
    assert len(set(corpus.correct_template.values())) == len(SKILLS)
    for name, t in templates.items():
        assert t["description"] and isinstance(t["parameters"], dict)
        assert not any(skill in t["description"].lower() for skill in SKILLS)
        for rel in t["video"]:
            assert (corpus.templates_file.parent / rel).exists()
        shown = [v for v in corpus.select(domain="robot") if v.template == name]
        assert len(shown) == len(t["video"]) == 1
        correct_for = [s for s, n in corpus.correct_template.items() if n == name]
        assert shown[0].label == (correct_for[0] if correct_for else None)
    distractors = set(templates) - set(corpus.correct_template.values())
    assert len(distractors) == 2
    for skill, task in SKILL_TASKS.items():
        assert task.startswith(skill) and len(task.split()) >= 3


def test_videos_decode_with_right_count_and_timestamps(corpus):
    for video in corpus.select(kind="long")[:1] + corpus.select(domain="robot")[:2]:
        with open_video(video.path) as reader:
            assert reader.info.frame_count == video.n_frames
            assert reader.info.native_fps == pytest.approx(video.fps)
            assert reader.info.duration == pytest.approx(video.duration, abs=1e-3)
            ts = reader.native_timestamps
            np.testing.assert_allclose(ts, np.arange(video.n_frames) / video.fps, atol=1e-4)
        with open_video(video.path, fps=10) as reader:   # durations lie on the 10 fps grid
            assert len(reader) == round(video.duration * 10)
            assert (reader.timestamps < video.duration).all()
            assert reader.read().data.shape[1:] == (120, 160, 3)


def test_robot_executions_have_their_own_tempo_amplitude_and_shape(corpus):
    doc = {t["name"]: t for t in tomllib.loads(corpus.templates_file.read_text())["template"]}
    spec = {t.name: t for t in TEMPLATES}
    tempos = []
    for video in corpus.select(domain="robot"):
        style, t = video.style, spec[video.template]
        assert ROBOT_TEMPO[0] <= style["tempo"] <= ROBOT_TEMPO[1]
        period = BASE_PERIOD[t.motion] * style["tempo"]
        assert video.duration == pytest.approx(period * t.cycles, abs=0.051)  # 0.1 s steps
        assert doc[t.name]["parameters"]["period_s"] == [pytest.approx(period, abs=1e-3)]
        assert doc[t.name]["parameters"]["amplitude"] == [pytest.approx(style["amplitude"],
                                                                        abs=1e-3)]
        tempos.append(style["tempo"])
    # the humans' period is 1/1.25 .. 1/0.75 of the base: robots run slower and faster than
    # any person, each execution at its own tempo and with its own shape
    assert min(tempos) < 1 / HUMAN_SPEED[1] and max(tempos) > 1 / HUMAN_SPEED[0]
    assert len({v.style["aspect"] for v in corpus.select(domain="robot")}) == len(TEMPLATES)
    assert all(v.style is None for v in corpus.select(domain="human"))
    assert all(v.synth == {"version": SYNTH_VERSION, "seed": 3} for v in corpus.videos)


# What seed 11 renders (poses, cameras, colours, truth) under each SYNTH_VERSION. A change
# to what a seed renders must bump SYNTH_VERSION, so a corpus on disk is never reused with
# other videos or other truth, and record the new fingerprint here.
FINGERPRINTS = {3: "7db9f9984ee843b9"}


def test_synth_version_covers_every_change_of_what_a_seed_renders(tmp_path, monkeypatch):
    drawn = []

    def capture(path, rng, scene, track, fps, size):
        cam = scene.camera
        parts = [track.pos.ravel(), track.heading, track.tilt, track.spin, cam.centre,
                 cam.rot.ravel(), [cam.focal], scene.look.tool_colour]
        drawn.append(np.round(np.concatenate(parts), 4) + 0.0)  # + 0.0: no -0.0

    monkeypatch.setattr(synth, "_render", capture)
    made = generate_corpus(tmp_path, seed=11, n_long_train=1, n_long_test=0, clips_per_skill=1)
    truth = json.dumps([v.to_dict(tmp_path) for v in made.videos], sort_keys=True)
    digest = hashlib.sha256(truth.encode() + b"".join(d.tobytes() for d in drawn)).hexdigest()
    assert len(drawn) == 1 + len(SKILLS) + len(TEMPLATES)
    assert FINGERPRINTS.get(SYNTH_VERSION) == digest[:16], (
        f"seed 11 renders something else than SYNTH_VERSION {SYNTH_VERSION} did (fingerprint "
        f"{digest[:16]}): bump SYNTH_VERSION and record the new fingerprint")


def test_a_corpus_of_an_older_version_is_rendered_again(tmp_path, monkeypatch):
    generate_corpus(tmp_path, seed=5, n_long_train=0, n_long_test=0, clips_per_skill=0)
    index = tmp_path / "corpus.json"
    data = json.loads(index.read_text())
    data["settings"]["version"] = SYNTH_VERSION - 1
    index.write_text(json.dumps(data))
    rendered = []
    monkeypatch.setattr(synth, "_render", lambda path, *args: rendered.append(path))
    again = generate_corpus(tmp_path, seed=5, n_long_train=0, n_long_test=0, clips_per_skill=0)
    assert len(rendered) == len(TEMPLATES) and len(again.videos) == len(TEMPLATES)
    assert json.loads(index.read_text())["settings"]["version"] == SYNTH_VERSION


def test_write_long_video(tmp_path):
    truth = write_long_video(tmp_path / "long.mp4", minutes=0.5, fps=10, seed=1)
    assert truth.synth == {"version": SYNTH_VERSION, "seed": 1}
    assert truth.n_frames == 300 and truth.duration == pytest.approx(30.0)
    assert truth.segments[-1].end_frame == 300
    labels = [s.label for s in truth.segments]
    assert all(a != b for a, b in zip(labels, labels[1:], strict=False))
    assert load_truth(tmp_path / "long.json") == truth
    with open_video(truth.path, fps=10) as reader:
        assert len(reader) == 300


def _cue_features(video) -> tuple[np.ndarray, np.ndarray]:
    """Mean colour of the video and the mean image position of what moves in it."""
    data = read_video(video.path, fps=5).data.astype(np.float32)
    colour = data.mean(axis=(0, 1, 2)) / 255.0
    diff = np.abs(np.diff(data.mean(-1), axis=0)).sum(0)
    h, w = diff.shape
    ys, xs = np.mgrid[0:h, 0:w]
    weight = diff / diff.sum()
    position = np.array([(xs * weight).sum() / w, (ys * weight).sum() / h])
    return colour, position


def test_no_trivial_cue_identifies_the_skill(corpus):
    """Nearest-centroid on mean colour and moving-region position is near chance."""
    human = corpus.select(kind="clip")
    robot = [v for v in corpus.select(domain="robot") if v.label is not None]
    x_h = np.array([np.concatenate(_cue_features(v)) for v in human])
    x_r = np.array([np.concatenate(_cue_features(v)) for v in robot])
    mu, sd = x_h.mean(0), x_h.std(0) + 1e-6
    x_h, x_r = (x_h - mu) / sd, (x_r - mu) / sd
    y_h = np.array([SKILLS.index(v.label) for v in human])
    y_r = np.array([SKILLS.index(v.label) for v in robot])
    centroids = np.stack([x_h[y_h == k].mean(0) for k in range(len(SKILLS))])

    def predict(x: np.ndarray, cents: np.ndarray) -> np.ndarray:
        return np.argmin(((x[:, None] - cents[None]) ** 2).sum(-1), 1)

    cross = (predict(x_r, centroids) == y_r).mean()
    loo = []
    for i in range(len(x_h)):
        keep = np.arange(len(x_h)) != i
        cents = np.stack([x_h[keep & (y_h == k)].mean(0) for k in range(len(SKILLS))])
        loo.append(predict(x_h[i:i + 1], cents)[0] == y_h[i])
    chance = 1 / len(SKILLS)
    assert cross <= chance + 0.2, cross
    assert np.mean(loo) <= chance + 0.15, np.mean(loo)
