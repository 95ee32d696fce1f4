"""Cross-camera matching on real footage: retrieval and template selection (issue #18).

The yardstick is `../shared/metaworld-dev`: 8 MetaWorld tasks x 6 episodes (seeds 500-505)
x 2 cameras with optical axes about 61 degrees apart (README there); `--data` takes another
set in its layout, such as the one `bench/data/render_metaworld.py` renders from other tasks
and cameras. One camera stands in for human video, the other for robot executions. Every
figure is reported in both camera directions and on the development seeds 500-502 (where
choices were made), the held-out seeds 503-505 and all six. The query's own episode (same
task and seed, other camera) is never a candidate.

Sections (each prints markdown tables; the first always runs):
- direct: per encoder and similarity, recall@1 and @5 of the task, from features
  (`encode_video_multi`, default 10 fps and 160 px) and `vidskill.select.similarity`;
- store: the same through the store: `vidskill ingest` of every clip (kind clip, label =
  task, domain = camera), then per clip the query `vidskill query` runs (`query_features` +
  `ClipStore.search(domain=other camera)`); whether each top-5 equals the direct path's,
  and, for encoders that re-rank (`Encoder.own_comparison`), how deep in the index's order
  the clips of the re-ranked top-5 lay;
- select: template-selection top-1. For each held-out seed s and task: templates = the
  other camera's clip of seed s of every task (neutral names, one neutral description),
  human clips = this camera's clips of the task from the other seeds of the split, and as
  the reference (`video_scores.hubness_of`) this camera's clips of the other tasks from
  those seeds, or none; `--method flow` and the default method with the default text
  prior;
- choose: the headline decisions again end to end through `vidskill.choose()` with every
  default (template TOML files written under --work), the human clips from folders (the
  other tasks' folders as `reference`) and from a store per held-out seed (`vidskill
  ingest` of its human clips, label = task; its other labels are the reference);
- tempo: the select section's top-1 (templates camera B) with the templates re-timed x0.5,
  x1.5 and x2 (every 1st, 3rd or 4th frame of the 20 fps files, played at 10 fps);
- extent: the same with the templates' clips cut short (10% off the start, the end, both
  ends, 20% off the start): how exactly clips must hold one skill from start to end;
- long: held out from every choice: the 44 episodes of the 12 long videos (seeds 3000 and
  up, 3-5 tasks per video with hard cuts between them, one camera per video), each cut from
  its whole video's rows at its true bounds as a store cuts its clips. Retrieval of the
  task among the clip set's other-camera episodes, and selection with templates = the
  clip set's episodes of one seed (each seed in turn), human clips = every long-video
  episode of the task from the other camera and the reference = those of the other tasks.
  Then the whole user path: `vidskill ingest` of the long videos (kind long: cut by the
  default segmentation), and every stored clip that lies at least 80% inside one episode
  queries the other camera's stored clips (`ClipStore.search(segment id, domain=...)`, as
  `vidskill query --segment` does): is the top hit a clip of the same task?

    python bench/real_matching.py [--data ../shared/metaworld-dev] [--work DIR]
        [--sections store select choose tempo extent long]
        [--encoders flow-hof flow-motion flow-profile]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidskill.encoders import Features, clip_model, encode_video_multi, get_encoder
from vidskill.encoders.cache import FeatureCache
from vidskill.select.choose import DEFAULT_TEXT, DEFAULT_VIDEO_ENCODER, choose
from vidskill.select.fusion import DEFAULT_METHOD, TEXT, fuse, method_rule
from vidskill.select.similarity import similarities, similarity_matrix
from vidskill.select.text import get_text_scorer
from vidskill.select.video_scores import (
    DEFAULT_K,
    DEFAULT_SIMILARITY,
    evidence_scores,
    hubness_of,
    source_name,
    template_scores,
)
from vidskill.video import Frames, open_video

REPO = Path(__file__).resolve().parents[1]
SPLITS = {"dev": (500, 501, 502), "test": (503, 504, 505), "all": (500, 501, 502, 503, 504, 505)}
VIEWS = ("A", "B")
ENCODERS = ("flow-hof", "flow-motion", "flow-profile")
DESCRIPTION = "A recorded robot behaviour."
TEMPOS = (0.5, 1.5, 2.0)


@dataclass(frozen=True)
class Clip:
    name: str
    task: str
    seed: int
    view: str
    path: Path

    def twin(self, clips: dict[tuple[str, int, str], Clip]) -> Clip:
        """The same episode from the other camera."""
        return clips[self.task, self.seed, other_view(self.view)]


def other_view(view: str) -> str:
    return VIEWS[1 - VIEWS.index(view)]


def load_clips(data: Path) -> list[Clip]:
    labels = json.loads((data / "labels.json").read_text())
    return [Clip(n, v["task"], int(v["seed"]), v["view"], data / "clips" / n)
            for n, v in sorted(labels.items())]


def similarity_names(encoder: str) -> tuple[str, str]:
    """The encoder's own comparison, then the other one that applies to it."""
    return ("encoder", "cosine" if clip_model(encoder).own_comparison else "dtw")


