"""Evaluation metrics, one section per task: boundaries, frame-wise segmentation, ...

Boundary metrics follow the GEBD evaluation (Shou et al. 2021): each ground-truth boundary,
in time order, takes the nearest still-unmatched prediction if it lies within the tolerance
(one-to-one); counts add up over videos before precision/recall/F1 are taken. Frame-wise
metrics follow MS-TCN's eval.py (Farha & Gall 2019): accuracy over frames (MoF), Edit score
(normalised Levenshtein distance between segment label sequences) and F1@{10,25,50}
(segment IoU with a same-label ground-truth segment). Every score here is a fraction in
[0, 1]; MS-TCN prints the same numbers times 100.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vidskill.boundaries.base import Segment

# ======================================================================================
# Boundaries: precision / recall / F1 within a tolerance (absolute s or GEBD's relative)


@dataclass(frozen=True)
class MatchCounts:
    """True positives, false positives and false negatives; `+` pools them over videos."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: MatchCounts) -> MatchCounts:
        return MatchCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        """tp / (tp + fp); 1 when nothing was predicted and nothing was there to find."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float(self.fn == 0)

    @property
    def recall(self) -> float:
        """tp / (tp + fn); 1 when there was nothing to find."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def match_boundaries(pred: Sequence[float], gt: Sequence[float], tolerance: float) -> MatchCounts:
    """GEBD matching: each GT boundary in order takes its nearest unmatched prediction when
    it is within `tolerance` seconds (inclusive)."""
    left = sorted(float(p) for p in pred)
    tp = 0
    for g in sorted(float(x) for x in gt):
        if not left:
            break
        j = int(np.argmin([abs(g - p) for p in left]))
        if abs(g - left[j]) <= tolerance + 1e-9:
            tp += 1
            left.pop(j)
    return MatchCounts(tp, len(pred) - tp, len(gt) - tp)


def boundary_counts(
    pred: Sequence[float],
    gt: Sequence[float],
    tolerance: float | None = None,
    rel_tolerance: float | None = None,
    duration: float | None = None,
) -> MatchCounts:
    """Match with an absolute tolerance (s), or GEBD's relative one (e.g. 0.05 = 5% of
    `duration`)."""
    if (tolerance is None) == (rel_tolerance is None):
        raise ValueError("give exactly one of tolerance (seconds) or rel_tolerance (fraction)")
    if rel_tolerance is not None:
        if duration is None or duration <= 0:
            raise ValueError("rel_tolerance needs the video's duration in seconds")
        tolerance = rel_tolerance * duration
    return match_boundaries(pred, gt, float(tolerance))


def interior_boundaries(segments: Sequence[Segment]) -> list[float]:
    """Start times of every segment but the first: the boundaries a segmentation implies."""
    starts = sorted(s.start for s in segments)
    return starts[1:]


# ======================================================================================
# Frame-wise segmentation (MS-TCN): MoF, Edit, F1@overlap


def frame_labels(segments: Sequence[Segment], times: np.ndarray, fill: str = "background"
                 ) -> np.ndarray:
    """Label of the segment covering each time (`fill` where none does)."""
    out = np.full(len(times), fill, dtype=object)
    for s in segments:
        out[(times >= s.start) & (times < s.end)] = s.label if s.label is not None else fill
    return out


def majority_labels(pred: Sequence[Segment], gt: Sequence[Segment]) -> list[Segment]:
    """Give each unlabelled predicted segment the GT label it overlaps most, so that
    class-agnostic detectors can be scored frame-wise (this measures boundaries only)."""
    out = []
    for p in pred:
        overlap = {}
        for g in gt:
            o = min(p.end, g.end) - max(p.start, g.start)
            if o > 0:
                overlap[g.label] = overlap.get(g.label, 0.0) + o
        label = max(overlap, key=overlap.get) if overlap else None
        out.append(Segment(p.start, p.end, label, p.score))
    return out


