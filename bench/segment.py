"""What `segment` spends its time on: decode + features, the shot stage, fitting SBD, detection.

Segments a synthetic video (or VIDEO) with the defaults, as `vidskill segment VIDEO` does
(shots on the decoded frames, motion-kin features, SBD fitted on the video itself), timing
each stage in CPU seconds of this process, and prints the shot
stage's share of the whole: it must stay under 10%.

    .venv/bin/python bench/segment.py --minutes 1
    .venv/bin/python bench/segment.py --video ../shared/media/goldeneye-vfr-drop3.mp4
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from vidskill.boundaries import get_detector
from vidskill.demo.corpus import write_long_video
from vidskill.segment import (
    SEGMENT_ENCODER,
    SEGMENT_SHOTS,
    cut_video,
    default_fps,
    fit_detector,
    segment_encoder,
    shot_features,
)
from vidskill.shots import get_shot_detector


class TimedShots:
    """A shot detector whose `push` adds its CPU seconds to `spent`: the shot stage's own
    share, measured inside the one decode that `segment` makes."""

    def __init__(self, name: str = SEGMENT_SHOTS):
        self.detector = get_shot_detector(name)
        self.spent = 0.0
        push = self.detector.push

        def timed(frames) -> None:
            # this thread's CPU: the process's would also count the decoding thread's work
            # that runs meanwhile
            t = time.thread_time()
            push(frames)
            self.spent += time.thread_time() - t

        self.detector.push = timed


def run(video: Path) -> dict[str, float]:
    """CPU seconds per stage of segmenting `video` with the defaults."""
    timed = TimedShots()
    shots = timed.detector
    encoder = segment_encoder()
    detector = get_detector("sbd")
    t0 = time.process_time()
    decoded = shot_features(video, encoder, shots)
    t1 = time.process_time()
    fit_detector(detector, [decoded])
    t2 = time.process_time()
    seglist = cut_video(decoded, detector, encoder, default_fps(encoder))
    t3 = time.process_time()
    spent = timed.spent
    return {"decode + features": t1 - t0 - spent, "shots": spent, "fit": t2 - t1,
            "detect": t3 - t2, "total": t3 - t0, "segments": len(seglist.segments),
            "seconds": decoded.info.duration}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--video", type=Path, help="a video instead of a synthetic one")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video or write_long_video(Path(tmp) / "bench.mp4",
                                               minutes=args.minutes).path
        t = run(video)
    print(f"{video.name}: {t['seconds']:.1f} s of video, {t['segments']} segments, "
          f"encoder {SEGMENT_ENCODER[0]}")
    for stage in ("decode + features", "shots", "fit", "detect", "total"):
        print(f"{stage:<18} {t[stage]:8.2f} CPU s  {100 * t[stage] / t['total']:5.1f}%")
    print(f"shot stage / segment: {t['shots'] / t['total']:.3f}")


if __name__ == "__main__":
    main()
