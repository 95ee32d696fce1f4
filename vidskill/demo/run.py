"""`vidskill demo`: the whole pipeline on the embedded corpus, checked against its truth.

Steps (each resumable: a re-run reuses the corpus, the store and the feature cache):
write the corpus (OUT/corpus); ingest human clips, robot template clips and the long test
videos into a store (OUT/store) with the default encoders, cutting the long videos
into skills with the label-free default detector; segment the same long videos with the
skill classifier (skill-tcn + SBD, the shipped weights, trained on other videos) and
compare both with the true boundaries (F1); query the store with every robot template
clip; select templates for every skill with every selector (the ablation); write the
report (OUT/report/index.html), which is `vidskill report --store OUT/store` with the
measured figures, the ablation and the rankings on top.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidskill.demo.corpus import Corpus, VideoTruth, generate_corpus
from vidskill.ingest import DEFAULT_DETECTOR, IngestSettings, ingest
from vidskill.ingest.manifest import Source
from vidskill.metrics import MatchCounts, boundary_counts
from vidskill.report import Figure, Table, ranking_view, store_report, write_report
from vidskill.segment import segment
from vidskill.select.evaluate import FUSED_ENCODER, Ablation, evaluate_selection
from vidskill.select.fusion import DEFAULT_METHOD
from vidskill.store import ClipStore, Hit, SegmentRecord

log = logging.getLogger(__name__)

TOLERANCE = 0.5  # s: boundary matching tolerance reported with F1
NEIGHBOURS = 5
SKILL_ENCODER = "skill-tcn"  # the segmenter with labels: supervised classifier + SBD
INGEST = IngestSettings()  # the store a user gets with `vidskill ingest`'s defaults


@dataclass(frozen=True)
class DemoSettings:
    """Where the demo writes and how big its corpus is."""

    out: Path
    seed: int = 0
    n_long_train: int = 10
    n_long_test: int = 4
    clips_per_skill: int = 4
    text: tuple[str, ...] = ("llm", "embedding", "lexical")
    workers: int = 2

    @classmethod
    def preset(cls, out: str | Path, *, small: bool = False, seed: int = 0,
               text: tuple[str, ...] | list[str] = ("llm", "embedding", "lexical")
               ) -> DemoSettings:
        """The full demo, or with `small` a reduced corpus for a quick run."""
        sizes = {"n_long_train": 0, "n_long_test": 2, "clips_per_skill": 2} if small else {}
        return cls(Path(out), seed, text=tuple(text), **sizes)


@dataclass(frozen=True)
class DemoResult:
    """What the demo measured, and where its report is."""

    report: Path
    ablation: Ablation
    boundary: MatchCounts
    recall: float
    summary: list[tuple[str, str]] = field(default_factory=list)


def run_demo(settings: DemoSettings) -> DemoResult:
    """Run every step of the demo (see the module docstring) and write the report."""
    t0 = time.perf_counter()
    out = Path(settings.out)
    corpus = generate_corpus(out / "corpus", seed=settings.seed,
                             n_long_train=settings.n_long_train,
                             n_long_test=settings.n_long_test,
                             clips_per_skill=settings.clips_per_skill)
    long_videos = corpus.select(kind="long", split="test")
    store_dir = out / "store"
    ingest(_sources(corpus, long_videos), store_dir, INGEST,
           workers=settings.workers, progress=True)
    skill, skill_notes = _skill_segmentation(long_videos)
    with ClipStore(store_dir) as store:
        counts, notes = _label_free_counts(store, long_videos)
        recall = _neighbour_recall(store, long_videos)
        n_clips = len(store.segments())
        ablation = evaluate_selection(corpus, text=settings.text, cache=out / "cache")
        fused = next(r for r in ablation.rows if r.name.startswith(f"fused: {DEFAULT_METHOD}"))
        flow = ablation.row(f"video: {FUSED_ENCODER}")
        summary = [
            (f"top-1 template, {fused.name[7:]}", f"{fused.top1:.3f}"),
            (f"top-1 template, {FUSED_ENCODER} alone", f"{flow.top1:.3f}"),
            ("chance top-1", f"{ablation.chance:.3f}"),
            (f"recall@{NEIGHBOURS} of human clips for robot templates", f"{recall:.3f}"),
            (f"boundary F1@{TOLERANCE:g}s, {SKILL_ENCODER} + sbd ({len(long_videos)} long "
             "videos)", f"{skill.f1:.3f} (P {skill.precision:.3f}, R {skill.recall:.3f})"),
            (f"boundary F1@{TOLERANCE:g}s, label-free {DEFAULT_DETECTOR} on "
             f"{INGEST.segmenting_encoder} "
             "(the store's clips)",
             f"{counts.f1:.3f} (P {counts.precision:.3f}, R {counts.recall:.3f})"),
            ("corpus", f"{len(corpus.videos)} videos in {corpus.root}"),
            ("store", f"{n_clips} clips in {store_dir} ({', '.join(INGEST.encoders)})"),
        ]
        truth = {str(v.path): list(v.boundaries) for v in long_videos}
        notes = {k: f"{notes[k]}; {skill_notes[k]}" for k in notes}
        report = store_report(store, out / "report", title="vidskill demo",
                              neighbours=NEIGHBOURS,
                              truth=truth, notes=notes, progress=True)
    summary.append(("seconds", f"{time.perf_counter() - t0:.0f}"))
    report.intro = (
        "The whole pipeline on the synthetic demo corpus, checked against its ground truth. "
        + report.intro)
    report.figures = [Figure(name, value, _NOTES.get(k, "")) for k, (name, value)
                      in enumerate(summary)]
    report.tables.insert(0, Table("Template selection (top-1 over skills)",
                                  ("selector", "top-1", "recall@3", "misses"),
                                  tuple(tuple(r) for r in ablation.table()),
                                  f"{len(ablation.skills)} skills, {ablation.templates} "
                                  f"templates; chance top-1 {ablation.chance:.3f}"))
    report.rankings = [ranking_view(r.as_dict(), corpus.correct_template[s],
                                    settings.text[0]) for s, r in fused.rankings.items()]
    path = write_report(report, out / "report")
    return DemoResult(path, ablation, counts, recall, summary)


# How to read each headline figure, by its row in the summary.
_NOTES = {
    0: "the default selector: LLM prior + optical-flow similarity, in standard errors",
    1: "video similarity alone (flow-motion embeddings, robot vs human camera)",
    3: "share of a robot template's skill among its nearest human clips in the store",
    4: "skills named by the shipped skill classifier (trained on other videos), boundaries "
       "by SBD; needs labelled training videos of your skills",
    5: "what a store gets without labels (the clips below); label-free features limit "
       "every detector (README, Skill boundaries)",
}


def _sources(corpus: Corpus, long_videos: list[VideoTruth]) -> list[Source]:
    """Labelled human clips, robot template clips (named in metadata) and long human videos."""
    clips = [Source(v.path, "clip", v.label, "human") for v in corpus.select(kind="clip")]
    robots = [Source(v.path, "template", v.label, "robot", {"template": v.template or ""})
              for v in corpus.select(kind="template")]
    return clips + robots + [Source(v.path, "long", None, "human") for v in long_videos]


def _skill_segmentation(long_videos: list[VideoTruth]
                        ) -> tuple[MatchCounts, dict[str, str]]:
    """Boundaries of skill-tcn + SBD against the truth, summed, and a note per video."""
    total, notes = MatchCounts(), {}
    for truth in long_videos:
        found = segment(truth.path, "sbd", SKILL_ENCODER, predictor="shipped", refine=True,
                        min_len=1.0).boundaries
        counts = boundary_counts(np.array(found), truth.boundaries, tolerance=TOLERANCE)
        total += counts
        notes[str(truth.path)] = f"{SKILL_ENCODER} + sbd F1 {counts.f1:.3f}"
    return total, notes


def _label_free_counts(store: ClipStore, long_videos: list[VideoTruth]
                       ) -> tuple[MatchCounts, dict[str, str]]:
    """The store's boundaries (the label-free ingest default) against the truth."""
    by_path = {Path(v.path).resolve(): v for v in store.videos(status="done")}
    total, notes = MatchCounts(), {}
    for truth in long_videos:
        record = by_path[truth.path.resolve()]
        detected = np.array([s.start for s in store.segments(video_id=record.id)[1:]])
        counts = boundary_counts(detected, truth.boundaries, tolerance=TOLERANCE)
        total += counts
        notes[record.path] = (f"{len(detected)} detected (label-free {DEFAULT_DETECTOR}), "
                              f"{len(truth.boundaries)} true boundaries; F1 {counts.f1:.3f}")
    return total, notes


def _neighbour_recall(store: ClipStore, long_videos: list[VideoTruth]) -> float:
    """Mean recall@k of each robot template clip's skill among its nearest human clips. A
    clip cut from a long video carries no label in the store; it counts as the skill the
    corpus truth shows over most of it (not as a miss)."""
    truth = {str(Path(v.path).resolve()): v for v in long_videos}

    def skill(clip: Hit | SegmentRecord) -> str | None:
        video = truth.get(str(Path(clip.video_path).resolve()))
        if clip.label or video is None:
            return clip.label
        cover = {s.label: 0.0 for s in video.segments}
        for s in video.segments:
            cover[s.label] += max(0.0, min(s.end, clip.end) - max(s.start, clip.start))
        return max(cover, key=cover.get) if cover else None

    human = Counter(skill(s) for s in store.segments(domain="human"))
    recalls = []
    for seg in store.segments(domain="robot"):
        if not seg.label:
            continue
        hits = store.search(seg.id, NEIGHBOURS, domain="human")
        recalls.append(sum(skill(h) == seg.label for h in hits)
                       / max(1, min(human[seg.label], NEIGHBOURS)))
    return float(np.mean(recalls)) if recalls else 0.0
