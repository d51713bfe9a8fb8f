"""Community reports: the public form, sealed reporter details, status updates e-mailed by the
worker, the rate limit, places outside the jurisdiction, staff triage and API keys."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse

from tests.alerts.conftest import committed, drain, queued
from tests.notify.loopback import SmtpServer, free_port, smtp_settings
from watchhouse.audit.models import AuditEntry
from watchhouse.community.models import ApiKey, ReportStatus, ServiceRequest
from watchhouse.community.services.reports import (
    Reporter,
    api_key_check,
    api_key_create,
    api_key_revoke,
    report_services_default,
    report_submit,
    report_update,
)
from watchhouse.community.tasks import mail_report_status_task
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.geocode.models import AddressPoint

pytestmark = pytest.mark.django_db

# Inside Old Mill (west -89.36, south 39.95, 0.01 degrees a side).
IN_OLD_MILL = {"lat": "39.955", "lon": "-89.355"}


@pytest.fixture(autouse=True)
def _services_and_clean_counters() -> Iterator[None]:
    report_services_default()
    cache.clear()
    yield
    cache.clear()


def _form(**changes: str) -> dict[str, str]:
    values = {
        "service": "graffiti",
        "description": "Fresh tags on the underpass wall by the mill.",
        "address": "",
        **IN_OLD_MILL,
        "email": "Ana@Example.org",
        "name": "Ana",
    }
    values.update(changes)
    return values


def test_form_takes_a_report_and_shows_its_status(client: Client, hoods: Any) -> None:
    """The form (no script) takes a report and leads to its status page, which shows the
    report and nothing about the reporter."""
    page = client.get(reverse("community:report_new"))
    assert page.status_code == 200
    assert 'value="streetlight"' in page.content.decode()
    response = client.post(reverse("community:report_new"), _form())
    report = ServiceRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "community:report_status", kwargs={"token": report.token}
    )
    assert report.area == hoods["Old Mill"]
    assert report.service.code == "graffiti"
    status = client.get(response["Location"]).content.decode()
    assert "Fresh tags on the underpass wall" in status
    assert "Open" in status
    assert "ana@example.org" not in status.lower()
    assert AuditEntry.objects.filter(action="community.report_submit").exists()


def test_reporter_details_sealed_in_the_database(hoods: Any) -> None:
    """The reporter's e-mail, name and phone are not readable in the table."""
    report = report_submit(
        service_code="noise",
        description="Music until 3 am every night.",
        lat=39.955,
        lon=-89.355,
        reporter=Reporter(email="ana@example.org", first_name="Ana", last_name="Lopez",
                          phone="+12175550100"),
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SELECT reporter FROM community_servicerequest WHERE id = %s", [report.pk])
        raw = cursor.fetchone()[0]
    for secret in ("ana@example.org", "Lopez", "2175550100"):
        assert secret not in raw
    assert report.read_reporter() == {
        "email": "ana@example.org", "first_name": "Ana", "last_name": "Lopez",
        "phone": "+12175550100",
    }  # fmt: skip


def test_address_is_geocoded(client: Client, hoods: Any) -> None:
    """A report with an address and no point is placed where the address is."""
    AddressPoint.objects.create(
        address="120 MILL ST", house_number=120, street="MILL ST", source="test",
        lat=39.956, lon=-89.354,
    )  # fmt: skip
    response = client.post(
        reverse("community:report_new"), _form(address="120 Mill Street", lat="", lon="")
    )
    assert response.status_code == 302
    report = ServiceRequest.objects.get()
    assert (report.lat, report.lon) == (39.956, -89.354)
    assert report.area == hoods["Old Mill"]
    assert report.address == "120 Mill Street"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lat": "40.5", "lon": "-88.0"}, "outside the area"),
        ({"lat": "", "lon": "", "address": "1 Nowhere Lane"}, "address was not found"),
        ({"lat": "", "lon": ""}, "Say where"),
        ({"description": "x" * 4001}, "4000"),
        ({"email": "not-an-address"}, "e-mail"),
    ],
)
def test_bad_reports_refused(
    client: Client, hoods: Any, changes: dict[str, str], message: str
) -> None:
    """A place outside the jurisdiction, an address not found, no place at all, an
    oversized description or a bad e-mail: a clear error, nothing stored."""
    response = client.post(reverse("community:report_new"), _form(**changes))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ServiceRequest.objects.exists()


def test_inactive_service_refused(hoods: Any) -> None:
    from watchhouse.community.models import ServiceType

    ServiceType.objects.filter(code="noise").update(active=False)
    with pytest.raises(InvalidInputError, match="no such kind"):
        report_submit(service_code="noise", description="Loud.", lat=39.955, lon=-89.355)


def test_rate_limit_per_client(client: Client, hoods: Any, settings: Any) -> None:
    """A client over the hourly limit is refused (429) and nothing more is stored."""
    settings.WATCHHOUSE_COMMUNITY_REPORTS_PER_HOUR = 2
    for _n in range(2):
        assert client.post(reverse("community:report_new"), _form()).status_code == 302
    refused = client.post(reverse("community:report_new"), _form())
    assert refused.status_code == 429
    assert "Too many reports" in refused.content.decode()
    assert ServiceRequest.objects.count() == 2
    other = Client(REMOTE_ADDR="192.0.2.55")
    assert other.post(reverse("community:report_new"), _form()).status_code == 302


