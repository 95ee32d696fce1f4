"""`vidskill demo`: the whole pipeline on the embedded corpus, checked against its truth.

Steps (each resumable: a re-run reuses the corpus, the store and the feature cache):
write the corpus (OUT/corpus); ingest human clips, robot template clips and the long test
videos into a store (OUT/store) with the view-robust encoder, cutting the long videos
into skills; compare detected with true boundaries (F1); query the store with every robot
template clip; select templates for every skill with every selector (the ablation); write
the HTML report (OUT/report/index.html).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidskill.boundaries import get_detector
from vidskill.demo.corpus import Corpus, VideoTruth, generate_corpus
from vidskill.ingest import DEFAULT_DETECTOR, IngestSettings, ingest
from vidskill.ingest.manifest import Source
from vidskill.metrics import MatchCounts, boundary_counts
from vidskill.report import (
    NeighbourView,
    RankingView,
    Report,
    SegmentationView,
    Thumb,
    thumbnail,
    write_report,
)
from vidskill.select.evaluate import FUSED_ENCODER, Ablation, evaluate_selection
from vidskill.select.fusion import DEFAULT_METHOD
from vidskill.store import ClipStore

log = logging.getLogger(__name__)

TOLERANCE = 0.5  # s: boundary matching tolerance reported with F1
NEIGHBOURS = 5


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
    ingest(_sources(corpus, long_videos), store_dir, IngestSettings(encoders=(FUSED_ENCODER,)),
           workers=settings.workers)
    with ClipStore(store_dir) as store:
        views, counts = _segmentations(store, long_videos)
        neighbours, recall = _neighbours(store, corpus)
        n_clips = len(store.segments())
    ablation = evaluate_selection(corpus, text=settings.text, cache=out / "cache")
    fused = next(r for r in ablation.rows if r.name.startswith(f"fused: {DEFAULT_METHOD}"))
    flow = ablation.row(f"video: {FUSED_ENCODER}")
    summary = [
        ("corpus", f"{len(corpus.videos)} videos in {corpus.root}"),
        ("store", f"{n_clips} clips in {store_dir} ({FUSED_ENCODER})"),
        (f"boundary F1@{TOLERANCE:g}s ({DEFAULT_DETECTOR}, {len(long_videos)} long videos)",
         f"{counts.f1:.3f} (P {counts.precision:.3f}, R {counts.recall:.3f})"),
        (f"recall@{NEIGHBOURS} of human clips for robot templates", f"{recall:.3f}"),
        (f"top-1 template, {FUSED_ENCODER} alone", f"{flow.top1:.3f}"),
        (f"top-1 template, {fused.name[7:]}", f"{fused.top1:.3f}"),
        ("chance top-1", f"{ablation.chance:.3f}"),
        ("seconds", f"{time.perf_counter() - t0:.0f}"),
    ]
    report = Report(
        "vidskill demo", summary=summary,
        tables=[("Template selection (top-1 over skills)",
                 ["selector", "top-1", "recall@3", "misses"], ablation.table())],
        segmentations=views, neighbours=neighbours,
        rankings=[_ranking_view(r, corpus.correct_template[skill], corpus.tasks[skill])
                  for skill, r in fused.rankings.items()],
    )
    path = write_report(report, out / "report")
    return DemoResult(path, ablation, counts, recall, summary)


def _sources(corpus: Corpus, long_videos: list[VideoTruth]) -> list[Source]:
    """Labelled human clips, robot template clips (named in metadata) and long human videos."""
    clips = [Source(v.path, "clip", v.label, "human") for v in corpus.select(kind="clip")]
    robots = [Source(v.path, "template", v.label, "robot", {"template": v.template or ""})
              for v in corpus.select(kind="template")]
    return clips + robots + [Source(v.path, "long", None, "human") for v in long_videos]


def _segmentations(store: ClipStore, long_videos: list[VideoTruth]
                   ) -> tuple[list[SegmentationView], MatchCounts]:
    """Detected vs true boundaries per long video, with the detector's signal and thumbnails."""
    by_path = {Path(v.path).resolve(): v for v in store.videos(status="done")}
    detector = get_detector(DEFAULT_DETECTOR)
    views, total = [], MatchCounts()
    for truth in long_videos:
        record = by_path[truth.path.resolve()]
        segments = store.segments(video_id=record.id)
        detected = np.array([s.start for s in segments[1:]])
        counts = boundary_counts(detected, truth.boundaries, tolerance=TOLERANCE)
        total += counts
        boundaries = detector.detect(store.features(record.id, FUSED_ENCODER))
        thumbs = [Thumb(thumbnail(truth.path, (s.start + s.end) / 2),
                        f"{s.start:.1f}-{s.end:.1f}s: {_true_label(truth, s.start, s.end)}")
                  for s in segments]
        views.append(SegmentationView(
            truth.path.name, boundaries.signal_times, boundaries.signal, detected,
            np.array(truth.boundaries), thumbs,
            f"{len(detected)} detected, {len(truth.boundaries)} true boundaries; "
            f"F1@{TOLERANCE:g}s {counts.f1:.3f}"))
    return views, total


def _true_label(truth: VideoTruth, start: float, end: float) -> str:
    """The true skill covering most of [start, end)."""
    overlap = {s.label: max(0.0, min(end, s.end) - max(start, s.start)) for s in truth.segments}
    return max(overlap, key=overlap.get)


def _neighbours(store: ClipStore, corpus: Corpus) -> tuple[list[NeighbourView], float]:
    """Each robot template clip's nearest human clips; mean recall@k of its skill's clips."""
    views, recalls = [], []
    for seg in store.segments(domain="robot"):
        hits = store.search(seg.id, NEIGHBOURS, domain="human")
        query = Thumb(thumbnail(seg.video_path, (seg.start + seg.end) / 2),
                      f"robot {seg.metadata.get('template', '')} ({seg.label or 'no skill'})")
        views.append(NeighbourView(query, [
            Thumb(thumbnail(h.video_path, (h.start + h.end) / 2),
                  f"{h.label or 'unlabelled'} {h.score:.2f}",
                  None if seg.label is None or h.label is None else h.label == seg.label)
            for h in hits]))
        if seg.label:
            relevant = len(store.segments(domain="human", label=seg.label))
            found = sum(h.label == seg.label for h in hits)
            recalls.append(found / min(relevant, NEIGHBOURS))
    return views, float(np.mean(recalls)) if recalls else 0.0


def _ranking_view(ranking, correct: str, task: str) -> RankingView:
    """A fused ranking as a report table: fused score and every source's score."""
    sources = list(ranking.scores)
    rows = [(name, [float(ranking.fused[i]), *(float(ranking.scores[s][i]) for s in sources)])
            for i, name in enumerate(ranking.templates)]
    return RankingView(task, ["fused", *sources], rows, ranking.best, correct)
