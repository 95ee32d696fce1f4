"""The `vidskill` command line: thin wrappers over the library, errors as one clear line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from vidskill import __version__
from vidskill.errors import VidskillError
from vidskill.video import VideoError

EXIT_USAGE = 2
EXIT_FAILED = 1


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
    p.add_argument("--backend", default="auto", choices=["auto", "decord", "opencv", "images"])
    p.add_argument("--json", action="store_true", help="one JSON object per video")
    p.set_defaults(func=_info)


def _synth(args: argparse.Namespace) -> int:
    from vidskill.synth import generate_corpus

    corpus = generate_corpus(args.out_dir, seed=args.seed)
    print(f"wrote {len(corpus.videos)} videos and {corpus.templates_file} to {corpus.root}")
    return 0


def _add_synth(sub) -> None:
    p = sub.add_parser("synth", help="write the embedded demo corpus with its ground truth")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_synth)


def _demo(args: argparse.Namespace) -> int:
    from vidskill.synth import generate_corpus
    from vidskill.video import open_video

    corpus = generate_corpus(Path(args.out) / "corpus", seed=args.seed)
    frames = 0
    for video in corpus.videos:
        with open_video(video.path, fps=10) as reader:
            frames += sum(len(chunk) for chunk in reader.chunks(10.0))
    print(f"demo corpus: {len(corpus.videos)} videos, {frames} frames read back at 10 fps")
    print(f"corpus written to {corpus.root}")
    return 0


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on the embedded demo corpus")
    p.add_argument("--out", type=Path, default=Path("demo-out"))
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_demo)


COMMANDS = (_add_info, _add_synth, _add_demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vidskill", description="Skill clips from unsegmented video, and robot templates."
    )
    parser.add_argument("--version", action="version", version=f"vidskill {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except (VideoError, VidskillError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE if isinstance(e, ValueError) else EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