def label(encoder: str, similarity: str) -> str:
    if similarity == "encoder":
        return f"{encoder} (own: {'profile DTW' if clip_model(encoder).own_comparison else 'cosine'})"
    return f"{encoder} {similarity}"


def fmt(values: Sequence[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


# -- features and similarity matrices ----------------------------------------------------


def encode_all(clips: Sequence[Clip], encoders: Sequence[str], cache: Path
               ) -> dict[str, dict[str, Features]]:
    """clip name -> encoder -> whole-clip features (one flow per clip, cached)."""
    built = [get_encoder(e) for e in encoders]
    store = FeatureCache(cache)
    return {c.name: dict(zip(encoders, encode_video_multi(c.path, built, cache=store),
                             strict=True)) for c in clips}


def matrix(rows: Sequence[Features], cols: Sequence[Features], similarity: str) -> np.ndarray:
    """S[i, j] = similarity of rows[i] and cols[j]."""
    return similarity_matrix(similarity, list(rows), list(cols))


# -- retrieval ---------------------------------------------------------------------------


def ranked(S: np.ndarray, queries: Sequence[Clip], gallery: Sequence[Clip], k: int
           ) -> list[list[Clip]]:
    """Top-k of each query's row, its own episode left out (ties by gallery order)."""
    out = []
    for i, q in enumerate(queries):
        ok = np.array([not (g.task == q.task and g.seed == q.seed) for g in gallery])
        order = np.argsort(-np.where(ok, S[i], -np.inf), kind="stable")[:k]
        out.append([gallery[j] for j in order])
    return out


def recall(lists: Sequence[Sequence[Clip]], queries: Sequence[Clip], k: int) -> float:
    return float(np.mean([any(g.task == q.task for g in top[:k])
                          for q, top in zip(queries, lists, strict=True)]))


def direct(feats, A: list[Clip], B: list[Clip], encoders: Sequence[str]) -> dict:
    """Similarity matrices (A x B) and retrieval per split, both directions."""
    out = {}
    print("\n## Retrieval from features (recall@1 / recall@5 of the task; same episode excluded)\n")
    print("| encoder / similarity | split | A->B | B->A |\n|---|---|---|---|")
    for enc in encoders:
        for sim in similarity_names(enc):
            t0 = time.perf_counter()
            S = matrix([feats[a.name][enc] for a in A], [feats[b.name][enc] for b in B], sim)
            seconds = time.perf_counter() - t0
            out[enc, sim] = S
            for split, seeds in SPLITS.items():
                ia = [i for i, c in enumerate(A) if c.seed in seeds]
                ib = [j for j, c in enumerate(B) if c.seed in seeds]
                qa, gb, sub = [A[i] for i in ia], [B[j] for j in ib], S[np.ix_(ia, ib)]
                ab, ba = ranked(sub, qa, gb, 5), ranked(sub.T, gb, qa, 5)
                print(f"| {label(enc, sim)} | {split} | {fmt([recall(ab, qa, 1), recall(ab, qa, 5)])} "
                      f"| {fmt([recall(ba, gb, 1), recall(ba, gb, 5)])} |")
            alone = ""
            if clip_model(enc).own_comparison and sim == "encoder":   # the unbatched form
                t0 = time.perf_counter()
                for a in A:
                    similarities(sim, feats[a.name][enc], [feats[b.name][enc] for b in B])
                alone = f"; one query at a time {time.perf_counter() - t0:.1f} s"
            print(f"<!-- {label(enc, sim)}: {S.size} pairs in {seconds:.1f} s{alone} -->")
    return out


# -- template selection ------------------------------------------------------------------


def select(S: np.ndarray, A: list[Clip], B: list[Clip], template_view: str,
           seeds: Sequence[int], prior: dict[str, np.ndarray], reference: bool = True
           ) -> dict[str, float]:
    """Top-1 of `flow` and of the default method over every (held-out seed, task); with
    `reference`, the human camera's clips of the other tasks from the other seeds are the
    reference (as `vidskill select --store` takes a store's other human clips)."""
    tasks = sorted({c.task for c in A})
    row = {(c.task, c.seed): i for i, c in enumerate(A)}
    col = {(c.task, c.seed): j for j, c in enumerate(B)}
    names = [f"template_{i + 1}" for i in range(len(tasks))]
    video = source_name("video", DEFAULT_SIMILARITY)
    hits: dict[str, list[bool]] = {"flow": [], DEFAULT_METHOD: []}
    for s in seeds:
        for t_i, task in enumerate(tasks):
            others = [o for o in seeds if o != s]
            rest = [(t, o) for t in tasks if t != task for o in others]
            if template_view == "B":   # rows: templates (B, seed s); columns: humans (A)
                T = [col[t, s] for t in tasks]
                sims = S[np.ix_([row[task, o] for o in others], T)].T
                ref = S[np.ix_([row[k] for k in rest], T)].T
            else:
                T = [row[t, s] for t in tasks]
                sims = S[np.ix_(T, [col[task, o] for o in others])]
                ref = S[np.ix_(T, [col[k] for k in rest])]
            hubs = hubness_of(ref) if reference else None
            for method in hits:
                rule = method_rule(method, video, DEFAULT_K)
                scores = {video: (evidence_scores(sims, DEFAULT_K, hubs)
                                  if rule.video_scale == "evidence"
                                  else template_scores(sims, DEFAULT_K, hubs))}
                if TEXT in rule.sources([TEXT, video]):
                    scores[TEXT] = prior[task]
                hits[method].append(fuse(task, names, scores, rule).best == names[t_i])
    return {m: float(np.mean(h)) for m, h in hits.items()}


def text_prior(tasks: Sequence[str]) -> dict[str, np.ndarray]:
    """The default text prior of every task over the neutral descriptions (all equal)."""
    scorer = get_text_scorer(DEFAULT_TEXT)
    return {t: np.asarray(scorer.score(skill_text(t), [DESCRIPTION] * len(tasks)))
            for t in tasks}


def skill_text(task: str) -> str:
    return f"do the {task.replace('-', ' ')} task"


def selection_tables(mats: dict, A: list[Clip], B: list[Clip]) -> None:
    prior = text_prior(sorted({c.task for c in A}))
    print(f"\n## Template selection top-1 (`--method flow` / default `{DEFAULT_METHOD}` with the "
          f"{DEFAULT_TEXT} prior; each seed held out in turn; reference: the human camera's "
          "clips of the other tasks, or none)\n")
    print("| encoder / similarity | templates | reference | dev | test | all |\n"
          "|---|---|---|---|---|---|")
    for (enc, sim), S in mats.items():
        for view in ("B", "A"):
            for reference in (True, False):
                cells = [select(S, A, B, view, seeds, prior, reference)
                         for seeds in SPLITS.values()]
                print(f"| {label(enc, sim)} | camera {view} | "
                      f"{'other tasks' if reference else 'none'} | "
                      + " | ".join(f"{c['flow']:.3f} / {c[DEFAULT_METHOD]:.3f}" for c in cells)
                      + " |")


# -- the store path ----------------------------------------------------------------------


def ingest(root: Path, manifest: Path, rows: list[list], encoders: Sequence[str]) -> float:
    """A fresh store at `root` from manifest rows (path, label, domain, kind) through
    `vidskill ingest` with `encoders`; the seconds it took."""
    if root.exists():
        shutil.rmtree(root)
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "domain", "kind"])
        w.writerows(rows)
    cmd = [sys.executable, "-m", "vidskill.cli", "ingest", str(manifest), "--store", str(root),
           "--no-progress", *[a for e in encoders for a in ("--encoder", e)]]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True, text=True)
    return time.perf_counter() - t0


