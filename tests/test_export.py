"""Export: exact frames in clip files (counter.mp4 shows its frame number), stream copy on
keyframes, PySceneDetect's CSV written and read, EDL and OTIO that editors read back."""

import json

import av
import numpy as np
import pytest

from vidskill.boundaries.base import Segment
from vidskill.boundaries.io import CSV_FIELDS, SegmentList, read_segments, to_csv
from vidskill.cli import main
from vidskill.export import export_segments
from vidskill.export.clips import ClipExportError, write_clip
from vidskill.video import open_video

# PySceneDetect 0.7's `list-scenes` for cuts at frames 10 and 20 of a 30-frame, 10 fps video.
PYSCENEDETECT_CSV = """Timecode List:,00:00:01.000,00:00:02.000
Scene Number,Start Frame,Start Timecode,Start Time (seconds),End Frame,End Timecode,End Time (seconds),Length (frames),Length (timecode),Length (seconds)
1,1,00:00:00.000,0.000,10,00:00:01.000,1.000,10,00:00:01.000,1.000
2,11,00:00:01.000,1.000,20,00:00:02.000,2.000,10,00:00:01.000,1.000
3,21,00:00:02.000,2.000,30,00:00:03.000,3.000,10,00:00:01.000,1.000
"""


def counter_list(media_dir) -> SegmentList:
    segs = (Segment(0.0, 1.0, "a"), Segment(1.0, 2.0, "b", 0.7), Segment(2.0, 3.0, None, 0.6))
    return SegmentList(segs, 3.0, 10.0, source=str(media_dir / "counter.mp4"), detector="x",
                       signal_times=np.array([0.5, 1.5, 2.5]), signal=np.array([0.1, 0.9, 0.2]))


def decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as f:
        return [fr.to_ndarray(format="rgb24").astype(np.int16) for fr in f.decode(video=0)]


def test_csv_has_pyscenedetect_columns_and_frame_numbers(media_dir):
    text = to_csv(counter_list(media_dir))
    ours = text.splitlines()
    theirs = PYSCENEDETECT_CSV.splitlines()[1:]
    assert ours[0].split(",")[:10] == theirs[0].split(",") and CSV_FIELDS[-3:] == ("Score", "Label", "Kind")
    for mine, ref in zip(ours[1:], theirs[1:], strict=True):
        assert mine.split(",")[:10] == ref.split(",")  # 1-based start, inclusive end


def test_pyscenedetect_csv_reads_and_scores(tmp_path, capsys):
    path = tmp_path / "scenes.csv"
    path.write_text(PYSCENEDETECT_CSV)
    seglist = read_segments(path)
    assert [(s.start, s.end) for s in seglist.segments] == [(0, 1), (1, 2), (2, 3)]
    assert seglist.fps == pytest.approx(10.0) and seglist.boundaries == [1.0, 2.0]
    (tmp_path / "no-cut-list.csv").write_text(PYSCENEDETECT_CSV.split("\n", 1)[1])
    assert main(["eval-segments", str(path), str(tmp_path / "no-cut-list.csv"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["boundary_F1@0.5s"] == 1.0
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    assert main(["eval-segments", str(tmp_path / "bad.csv"), str(path)]) == 1  # a data problem
    err = capsys.readouterr().err
    assert "bad.csv: a scene-list CSV needs the columns" in err and err.count("\n") == 1


def test_clip_holds_exactly_the_frames_of_its_segment(media_dir, tmp_path):
    with open_video(media_dir / "counter.mp4") as reader:
        source = reader.read().data.astype(np.int16)
    clip = write_clip(media_dir / "counter.mp4", 1.0, 2.0, tmp_path / "b.mp4")
    frames = decoded(clip.path)
    assert clip.frames == len(frames) == 10 and not clip.copied
    # each clip frame is nearest to the source frame it should be: frames 11..20 (1-based)
    nearest = [int(np.argmin([np.abs(f - s).mean() for s in source])) for f in frames]
    assert nearest == list(range(10, 20))


def test_cuts_on_keyframes_are_stream_copied(media_dir, tmp_path):
    whole = write_clip(media_dir / "counter.mp4", 0.0, 3.0, tmp_path / "all.mp4")
    assert whole.copied and len(decoded(whole.path)) == 30
    vfr = media_dir / "goldeneye-vfr-drop3.mp4"  # keyframes at 0, 3.75375 and 8.75875 s
    middle = write_clip(vfr, 3.75375, 8.75875, tmp_path / "gop.mp4")
    with open_video(vfr) as reader:
        ts = reader.native_timestamps
    expected = int(((ts >= 3.75375 - 1e-6) & (ts < 8.75875 - 1e-6)).sum())
    assert middle.copied and len(decoded(middle.path)) == expected == middle.frames
    again = write_clip(vfr, 3.75375, 8.75875, tmp_path / "enc.mp4", copy=False)
    assert not again.copied and len(decoded(again.path)) == expected


def test_rotated_video_is_re_encoded_upright(media_dir, tmp_path):
    clip = write_clip(media_dir / "issue-134-rotate.mp4", 2.5025, 3.75375, tmp_path / "r.mp4")
    with av.open(str(clip.path)) as f:
        frame = next(f.decode(video=0))
    assert not clip.copied and (frame.width, frame.height) == (544, 1280)


def test_bad_clip_requests_say_what_is_wrong(media_dir, tmp_path):
    with pytest.raises(ClipExportError, match="no frame between 5.000 s and 6.000 s"):
        write_clip(media_dir / "counter.mp4", 5.0, 6.0, tmp_path / "x.mp4")
    with pytest.raises(ClipExportError, match="name the file .mp4"):
        write_clip(media_dir / "counter.mp4", 0.0, 1.0, tmp_path / "x.avi")
    assert not list(tmp_path.iterdir())


def test_export_writes_every_list_and_thumbnail(media_dir, tmp_path):
    import opentimelineio as otio

    done = export_segments(counter_list(media_dir), tmp_path, thumbnails=2)
    assert sorted(done.lists) == ["csv", "edl", "json", "otio", "stats"]
    assert [c.clip.frames for c in done.clips] == [10, 10, 10]
    assert [p.name for p in done.clips[1].thumbnails] == ["counter-scene-002-01.jpg",
                                                          "counter-scene-002-02.jpg"]
    edl = (tmp_path / "counter.edl").read_text().splitlines()
    assert edl[:2] == ["TITLE: vidskill", "FCM: NON-DROP FRAME"]
    assert edl[3].split()[-4:] == ["00:00:00:00", "00:00:01:00", "00:00:00:00", "00:00:01:00"]
    timeline = otio.adapters.read_from_file(str(tmp_path / "counter.otio"))
    clips = list(timeline.find_clips())
    assert [c.name for c in clips] == ["a", "b", "counter-scene-003"]
    assert [c.source_range.start_time.value for c in clips] == [0, 10, 20]
    assert clips[0].media_reference.target_url.endswith("counter.mp4")
    stats = (tmp_path / "counter.stats.csv").read_text().splitlines()
    assert stats[0] == "Window,Time (seconds),Timecode,Signal" and len(stats) == 4
    back = read_segments(tmp_path / "counter.json")
    assert back.signal.tolist() == [0.1, 0.9, 0.2] and back.source.endswith("counter.mp4")
    assert not list(tmp_path.glob(".*tmp*"))
