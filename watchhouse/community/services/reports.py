"""Community reports (Open311 GeoReport v2 service requests): taking them from the public form
and the API, staff status updates (e-mailed to a reporter who gave an address), and the API
keys that let other applications post reports.

The reporter's e-mail, name and phone are sealed and never published; an API key is shown once
and only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import smtplib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from watchhouse.accounts.models import User
from watchhouse.accounts.roles import require_role
from watchhouse.audit.services import audit_record
from watchhouse.community.models import ApiKey, ReportStatus, ServiceRequest, ServiceType
from watchhouse.community.policy import REPORT_ROLES
from watchhouse.core import crypto
from watchhouse.core.errors import InvalidInputError
from watchhouse.geo.points import InvalidPointError
from watchhouse.geo.selectors import areas_at
from watchhouse.geocode.geocoder import geocode_search

logger = logging.getLogger(__name__)

DESCRIPTION_MAX = 4000
NOTES_MAX = 4000
ADDRESS_MAX = 300
NAME_MAX = 100
PHONE_MAX = 40
MEDIA_URL_MAX = 200
KEY_PREFIX = "wh311_"
# Kinds of report a new deployment offers (code, name, group, description).
DEFAULT_SERVICES = (
    ("graffiti", gettext_lazy("Graffiti"), gettext_lazy("Property"),
     gettext_lazy("Graffiti or tags on a wall, sign or other surface.")),
    ("abandoned-vehicle", gettext_lazy("Abandoned vehicle"), gettext_lazy("Streets"),
     gettext_lazy("A vehicle left parked and unused for a long time.")),
    ("streetlight", gettext_lazy("Broken streetlight"), gettext_lazy("Streets"),
     gettext_lazy("A streetlight that is out, flickering or damaged.")),
    ("noise", gettext_lazy("Noise"), gettext_lazy("Neighbourhood"),
     gettext_lazy("Loud music, parties or other noise that keeps going (not an emergency).")),
    ("other", gettext_lazy("Something else"), gettext_lazy("Neighbourhood"),
     gettext_lazy("Another non-emergency problem in the neighbourhood.")),
)  # fmt: skip


def report_services_default() -> list[ServiceType]:
    """Make sure the default kinds of report exist (unchanged when they do); return them."""
    out = []
    for code, name, group, description in DEFAULT_SERVICES:
        service, _created = ServiceType.objects.get_or_create(
            code=code,
            defaults={"name": str(name), "group": str(group), "description": str(description)},
        )
        out.append(service)
    return out


@dataclass(frozen=True)
class Reporter:
    """Who sent a report, all optional; sealed when stored."""

    email: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    device_id: str = ""
    account_id: str = ""


def _clean_reporter(reporter: Reporter) -> dict[str, str]:
    email = reporter.email.strip().lower()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidInputError(_("That e-mail address does not look right.")) from None
    values = {
        "email": email,
        "first_name": reporter.first_name.strip(),
        "last_name": reporter.last_name.strip(),
        "phone": reporter.phone.strip(),
        "device_id": reporter.device_id.strip(),
        "account_id": reporter.account_id.strip(),
    }
    for key in ("first_name", "last_name", "device_id", "account_id"):
        if len(values[key]) > NAME_MAX:
            raise InvalidInputError(_("A name or identifier is too long (at most 100 characters)."))
    if len(values["phone"]) > PHONE_MAX:
        raise InvalidInputError(_("The phone number is too long."))
    return {k: v for k, v in values.items() if v}


def _locate(lat: float | None, lon: float | None, address: str) -> tuple[float, float, int | None]:
    """The point of a report, from its coordinates or else its address, and the neighbourhood
    holding it; refuses a place outside the agency's areas."""
    if lat is None or lon is None:
        if (lat is None) != (lon is None):
            raise InvalidInputError(_("Give both latitude and longitude, or an address."))
        if not address:
            raise InvalidInputError(
                _("Say where: give an address or a point (latitude and longitude).")
            )
        found = geocode_search(address, limit=1)
        if not found:
            raise InvalidInputError(
                _("That address was not found. Check it, or give a point on the map.")
            )
        lat, lon = found[0].lat, found[0].lon
    try:
        holding = areas_at(lat=lat, lon=lon)
    except InvalidPointError:
        raise InvalidInputError(_("That point is not a place on Earth.")) from None
    if not holding:
        raise InvalidInputError(
            _("That place is outside the area this department serves; report it to the "
              "authority there.")
        )  # fmt: skip
    hoods = holding.get("neighbourhood") or []
    return lat, lon, hoods[0].pk if hoods else None


