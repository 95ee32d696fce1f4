"""The `vidskill` command line: thin wrappers over the library, errors as one clear line."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from vidskill import __version__
from vidskill._files import save_array, write_json, write_text
from vidskill.boundaries import DETECTORS
from vidskill.encoders.registry import DEFAULT_ENCODER, ENCODERS
from vidskill.errors import VidskillError
from vidskill.segment import SEGMENT_DETECTOR, SEGMENT_ENCODER, SEGMENT_FPS_OTHER, SEGMENT_SHOTS
from vidskill.select.text import TEXT_SCORERS
from vidskill.shots import SHOT_DETECTORS
from vidskill.video import BACKENDS, VideoError

EXIT_USAGE = 2
EXIT_FAILED = 1


class _Help(argparse.HelpFormatter):
    """Help that shows every option's default (unless its text already says it)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if ("default" not in text and action.option_strings and action.default not in
                (None, False, True, argparse.SUPPRESS, [])):
            text += " (default: %(default)s)"
        return text


def _common_options() -> argparse.ArgumentParser:
    """The flags every command takes (after its name): verbosity, JSON, progress, device."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("common options")
    g.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="log what each step does (default: warnings and errors only)")
    g.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="errors only: no warnings, no progress bars (default: off)")
    g.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                   help="print the result as JSON on standard output (default: a table or text)")
    g.add_argument("--no-progress", action="store_true", default=argparse.SUPPRESS,
                   help="no progress bars (default: drawn on stderr when it is a terminal)")
    g.add_argument("--device", default=argparse.SUPPRESS, metavar="DEVICE",
                   help="where networks run: cpu, cuda, cuda:1 (default: cuda when present)")
    return p


_COMMON = _common_options()


class _Commands:
    """The subcommand registrar: every command gets the common options and `_Help`."""

    def __init__(self, sub) -> None:
        self._sub = sub

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        return self._sub.add_parser(name, parents=[_COMMON], formatter_class=_Help, **kwargs)


def _apply_common(args: argparse.Namespace) -> None:
    """Give the common options their values and apply them to the process: logging level,
    progress bars, the default device, quiet third-party libraries."""
    from vidskill import _torch
    from vidskill._progress import quiet_third_party, set_progress

    for flag in ("verbose", "quiet", "json", "no_progress"):
        setattr(args, flag, getattr(args, flag, False))
    args.device = getattr(args, "device", None)
    level = logging.ERROR if args.quiet else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(message)s", force=True)
    set_progress(not (args.no_progress or args.quiet))
    _torch.set_default_device(args.device)
    quiet_third_party()


def _add_out(p: argparse.ArgumentParser, what: str, *, required: bool = False,
             default: Path | None = None) -> None:
    """`--out`: where a command writes its result, the same on every command."""
    p.add_argument("--out", type=Path, required=required, default=default, metavar="PATH",
                   help=f"write {what} here" + ("" if required or default else
                                                " (default: standard output)"))


# Formats a written file may have, by suffix: `--out` refuses a mismatch.
_SUFFIX_FORMATS = {".json": "json", ".csv": "csv", ".npy": "npy", ".jsonl": "json"}


def _check_out(out: Path | None, fmt: str, option: str = "--format") -> None:
    """Refuse to write `fmt` into a file whose suffix names another format."""
    if out is None:
        return
    named = _SUFFIX_FORMATS.get(out.suffix.lower())
    if named is not None and named != fmt:
        raise ValueError(f"--out {out} names a {named.upper()} file but {option} asks for "
                         f"{fmt.upper()}; change the suffix or the option")


def _done(args: argparse.Namespace, text: str, data: dict) -> None:
    """A command's closing message: `text` for people, or `data` as JSON with --json."""
    print(json.dumps(data, default=str) if args.json else text)


def _info(args: argparse.Namespace) -> int:
    from vidskill.video import open_video

    status = 0
    for path in args.videos:
        try:
            with open_video(path, backend=args.backend) as reader:
                info = reader.info.as_dict()
        except VideoError as e:
            print(f"error: {e}", file=sys.stderr)
            status = EXIT_FAILED
            continue
        if args.json:
            print(json.dumps(info))
        else:
            width = max(len(k) for k in info)
            print("\n".join(f"{k:<{width}}  {v}" for k, v in info.items()) + "\n")
    return status


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="print a video's metadata (or why it cannot be read)")
    p.add_argument("videos", nargs="+", help="video files or folders of numbered images")
    p.add_argument("--backend", default="auto", choices=BACKENDS,
                   help="decoder: auto tries decord, then OpenCV (default auto)")
    p.set_defaults(func=_info)


def _synth(args: argparse.Namespace) -> int:
    from vidskill.demo.corpus import generate_corpus

    corpus = generate_corpus(args.out_dir, seed=args.seed, n_long_train=args.long_train)
    _done(args, f"wrote {len(corpus.videos)} videos and {corpus.templates_file} to {corpus.root}",
          {"root": str(corpus.root), "videos": len(corpus.videos),
           "templates": str(corpus.templates_file)})
    return 0


def _synth_long(args: argparse.Namespace) -> int:
    from vidskill.demo.corpus import write_long_video

    args.out_dir.mkdir(parents=True, exist_ok=True)
    seconds = 0.0
    for k in range(args.videos):
        seed = args.seed + k
        truth = write_long_video(args.out_dir / f"long_{seed:03d}.mp4", args.minutes,
                                 fps=args.fps, seed=seed)
        seconds += truth.duration
    _done(args, f"wrote {args.videos} labelled videos ({seconds / 60:.1f} min) to {args.out_dir}",
          {"out": str(args.out_dir), "videos": args.videos, "seconds": seconds})
    return 0


def _add_synth_long(sub) -> None:
    p = sub.add_parser("synth-long", help="write long labelled videos of chained demo skills "
                                          "(training data for skill-tcn and predictors)")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--videos", type=int, default=12, help="how many (default 12)")
    p.add_argument("--minutes", type=float, default=5.0, help="length of each (default 5)")
    p.add_argument("--seed", type=int, default=100, help="seed of the first; +1 for each next")
    p.add_argument("--fps", type=float, default=20.0, help="frame rate (default 20, as synth)")
    p.set_defaults(func=_synth_long)


def _add_synth(sub) -> None:
    p = sub.add_parser("synth", help="write the embedded demo corpus with its ground truth")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    p.add_argument("--long-train", type=int, default=10,
                   help="long human videos in the train split (default 10)")
    p.set_defaults(func=_synth)


