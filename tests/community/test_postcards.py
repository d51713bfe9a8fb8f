"""Staff verify residents by a postcard with a code, or on their own word, in the console."""

from __future__ import annotations

import io
import re
from typing import Any

import pypdf
import pytest
from django.test import Client

from tests.community.conftest import signed_in
from tests.community.conftest_residents import addresses, fresh_limits  # noqa: F401 - fixtures
from watchhouse.audit.models import AuditEntry
from watchhouse.community.auth import verified_membership
from watchhouse.community.models import (
    Membership,
    MembershipStatus,
    PostcardBatch,
    VerificationMethod,
)
from watchhouse.community.services import residents as services
from watchhouse.core import crypto
from watchhouse.core.errors import InvalidInputError, NotPermittedError

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_limits", "addresses")]

CODE = re.compile(r"\b([A-Z0-9]{4}) ([A-Z0-9]{4})\b")


@pytest.fixture
def verifier(make_staff: Any) -> Any:
    """A public information officer, who may verify residents."""
    return make_staff("pio")


@pytest.fixture
def pending(hoods: Any, make_resident: Any) -> Membership:
    """Ana asked to join Old Mill from 12 Mill Street."""
    resident = make_resident("ana@example.org", display_name="Ana Lucía")
    return services.membership_request(resident=resident, address="12 Mill Street, Testford")