def report_submit(
    *,
    service_code: str,
    description: str,
    lat: float | None = None,
    lon: float | None = None,
    address: str = "",
    reporter: Reporter | None = None,
    media_url: str = "",
    api_key: ApiKey | None = None,
) -> ServiceRequest:
    """Store a community report and return it (with its token).

    Refused, with nothing stored, unless the service exists and is active, the place (a point,
    or an address found by the geocoder) is inside the agency's areas, the description is
    given and at most 4000 characters, and the e-mail (if any) looks like one. The reporter's
    details are sealed.
    """
    service = ServiceType.objects.filter(code=service_code.strip(), active=True).first()
    if service is None:
        raise InvalidInputError(_("There is no such kind of report."))
    description = description.strip()
    if not description:
        raise InvalidInputError(_("Describe the problem."))
    if len(description) > DESCRIPTION_MAX:
        raise InvalidInputError(
            _("The description is too long (at most %(n)d characters).") % {"n": DESCRIPTION_MAX}
        )
    address = address.strip()
    if len(address) > ADDRESS_MAX:
        raise InvalidInputError(_("The address is too long."))
    media_url = media_url.strip()
    if media_url:
        try:
            URLValidator(schemes=["http", "https"])(media_url)
        except ValidationError:
            raise InvalidInputError(_("The media URL must be an http or https address.")) from None
        if len(media_url) > MEDIA_URL_MAX:
            raise InvalidInputError(_("The media URL is too long."))
    details = _clean_reporter(reporter or Reporter())
    lat, lon, area_id = _locate(lat, lon, address)
    with transaction.atomic():
        report = ServiceRequest.objects.create(
            service=service,
            token=secrets.token_urlsafe(24),
            description=description,
            lat=lat,
            lon=lon,
            address=address,
            area_id=area_id,
            media_url=media_url,
            reporter=crypto.seal_json(details) if details else "",
            api_key=api_key,
        )
        audit_record(
            actor=None,
            action="community.report_submit",
            obj=report,
            data={"service": service.code, "api_key": api_key.pk if api_key else None},
        )
    return report


def report_update(
    *,
    actor: User,
    request: ServiceRequest,
    status: str,
    status_notes: str = "",
    expected_at: datetime | None = None,
) -> ServiceRequest:
    """Set a report's status and public notes; a reporter who gave an e-mail address is sent
    the update by the worker (retried while the mail server is unreachable)."""
    require_role(actor, *REPORT_ROLES, action="update community reports")
    if status not in ReportStatus.values:
        raise InvalidInputError(_("Choose open or closed."))
    status_notes = status_notes.strip()
    if len(status_notes) > NOTES_MAX:
        raise InvalidInputError(_("The notes are too long (at most 4000 characters)."))
    with transaction.atomic():
        locked = ServiceRequest.objects.select_for_update().get(pk=request.pk)
        before = locked.status
        locked.status = status
        locked.status_notes = status_notes
        locked.expected_at = expected_at
        locked.updated_at = timezone.now()
        locked.save(update_fields=["status", "status_notes", "expected_at", "updated_at"])
        audit_record(
            actor=actor,
            action="community.report_update",
            obj=locked,
            data={
                "from": before,
                "to": status,
                "expected_at": expected_at and expected_at.isoformat(),
            },
        )
        if locked.read_reporter().get("email"):
            report_id = locked.pk

            def enqueue() -> None:
                from watchhouse.community.tasks import mail_report_status_task

                mail_report_status_task.enqueue(report_id)

            transaction.on_commit(enqueue)
    return locked