def _demo(args: argparse.Namespace) -> int:
    from vidskill.demo.run import DemoSettings, run_demo

    result = run_demo(DemoSettings.preset(args.out, small=args.small, seed=args.seed,
                                          text=args.text))
    if args.json:
        print(json.dumps({"summary": dict(result.summary), "report": str(result.report),
                          "ablation": _ablation_rows(result.ablation)}))
        return 0
    _print_ablation(result.ablation)
    print("\n".join(f"{k}: {v}" for k, v in result.summary))
    print(f"report: {result.report}")
    return 0


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on the embedded demo corpus")
    _add_out(p, "the corpus, store and report, in this FOLDER", default=Path("demo-out"))
    p.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    p.add_argument("--small", action="store_true",
                   help="a reduced corpus (2 long videos, 2 clips per skill) for a quick run")
    p.add_argument("--text", nargs="+", default=TEXT_SCORERS.names(),
                   choices=TEXT_SCORERS.names(),
                   help="text priors; the first is the fused selectors' prior (default llm)")
    p.set_defaults(func=_demo)


def _key_values(pairs: list[str] | None, option: str) -> dict:
    """KEY=VALUE options as a dict; a value is parsed as JSON when it is JSON, else kept as text."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{option} takes KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _segmenting_encoder(args: argparse.Namespace):
    """`--encoder` with its `--encoder-setting`s over the segmenting defaults."""
    from vidskill.segment import segment_encoder

    return segment_encoder(args.encoder, **_key_values(args.encoder_setting,
                                                       "--encoder-setting"))


def _ingest(args: argparse.Namespace) -> int:
    from vidskill.ingest import IngestSettings, ingest, make_executor
    from vidskill.store import CATALOG, ClipStore

    encoder_settings = _key_values(args.encoder_setting, "--encoder-setting")
    encoders = tuple(args.encoder) if args.encoder else None
    executor = make_executor(args.engine, workers=args.workers, address=args.address)
    recorded = {}
    if (args.store / CATALOG).exists():
        with ClipStore(args.store, readonly=True) as store:
            recorded = store.settings()
    named = encoders or tuple(recorded.get("encoders", ())) or IngestSettings.encoders
    settings = IngestSettings.resolve(
        recorded, encoders=encoders, fps=args.fps, size=args.size, pooling=args.pooling,
        encoder_settings={e: encoder_settings for e in named} if encoder_settings else None,
        detector=args.detector,
        detector_settings=_key_values(args.detector_setting, "--detector-setting") or None,
        segment=False if args.no_segment else None, segment_with=args.segment_with,
        shots=args.shots,
    )
    report = ingest(
        args.sources, args.store, settings,
        executor=executor,
        index_factory=args.index_factory, progress=not args.no_progress,
        kind=args.kind, label=args.label, domain=args.domain,
    )
    if args.json:
        print(json.dumps(report.as_dict()))
    print(report.summary(), file=sys.stderr if args.json else sys.stdout)
    return 0 if report.ok else EXIT_FAILED


def _add_ingest(sub) -> None:
    from vidskill.ingest import ENGINES, IngestSettings
    from vidskill.ingest.manifest import KINDS
    from vidskill.store import POOLINGS

    default = IngestSettings()  # a new store's settings; an existing store keeps its own
    p = sub.add_parser(
        "ingest", help="add videos to a clip store (resumable: re-run the same command)",
        description="Decode, encode and segment videos into a clip store. Videos already in "
        "the store with the same content and settings are skipped; failures are recorded and "
        "the run goes on (exit status 1 when any video failed).",
    )
    p.add_argument("sources", nargs="+",
                   help="video files, folders, globs, or manifests (.csv/.jsonl with a path column)")
    p.add_argument("--store", required=True, type=Path, help="store folder (created if missing)")
    p.add_argument("--workers", type=int,
                   help="local: processes over videos (default 1); ray: most encode tasks at "
                   "once (default: one per CPU, or per GPU for GPU encoders)")
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: this machine; ray: Ray Data on a cluster (needs vidskill[ray])")
    p.add_argument("--address", help="ray cluster address, e.g. auto or ray://head:10001 "
                   "(default: a local Ray)")
    p.add_argument("--encoder", action="append",
                   help="encoder name, repeatable; the first is searched by default (default "
                   f"{', '.join(default.encoders)}, view-robust)")
    p.add_argument("--segment-with", metavar="ENCODER",
                   help="the encoder whose features cut long videos: one of --encoder (its "
                   "stored features), another (run only to cut, with `vidskill segment`'s "
                   "settings and rate for it, on the same decode), or '' for the first "
                   f"stored one with window features (default {default.segment_with}, at "
                   "the native rate, as `vidskill segment`)")
    p.add_argument("--encoder-setting", action="append", metavar="KEY=VALUE",
                   help="encoder option, e.g. window=1.0 (repeatable; default: the encoder's own)")
    p.add_argument("--detector", choices=DETECTORS.names(),
                   help=f"boundary detector for long videos (default {default.detector}, "
                   "fitted on the long videos of the first ingest into a store and kept "
                   "there, as `vidskill segment` fits on the videos it is given)")
    p.add_argument("--detector-setting", action="append", metavar="KEY=VALUE",
                   help="detector option, e.g. min_len=2 or predictor=models/p.pt (repeatable; "
                        "default: the detector's own)")
    p.add_argument("--shots", choices=SHOT_DETECTORS.names(),
                   help=f"shot detector on the decoded frames; its cuts and fades always end "
                        f"a clip of a long video (default {SEGMENT_SHOTS}; none: no shot stage)")
    p.add_argument("--no-segment", action="store_true",
                   help="every video is one skill clip (same as --kind clip)")
    p.add_argument("--kind", default="long", choices=KINDS,
                   help="for sources without a manifest kind: long videos are segmented")
    p.add_argument("--label", help="skill label for sources without one (default: none)")
    p.add_argument("--domain",
                   help="domain (e.g. human, robot) for sources without one (default: none)")
    p.add_argument("--fps", type=float, help=f"sampling rate (default {default.fps:g})")
    p.add_argument("--size", type=int, help=f"short side in pixels (default {default.size})")
    p.add_argument("--pooling", choices=POOLINGS,
                   help=f"clip embedding (default {default.pooling})")
    p.add_argument("--index-factory", metavar="FACTORY",
                   help="force the FAISS index type, e.g. Flat, HNSW32, IVF1024,Flat (default: "
                   "chosen by the number of clips)")
    p.set_defaults(func=_ingest)


def _query(args: argparse.Namespace) -> int:
    from vidskill.ingest.query import run_query
    from vidskill.store import ClipStore

    with ClipStore(args.store, readonly=True) as store:
        hits = run_query(store, video=args.input, start=args.start, end=args.end,
                         segment=args.segment, vector=args.vector, k=args.k,
                         encoder=args.encoder, domain=args.domain, label=args.label)
    _print_hits(hits, args.json)
    return 0


def _store_videos(store, args: argparse.Namespace) -> list[int]:
    """Video ids named by --video, --path or --status (any of them; at least one given)."""
    if not (args.video or args.path or args.status):
        raise ValueError("name the videos: --video ID, --path FILE or --status STATUS "
                         "(see `vidskill store list`)")
    ids = list(args.video or [])
    wanted = {Path(p).expanduser().resolve() for p in args.path or []}
    for video in store.videos():
        if Path(video.path).expanduser().resolve() in wanted or video.status == args.status:
            ids.append(video.id)
    if not ids:
        raise ValueError(f"no video of {store.path} matches {args.path or args.status}; see "
                         "`vidskill store list`")
    return list(dict.fromkeys(ids))


def _store(args: argparse.Namespace) -> int:
    from vidskill.store import ClipStore

    if args.action in ("list", "stats"):
        with ClipStore(args.store, readonly=True) as store:
            if args.action == "stats":
                _print_stats(store.stats(), args.json)
                return 0
            counts = store.clip_counts()
            videos = store.videos(status=args.status)
            rows = [{"id": v.id, "status": v.status, "clips": counts.get(v.id, 0),
                     "kind": v.kind, "label": v.label, "domain": v.domain, "path": v.path,
                     "error": v.error} for v in videos]
        if args.json:
            print(json.dumps(rows))
        else:
            _print_table(["id", "status", "clips", "kind", "label", "domain", "path"],
                         [[str(r[k]) if r[k] is not None else "-" for k in list(r)[:-1]]
                          + ([f"({r['error']})"] if r["error"] else []) for r in rows])
        return 0
    with ClipStore(args.store) as store:
        store.lock()
        ids = _store_videos(store, args)
        if args.action == "relabel":
            clips = store.relabel(ids, args.label, domain=args.domain)
            done = f"relabelled {len(ids)} video(s) ({clips} clips)"
        else:
            clips = store.remove(ids)
            done = f"removed {len(ids)} video(s) and their {clips} clips"
        store.sync_indexes()
    print(f"{done} in {args.store}; indexes synced")
    return 0


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    """Left-aligned columns; a row's cells past the header are appended as they are."""
    n = len(header)
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(n)]
    for row in [header, *rows]:
        cells = [f"{v:<{w}}" for v, w in zip(row[:n], widths, strict=True)] + row[n:]
        print("  ".join(cells).rstrip())


