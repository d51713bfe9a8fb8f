"""Residents sign in by a one-time e-mailed link and join the neighbourhood of their address."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client, TestCase
from django.utils import timezone
from freezegun import freeze_time

from tests.community.conftest import signed_in
from tests.community.conftest_residents import (  # noqa: F401 - fixtures
    addresses,
    fresh_limits,
    link_in,
    without_tokens,
)
from tests.notify.loopback import SmtpServer, smtp_settings
from watchhouse.audit.models import AuditEntry
from watchhouse.community.auth import SESSION_KEY, verified_membership
from watchhouse.community.models import Membership, MembershipStatus, Resident, SignInLink
from watchhouse.community.services import residents as services
from watchhouse.core.errors import InvalidInputError, NotPermittedError

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_limits")]


def _ask(client: Client, email: str, next_path: str = "") -> Any:
    return client.post("/community/sign-in", {"email": email, "next": next_path})


def _mailed_link(settings: Any, email: str, next_path: str = "") -> str:
    """Ask for a link for ``email`` and return the path it mails."""
    with SmtpServer() as smtp:
        smtp_settings(settings, smtp, site_url="https://police.example")
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = _ask(Client(), email, next_path)
        assert response.status_code == 200
        assert len(smtp.messages) == 1
        message = smtp.messages[0]
    assert message["To"] == email.lower()
    return link_in(message)


def test_sign_in_link_arrives_by_email_and_signs_in_only_on_post(settings: Any) -> None:
    """The link comes by mail; opening it changes nothing; pressing the button signs in and
    creates the resident with the name chosen then."""
    with SmtpServer() as smtp:
        smtp_settings(settings, smtp, site_url="https://police.example")
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = _ask(Client(), "New.Neighbour@Example.org", "/community/join")
        assert b"Check your e-mail" in response.content
        [message] = smtp.messages
    assert message["To"] == "new.neighbour@example.org"
    assert "https://police.example/community/sign-in/" in message.get_body().get_content()
    path = link_in(message)
    assert "next=/community/join" in path
    token = path.split("/community/sign-in/")[1].split("?")[0]
    # Only the token's hash is stored.
    assert not SignInLink.objects.filter(token_hash__contains=token).exists()

    client = Client()
    for _ in range(2):  # a mail scanner, then the person
        page = client.get(path)
        assert page.status_code == 200
        assert b"Display name" in page.content
    assert SignInLink.objects.get().used_at is None
    assert not Resident.objects.exists()

    missing = client.post(path, {"display_name": "  "})
    assert missing.status_code == 400
    assert not Resident.objects.exists()
    assert SignInLink.objects.get().used_at is None

    done = client.post(path, {"display_name": "Ana from Mill Street"})
    assert done.status_code == 302
    assert done["Location"] == "/community/join"
    resident = Resident.objects.get()
    assert resident.email == "new.neighbour@example.org"
    assert resident.display_name == "Ana from Mill Street"
    assert client.session[SESSION_KEY] == resident.pk
    assert b"Ana from Mill Street" in client.get("/community/").content
    assert AuditEntry.objects.filter(action="community.sign_in", object_id=str(resident.pk))


def test_replayed_link_is_refused(settings: Any, make_resident: Any) -> None:
    """A link works once: the second use is refused and signs nobody in."""
    make_resident("ana@example.org")
    path = _mailed_link(settings, "ana@example.org")
    first = Client()
    assert first.post(path).status_code == 302
    second = Client()
    replay = second.post(path)
    assert replay.status_code == 400
    assert b"already been used" in replay.content
    assert SESSION_KEY not in second.session
    assert b"already been used" in second.get(path).content


def test_expired_link_is_refused(settings: Any, make_resident: Any) -> None:
    """A link older than WATCHHOUSE_COMMUNITY_SIGNIN_MINUTES signs nobody in."""
    settings.WATCHHOUSE_COMMUNITY_SIGNIN_MINUTES = 15
    make_resident("ana@example.org")
    path = _mailed_link(settings, "ana@example.org")
    client = Client()
    with freeze_time(timezone.now() + timedelta(minutes=16)):
        assert b"has expired" in client.get(path).content
        refused = client.post(path)
    assert refused.status_code == 400
    assert b"has expired" in refused.content
    assert SESSION_KEY not in client.session
    assert SignInLink.objects.get().used_at is None


def test_tampered_link_is_refused(settings: Any, make_resident: Any) -> None:
    """A link with its token altered is not valid."""
    make_resident("ana@example.org")
    path = _mailed_link(settings, "ana@example.org")
    base, _, query = path.partition("?")
    altered = base[:-1] + ("A" if base[-1] != "A" else "B")
    client = Client()
    for tampered in (altered, base + "x", "/community/sign-in/short", altered + "?" + query):
        response = client.post(tampered)
        assert response.status_code == 400
        assert b"not valid" in response.content
    assert SESSION_KEY not in client.session
    assert SignInLink.objects.get().used_at is None


def test_same_answer_for_known_and_unknown_addresses(settings: Any, make_resident: Any) -> None:
    """Whether an address belongs to a resident is never told: same page, a mail either way."""
    make_resident("known@example.org")
    with SmtpServer() as smtp:
        smtp_settings(settings, smtp)
        with TestCase.captureOnCommitCallbacks(execute=True):
            known = _ask(Client(), "known@example.org")
            unknown = _ask(Client(), "nobody@example.org")
        assert known.status_code == unknown.status_code == 200
        assert without_tokens(known.content) == without_tokens(unknown.content)
        assert sorted(m["To"] for m in smtp.messages) == ["known@example.org", "nobody@example.org"]


def test_sign_in_requests_are_rate_limited_per_address_and_per_client() -> None:
    """Five links an hour to one address; twenty requests an hour from one client."""
    client = Client()
    for _ in range(services.SIGNIN_PER_ADDRESS):
        assert _ask(client, "ana@example.org").status_code == 200
    limited = _ask(client, "ana@example.org")
    assert limited.status_code == 429
    assert SignInLink.objects.filter(email="ana@example.org").count() == 5

    other = Client(REMOTE_ADDR="192.0.2.7")
    for n in range(services.SIGNIN_PER_CLIENT):
        assert _ask(other, f"person{n}@example.org").status_code == 200
    assert _ask(other, "one-more@example.org").status_code == 429
    assert not SignInLink.objects.filter(email="one-more@example.org").exists()


def test_bad_address_and_foreign_next_are_refused() -> None:
    """Not an e-mail address: a clear error; a next page on another site is dropped."""
    response = _ask(Client(), "not-an-address")
    assert response.status_code == 400
    assert b"valid e-mail address" in response.content
    assert not SignInLink.objects.exists()
    for foreign in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        assert services.safe_next(foreign) == ""
    assert services.safe_next("/community/join?x=1") == "/community/join?x=1"


def test_sign_out(make_resident: Any) -> None:
    client = signed_in(Client(), make_resident("ana@example.org"))
    assert client.get("/community/sign-out").status_code == 405
    client.post("/community/sign-out")
    assert SESSION_KEY not in client.session


# --- joining ------------------------------------------------------------------------------


@pytest.mark.usefixtures("addresses")
def test_join_with_an_address_inside_a_neighbourhood(hoods: Any, make_resident: Any) -> None:
    """The address decides the neighbourhood; the membership waits, the address sealed."""
    resident = make_resident("ana@example.org")
    client = signed_in(Client(), resident)
    response = client.post("/community/join", {"address": "12 Mill Street"})
    assert response.status_code == 302
    membership = Membership.objects.get(resident=resident)
    assert membership.area == hoods["Old Mill"]
    assert membership.status == MembershipStatus.PENDING
    assert membership.read_address() == "12 Mill Street"
    with connection.cursor() as cursor:
        cursor.execute("SELECT address FROM community_membership WHERE id = %s", [membership.pk])
        (raw,) = cursor.fetchone()
    assert "Mill" not in raw and "12" not in raw.split()
    assert AuditEntry.objects.filter(
        action="community.membership_request", object_id=str(membership.pk)
    ).exists()
    home = client.get("/community/").content.decode()
    assert "Old Mill" in home and "Waiting for verification" in home

    again = client.post("/community/join", {"address": "14 Mill St"})
    assert again.status_code == 400
    assert "already asked to join Old Mill" in again.content.decode()
    assert Membership.objects.filter(resident=resident).count() == 1


@pytest.mark.usefixtures("addresses")
def test_join_outside_every_neighbourhood_or_unknown_address(
    hoods: Any, make_resident: Any
) -> None:
    resident = make_resident("ana@example.org")
    client = signed_in(Client(), resident)
    outside = client.post("/community/join", {"address": "3 Faraway Road"})
    assert outside.status_code == 400
    assert b"not in any of the neighbourhoods" in outside.content
    unknown = client.post("/community/join", {"address": "99 Nowhere Boulevard"})
    assert unknown.status_code == 400
    assert b"was not found" in unknown.content
    assert not Membership.objects.exists()


def test_join_needs_signing_in() -> None:
    response = Client().get("/community/join")
    assert response.status_code == 302
    assert response["Location"].startswith("/community/sign-in?next=")


@pytest.mark.usefixtures("addresses")
def test_pending_resident_cannot_post(hoods: Any, make_resident: Any) -> None:
    """Until verified, a member can read but not start a discussion."""
    resident = make_resident("ana@example.org")
    membership = services.membership_request(resident=resident, address="12 Mill St")
    assert verified_membership(resident, membership.area_id) is None
    from watchhouse.community.services.conversation import discussion_start

    with pytest.raises(NotPermittedError):
        discussion_start(
            resident=resident, area=membership.area, kind="general", title="Hello", body="Hi all"
        )


def test_display_name_rules() -> None:
    assert services.display_name_clean("  Ana \x00 M ") == "Ana M"
    with pytest.raises(InvalidInputError):
        services.display_name_clean("x" * 61)
