"""The posts console in Chromium: the composer shows the fields of the chosen kind, and an
upload goes up by XHR with a progress bar, then follows the worker's processing until the
file is ready, under the site's strict CSP."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from playwright.sync_api import expect

# Playwright fixtures of the browser tests, used here by name.
from tests.browser.conftest import browser, new_context, page  # noqa: F401
from tests.posts.conftest import jpeg_with_gps
from watchhouse.posts.models import MediaAsset
from watchhouse.posts.services import media_process

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _signed_in(page, live_server, user) -> None:  # noqa: F811 - the fixture, passed in
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def test_the_composer_shows_the_fields_of_the_kind(page, live_server, pio):  # noqa: F811
    _signed_in(page, live_server, pio)
    page.goto("/console/posts/new/")
    start = page.locator("#id_event_start")
    assert not start.is_visible()
    page.select_option("#id_kind", "event")
    assert start.is_visible() and not page.locator("#id_expires_at").is_visible()
    page.select_option("#id_kind", "missing")
    assert page.locator("#id_expires_at").is_visible() and not start.is_visible()


def test_an_upload_shows_its_progress_and_follows_processing(
    page,  # noqa: F811
    live_server,
    pio,
    tmp_path,
):
    _signed_in(page, live_server, pio)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/console/posts/media/")
    page.set_input_files("#id_file", str(jpeg_with_gps(tmp_path / "scene.jpg")))
    page.fill("#id_alt_text", "The scene")
    page.click("#media-upload button[type=submit]")
    deadline = time.monotonic() + 10
    while not MediaAsset.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    media = MediaAsset.objects.get()
    # The script, not a page load, says the upload is done and the worker is next.
    expect(page.locator("#upload-status")).to_contain_text("Uploaded")
    assert page.url.endswith("/console/posts/media/")
    media_process(media_id=media.pk)  # the worker's part
    page.wait_for_url(f"**/console/posts/media/{media.pk}/")
    assert "Ready" in page.locator("#media-status").inner_text()
    assert page.locator("#media-progress").get_attribute("value") == "1.00"
    assert errors == []