def _print_stats(stats: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(stats))
        return
    videos = ", ".join(f"{n} {status}" for status, n in sorted(stats["videos"].items()))
    print(f"videos   {videos or 'none'}")
    print(f"clips    {stats['clips']}")
    for key in ("labels", "domains"):
        print(f"{key:<8} " + (", ".join(f"{k} {n}" for k, n in stats[key].items()) or "-"))
    for name, e in stats["encoders"].items():
        print(f"encoder  {name}: {e['clips']} clips, dimension {e['dim']}")
    settings = stats["settings"]
    if settings:
        print(f"settings fps {settings['fps']:g}, size {settings['size']}, pooling "
              f"{settings['pooling']}, {json.dumps(settings['encoder_settings'])}")


def _add_store(sub) -> None:
    from vidskill.store.catalog import STATUSES

    p = sub.add_parser("store", help="list, count, relabel or remove what a clip store holds",
                       description="Inspect a store, or fix its metadata without re-encoding: "
                       "relabel videos (and their clips), remove videos (their clips leave the "
                       "indexes too).")
    actions = _Commands(p.add_subparsers(dest="action", required=True))
    for name, text in (("list", "one line per video: id, status, clips, label, path, error"),
                       ("stats", "videos by status, clips by label and domain, encoders"),
                       ("relabel", "set the label and/or domain of videos and their clips"),
                       ("remove", "delete videos and their clips (indexes follow)")):
        a = actions.add_parser(name, help=text)
        a.add_argument("--store", required=True, type=Path, help="the clip store")
        if name != "stats":
            a.add_argument("--status", choices=STATUSES,
                           help="videos with this status (default: any)")
        if name in ("relabel", "remove"):
            a.add_argument("--video", type=int, action="append", metavar="ID",
                           help="a video id from `vidskill store list` (repeatable; default: "
                                "none)")
            a.add_argument("--path", action="append", metavar="FILE",
                           help="the video ingested from this file (repeatable; default: none)")
        if name == "relabel":
            a.add_argument("--label", help="the new skill label (default: unchanged)")
            a.add_argument("--domain",
                           help="the new domain, e.g. human or robot (default: unchanged)")
        a.set_defaults(func=_store)


def _print_hits(hits: list, as_json: bool) -> None:
    """Search results as a table (or one JSON list) on standard output."""
    if as_json:
        print(json.dumps([h.as_dict() for h in hits]))
        return
    rows = [("rank", "score", "segment", "start", "end", "label", "domain", "video")]
    rows += [(str(r), f"{h.score:.3f}", str(h.segment_id), f"{h.start:.2f}", f"{h.end:.2f}",
              h.label or "-", h.domain or "-", h.video_path) for r, h in enumerate(hits, 1)]
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(f"{v:<{w}}" for v, w in zip(row, widths, strict=False)) + "  " + row[-1])


def _add_query(sub) -> None:
    p = sub.add_parser("query", help="find the stored clips nearest to a clip, range, segment or vector")
    p.add_argument("input", nargs="?", help="a clip file, or a VIDEO with --start/--end")
    p.add_argument("--store", required=True, type=Path, help="the clip store to search")
    p.add_argument("--start", type=float, help="seconds into VIDEO (default: its start)")
    p.add_argument("--end", type=float, help="seconds into VIDEO (default: its end)")
    p.add_argument("--segment", type=int, metavar="ID", help="a clip already in the store (default: none)")
    p.add_argument("--vector", type=Path, metavar="FILE.npy", help="a query embedding (default: none)")
    p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--encoder", help="which encoder's index to search (default: the store's first)")
    p.add_argument("--domain", help="only clips of this domain, e.g. human (default: any)")
    p.add_argument("--label", help="only clips with this label (default: any)")
    p.set_defaults(func=_query)


# `vidskill segment` options that are detector settings, by the setting they set.
_DETECTOR_FLAGS = ("gap", "min_shift", "min_len", "length", "predictor")


def _detector_settings(args: argparse.Namespace) -> dict:
    """`--detector-setting KEY=VALUE`s plus the detector options given as their own flags;
    the detector checks them (an option it does not take is an error naming what it takes)."""
    settings = _key_values(args.detector_setting, "--detector-setting")
    settings.update({k: getattr(args, k) for k in _DETECTOR_FLAGS if getattr(args, k) is not None})
    if args.events:
        settings["events"] = [float(t) for t in args.events.split(",")]
    return settings


_VIDEOS_HELP = "video files, folders (searched for videos), globs, or folders of numbered images"


def _videos(inputs: list[str]) -> list[Path]:
    """Video files from files, folders (searched) and globs, as `ingest` takes them; a
    folder of numbered images is one video."""
    from vidskill.ingest.manifest import resolve_sources
    from vidskill.video import IMAGE_SUFFIXES

    out = []
    for entry in inputs:
        path = Path(entry)
        if path.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
            out.append(path)
        else:
            out += [s.path for s in resolve_sources([entry])]
    if not out:
        raise ValueError(f"no videos in {' '.join(inputs)}")
    return out