def store_path(clips: list[Clip], work: Path, mats: dict, encoders: Sequence[str]) -> None:
    """`vidskill ingest` every clip, query each across cameras, compare with the direct path."""
    from vidskill.ingest import query_features
    from vidskill.store import ClipStore

    root = work / "store"
    seconds = ingest(root, work / "clips.csv",
                     [[c.path, c.task, f"cam{c.view}", "clip"] for c in clips], encoders)
    print(f"\n## Store path (`vidskill ingest` of {len(clips)} clips in "
          f"{seconds:.0f} s, then `vidskill query --domain <other camera>`)\n")
    by = {(c.task, c.seed, c.view): c for c in clips}
    A = [c for c in clips if c.view == "A"]
    B = [c for c in clips if c.view == "B"]
    print("| encoder | A->B R@1 / R@5 | B->A R@1 / R@5 | top-5 equal to the direct path | "
          "deepest index rank of a re-ranked top-1 / top-5 clip |\n|---|---|---|---|---|")
    with ClipStore(root) as store:
        segment = {Path(s.video_path).name: s.id for s in store.segments()}
        feats = {c.name: query_features(c.path, store) for c in clips}
        for enc in encoders:
            lists: dict[str, list[str]] = {}
            for c in clips:
                other = f"cam{other_view(c.view)}"
                hits = store.search(feats[c.name][enc], 5, encoder=enc, domain=other,
                                    exclude=[segment[c.twin(by).name]])
                lists[c.name] = [Path(h.video_path).name for h in hits]
            S = mats[enc, "encoder"]
            direct_lists = dict(zip([a.name for a in A], ranked(S, A, B, 5), strict=True))
            direct_lists.update(zip([b.name for b in B], ranked(S.T, B, A, 5), strict=True))
            same = np.mean([lists[n] == [g.name for g in direct_lists[n]] for n in lists])
            task = {c.name: c.task for c in clips}
            cells = []
            for q in (A, B):
                cells.append(fmt([float(np.mean([q_.task in {task[n] for n in lists[q_.name][:k]}
                                                 for q_ in q])) for k in (1, 5)]))
            depth = "-"
            if clip_model(enc).own_comparison:
                depth = " / ".join(str(max(index_depth(mats[enc, "cosine"], S, A, B, k),
                                           index_depth(mats[enc, "cosine"].T, S.T, B, A, k)))
                                   for k in (1, 5)) + f" of {len(B) - 1}"
            print(f"| {enc} | {cells[0]} | {cells[1]} | {same:.2f} | {depth} |")
    cli = subprocess.run([sys.executable, "-m", "vidskill.cli", "query", str(A[0].path),
                          "--store", str(root), "--domain", "camB", "-k", "5", "--json",
                          "--encoder", encoders[-1]],
                         check=True, cwd=REPO, capture_output=True, text=True)
    with ClipStore(root) as store:
        lib = [h.segment_id for h in store.search(feats[A[0].name][encoders[-1]], 5,
                                                  encoder=encoders[-1], domain="camB")]
    assert [h["segment_id"] for h in json.loads(cli.stdout)] == lib, "CLI and library differ"


