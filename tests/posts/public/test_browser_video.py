"""A video post plays in Chromium: the MP4 made by ffmpeg is served with byte ranges by the
public media view, and the <video> element loads its metadata (duration, size)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import conftest as browser_setup
from tests.browser.conftest import axe_script, new_context  # noqa: F401 - fixtures
from tests.conftest import need
from tests.posts.public.conftest import HAVE_FFMPEG
from watchhouse.posts.public import post_url

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium for this module only, closed at its end: two Playwright sessions at
    once (this one and tests/browser's package-wide one) cannot share the test thread. The
    async-safety switch is as in tests/browser/conftest.py."""
    chromium_path = browser_setup.CHROMIUM
    need(chromium_path.exists(), f"{chromium_path} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(chromium_path),
                args=browser_setup.CHROMIUM_ARGS,
                headless=True,
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def test_video_element_loads_metadata(
    request: Any, live_server: Any, make_post: Any, make_video: Any
) -> None:
    need(HAVE_FFMPEG, "ffmpeg is not installed (apt-get install ffmpeg)")
    open_context = request.getfixturevalue("new_context")
    post = make_post("Training day", kind="video")
    make_video(post, captions="WEBVTT\n\n00:00.000 --> 00:01.500\nWelcome to training day\n")
    page = open_context().new_page()
    ranges: list[str] = []
    page.on(
        "request",
        lambda request: (
            ranges.append(request.headers.get("range", ""))
            if request.url.endswith("/video.mp4")
            else None
        ),
    )
    page.goto(post_url(post))
    video = page.locator("video")
    video.wait_for()
    page.wait_for_function("document.querySelector('video').readyState >= 1")
    state = video.evaluate(
        "v => ({ready: v.readyState, duration: v.duration, width: v.videoWidth,"
        " error: v.error && v.error.code, tracks: v.textTracks.length})"
    )
    assert state["error"] is None
    assert state["ready"] >= 1
    assert state["duration"] == pytest.approx(2.0, abs=0.2)
    assert state["width"] == 320
    assert state["tracks"] == 1
    assert ranges, "Chromium never asked for the video"
    # Seeking works: Chromium asks for byte ranges and the server answers them.
    assert any(r.startswith("bytes=") for r in ranges)


def test_public_post_pages_pass_axe(
    request: Any, live_server: Any, make_post: Any, make_image: Any, make_officer: Any
) -> None:
    """The timeline, a post page, the officers' pages and the podcast page have no serious or
    critical accessibility problem (axe-core), and load nothing from another site."""
    axe = request.getfixturevalue("axe_script")
    open_context = request.getfixturevalue("new_context")
    officer = make_officer("Officer Ana Cole")
    post = make_post("Coffee with a cop", kind="story", officer=officer)
    make_image(post, alt="Officers and neighbours at the library")
    make_post("Road works")
    page = open_context().new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    for url in ("/news/", post_url(post), "/officers/", "/officers/officer-ana-cole/", "/podcast/"):
        page.goto(url)
        page.evaluate(axe.read_text(encoding="utf-8"))
        result = page.evaluate("async () => await axe.run(document)")
        assert result["passes"], "axe-core did not run"
        problems = [
            f"{v['id']} ({v['impact']}): {v['help']}"
            for v in result["violations"]
            if v["impact"] in {"serious", "critical"}
        ]
        assert problems == [], (url, problems)
    assert [u for u in requested if not u.startswith(live_server.url + "/")] == []