def _targets(videos: list[Path], out: Path | None, suffix: str) -> list[Path | None]:
    """Where each video's result goes: --out itself for one video (None: standard
    output), else --out/<video name><suffix> (--out is then a folder)."""
    if len(videos) == 1 and (out is None or out.suffix):
        return [out]
    if out is None:
        raise ValueError(f"{len(videos)} videos: give --out FOLDER for their {suffix} files")
    if out.suffix and not out.is_dir():
        raise ValueError(f"{len(videos)} videos: --out must be a folder, not {out}")
    names = [v.stem for v in videos]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"several videos are named {', '.join(twice)}; give them apart "
                         "(one call per folder, or rename)")
    return [out / f"{v.stem}{suffix}" for v in videos]


def _each_video(args: argparse.Namespace, videos: list[Path], targets: list, work) -> int:
    """Run `work(video, target)` for each video with a progress bar; a failing video is
    reported on one line and the others go on (exit 1 when any failed)."""
    from vidskill._progress import progress_bar

    failed = 0
    for video, target in progress_bar(list(zip(videos, targets, strict=True)),
                                      len(videos) > 1, desc=args.command, unit="video"):
        try:
            work(video, target)
        except (VideoError, VidskillError, FileNotFoundError) as e:
            if len(videos) == 1:
                raise
            print(f"error: {video}: {e}", file=sys.stderr)
            failed += 1
    return EXIT_FAILED if failed else 0


def _segment(args: argparse.Namespace) -> int:
    from vidskill.boundaries import get_detector
    from vidskill.boundaries.io import to_csv, to_json
    from vidskill.segment import cut_video, default_fps, fit_detector, shot_features

    fmt = args.format or ("csv" if args.out and args.out.suffix.lower() == ".csv" else "json")
    if args.json and fmt != "json":
        raise ValueError("--json prints JSON; it cannot go with CSV (--format csv or an "
                         "--out .csv file)")
    _check_out(args.out, fmt)
    encoder = _segmenting_encoder(args)
    detector = get_detector(args.detector, **_detector_settings(args))
    detector.check_features(encoder.name)
    shots = None if args.shots == "none" else SHOT_DETECTORS.get(args.shots)
    fps = default_fps(encoder) if args.fps is None else args.fps
    videos = _videos(args.videos)
    targets = _targets(videos, args.out, f".{fmt}")
    decoded: dict[Path, object] = {}

    def decode(video: Path, target: Path | None) -> None:
        decoded[video] = shot_features(video, encoder, shots, fps=fps)

    failed = _each_video(args, videos, targets, decode)
    # A detector that learns (SBD) is fitted once, on every shot of every video given.
    fitted = fit_detector(detector, list(decoded.values()))
    ok = [(v, t) for v, t in zip(videos, targets, strict=True) if v in decoded]

    def work(video: Path, target: Path | None) -> None:
        seglist = cut_video(decoded[video], detector if fitted else None, encoder, fps)
        text = to_csv(seglist) if fmt == "csv" else to_json(seglist) + "\n"
        if target is None:
            sys.stdout.write(text)
        else:
            write_text(target, text)
            if not args.quiet:
                print(f"{video}: {len(seglist.segments)} segments written to {target}",
                      file=sys.stderr)

    return _each_video(args, [v for v, _ in ok], [t for _, t in ok], work) or failed


def _add_segment(sub) -> None:
    p = sub.add_parser("segment", help="split videos into skill segments (JSON or CSV lists)",
                       description="Segment each video; one video prints its list (or writes "
                       "--out FILE), several write one list per video into --out FOLDER. "
                       "CSV lists use PySceneDetect's columns (frames 1-based, end "
                       "inclusive); JSON adds the detector's signal (0-based frames, end "
                       "exclusive).")
    p.add_argument("videos", nargs="+", help=_VIDEOS_HELP)
    p.add_argument("--detector", default=SEGMENT_DETECTOR, choices=DETECTORS.names(),
                   help=f"boundary detector (default {SEGMENT_DETECTOR})")
    p.add_argument("--format", choices=["json", "csv"],
                   help="list format (default: from the --out suffix, else json)")
    _add_out(p, "the segment list (FILE.json/.csv), or a FOLDER for one list per video")
    _add_segmenting_input(p, "run on the decoded frames; its hard cuts and fades are always "
                             "boundaries", "no shot stage")
    p.add_argument("--predictor",
                   help="sbd predictor: a weights FILE, or 'shipped' for the demo-trained one "
                        "(default: fitted on the videos given, without labels)")
    p.add_argument("--gap", type=float, help="sbd GAP in nats (default: automatic)")
    p.add_argument("--min-shift", type=float,
                   help="sbd with refine=true: how far features must move across a boundary, "
                        "as a fraction of the distance between unrelated windows (default "
                        "0.15; 0 keeps every burst)")
    p.add_argument("--min-len", type=float,
                   help="shortest segment, seconds (default: the detector's; sbd 0.5)")
    p.add_argument("--length", type=float,
                   help="uniform segment length, seconds (default: the detector's)")
    p.add_argument("--events", help="comma-separated event times (s) that start a segment "
                   "(default: none)")
    p.add_argument("--detector-setting", action="append", metavar="KEY=VALUE",
                   help="any other detector option, e.g. k=3 (repeatable; default: none)")
    p.set_defaults(func=_segment)


def _eval_segments(args: argparse.Namespace) -> int:
    from vidskill.boundaries.io import read_segments, segment_files
    from vidskill.metrics import evaluate_segmentation

    if args.pred.is_dir() != args.gt.is_dir():
        raise ValueError("PRED and GT must both be files or both be folders")
    if args.pred.is_dir():
        preds, gts = segment_files(args.pred), segment_files(args.gt)
        pairs = [(preds[k], gts[k]) for k in sorted(preds) if k in gts]
        if not pairs:
            raise ValueError(f"no file in {args.pred} has a namesake (.json/.csv) in {args.gt}")
    else:
        pairs = [(args.pred, args.gt)]
    videos = []
    for pred_path, gt_path in pairs:
        pred, gt = read_segments(pred_path), read_segments(gt_path)
        videos.append((pred.segments, gt.segments, gt.duration or pred.duration))
    report = evaluate_segmentation(videos, tolerance=args.tolerance,
                                   rel_tolerance=args.rel_tolerance, fps=args.fps)
    scores = report.as_dict()
    if args.json:
        print(json.dumps({"videos": report.videos, **scores}))
    else:
        width = max(len(k) for k in scores)
        print(f"{'videos':<{width}}  {report.videos}")
        print("\n".join(f"{k:<{width}}  {v:.3f}" for k, v in scores.items()))
    return 0