def index_depth(index_sims: np.ndarray, S: np.ndarray, queries: list[Clip],
                gallery: list[Clip], k: int) -> int:
    """The deepest rank (1-based) in the index order of any clip of a query's top-k by S."""
    deepest = 0
    for i, q in enumerate(queries):
        ok = np.array([not (g.task == q.task and g.seed == q.seed) for g in gallery])
        by_index = list(np.argsort(-np.where(ok, index_sims[i], -np.inf), kind="stable"))
        top = np.argsort(-np.where(ok, S[i], -np.inf), kind="stable")[:k]
        deepest = max(deepest, max(by_index.index(j) + 1 for j in top))
    return deepest


# -- end to end through choose() -----------------------------------------------------------


def choose_end_to_end(clips: list[Clip], work: Path, cache: Path) -> None:
    """The headline selection (templates B, humans A, all seeds) through `choose()`, with
    the human clips from folders (the other tasks' folders as `reference`) and from a store
    per held-out seed (`vidskill ingest` of the other seeds' camera-A clips, label = task,
    domain human; its other labels are the reference)."""
    tasks = sorted({c.task for c in clips})
    by = {(c.task, c.seed, c.view): c for c in clips}
    sources = ("folders", "store")
    hits: dict[tuple[str, str], list[bool]] = {(src, m): [] for src in sources
                                               for m in ("flow", DEFAULT_METHOD)}
    t0 = time.perf_counter()
    for s in SPLITS["all"]:
        folder = work / f"choose-{s}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        lines = []
        for i, t in enumerate(tasks):
            lines += ["[[template]]", f'name = "template_{i + 1}"',
                      f'description = "{DESCRIPTION}"', f'video = ["{by[t, s, "B"].path}"]', ""]
        (folder / "templates.toml").write_text("\n".join(lines))
        humans = {t: [by[t, o, "A"] for o in SPLITS["all"] if o != s] for t in tasks}
        for t in tasks:
            (folder / f"human-{t}").mkdir()
            for c in humans[t]:
                (folder / f"human-{t}" / c.name).symlink_to(c.path)
        store = folder / "store"
        ingest(store, folder / "humans.csv",
               [[c.path, t, "human", "clip"] for t in tasks for c in humans[t]],
               [DEFAULT_VIDEO_ENCODER])
        for i, t in enumerate(tasks):
            for src, method in hits:
                given = (dict(store=store, label=t) if src == "store"
                         else dict(human=folder / f"human-{t}", reference=folder))
                choice = choose(skill_text(t), folder / "templates.toml", method=method,
                                cache=cache, **given)
                hits[src, method].append(choice.ranking.best == f"template_{i + 1}")
    print(f"\n## `vidskill.choose()` end to end (defaults: {DEFAULT_VIDEO_ENCODER}, similarity "
          f"{DEFAULT_SIMILARITY}, text {DEFAULT_TEXT}; templates camera B, all seeds; "
          f"{time.perf_counter() - t0:.0f} s)\n")
    print(f"| human clips from | flow | {DEFAULT_METHOD} |\n|---|---|---|")
    for src, where in zip(sources, ("folders, `reference` = the other tasks' folders",
                                     "a store (`--store --label`)"), strict=True):
        print(f"| {where} | {np.mean(hits[src, 'flow']):.3f} | "
              f"{np.mean(hits[src, DEFAULT_METHOD]):.3f} |")