def report_reporter_read(*, actor: User, report: ServiceRequest) -> dict[str, Any]:
    """The reporter's sealed details, for staff who triage reports; every reading is
    audited."""
    require_role(actor, *REPORT_ROLES, action="read reporters' details")
    with transaction.atomic():
        details = report.read_reporter()
        audit_record(actor=actor, action="community.report_read", obj=report)
    return details


def report_status_mail(*, report_id: int) -> str:
    """E-mail a report's current status to its reporter; return how it went.

    A transient failure (the mail server unreachable, a 4xx answer) is raised so the task is
    retried; a refusal for good is logged and returned.
    """
    report = ServiceRequest.objects.select_related("service").filter(pk=report_id).first()
    if report is None:
        return "no such report"
    address = str(report.read_reporter().get("email", ""))
    if not address:
        return "no e-mail address"
    site = str(settings.SITE_URL)
    link = site + reverse("community:report_status", kwargs={"token": report.token})
    lines = [
        _("%(agency)s has an update on your report (%(service)s):")
        % {"agency": settings.WATCHHOUSE_AGENCY_NAME, "service": report.service.name},
        _("Status: %(status)s") % {"status": report.get_status_display()},
    ]
    if report.status_notes:
        lines.append(report.status_notes)
    if report.expected_at:
        lines.append(
            _("Expected by: %(when)s")
            % {"when": timezone.localtime(report.expected_at).strftime("%Y-%m-%d %H:%M")}
        )
    lines.append(_("Follow your report: %(link)s") % {"link": link})
    lines.append(_("This is not monitored for emergencies. Emergency? Call 911."))
    try:
        EmailMessage(
            subject=_("Your report %(id)s: %(status)s")
            % {"id": report.pk, "status": report.get_status_display()},
            body="\n\n".join(lines),
            to=[address],
            headers={"Auto-Submitted": "auto-generated"},
        ).send()
    except smtplib.SMTPResponseException as exc:
        if 500 <= exc.smtp_code < 600:
            logger.warning("The update of report %s was refused: %s", report.pk, exc.smtp_code)
            return f"refused: {exc.smtp_code}"
        raise
    return "sent"


# --- API keys ------------------------------------------------------------------------------


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def api_key_create(*, actor: User, name: str) -> tuple[ApiKey, str]:
    """Issue an Open311 API key named ``name``; return it and the key itself, which is shown
    this once (only its SHA-256 is kept)."""
    require_role(actor, *REPORT_ROLES, action="issue Open311 API keys")
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInputError(_("Name the key (who uses it), in at most 100 characters."))
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        api_key = ApiKey.objects.create(name=name, key_hash=_key_hash(key), created_by=actor)
        audit_record(actor=actor, action="community.api_key_create", obj=api_key)
    return api_key, key


def api_key_revoke(*, actor: User, api_key: ApiKey) -> ApiKey:
    """Stop ``api_key`` from working (it stays listed, revoked)."""
    require_role(actor, *REPORT_ROLES, action="revoke Open311 API keys")
    with transaction.atomic():
        locked = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        if not locked.active:
            raise InvalidInputError(_("This key is already revoked."))
        locked.active = False
        locked.save(update_fields=["active"])
        audit_record(actor=actor, action="community.api_key_revoke", obj=locked)
    return locked


def api_key_check(key: str) -> ApiKey | None:
    """The active API key ``key`` is, or None (forged, revoked or empty)."""
    if not key:
        return None
    return ApiKey.objects.filter(key_hash=_key_hash(key.strip()), active=True).first()