def _staff_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _print(client: Client, *memberships: Membership) -> list[tuple[str, str]]:
    """Print postcards in the console; the (page text, code) of each card in the PDF."""
    response = client.post(
        "/console/community/members/postcards/", {"membership": [m.pk for m in memberships]}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    cards = []
    for page in reader.pages:
        # Six by four inches, landscape.
        assert (float(page.mediabox.width), float(page.mediabox.height)) == (432.0, 288.0)
        text = page.extract_text()
        found = CODE.search(text)
        assert found, text
        cards.append((text, found.group(1) + found.group(2)))
    return cards


def test_queue_shows_addresses_to_verifiers_and_audits_each_view(
    pending: Membership, verifier: Any
) -> None:
    client = _staff_client(verifier)
    page = client.get("/console/community/members/").content.decode()
    assert "Ana Lucía" in page and "12 Mill Street, Testford" in page and "Old Mill" in page
    entry = AuditEntry.objects.filter(action="community.members_view").get()
    assert entry.data["memberships"] == [pending.pk]
    assert entry.actor_id == verifier.pk


def test_staff_without_the_role_are_refused(pending: Membership, make_staff: Any) -> None:
    dispatcher = make_staff("dispatcher")
    client = _staff_client(dispatcher)
    assert client.get("/console/community/members/").status_code == 403
    assert (
        client.post(
            "/console/community/members/postcards/", {"membership": [pending.pk]}
        ).status_code
        == 403
    )
    assert client.post(f"/console/community/members/{pending.pk}/approve/").status_code == 403
    with pytest.raises(NotPermittedError):
        services.membership_approve(actor=dispatcher, membership=pending)
    with pytest.raises(NotPermittedError):
        services.postcard_batch_create(actor=dispatcher, memberships=[pending])
    pending.refresh_from_db()
    assert pending.status == MembershipStatus.PENDING
    assert pending.postcard_code_hash == ""
    assert not AuditEntry.objects.filter(
        action__in=["community.members_view", "community.membership_approve"]
    ).exists()


def test_postcard_code_verifies_the_resident(pending: Membership, verifier: Any) -> None:
    """The PDF carries the name, the address and a code kept nowhere else; entering the code
    verifies the membership."""
    [(text, code)] = _print(_staff_client(verifier), pending)
    assert "Ana Lucía" in text and "12 Mill Street, Testford" in text
    assert "/community/verify" in text
    pending.refresh_from_db()
    assert pending.postcard_batch is not None
    assert pending.postcard_code_hash == crypto.lookup_hash(code, purpose="postcard")
    assert code not in pending.postcard_code_hash
    batch_entry = AuditEntry.objects.get(action="community.postcard_batch_create")
    assert batch_entry.data["memberships"] == [pending.pk]
    assert code not in str(batch_entry.data)

    client = signed_in(Client(), pending.resident)
    assert b"postcard with your code is on its way" in client.get("/community/").content
    typed = f"{code[:4].lower()} {code[4:]}"
    response = client.post("/community/verify", {"code": typed})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == MembershipStatus.VERIFIED
    assert pending.method == VerificationMethod.POSTCARD
    assert verified_membership(pending.resident, pending.area_id) == pending
    assert AuditEntry.objects.filter(
        action="community.membership_verify", object_id=str(pending.pk)
    ).exists()


def test_wrong_codes_count_and_lock_after_five(pending: Membership, verifier: Any) -> None:
    [(_text, code)] = _print(_staff_client(verifier), pending)
    client = signed_in(Client(), pending.resident)
    wrong = "ZZZZ2222" if code != "ZZZZ2222" else "YYYY3333"
    for n in range(1, services.POSTCARD_ATTEMPTS + 1):
        response = client.post("/community/verify", {"code": wrong})
        assert response.status_code == 400
        pending.refresh_from_db()
        assert pending.postcard_attempts == n
    assert b"last try" in response.content
    # The sixth try is refused, even with the right code.
    locked = client.post("/community/verify", {"code": code})
    assert locked.status_code == 400
    assert b"Too many wrong codes" in locked.content
    pending.refresh_from_db()
    assert pending.status == MembershipStatus.PENDING
    assert pending.postcard_attempts == services.POSTCARD_ATTEMPTS
    page = _staff_client(verifier).get("/console/community/members/").content.decode()
    assert "locked: too many wrong codes" in page


def test_printing_again_issues_new_codes(pending: Membership, verifier: Any) -> None:
    """A batch cannot be downloaded again: printing again makes a new code, and the old card
    stops working."""
    staff = _staff_client(verifier)
    [(_t, first)] = _print(staff, pending)
    [(_t, second)] = _print(staff, pending)
    assert PostcardBatch.objects.count() == 2
    client = signed_in(Client(), pending.resident)
    if first != second:
        assert client.post("/community/verify", {"code": first}).status_code == 400
    assert client.post("/community/verify", {"code": second}).status_code == 302


def test_print_refuses_nothing_chosen_and_memberships_no_longer_waiting(
    pending: Membership, verifier: Any
) -> None:
    staff = _staff_client(verifier)
    nothing = staff.post("/console/community/members/postcards/", {}, follow=True)
    assert b"Choose the memberships" in nothing.content
    services.membership_approve(actor=verifier, membership=pending)
    with pytest.raises(InvalidInputError):
        services.postcard_batch_create(actor=verifier, memberships=[pending])
    assert not PostcardBatch.objects.exists()


def test_staff_approve_and_reject_with_audit(
    pending: Membership, verifier: Any, make_resident: Any, hoods: Any
) -> None:
    staff = _staff_client(verifier)
    approved = staff.post(f"/console/community/members/{pending.pk}/approve/", follow=True)
    assert "is now a verified member of Old Mill" in approved.content.decode()
    pending.refresh_from_db()
    assert pending.status == MembershipStatus.VERIFIED
    assert pending.method == VerificationMethod.STAFF
    assert pending.verified_by == verifier
    entry = AuditEntry.objects.get(action="community.membership_approve")
    assert (entry.actor_id, entry.object_id) == (verifier.pk, str(pending.pk))

    other = Membership.objects.create(
        resident=make_resident("ben@example.org"),
        area=hoods["Old Mill"],
        address=crypto.seal("14 Mill St"),
    )
    no_reason = staff.post(f"/console/community/members/{other.pk}/reject/", {"reason": " "})
    assert no_reason.status_code == 302
    other.refresh_from_db()
    assert other.status == MembershipStatus.PENDING
    staff.post(
        f"/console/community/members/{other.pk}/reject/",
        {"reason": "The address is a business, not a home."},
    )
    other.refresh_from_db()
    assert other.status == MembershipStatus.REJECTED
    entry = AuditEntry.objects.get(action="community.membership_reject")
    assert entry.justification == "The address is a business, not a home."
    # A decided membership is not decided again.
    with pytest.raises(InvalidInputError):
        services.membership_reject(actor=verifier, membership=pending, reason="Changed mind")
    # The resident refused cannot ask again for the same neighbourhood.
    with pytest.raises(InvalidInputError, match="was not accepted"):
        services.membership_request(resident=other.resident, address="14 Mill St")


def test_code_without_a_postcard(pending: Membership) -> None:
    client = signed_in(Client(), pending.resident)
    response = client.post("/community/verify", {"code": "ABCD2345"})
    assert response.status_code == 400
    assert b"No postcard is on its way" in response.content