# -- tempo ---------------------------------------------------------------------------------


def retimed(clip: Clip, rate: float, encoders: Sequence[str]) -> dict[str, Features]:
    """Features of `clip` as if it ran `rate` times faster: every (20 / 10 x rate)-th frame of
    the 20 fps file, stamped 0.1 s apart. Only whole frame steps, so no frame is repeated or
    picked unevenly (jitter a faster robot filmed at 10 fps would not have)."""
    with open_video(clip.path, size=160) as reader:
        frames = reader.read()
    step = frames.fps / 10.0 * rate
    if abs(step - round(step)) > 1e-9:
        raise ValueError(f"rate {rate} needs a fractional frame step at {frames.fps} fps")
    keep = np.arange(0, len(frames), int(round(step)))
    frames = Frames(frames.data[keep], np.arange(len(keep)) / 10.0, frames.indices[keep],
                    frames.source, 10.0)
    built = [get_encoder(e) for e in encoders]
    flow = built[0].flow(frames)
    return {e.name: e.encode(frames, flow=flow) for e in built}


def tempo(feats, A: list[Clip], B: list[Clip], encoders: Sequence[str]) -> None:
    prior = text_prior(sorted({c.task for c in A}))
    print("\n## Templates re-timed (camera B x rate, humans camera A unchanged; all seeds; "
          "selection top-1 flow, recall@1 A->B / B->A)\n")
    print("| encoder / similarity | " + " | ".join(f"x{r:g}" for r in TEMPOS)
          + " |\n|---|" + "---|" * len(TEMPOS))
    fb = {r: {b.name: retimed(b, r, encoders) for b in B} for r in TEMPOS}
    for enc in encoders:
        sim = "encoder"
        cells = []
        for r in TEMPOS:
            S = matrix([feats[a.name][enc] for a in A], [fb[r][b.name][enc] for b in B], sim)
            sel = select(S, A, B, "B", SPLITS["all"], prior)["flow"]
            cells.append(f"{sel:.3f} ({recall(ranked(S, A, B, 1), A, 1):.2f} / "
                         f"{recall(ranked(S.T, B, A, 1), B, 1):.2f})")
        print(f"| {label(enc, sim)} | " + " | ".join(cells) + " |")