def frame_accuracy(pred: Sequence, gt: Sequence) -> float:
    """Mean over frames (MoF): the fraction of frames whose label is right."""
    pred, gt = np.asarray(pred, dtype=object), np.asarray(gt, dtype=object)
    if pred.shape != gt.shape or len(gt) == 0:
        raise ValueError(f"need two equal, non-empty label sequences, got {pred.shape}, {gt.shape}")
    return float(np.mean(pred == gt))


def label_segments(labels: Sequence, bg: Sequence = ("background",)
                   ) -> tuple[list, list[int], list[int]]:
    """Runs of equal labels as (labels, starts, ends), skipping `bg`; MS-TCN's
    get_labels_start_end_time, whose last end is the last index (n - 1), kept as is."""
    labels = list(labels)
    out_l, starts, ends = [], [], []
    last = labels[0]
    if last not in bg:
        out_l.append(last)
        starts.append(0)
    i = 0
    for i in range(len(labels)):
        if labels[i] != last:
            if labels[i] not in bg:
                out_l.append(labels[i])
                starts.append(i)
            if last not in bg:
                ends.append(i)
            last = labels[i]
    if last not in bg:
        ends.append(i)
    return out_l, starts, ends


def _levenshtein(a: Sequence, b: Sequence) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def edit_score(pred: Sequence, gt: Sequence, bg: Sequence = ("background",)) -> float:
    """1 - Levenshtein(segment labels) / max(number of segments): punishes over-segmentation."""
    p, g = label_segments(pred, bg)[0], label_segments(gt, bg)[0]
    if not p and not g:
        return 1.0
    return 1.0 - _levenshtein(p, g) / max(len(p), len(g))


def overlap_counts(pred: Sequence, gt: Sequence, overlap: float,
                   bg: Sequence = ("background",)) -> MatchCounts:
    """MS-TCN's F1@overlap counts: a predicted segment is a hit when its best same-label IoU
    with a GT segment reaches `overlap` and that GT segment was not hit before."""
    pl, ps, pe = label_segments(pred, bg)
    gl, gs, ge = label_segments(gt, bg)
    gs_a, ge_a = np.array(gs, dtype=float), np.array(ge, dtype=float)
    hits = np.zeros(len(gl), dtype=bool)
    tp = fp = 0
    for lab, s, e in zip(pl, ps, pe, strict=True):
        if not gl:
            fp += 1
            continue
        inter = np.minimum(e, ge_a) - np.maximum(s, gs_a)
        union = np.maximum(e, ge_a) - np.minimum(s, gs_a)
        iou = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
        iou = iou * np.array([lab == g for g in gl])
        j = int(np.argmax(iou))
        if iou[j] >= overlap and not hits[j]:
            tp += 1
            hits[j] = True
        else:
            fp += 1
    return MatchCounts(tp, fp, len(gl) - int(hits.sum()))


# ======================================================================================
# Report: every segmentation metric for a set of videos


OVERLAPS = (0.10, 0.25, 0.50)


@dataclass(frozen=True)
class SegmentationReport:
    """Pooled boundary and F1@k counts, MoF over all frames, Edit averaged over videos."""

    boundary_abs: MatchCounts
    boundary_rel: MatchCounts
    mof: float
    edit: float
    overlap: dict[float, MatchCounts]
    videos: int
    tolerance: float
    rel_tolerance: float

    def as_dict(self) -> dict[str, float]:
        """Flat name -> value, in the order of the printed table."""
        d = {
            f"boundary_P@{self.tolerance:g}s": self.boundary_abs.precision,
            f"boundary_R@{self.tolerance:g}s": self.boundary_abs.recall,
            f"boundary_F1@{self.tolerance:g}s": self.boundary_abs.f1,
            f"boundary_F1@{self.rel_tolerance:g}rel": self.boundary_rel.f1,
            "MoF": self.mof,
            "Edit": self.edit,
        }
        d.update({f"F1@{round(o * 100)}": c.f1 for o, c in self.overlap.items()})
        return d