def test_status_update_mailed_by_the_task(hoods: Any, make_staff: Any, settings: Any) -> None:
    """A status update reaches the reporter's inbox through the task, which fails while the
    mail server is down (so the worker retries it) and sends once it is up."""
    report = report_submit(
        service_code="streetlight", description="Light out on Mill St.", lat=39.955,
        lon=-89.355, reporter=Reporter(email="ana@example.org"),
    )  # fmt: skip
    dispatcher = make_staff("dispatcher")
    with committed():
        report_update(
            actor=dispatcher, request=report, status=ReportStatus.CLOSED,
            status_notes="The bulb was replaced on Tuesday.",
        )  # fmt: skip
    assert queued("mail_report_status_task") == [[report.pk]]
    entry = AuditEntry.objects.get(action="community.report_update")
    assert entry.data["to"] == "closed"
    # Nothing listens on this port: the task raises, to be retried.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    with pytest.raises(ConnectionRefusedError):
        mail_report_status_task.call(report.pk)
    with SmtpServer() as smtp:
        smtp_settings(settings, smtp, site_url="https://police.example.org")
        assert drain() == 1
        mails = smtp.messages
    assert len(mails) == 1
    mail = mails[0]
    assert mail["To"] == "ana@example.org"
    body = mail.get_content()
    assert "Closed" in mail["Subject"]
    assert "The bulb was replaced on Tuesday." in body
    assert f"https://police.example.org/community/reports/{report.token}" in body


def test_update_without_email_queues_nothing(hoods: Any, make_staff: Any) -> None:
    report = report_submit(service_code="noise", description="Loud.", lat=39.955, lon=-89.355)
    with committed():
        report_update(actor=make_staff("pio"), request=report, status="closed")
    assert queued("mail_report_status_task") == []


def test_update_roles_refused(hoods: Any, make_staff: Any) -> None:
    report = report_submit(service_code="noise", description="Loud.", lat=39.955, lon=-89.355)
    with pytest.raises(NotPermittedError):
        report_update(actor=make_staff("analyst"), request=report, status="closed")
    report.refresh_from_db()
    assert report.status == "open"


def test_console_triage_open_first_and_update(client: Client, hoods: Any, make_staff: Any) -> None:
    """The triage list puts open reports first; staff update a report from its page."""
    first = report_submit(service_code="noise", description="First, now closed.",
                          lat=39.955, lon=-89.355)  # fmt: skip
    report_update(actor=make_staff("pio"), request=first, status="closed")
    second = report_submit(service_code="graffiti", description="Second, open.",
                           lat=39.955, lon=-89.355)  # fmt: skip
    third = report_submit(service_code="graffiti", description="Third, open.",
                          lat=39.955, lon=-89.355)  # fmt: skip
    report_update(actor=make_staff("pio"), request=third, status="closed")
    client.force_login(make_staff("dispatcher"))
    page = client.get(reverse("console:community_reports")).content.decode()
    assert page.index("Second, open.") < page.index("Third, open.") < page.index("First, now")
    response = client.post(
        reverse("console:community_report", kwargs={"pk": second.pk}),
        {"status": "closed", "status_notes": "Painted over.", "expected_at": ""},
    )
    assert response.status_code == 302
    second.refresh_from_db()
    assert (second.status, second.status_notes) == ("closed", "Painted over.")


def test_console_shows_reporter_to_staff_audited(
    client: Client, hoods: Any, make_staff: Any
) -> None:
    """Staff who open a report see the reporter's details; the reading is audited."""
    report = report_submit(
        service_code="noise",
        description="Loud.",
        lat=39.955,
        lon=-89.355,
        reporter=Reporter(email="ana@example.org", first_name="Ana"),
    )
    dispatcher = make_staff("dispatcher")
    client.force_login(dispatcher)
    page = client.get(reverse("console:community_report", kwargs={"pk": report.pk}))
    assert "ana@example.org" in page.content.decode()
    assert AuditEntry.objects.filter(action="community.report_read", actor=dispatcher).exists()


def test_console_refuses_other_roles(client: Client, make_staff: Any) -> None:
    client.force_login(make_staff("analyst"))
    assert client.get(reverse("console:community_reports")).status_code == 403
    assert client.get(reverse("console:community_api_keys")).status_code == 403


def test_api_keys_shown_once_hash_stored_revocable(client: Client, make_staff: Any) -> None:
    """A new key is shown once; only its SHA-256 is stored; a revoked key stops working."""
    pio = make_staff("pio")
    client.force_login(pio)
    page = client.post(reverse("console:community_api_keys"), {"name": "City 311 app"})
    html = page.content.decode()
    key = html.split('<code id="new-key">')[1].split("</code>")[0]
    stored = ApiKey.objects.get()
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in client.get(reverse("console:community_api_keys")).content.decode()
    assert api_key_check(key) == stored
    client.post(reverse("console:community_api_keys"), {"revoke": stored.pk})
    assert api_key_check(key) is None
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"community.api_key_create", "community.api_key_revoke"} <= actions
    with pytest.raises(NotPermittedError):
        api_key_create(actor=make_staff("analyst"), name="x")
    with pytest.raises(InvalidInputError, match="already revoked"):
        api_key_revoke(actor=pio, api_key=stored)