CUTS = {"10% off the start": (0.1, 0.0), "10% off the end": (0.0, 0.1),
        "10% off both ends": (0.1, 0.1), "20% off the start": (0.2, 0.0)}


def extent(feats, A: list[Clip], B: list[Clip], encoders: Sequence[str]) -> None:
    prior = text_prior(sorted({c.task for c in A}))
    print("\n## Templates cut short (camera B clips trimmed, humans camera A whole; all seeds; "
          "selection top-1 flow)\n")
    print("| encoder / similarity | whole | " + " | ".join(CUTS) + " |\n|---|---|"
          + "---|" * len(CUTS))
    for enc in encoders:
        cells = []
        for head, tail in [(0.0, 0.0), *CUTS.values()]:
            cut = []
            for b in B:
                f = feats[b.name][enc]
                t0, t1 = float(f.starts[0]), float(f.ends[-1])
                cut.append(f.clip(t0 + head * (t1 - t0), t1 - tail * (t1 - t0)))
            S = matrix([feats[a.name][enc] for a in A], cut, "encoder")
            cells.append(f"{select(S, A, B, 'B', SPLITS['all'], prior)['flow']:.3f}")
        print(f"| {label(enc, 'encoder')} | " + " | ".join(cells) + " |")


# -- long videos, held out -----------------------------------------------------------------


@dataclass(frozen=True)
class LongVideo:
    path: Path
    view: str
    episodes: tuple[tuple[float, float, str], ...]   # (start s, end s, task), true bounds


@dataclass(frozen=True)
class Episode:
    task: str
    view: str
    features: dict[str, Features]


def load_long(data: Path) -> list[LongVideo]:
    videos = []
    for meta in sorted((data / "long").glob("long_*.json")):
        d = json.loads(meta.read_text())
        videos.append(LongVideo(data / "long" / d["video"], d["view"], tuple(
            (s["start_frame"] / d["fps"], (s["end_frame"] + 1) / d["fps"], s["task"])
            for s in d["segments"])))
    return videos


def long_episodes(videos: list[LongVideo], encoders: Sequence[str], cache: Path
                  ) -> list[Episode]:
    """Every episode of the long videos: its video's rows (one flow per video) cut at its
    true start and end, as the store cuts a clip from a video's rows."""
    built = [get_encoder(e) for e in encoders]
    store = FeatureCache(cache)
    out = []
    for v in videos:
        whole = dict(zip(encoders, encode_video_multi(v.path, built, cache=store), strict=True))
        out += [Episode(task, v.view, {e: f.clip(start, end) for e, f in whole.items()})
                for start, end, task in v.episodes]
    return out


def long_tables(data: Path, feats, clips: list[Clip], encoders: Sequence[str],
                cache: Path, work: Path) -> None:
    videos = load_long(data)
    episodes = long_episodes(videos, encoders, cache)
    tasks = sorted({c.task for c in clips})
    seeds = sorted({c.seed for c in clips})
    print(f"\n## Long videos, held out ({len(episodes)} episodes cut at their true bounds; "
          "retrieval among the clip set's other camera, recall@1 / @5; selection top-1 "
          "`--method flow`, templates = the clip set's episodes of one seed, humans = every "
          "long episode of the task from the other camera, reference = those of the other "
          "tasks)\n")
    print("| encoder / similarity | episodes A -> clips B | B -> A | selection, templates "
          "camera B | camera A |\n|---|---|---|---|---|")
    for enc in encoders:
        for sim in similarity_names(enc):
            cells = []
            for view in VIEWS:
                gallery = [c for c in clips if c.view == other_view(view)]
                queries = [e for e in episodes if e.view == view]
                S = matrix([e.features[enc] for e in queries],
                           [feats[c.name][enc] for c in gallery], sim)
                top = [[gallery[j] for j in np.argsort(-row, kind="stable")[:5]] for row in S]
                cells.append(fmt([recall(top, queries, k) for k in (1, 5)]))
            for view in ("B", "A"):
                hits = []
                for task in tasks:
                    humans = [e.features[enc] for e in episodes
                              if e.task == task and e.view == other_view(view)]
                    if not humans:
                        continue
                    rest = [e.features[enc] for e in episodes
                            if e.task != task and e.view == other_view(view)]
                    for s in seeds:
                        templates = [feats[c.name][enc] for t in tasks for c in clips
                                     if c.task == t and c.seed == s and c.view == view]
                        scores = template_scores(matrix(templates, humans, sim), DEFAULT_K,
                                                 hubness_of(matrix(templates, rest, sim)))
                        hits.append(tasks[int(np.argmax(scores))] == task)
                cells.append(f"{np.mean(hits):.3f} ({sum(hits)}/{len(hits)})")
            print(f"| {label(enc, sim)} | " + " | ".join(cells) + " |")
    long_store(videos, work, encoders)