def _add_eval_segments(sub) -> None:
    p = sub.add_parser("eval-segments", help="score predicted segments against ground truth")
    p.add_argument("pred", type=Path, help="segment list (JSON/CSV) or a folder of them")
    p.add_argument("gt", type=Path, help="ground truth: same formats or the corpus's JSON")
    p.add_argument("--tolerance", type=float, default=0.5, help="boundary tolerance, seconds")
    p.add_argument("--rel-tolerance", type=float, default=0.05,
                   help="GEBD tolerance as a fraction of the video's duration")
    p.add_argument("--fps", type=float, default=10.0, help="frame rate for MoF/Edit/F1@k")
    p.set_defaults(func=_eval_segments)


def _add_segmenting_input(p, shots_role: str, no_shots: str) -> None:
    """--encoder, --encoder-setting, --shots and --fps, with `segment`'s defaults."""
    p.add_argument("--encoder", default=SEGMENT_ENCODER[0], choices=ENCODERS.names(),
                   help=f"feature encoder (default {SEGMENT_ENCODER[0]})")
    p.add_argument("--encoder-setting", action="append", metavar="KEY=VALUE",
                   help="encoder option, e.g. weights=my-tcn.pt (repeatable; default: none)")
    p.add_argument("--shots", default=SEGMENT_SHOTS, choices=SHOT_DETECTORS.names(),
                   help=f"shot detector; {shots_role} (default {SEGMENT_SHOTS}; none: "
                        f"{no_shots})")
    p.add_argument("--fps", type=float,
                   help=f"decode rate (default: every native frame for {SEGMENT_ENCODER[0]}, "
                        f"{SEGMENT_FPS_OTHER:g} fps for other encoders)")


def _train_predictor(args: argparse.Namespace) -> int:
    from vidskill.boundaries.actions import actions_file, actions_per_window, load_actions
    from vidskill.boundaries.predictor import TrainSettings, train_predictor
    from vidskill.segment import shot_features
    from vidskill.video import VIDEO_SUFFIXES

    encoder = _segmenting_encoder(args)
    paths = []
    for src in args.inputs:
        paths += (sorted(p for p in src.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
                  if src.is_dir() else [src])
    if not paths:
        raise ValueError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) under {args.inputs}")
    corpus, actions = [], []
    for path in paths:   # shots as `segment` cuts them: the predictor never reads across one
        video = shot_features(path, encoder, None if args.shots == "none" else args.shots,
                              fps="default" if args.fps is None else args.fps)
        corpus += video.parts
        found = actions_file(path)
        if found is None:
            actions += [None] * len(video.parts)
            continue
        times, acts = load_actions(found, video.info.native_fps)
        actions += [actions_per_window(times, acts, part) for part in video.parts]
    settings = TrainSettings(steps=args.steps, hidden=args.hidden, seed=args.seed)
    trained = train_predictor(corpus, actions if any(a is not None for a in actions) else None,
                              settings)
    out = trained.save(args.out)
    _done(args, f"trained on {len(paths)} videos, {len(corpus)} shots "
          f"({trained.card['data']['windows']} windows); final loss "
          f"{trained.card['loss_curve'][-1]:.3f}; wrote {out} and its card",
          {"out": str(out), "videos": len(paths), "shots": len(corpus),
           "loss": trained.card["loss_curve"][-1]})
    return 0


def _add_train_predictor(sub) -> None:
    p = sub.add_parser("train-predictor", help="train the SBD next-window predictor on videos")
    p.add_argument("inputs", nargs="+", type=Path, help="videos or folders of videos")
    _add_out(p, "the predictor weights (.pt) and its card", default=Path("models/predictor.pt"))
    _add_segmenting_input(p, "the predictor trains on each shot apart, as `segment` reads "
                             "them", "whole videos")
    p.add_argument("--steps", type=int, default=400, help="optimiser steps (default 400)")
    p.add_argument("--hidden", type=int, default=64, help="GRU width (default 64)")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.set_defaults(func=_train_predictor)


def _features(args: argparse.Namespace) -> int:
    import numpy as np

    from vidskill.encoders import encode_video, get_encoder

    settings = _key_values(args.encoder_setting, "--encoder-setting")
    if args.weights:
        settings["weights"] = str(args.weights)
    encoder = get_encoder(args.encoder, **settings)
    _check_out(args.out, "npy", "features")
    videos = _videos(args.videos)
    targets = _targets(videos, args.out, ".npy")

    def work(video: Path, target: Path) -> None:
        feats = encode_video(video, encoder, fps=args.fps, size=args.size, cache=args.cache)
        data = feats.data.T if args.layout == "dt" else feats.data
        save_array(target, np.ascontiguousarray(data))
        meta = {"video": str(video), "encoder": feats.encoder, "settings": feats.settings,
                "layout": args.layout, "shape": list(data.shape), "fps": args.fps,
                "size": args.size, "starts": feats.starts.tolist(), "ends": feats.ends.tolist()}
        write_json(target.with_suffix(".json"), meta)
        _done(args, f"{target}: {feats.encoder} features {data.shape} ({args.layout}), "
              f"{len(feats)} windows of {video}",
              {"video": str(video), "out": str(target), "shape": list(data.shape)})

    return _each_video(args, videos, targets, work)


def _add_features(sub) -> None:
    p = sub.add_parser("features", help="compute per-window features of videos (.npy)")
    p.add_argument("videos", nargs="+", help=_VIDEOS_HELP)
    p.add_argument("--encoder", default=DEFAULT_ENCODER,
                   help=f"{', '.join(ENCODERS.names())} (default {DEFAULT_ENCODER})")
    p.add_argument("--encoder-setting", action="append", metavar="KEY=VALUE",
                   help="encoder option, e.g. window=2.0 (repeatable; default: none)")
    p.add_argument("--weights", type=Path,
                   help="weights file for encoders that need one (default: the registry's)")
    _add_out(p, "FILE.npy for one video (a .json sidecar too), or a FOLDER for one per "
             "video", required=True)
    p.add_argument("--layout", choices=["nd", "dt"], default="nd",
                   help="nd: (windows, dim); dt: (dim, windows) as MS-TCN reads")
    p.add_argument("--fps", type=float, default=10.0, help="sampling rate (default 10)")
    p.add_argument("--size", type=int, default=160, help="short side in pixels (default 160)")
    p.add_argument("--cache", type=Path,
                   help="feature cache folder, reused across runs (default: none)")
    p.set_defaults(func=_features)


