"""A resident's round trip: sign in by a link e-mailed through a real SMTP server, join the
neighbourhood, verify with the code printed on the postcard, comment in a discussion; two
neighbours flag the comment until it is hidden pending review; a moderator, signed in to the
console with the second factor, restores it with a note; everyone sees it again."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

import pypdf
import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.urls import reverse
from playwright.sync_api import expect

from tests.notify.loopback import SmtpServer, smtp_settings
from watchhouse.accounts.services import totp_device_create
from watchhouse.community.auth import SESSION_KEY
from watchhouse.community.models import (
    Discussion,
    Membership,
    MembershipStatus,
    Resident,
    VerificationMethod,
)
from watchhouse.community.services.residents import postcard_batch_create
from watchhouse.core import crypto
from watchhouse.geo.models import Area
from watchhouse.geocode.services import address_import

COMMENT = "The streetlight at Mill and 3rd has been out since Monday; I reported it to 311."
CODE = re.compile(r"\b([A-Z0-9]{4}) ([A-Z0-9]{4})\b")


@pytest.fixture(autouse=True)
def _fresh_counters() -> None:
    """Sign-in requests are counted per client in the cache: start from zero."""
    cache.clear()


def mail_to(smtp: SmtpServer, address: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in smtp.messages:
            if address in str(message["To"]):
                return message
        time.sleep(0.1)
    raise AssertionError(f"No mail reached {address}.")


def signed_in_context(new_context: Callable[..., Any], live_server: Any, resident: Resident) -> Any:
    """A browser of a neighbour who signed in earlier (their session made directly)."""
    store = import_module(django_settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = resident.pk
    store.save()
    context = new_context()
    context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": store.session_key,
                "url": live_server.url,
            }
        ]  # fmt: skip
    )
    return context


def neighbour(email: str, name: str, area: Area) -> Resident:
    resident = Resident.objects.create(email=email, display_name=name)
    Membership.objects.create(
        resident=resident, area=area, address=crypto.seal("20 Mill Street"),
        status=MembershipStatus.VERIFIED, method=VerificationMethod.STAFF,
    )  # fmt: skip
    return resident


def test_resident_comments_neighbours_flag_and_a_moderator_restores(
    new_context: Callable[..., Any],
    live_server: Any,
    make_staff: Callable[..., Any],
    areas: list[Any],
    sign_in: Callable[..., None],
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.WATCHHOUSE_COMMUNITY_FLAGS_TO_HIDE = 2
    settings.MEDIA_ROOT = tmp_path / "media"
    addresses = tmp_path / "addresses.csv"
    addresses.write_text("address,lat,lon\n12 MILL ST,39.955,-89.355\n", encoding="utf-8")
    address_import(actor=None, path=addresses, format="csv")
    old_mill = Area.objects.get(kind="neighbourhood", name="Old Mill")
    ben = neighbour("ben@example.org", "Ben", old_mill)
    cy = neighbour("cy@example.org", "Cy", old_mill)
    discussion = Discussion.objects.create(
        area=old_mill, author=ben, title="Dark corner at Mill and 3rd", body="Anyone else?"
    )
    discussion_url = reverse(
        "community:discussion", kwargs={"area_slug": old_mill.slug, "pk": discussion.pk}
    )

    with SmtpServer() as smtp:
        smtp_settings(settings, smtp, site_url=live_server.url)
        ana = new_context().new_page()
        ana.goto(f"{reverse('community:sign_in')}?next={discussion_url}")
        ana.get_by_label("E-mail address").fill("ana@example.org")
        ana.get_by_role("button", name="Send me a sign-in link").click()
        message = mail_to(smtp, "ana@example.org")
    body = message.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https?://[^/\s]+(/community/sign-in/\S+)", body)
    assert link, body
    ana.goto(link.group(1))
    ana.get_by_label("Display name").fill("Ana")
    ana.get_by_role("button", name="Sign in").click()
    ana.wait_for_url(f"**{discussion_url}")
    # Signed in, not yet a verified member: she may read, not comment.
    expect(
        ana.get_by_text("Only verified residents of this neighbourhood can comment.")
    ).to_be_visible()

    ana.goto(reverse("community:join"))
    ana.get_by_label("Street address").fill("12 Mill St")
    ana.get_by_role("button", name="Ask to join").click()
    membership = Membership.objects.get(resident__email="ana@example.org")
    assert membership.area == old_mill and membership.status == MembershipStatus.PENDING

    clerk = make_staff("pio", username="pio.clerk")
    _batch, pdf = postcard_batch_create(actor=clerk, memberships=[membership])
    text = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    code = "".join(CODE.search(text).groups())  # type: ignore[union-attr]
    ana.goto(reverse("community:verify"))
    ana.get_by_label("Code on the postcard").fill(code)
    ana.get_by_role("button", name="Verify").click()
    expect(ana.get_by_text("You are a verified member of Old Mill.")).to_be_visible()

    ana.goto(discussion_url)
    ana.get_by_label("Your comment").fill(COMMENT)
    ana.get_by_role("button", name="Post comment").click()
    expect(ana.get_by_text("Your comment is posted.")).to_be_visible()
    comment = discussion.comments.get()
    expect(ana.locator(f"#comment-{comment.pk}")).to_contain_text(COMMENT)

    for flagger in (ben, cy):
        page = signed_in_context(new_context, live_server, flagger).new_page()
        page.goto(discussion_url)
        item = page.locator(f"#comment-{comment.pk}")
        item.locator("summary", has_text="Flag").click()
        item.get_by_label("Which rule of the policy does it break?").select_option("off_topic")
        item.get_by_role("button", name="Send flag").click()
        expect(page.get_by_text("Thank you: the moderators will look at it")).to_be_visible()

    reader = new_context().new_page()
    reader.goto(discussion_url)
    expect(reader.locator(f"#comment-{comment.pk}")).to_contain_text(
        "Hidden pending review by the moderators."
    )
    expect(reader.get_by_text(COMMENT)).to_have_count(0)
    ana.goto(discussion_url)
    expect(ana.locator(f"#comment-{comment.pk}")).to_contain_text(
        "Your comment is hidden while the moderators review it"
    )

    moderator = make_staff("pio", username="pio.rivera")
    desk = new_context().new_page()
    sign_in(desk, moderator, totp_device_create(actor=None, user=moderator))
    desk.goto(reverse("console:home"))
    desk.get_by_role("link", name="Community moderation").first.click()
    desk.get_by_role("link", name=f"Comment {comment.pk}").first.click()
    expect(desk.locator(".state")).to_have_text("Hidden pending review")
    desk.get_by_label("Why it is restored (required)").fill(
        "On topic: a broken streetlight is a safety matter for the neighbourhood."
    )
    desk.get_by_role("button", name="Restore").click()
    expect(desk.get_by_text("Restored: it is visible again.")).to_be_visible()
    expect(desk.locator(".state")).to_have_text("Visible")

    reader.goto(discussion_url)
    expect(reader.locator(f"#comment-{comment.pk}")).to_contain_text(COMMENT)
    comment.refresh_from_db()
    assert comment.visibility == "visible"
    assert [d.action for d in comment.decisions.order_by("created_at")] == ["auto_hide", "restore"]