def long_store(videos: list[LongVideo], work: Path, encoders: Sequence[str]) -> None:
    """`vidskill ingest` the long videos; each stored clip inside one episode queries the
    other camera's clips; recall@1 of the task per searched encoder."""
    from vidskill.store import ClipStore

    root = work / "long-store"
    ingest(root, work / "long.csv", [[v.path, "", f"cam{v.view}", "long"] for v in videos],
           encoders)
    by_name = {v.path.name: v for v in videos}
    with ClipStore(root) as store:
        paths = {v.id: Path(v.path).name for v in store.videos()}
        segments = store.segments()
        task, share = {}, []
        for seg in segments:
            video = by_name[paths[seg.video_id]]
            inside, length, name = max((min(seg.end, b) - max(seg.start, a), b - a, t)
                                       for a, b, t in video.episodes)
            whole = inside >= 0.8 * (seg.end - seg.start)
            task[seg.id] = (video.view, name if whole else None)
            if whole:
                share.append(inside / length)
        queries = [s for s in segments if task[s.id][1] is not None]
        print(f"\nStore path on the long videos: {len(segments)} clips cut by `vidskill "
              f"ingest`, {len(queries)} of them inside one episode (median {np.median(share):.0%} "
              "of it); recall@1 of the task when each queries the other camera's clips:\n")
        print("| encoder | camera A clips -> B | B -> A |\n|---|---|---|")
        for enc in encoders:
            cells = []
            for view in VIEWS:
                other = f"cam{other_view(view)}"
                hits = [task[store.search(s.id, 1, encoder=enc, domain=other)[0].segment_id][1]
                        == task[s.id][1] for s in queries if task[s.id][0] == view]
                cells.append(f"{np.mean(hits):.2f} ({len(hits)})")
            print(f"| {enc} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "metaworld-dev")
    ap.add_argument("--work", type=Path, default=Path("/tmp/vidskill-real-matching"))
    ap.add_argument("--sections", nargs="*", default=["store", "select", "choose"],
                    choices=["store", "select", "choose", "tempo", "extent", "long"])
    ap.add_argument("--encoders", nargs="+", default=list(ENCODERS))
    args = ap.parse_args(argv)
    if not (args.data / "labels.json").exists():
        print(f"{args.data}: no labels.json; give --data DIR (the metaworld-dev folder)")
        return 1
    args.work.mkdir(parents=True, exist_ok=True)
    cache = args.work / "features"
    clips = load_clips(args.data)
    A = [c for c in clips if c.view == "A"]
    B = [c for c in clips if c.view == "B"]
    t0 = time.perf_counter()
    feats = encode_all(clips, args.encoders, cache)
    print(f"{len(clips)} clips encoded with {', '.join(args.encoders)} in "
          f"{time.perf_counter() - t0:.0f} s (cache {cache})")
    mats = direct(feats, A, B, args.encoders)
    if "select" in args.sections:
        selection_tables(mats, A, B)
    if "store" in args.sections:
        store_path(clips, args.work, mats, args.encoders)
    if "choose" in args.sections:
        choose_end_to_end(clips, args.work, cache)
    if "tempo" in args.sections:
        tempo(feats, A, B, [e for e in args.encoders if e != "flow-hof"])
    if "extent" in args.sections:
        extent(feats, A, B, [e for e in args.encoders if e != "flow-hof"])
    if "long" in args.sections:
        long_tables(args.data, feats, clips, args.encoders, cache, args.work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