def _train_encoder(args: argparse.Namespace) -> int:
    from vidskill.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES
    from vidskill.weights import card_path

    videos = []
    for src in map(Path, args.videos):  # a folder of images is one video; others are searched
        if src.is_dir() and not any(p.suffix.lower() in IMAGE_SUFFIXES for p in src.iterdir()):
            videos += sorted(p for p in src.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
        else:
            videos.append(src)
    if args.model == "skill-tcn":
        from vidskill.encoders.skilltcn import train_skill_tcn

        out = train_skill_tcn(videos, args.out, steps=args.steps, fps=args.fps,
                              size=args.size or 160, seed=args.seed)
    else:
        from vidskill.encoders.flowcnn import train_flow_cnn

        out = train_flow_cnn(videos, args.out, epochs=args.epochs, fps=args.fps,
                             size=args.size or 120, window=args.window, seed=args.seed)
    _done(args, f"wrote {out} and its model card {card_path(out)} (trained on {len(videos)} "
          "videos)", {"out": str(out), "card": str(card_path(out)), "videos": len(videos)})
    return 0


def _add_train_encoder(sub) -> None:
    p = sub.add_parser("train-encoder",
                       help="train flow-cnn (self-supervised) or skill-tcn (from labels) on "
                            "your videos")
    p.add_argument("videos", nargs="+", help="video files, or folders searched for videos")
    p.add_argument("--out", type=Path, required=True, help="weights file to write (.pt)")
    p.add_argument("--model", choices=["flow-cnn", "skill-tcn"], default="flow-cnn",
                   help="skill-tcn needs <video stem>.json beside each video with "
                        '{"segments": [{"label", "start", "end"}]} (as `vidskill synth` writes)')
    p.add_argument("--epochs", type=int, default=30, help="flow-cnn passes over the data")
    p.add_argument("--steps", type=int, default=3000, help="skill-tcn optimiser steps")
    p.add_argument("--fps", type=float, default=10.0, help="sampling rate (default 10)")
    p.add_argument("--size", type=int,
                   help="short side in pixels (default: flow-cnn 120, skill-tcn 160)")
    p.add_argument("--window", type=float, default=1.0, help="flow-cnn window length (s) (default 1)")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.set_defaults(func=_train_encoder)


def _run(args: argparse.Namespace) -> int:
    from vidskill.ingest import IngestReport
    from vidskill.jobs import load_pipeline, run_pipeline

    result = run_pipeline(load_pipeline(args.pipeline, args.set or ()))
    if isinstance(result, IngestReport):
        if args.json:
            print(json.dumps(result.as_dict()))
        print(result.summary(), file=sys.stderr if args.json else sys.stdout)
        return 0 if result.ok else EXIT_FAILED
    if isinstance(result, list):
        _print_hits(result, args.json)
    else:
        _print_choice(result, result.ranking.skill, args.json)
    return 0


def _add_run(sub) -> None:
    p = sub.add_parser("run", help="run a pipeline file (pipelines/{ingest,query,select}.toml)",
                       description="Run a job described by a TOML pipeline file; any key can "
                       "be overridden, e.g. --set store=/tmp/s --set engine.workers=2.")
    p.add_argument("pipeline", type=Path, help="the pipeline file (.toml)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a key (dotted, value in TOML syntax), repeatable (default: the "
                   "file's values)")
    p.set_defaults(func=_run)


def _select(args: argparse.Namespace) -> int:
    from vidskill._progress import progress_bar
    from vidskill.select.choose import choose

    _check_out(args.out, "json", "select")
    if args.label and len(args.skill) > 1:
        raise ValueError("--label names the store label of one skill; give several skills "
                         "without it (each uses the label it names) or one call per skill")
    docs = []
    for skill in progress_bar(args.skill, len(args.skill) > 1, desc="select", unit="skill"):
        choice = choose(skill, args.templates, human=args.human, reference=args.reference,
                        store=args.store,
                        label=args.label, query=args.query, method=args.method,
                        encoder=args.encoder, similarity=args.similarity, text=args.text,
                        k=args.k, cache=args.cache)
        docs.append(_choice_dict(choice, args.text))
        if not args.json:
            if len(args.skill) > 1:
                print(f"== {skill}")
            _print_choice(choice, skill, False)
    result = docs[0] if len(docs) == 1 else docs
    if args.json:
        print(json.dumps(result))
    if args.out:
        write_json(args.out, result)
        if not args.quiet:
            print(f"ranking written to {args.out}", file=sys.stderr)
    return 0


def _choice_dict(choice, text: str | None = None) -> dict:
    """A choice as JSON: the ranking, the text prior's name and the human clips used."""
    out = choice.ranking.as_dict()
    if text:
        out["text"] = text
    out["human_clips"] = list(choice.humans.names) if choice.humans else []
    out["reference_clips"] = (len(choice.humans.reference)
                              if choice.humans and choice.humans.marks_hubs else 0)
    return out


def _print_choice(choice, skill: str, as_json: bool) -> None:
    """A template ranking as a table with the chosen template (or one JSON object)."""
    ranking = choice.ranking
    if as_json:
        print(json.dumps(_choice_dict(choice)))
        return
    if choice.humans is not None:
        print(f"{len(choice.humans.clips)} human clips of {skill!r}: "
              f"{', '.join(choice.humans.names)}")
        if choice.humans.marks_hubs:
            print(f"{len(choice.humans.reference)} human clips of other skills: each "
                  "template's score is less half its hubness against them")
        else:
            print("no hubness: too few human clips of other skills to mark down a template "
                  "near every human motion (give --reference DIR, or a store with more labels)")
    sources = list(ranking.scores)
    rows = [("rank", "template", "fused", *sources)]
    place = 1
    for group in ranking.groups:  # tied templates share a place, shown as "2="
        for name in group:
            i = ranking.templates.index(name)
            rows.append((f"{place}{'=' if len(group) > 1 else ''}", name,
                         _num(ranking.fused[i]), *(_num(ranking.scores[s][i]) for s in sources)))
        place += len(group)
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for row in rows:
        print("  ".join(f"{v:<{w}}" for v, w in zip(row, widths, strict=True)).rstrip())
    if ranking.method == "evidence":
        print("units: text = log-probability per token (nats), video = similarity in standard "
              "errors of its top-k mean")
    print(f"chosen: {ranking.best} ({ranking.method} {json.dumps(dict(ranking.settings))})")
    if len(ranking.tied) > 1:
        print(f"tie: {', '.join(ranking.tied)} score the same; {ranking.best} is only listed "
              "first in the template file")


def _num(value: float) -> str:
    """A score for a table: 3 decimals, '-' for a template the rule dropped."""
    return f"{value:.3f}" if value > float("-inf") else "-"


def _add_select(sub) -> None:
    from vidskill.select.choose import DEFAULT_SIMILARITY, DEFAULT_TEXT, DEFAULT_VIDEO_ENCODER
    from vidskill.select.fusion import DEFAULT_METHOD, METHODS
    from vidskill.select.similarity import SIMILARITIES

    p = sub.add_parser("select", help="rank robot behaviour templates for skills",
                       description="Rank the templates of a template file for a skill from "
                       "the text prior and the similarity of each template's execution video "
                       "to human clips of the skill.")
    p.add_argument("--skill", required=True, action="append",
                   help='the requested skill, e.g. "cut the carrot"; repeat it to rank for '
                        "several skills in one run (the models load once)")
    p.add_argument("--templates", required=True, type=Path, help="template file (.toml)")
    p.add_argument("--human", type=Path,
                   help="folder of videos of a person doing the skill (default: none; or --store)")
    p.add_argument("--reference", type=Path,
                   help="with --human: a folder of human clips of other skills (videos, or a "
                   "folder per skill); a template that resembles them all is marked down "
                   "(default: none; with --store its other human clips are used)")
    p.add_argument("--store", type=Path,
                   help="clip store holding human clips (default: none; or --human)")
    p.add_argument("--label", help="store label of the skill (default: the label the skill names)")
    p.add_argument("--query", type=Path, help="with --store: a clip of the skill; its nearest "
                   "human clips are used (default: none; the clips labelled with the skill)")
    p.add_argument("--method", default=DEFAULT_METHOD, choices=METHODS,
                   help="evidence: text log-prob + flow in standard errors (default); "
                   "llm+flow: text keeps the top k, flow picks; weighted: z-scores summed; "
                   "flow or llm alone")
    p.add_argument("--encoder", choices=ENCODERS.names(),
                   help=f"video encoder (default {DEFAULT_VIDEO_ENCODER}, the view-robust one; "
                   "with --store, the store's first encoder when it holds no "
                   f"{DEFAULT_VIDEO_ENCODER} clips)")
    p.add_argument("--similarity", default=DEFAULT_SIMILARITY, choices=list(SIMILARITIES),
                   help="clip similarity: the encoder's own comparison (default; cosine of "
                   "mean-pooled windows, or flow-profile's DTW of motion profiles), the cosine "
                   "of clip embeddings, or DTW over windows")
    p.add_argument("--text", default=DEFAULT_TEXT, choices=TEXT_SCORERS.names(),
                   help="text prior (default llm: SmolLM2, local)")
    p.add_argument("-k", type=int, default=3,
                   help="top-k: human clips averaged per template, and templates the text keeps")
    p.add_argument("--cache", type=Path, help="feature cache folder (default ~/.cache/vidskill)")
    _add_out(p, "the ranking(s) as JSON, FILE.json (what `vidskill report --selection` reads)")
    p.set_defaults(func=_select)


def _eval_select(args: argparse.Namespace) -> int:
    from vidskill.demo.corpus import load_corpus
    from vidskill.select.evaluate import evaluate_selection

    corpus = load_corpus(args.corpus)
    ablation = evaluate_selection(corpus, text=args.text, k=args.k,
                                  cache=args.cache or Path(args.corpus) / ".cache")
    if args.json:
        print(json.dumps(_ablation_rows(ablation)))
    else:
        _print_ablation(ablation)
    return 0


def _ablation_rows(ablation) -> list[dict]:
    """The ablation table as JSON rows."""
    return [dict(zip(("selector", "top1", "recall@3", "misses"), row, strict=True))
            for row in ablation.table()]


def _print_ablation(ablation) -> None:
    """The ablation table: selector, top-1, recall@3, wrong choices or why it did not run."""
    rows = [["selector", "top-1", "recall@3", "misses"], *ablation.table()]
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    for row in rows:
        print("  ".join(f"{v:<{w}}" for v, w in zip(row, widths, strict=False)) + "  " + row[3])
    print(f"{len(ablation.skills)} skills, {ablation.templates} templates: "
          f"chance top-1 = {ablation.chance:.3f}")


def _add_eval_select(sub) -> None:
    p = sub.add_parser("eval-select", help="template selection ablation on a corpus with truth")
    p.add_argument("--corpus", required=True, type=Path,
                   help="corpus folder written by `vidskill synth` (or the demo's OUT/corpus)")
    p.add_argument("--text", nargs="+", default=TEXT_SCORERS.names(), choices=TEXT_SCORERS.names(),
                   help="text priors to evaluate; the first is the fused selectors' prior")
    p.add_argument("-k", type=int, default=3, help="top-k for clips and the text prior")
    p.add_argument("--cache", type=Path, help="feature cache folder (default CORPUS/.cache)")
    p.set_defaults(func=_eval_select)


def _segment_lists(inputs: list[Path], video: Path | None) -> list:
    """Segment lists from files and folders of .json/.csv lists; `video` names the video
    of a list that does not (a CSV)."""
    from dataclasses import replace

    from vidskill.boundaries.io import read_segments, segment_files

    files = []
    for path in inputs:
        files += list(segment_files(path).values()) if path.is_dir() else [path]
    lists = [read_segments(f) for f in files]
    if video is not None:
        if len(lists) != 1:
            raise ValueError("--video names the video of one segment list; give one list")
        lists = [replace(lists[0], source=str(video))]
    for f, seglist in zip(files, lists, strict=True):
        if not seglist.source:
            raise ValueError(f"{f} does not name its video (a CSV never does): give --video "
                             "VIDEO, or use the JSON that `vidskill segment` writes")
    if not lists:
        raise ValueError(f"no segment lists (.json/.csv) in {' '.join(map(str, inputs))}")
    return lists


def _source_lists(args: argparse.Namespace) -> list:
    """The segment lists of SEGMENTS... ([] with --store; exactly one of the two)."""
    if (args.store is None) == (not args.segments):
        raise ValueError("give segment lists (files or folders) or --store S, not both")
    return [] if args.store else _segment_lists(args.segments, args.video)


def _export(args: argparse.Namespace) -> int:
    from vidskill.export import export_segments, store_segment_lists
    from vidskill.store import ClipStore

    lists = _source_lists(args)
    if args.store:
        with ClipStore(args.store) as store:
            lists = store_segment_lists(store)
    formats = args.lists.split(",") if args.lists else []
    exports = [export_segments(s, args.out, clips=not args.no_clips,
                               thumbnails=args.thumbnails, lists=formats, copy=not args.encode,
                               height=args.height, progress=True) for s in lists]
    clips = [c.clip for e in exports for c in e.clips if c.clip]
    copied = sum(c.copied for c in clips)
    _done(args, f"exported {len(exports)} video(s) to {args.out}: {len(clips)} clips "
          f"({copied} stream-copied, {len(clips) - copied} re-encoded), "
          f"{sum(len(c.thumbnails) for e in exports for c in e.clips)} thumbnails, "
          f"{sum(len(e.lists) for e in exports)} scene lists",
          {"out": str(args.out), "videos": [e.seglist.source for e in exports],
           "clips": [str(c.path) for c in clips], "copied": copied,
           "lists": [str(p) for e in exports for p in e.lists.values()]})
    return 0


def _add_sources(p: argparse.ArgumentParser) -> None:
    """SEGMENTS... | --store S, the inputs of export and report."""
    p.add_argument("segments", nargs="*", type=Path, metavar="SEGMENTS",
                   help="segment lists (.json from `vidskill segment`, or CSV) or folders of "
                        "them (default: none; or give --store)")
    p.add_argument("--store", type=Path, help="a clip store instead of segment lists "
                   "(default: none)")
    p.add_argument("--video", type=Path,
                   help="the video of a list that does not name it, e.g. PySceneDetect's CSV "
                        "(default: the list's 'video')")


def _add_export(sub) -> None:
    from vidskill.export import LIST_FORMATS
    from vidskill.export.clips import X264_OPTIONS

    p = sub.add_parser("export", help="write clip files, thumbnails and scene lists",
                       description="Cut each segment into a clip file (stream copy when it "
                       "starts and ends on keyframes of an H.264/VP9/AV1 video, else "
                       f"re-encoded as H.264 MP4, crf {X264_OPTIONS['crf']}), save "
                       "thumbnails, and write the scene lists (CSV as PySceneDetect's: frames "
                       "1-based, end inclusive; JSON; CMX 3600 EDL; OpenTimelineIO; the "
                       "detector's signal as NAME.stats.csv).")
    _add_sources(p)
    _add_out(p, "the files, in this FOLDER", required=True)
    p.add_argument("--no-clips", action="store_true", help="no clip files (default: write them)")
    p.add_argument("--encode", action="store_true",
                   help="always re-encode, never stream-copy (default: copy where possible)")
    p.add_argument("--height", type=int,
                   help="scale clips down to this height in pixels (default: source size)")
    p.add_argument("--thumbnails", type=int, default=3, metavar="N",
                   help="thumbnails per clip, at the centres of N equal parts (default 3)")
    p.add_argument("--lists", default=",".join(LIST_FORMATS),
                   help=f"scene list formats, comma-separated (default {','.join(LIST_FORMATS)}"
                        "; '' for none)")
    p.set_defaults(func=_export)


def _report(args: argparse.Namespace) -> int:
    from vidskill.report import Table, ranking_view, segments_report, store_report, write_report
    from vidskill.store import ClipStore

    lists = _source_lists(args)
    rankings = []
    for path in args.selection or []:
        docs = json.loads(Path(path).read_text())
        rankings += [ranking_view(d) for d in (docs if isinstance(docs, list) else [docs])]
    if not args.store:
        report = segments_report(lists, args.out, title=args.title or "vidskill segments",
                                 clips=not args.no_clips, thumbnails=args.thumbnails,
                                 progress=True)
    else:
        with ClipStore(args.store) as store:
            report = store_report(store, args.out, title=args.title or "vidskill store",
                                  neighbours=args.neighbours, signal_detector=args.detector,
                                  clips=not args.no_clips, thumbnails=args.thumbnails,
                                  progress=True)
    report.rankings += rankings
    if rankings:
        report.tables.insert(0, Table("Chosen templates", ("skill", "chosen", "method"),
                                      tuple((k.skill, k.chosen, k.method) for k in rankings)))
    index = write_report(report, args.out)
    _done(args, f"report: {index} ({len(report.clips)} clips, {len(report.timelines)} "
          f"timelines, {len(rankings)} rankings)",
          {"report": str(index), "clips": len(report.clips), "timelines": len(report.timelines),
           "rankings": len(rankings)})
    return 0


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="an HTML report of a store or segment lists",
                       description="Write a static HTML page (open OUT/index.html in a "
                       "browser; no server): a timeline per segmented video with the "
                       "detector's signal and boundaries, every clip playable with thumbnails, "
                       "its nearest clips in the store with their similarity, label and "
                       "domain filters, and template rankings from `vidskill select --out`.")
    _add_sources(p)
    _add_out(p, "the page and its media, in this FOLDER", required=True)
    p.add_argument("--selection", action="append", type=Path, metavar="FILE.json",
                   help="rankings written by `vidskill select --out` (repeatable; default: "
                        "none)")
    p.add_argument("--neighbours", type=int, default=5, metavar="K",
                   help="nearest clips listed per clip, from the store (default 5)")
    p.add_argument("--detector", choices=DETECTORS.names(),
                   help="with --store: draw this detector's signal on the timelines, "
                        "recomputed from the stored features of the encoder that cut the "
                        "videos (default: the signal ingest kept from the detector that cut "
                        "them)")
    p.add_argument("--no-clips", action="store_true",
                   help="thumbnails only, no playable clips (default: clips)")
    p.add_argument("--thumbnails", type=int, default=3, metavar="N",
                   help="thumbnails per clip (default 3)")
    p.add_argument("--title", help="page title (default: vidskill store / vidskill segments)")
    p.set_defaults(func=_report)


