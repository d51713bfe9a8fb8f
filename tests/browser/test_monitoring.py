"""An analyst watches the live review queue: a post arrives from the stream while the page is
open and appears at the top, with the rule, the phrase and the place that made it a match,
without reloading the page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from watchhouse.accounts.roles import Role
from watchhouse.accounts.services import totp_device_create
from watchhouse.monitoring.posts import PublicPost
from watchhouse.monitoring.runner import posts_ingest
from watchhouse.monitoring.services.landmarks import landmark_save
from watchhouse.monitoring.services.rules import rule_create
from watchhouse.monitoring.stream import processor_forget


@pytest.fixture(autouse=True)
def _fresh_stream() -> Iterator[None]:
    processor_forget()
    yield
    processor_forget()


def test_a_new_match_appears_in_the_open_queue_with_its_reason(page, make_staff, sign_in, settings):
    settings.WATCHHOUSE_MFA_REQUIRED = True
    analyst = make_staff(Role.ANALYST, username="a.reyes")
    rule_create(
        actor=analyst, name="Gas leak", purpose="Gas leaks, for the fire department.",
        phrases=["gas leak"], expires_at=timezone.now() + timedelta(days=5),
    )  # fmt: skip
    landmark_save(actor=analyst, name="Union Station", lat=39.954, lon=-89.359)
    sign_in(page, analyst, totp_device_create(actor=None, user=analyst))

    page.get_by_role("link", name="Monitoring").first.click()
    page.get_by_role("link", name="Review queue").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review queue")
    expect(page.locator("main")).to_contain_text("Nothing to review.")
    page.evaluate("window.stillTheSamePage = true")

    posts_ingest(
        [
            PublicPost(
                source="file", remote_id="live-1", posted_at=timezone.now(),
                text="Strong gas leak by Union Station, they are clearing the platform",
                author_handle="commuter@social.example", author_name="A commuter",
            )
        ]
    )  # fmt: skip

    entry = page.locator("#queue-posts li.queue-post").first
    expect(entry).to_contain_text("gas leak by Union Station", timeout=10_000)
    expect(entry.locator(".reason")).to_contain_text("Gas leak")
    expect(entry.locator("mark")).to_have_text("gas leak")
    expect(entry.locator(".reason")).to_contain_text("Union Station (landmark)")
    expect(entry.get_by_role("button", name="Pass on")).to_be_visible()
    expect(page.get_by_text("Nothing to review.")).to_be_hidden()
    assert page.evaluate("window.stillTheSamePage") is True
    assert reverse("console:monitoring_queue") in page.url