def evaluate_segmentation(
    videos: Sequence[tuple[Sequence[Segment], Sequence[Segment], float]],
    tolerance: float = 0.5,
    rel_tolerance: float = 0.05,
    fps: float = 10.0,
) -> SegmentationReport:
    """Score (predicted, ground-truth, duration s) per video. Boundary counts and F1@k
    counts are pooled over videos, MoF is over all frames, Edit is a mean over videos, as
    in MS-TCN. Unlabelled
    predictions take the majority GT label (see `majority_labels`); frames are sampled at
    `fps`."""
    if not videos:
        raise ValueError("nothing to evaluate: no videos given")
    b_abs, b_rel = MatchCounts(), MatchCounts()
    pooled = {o: MatchCounts() for o in OVERLAPS}
    correct = total = 0
    edits = []
    for pred, gt, duration in videos:
        pb, gb = interior_boundaries(pred), interior_boundaries(gt)
        b_abs += boundary_counts(pb, gb, tolerance=tolerance)
        b_rel += boundary_counts(pb, gb, rel_tolerance=rel_tolerance, duration=duration)
        if any(p.label is None for p in pred):
            pred = majority_labels(pred, gt)
        start = min(s.start for s in gt)
        times = start + (np.arange(max(1, int(round(duration * fps)))) + 0.5) / fps
        pl, gl = frame_labels(pred, times), frame_labels(gt, times)
        correct += int(round(frame_accuracy(pl, gl) * len(gl)))
        total += len(gl)
        edits.append(edit_score(pl, gl))
        for o in OVERLAPS:
            pooled[o] += overlap_counts(pl, gl, o)
    return SegmentationReport(b_abs, b_rel, correct / total, float(np.mean(edits)),
                              pooled, len(videos), tolerance, rel_tolerance)


# ======================================================================================
# Template selection: top-1 success and recall@k over skills, ties counted as ties
#
# A ranking is a sequence of templates best first; an item may be a tuple of templates that
# tie (equal scores). A tie is credited as a random pick among its members: the correct
# template tied with two others at the top counts 1/3 towards top-1, so neither the order
# of a template file nor any other arbitrary order can decide a result.

Ranked = Sequence[str | Sequence[str]]


def hit_chance(ranking: Ranked | str, correct: str, k: int) -> float:
    """Chance that `correct` is among the first k of `ranking` when each tie is ordered at
    random (1 or 0 without ties); a bare name is a ranking of one."""
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    above = 0
    for item in ([ranking] if isinstance(ranking, str) else ranking):
        group = (item,) if isinstance(item, str) else tuple(item)
        if correct in group:
            return min(max(k - above, 0), len(group)) / len(group)
        above += len(group)
    return 0.0


def recall_at_k(rankings: Sequence[Ranked | str], correct: Sequence[str], k: int) -> float:
    """Mean over skills of the chance that the correct template is among the first k of the
    skill's ranking (`hit_chance`: ties count as a random pick)."""
    if len(rankings) != len(correct) or not correct:
        raise ValueError(f"need one ranking per skill: {len(rankings)} rankings, "
                         f"{len(correct)} skills")
    return float(np.mean([hit_chance(r, t, k) for r, t in zip(rankings, correct, strict=True)]))


def selection_accuracy(rankings: Sequence[Ranked | str], correct: Sequence[str]) -> float:
    """Top-1 success over skills: `recall_at_k` with k = 1 (a chosen name per skill, or its
    ranking with ties, in which case a tie at the top counts as a random pick)."""
    if len(rankings) != len(correct) or not correct:
        raise ValueError(f"need one choice per skill: {len(rankings)} choices, "
                         f"{len(correct)} skills")
    return recall_at_k(rankings, correct, 1)