COMMANDS = (_add_info, _add_synth, _add_synth_long, _add_demo, _add_ingest, _add_query,
            _add_store, _add_segment, _add_eval_segments, _add_train_predictor, _add_features,
            _add_train_encoder, _add_run, _add_select, _add_eval_select, _add_export,
            _add_report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vidskill", description="Skill clips from unsegmented video, and robot templates."
    )
    parser.add_argument("--version", action="version", version=f"vidskill {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log what each step does (also after the command)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands = _Commands(sub)
    for add in COMMANDS:
        add(commands)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that cleanup runs (workers stopped, the open
    transaction rolled back) before the process exits."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated


def describe_error(e: BaseException) -> tuple[str, int] | None:
    """The one line and exit status the CLI gives for an error, or None for a bug (which
    keeps its traceback). Status 2 is for bad arguments, 1 for data and the environment."""
    import sqlite3

    from vidskill.store.catalog import describe_sqlite

    if isinstance(e, (VideoError, VidskillError)) and not isinstance(e, ValueError):
        return str(e), EXIT_FAILED
    if isinstance(e, ValueError):
        return str(e), EXIT_USAGE
    if isinstance(e, sqlite3.Error):
        return describe_sqlite(e, Path("the store's catalog")), EXIT_FAILED
    if not isinstance(e, OSError):
        return None
    name = e.filename or "a file"
    if e.errno == errno.ENOSPC:
        return (f"{name}: no space left on the device; free some space and run the same "
                "command again (what was stored before is kept)", EXIT_FAILED)
    if e.errno == errno.EROFS:
        return f"{name}: the file system is read-only; write somewhere else", EXIT_FAILED
    if isinstance(e, PermissionError):
        return (f"{name}: permission denied; check the permissions of the file and its "
                "folder", EXIT_FAILED)
    if isinstance(e, IsADirectoryError):
        return f"{name} is a folder; give a file name", EXIT_USAGE
    if isinstance(e, (FileExistsError, NotADirectoryError)):
        return f"{name}: a file is in the way; give a folder path", EXIT_USAGE
    if isinstance(e, FileNotFoundError) and not e.strerror:
        return str(e), EXIT_FAILED
    return f"{name}: {e.strerror or e}", EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _apply_common(args)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        return int(args.func(args) or 0)
    except Terminated:
        print("terminated (SIGTERM); what was committed is kept: run the same command again "
              "to resume", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        described = describe_error(e)
        if described is None:
            raise
        print(f"error: {described[0]}", file=sys.stderr)
        return described[1]
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
