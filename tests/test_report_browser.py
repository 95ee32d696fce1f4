"""The report in a real browser: headless Chromium (Debian's `chromium`) loads the page,
every image and video loads, the filters change what is shown, nothing logs an error.
Screenshots are kept in test-artifacts/ (git-ignored) for a person to look at."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from vidskill.boundaries.base import Segment
from vidskill.boundaries.io import SegmentList
from vidskill.demo.corpus import write_long_video
from vidskill.ingest import ingest
from vidskill.ingest.manifest import Source
from vidskill.report import segments_report, store_report, write_report
from vidskill.store import ClipStore

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# A clean, quiet browser: no sandbox (CI runs as root), no GPU, nothing fetched in the
# background; headless is added by Playwright.
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
LOADED = """() => [...document.images].every(i => i.complete)
    && [...document.querySelectorAll('video')].every(v => v.readyState >= 1 || v.error)"""


def chromium() -> str | None:
    """The system Chromium: $VIDSKILL_CHROMIUM, else chromium / chromium-browser on PATH."""
    return (os.environ.get("VIDSKILL_CHROMIUM") or shutil.which("chromium")
            or shutil.which("chromium-browser"))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    exe = chromium()
    if exe is None:
        pytest.skip("Chromium is not installed: apt-get install -y chromium (.ci/run does)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=exe,
            headless=True, args=FLAGS, viewport={"width": 1280, "height": 900})
        yield context
        context.close()


def open_page(browser, index: Path):
    """The page loaded with all its media, and the errors it logged."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(index.resolve().as_uri())
    page.wait_for_function(LOADED, timeout=120_000)
    return page, errors


def check_media(page) -> tuple[int, int]:
    """Every image decoded and every video has its metadata (no error)."""
    images = page.evaluate("[...document.images].map(i => [i.getAttribute('src'), i.naturalWidth])")
    videos = page.evaluate("[...document.querySelectorAll('video')].map(v => "
                           "[v.getAttribute('src'), v.readyState, v.error && v.error.code, "
                           "v.videoWidth])")
    assert images and all(w > 0 for _, w in images), [i for i in images if i[1] == 0]
    assert all(r >= 1 and e is None and w > 0 for _, r, e, w in videos), videos
    return len(images), len(videos)


def keep(page, tmp_path: Path, name: str) -> None:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / name)


def visible(page) -> list[tuple[str, str]]:
    return [tuple(x) for x in page.evaluate("[...document.querySelectorAll('article.clip')].filter(a => "
                         "!a.hidden).map(a => [a.dataset.label, a.dataset.domain])")]


def test_store_report_in_chromium(browser, select_corpus, tmp_path):
    long = write_long_video(tmp_path / "long.mp4", minutes=0.25, seed=4)
    sources = [Source(v.path, "clip", v.label, "human")
               for v in select_corpus.select(kind="clip")][:8]
    sources += [Source(v.path, "template", v.label, "robot")
                for v in select_corpus.select(kind="template")][:4]
    sources.append(Source(long.path, "long", None, "human"))
    ingest(sources, tmp_path / "store")
    with ClipStore(tmp_path / "store") as store:
        report = store_report(store, tmp_path / "report", neighbours=3)   # ingest's kept signal
    page, errors = open_page(browser, write_report(report, tmp_path / "report"))
    n_images, n_videos = check_media(page)
    assert n_videos == len(report.clips) and n_images >= 3 * len(report.clips)
    keep(page, tmp_path, "store-report.png")

    every = visible(page)
    assert len(every) == len(report.clips)
    label = next(c.label for c in report.clips if c.domain == "robot")
    page.select_option("#label-filter", label)
    shown = visible(page)
    assert shown and len(shown) < len(every) and {lab for lab, _ in shown} == {label}
    assert len(shown) == sum(c.label == label for c in report.clips)
    page.select_option("#domain-filter", "robot")
    assert visible(page) == [(label, "robot")]
    assert page.inner_text("#shown") == f"1 of {len(every)} clips"
    keep(page, tmp_path, "store-report-filtered.png")
    page.select_option("#label-filter", "")
    page.select_option("#domain-filter", "")
    assert len(visible(page)) == len(every)

    page.locator("article.clip details summary").first.click()  # opens its nearest clips
    first = page.locator("ol.nn a").first  # a neighbour link jumps to that clip's card
    target = first.get_attribute("href")
    first.click()
    assert page.evaluate("location.hash") == target
    assert page.locator(f"article{target}").count() == 1
    assert page.locator("svg.signal polyline").count() == 1
    assert errors == []


def test_clips_of_real_footage_play_in_chromium(browser, media_dir, tmp_path):
    """Stream-copied H.264 (keyframe cuts), re-encoded 1080p and rotated clips all load."""
    lists = [
        SegmentList((Segment(0.0, 3.0, "count"),), 3.0, 10.0,
                    source=str(media_dir / "counter.mp4")),
        SegmentList((Segment(0.0, 3.75375), Segment(3.75375, 8.75875, "gop")), 9.97, 24.0,
                    source=str(media_dir / "goldeneye-vfr-drop3.mp4"),
                    signal_times=np.linspace(0.5, 9.5, 10), signal=np.ones(10)),
        SegmentList((Segment(1.0, 2.5, "turned"),), 10.0, 23.976,
                    source=str(media_dir / "issue-134-rotate.mp4")),
    ]
    report = segments_report(lists, tmp_path / "report")
    page, errors = open_page(browser, write_report(report, tmp_path / "report"))
    assert check_media(page)[1] == 4
    keep(page, tmp_path, "media-report.png")
    assert errors == []
