"""A tipster's round trip on a phone: send a tip with a photo, read the receipt, come back with
the tip code and passphrase, read the department's question and answer it with another photo.

Everything goes through Chromium against the live server: the tipster on a phone, the
investigator in the console (signed in with the second factor) in a browser of their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.urls import reverse
from playwright.sync_api import expect

from tests.mediafiles import jpeg_with_gps
from watchhouse.accounts.services import totp_device_create
from watchhouse.core.crypto import open_sealed
from watchhouse.tips.models import MessageKind, Tip, TipFile, TipMessage

PHONE = {"width": 390, "height": 844}
QUESTION = "Which way did the van drive off, and was anyone else in it?"
ANSWER = "North on Elm Street. A second man was driving."


@pytest.fixture(autouse=True)
def _fresh_counters() -> None:
    """The live server counts tips per client in the cache: start from zero."""
    cache.clear()


@pytest.fixture
def private_root(settings: Any, tmp_path: Path) -> Path:
    """The private media root of this test (the live server runs in this process)."""
    private = tmp_path / "private"
    private.mkdir()
    settings.WATCHHOUSE_PRIVATE_MEDIA_ROOT = private
    return private


def watch_requests(page: Any, origin: str) -> list[str]:
    """Every address the page asks for that is not on the live server."""
    elsewhere: list[str] = []

    def seen(request: Any) -> None:
        if not request.url.startswith(f"{origin}/") and not request.url.startswith("data:"):
            elsewhere.append(request.url)

    page.on("request", seen)
    return elsewhere


def sealed_bytes(stored: TipFile, private: Path) -> bytes:
    with open_sealed(private / stored.path, stored.wrapped_key) as fh:
        return fh.read()


def test_tipster_sends_reads_the_question_and_answers(
    new_context: Callable[..., Any],
    live_server: Any,
    make_staff: Callable[..., Any],
    private_root: Path,
    tmp_path: Path,
    areas: list[Any],
    sign_in: Callable[..., None],
) -> None:
    first = jpeg_with_gps(tmp_path / "van.jpg")
    second = jpeg_with_gps(tmp_path / "driver.jpg", size=(640, 480))
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    elsewhere = watch_requests(page, live_server.url)

    page.goto(reverse("tips:new"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Send a tip")
    page.get_by_label("What happened?", exact=True).fill(
        "A white van without plates was loading bikes behind the library."
    )
    page.get_by_label("Where?", exact=True).fill("Behind the Elm Street library")
    page.get_by_label("When?", exact=True).fill("Yesterday about 11 pm")
    # The map point: a tap on the map of the areas (no base map) fills in the numbers.
    page.get_by_text("Add a map point (optional)").click()
    tip_map = page.locator("#tip-map")
    expect(tip_map).to_be_visible()
    expect(tip_map.locator(".tip-area").first).to_be_attached()
    size = tip_map.bounding_box()
    tip_map.click(position={"x": size["width"] * 0.4, "y": size["height"] * 0.3})
    expect(page.locator("#id_lat")).not_to_have_value("")
    # Contact fields only appear for a tipster who chooses to give them.
    expect(page.get_by_label("How we can reach you")).to_be_hidden()
    page.get_by_label("I want to give contact details").check()
    expect(page.get_by_label("How we can reach you")).to_be_visible()
    page.get_by_label("I want to give contact details").uncheck()
    page.get_by_label("Files (optional)").set_input_files(str(first))
    page.get_by_role("button", name="Send the tip").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your tip was received")
    code = page.locator("#tip-code").inner_text().strip()
    passphrase = page.locator("#tip-passphrase").inner_text().strip()
    assert passphrase
    assert passphrase not in page.url
    assert elsewhere == []

    tip = Tip.objects.get(code=code)
    assert tip.area is not None and tip.area.name == "Old Mill"
    assert TipFile.objects.get(tip=tip).sha256 == hashlib.sha256(first.read_bytes()).hexdigest()
    detective = make_staff("investigator", username="det.rivera")
    desk = new_context().new_page()
    sign_in(desk, detective, totp_device_create(actor=None, user=detective))
    desk.goto(reverse("console:tip", args=[tip.pk]))
    expect(desk.locator("main")).to_contain_text("loading bikes behind the library")
    desk.get_by_label("Question or reply to the tipster").fill(QUESTION)
    desk.get_by_role("button", name="Send to the tipster").click()
    expect(desk.locator("main")).to_contain_text("Sent to the tipster.")

    page.goto(reverse("tips:status"))
    page.get_by_label("Tip code").fill(code)
    page.get_by_label("Passphrase").fill(passphrase)
    page.get_by_role("button", name="Open").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Your tip {code}")
    expect(page.locator("main")).to_contain_text(QUESTION)
    expect(page.locator("main")).to_contain_text("loading bikes behind the library")
    expect(page.locator("main")).to_contain_text("van.jpg")

    page.get_by_label("Your answer").fill(ANSWER)
    page.get_by_label("Files (optional)").set_input_files(str(second))
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Your answer was sent.")).to_be_visible()
    expect(page.locator("main")).to_contain_text(ANSWER)
    expect(page.locator("main")).to_contain_text("driver.jpg")
    assert elsewhere == []

    answer = TipMessage.objects.get(tip=tip, kind=MessageKind.FROM_TIPSTER)
    assert answer.read_body() == ANSWER
    added = TipFile.objects.get(message=answer)
    assert added.read_name() == "driver.jpg"
    assert sealed_bytes(added, private_root) == second.read_bytes()
    assert not list((private_root / "tips" / "staging").glob("*"))


def test_a_tip_is_sent_without_javascript(
    new_context: Callable[..., Any], live_server: Any, private_root: Path, tmp_path: Path
) -> None:
    """With scripts off the form still sends a tip and its photo, and shows the receipt."""
    photo = jpeg_with_gps(tmp_path / "bike.jpg")
    page = new_context(viewport=PHONE, java_script_enabled=False).new_page()
    elsewhere = watch_requests(page, live_server.url)
    page.goto(reverse("tips:new"))
    page.get_by_label("What happened?", exact=True).fill("Someone cut the lock on rack 3.")
    page.get_by_label("I don't know where").check()
    page.get_by_label("Files (optional)").set_input_files(str(photo))
    page.get_by_role("button", name="Send the tip").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your tip was received")
    code = page.locator("#tip-code").inner_text().strip()
    tip = Tip.objects.get(code=code)
    assert tip.read_content()["what"] == "Someone cut the lock on rack 3."
    assert sealed_bytes(TipFile.objects.get(tip=tip), private_root) == photo.read_bytes()
    assert elsewhere == []
