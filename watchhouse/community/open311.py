"""The Open311 GeoReport v2 API (http://wiki.open311.org/GeoReport_v2): discovery, services,
service definitions, posting and reading service requests, and tokens, in JSON and XML.

Posting a request needs an API key (issued in the console; only its SHA-256 is stored). A
forged, revoked or missing key is answered 403 and nothing is stored. Errors are the spec's
``<errors><error><code/><description/></error></errors>`` (a JSON list of ``code`` and
``description``) with the HTTP status in ``code``. Nothing the reporter said about themselves
(e-mail, name, phone, device or account id) is ever part of an answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from watchhouse.community.models import ServiceRequest, ServiceType
from watchhouse.community.selectors import reports as selectors
from watchhouse.community.services.reports import Reporter, api_key_check, report_submit
from watchhouse.core.errors import InvalidInputError

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this endpoint's interface last changed (discovery's "changeset").
CHANGESET = "2026-11-29T00:00:00+00:00"
CONTENT_TYPES = {"json": "application/json", "xml": "text/xml"}
SERVICE_NOTICE = (
    "Thank you. This is not an emergency line: for an emergency call 911. "
    "Staff review reports during business hours."
)

Record = Mapping[str, Any]


def _when(value: datetime | None) -> str | None:
    """ISO 8601 with the offset, as the spec's examples write it."""
    if value is None:
        return None
    return timezone.localtime(value).isoformat(timespec="seconds")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml(root: str, item: str, records: Sequence[Record]) -> bytes:
    top = ET.Element(root)
    for record in records:
        element = ET.SubElement(top, item)
        _fill(element, record)
    return bytes(ET.tostring(top, encoding="utf-8", xml_declaration=True))


def _fill(element: ET.Element, record: Record) -> None:
    for key, value in record.items():
        child = ET.SubElement(element, key)
        if isinstance(value, Mapping):
            _fill(child, value)
        elif isinstance(value, list):
            # A list of plain values: one element per value, named by the list's singular.
            for entry in value:
                sub = ET.SubElement(child, key.removesuffix("s"))
                if isinstance(entry, Mapping):
                    _fill(sub, entry)
                else:
                    sub.text = _text(entry)
        else:
            child.text = _text(value)


def _answer(
    fmt: str, root: str, item: str, records: Sequence[Record], status: int = 200
) -> HttpResponse:
    if fmt == "xml":
        response = HttpResponse(
            _xml(root, item, records), content_type="text/xml; charset=utf-8", status=status
        )
    else:
        response = JsonResponse(list(records), safe=False, status=status)
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _error(fmt: str, status: int, description: str) -> HttpResponse:
    return _answer(fmt, "errors", "error", [{"code": status, "description": description}], status)


def _jurisdiction_error(request: HttpRequest, fmt: str) -> HttpResponse | None:
    """A 404 for a ``jurisdiction_id`` this endpoint does not serve (none is needed: it
    serves one)."""
    asked = (
        request.GET.get("jurisdiction_id") or request.POST.get("jurisdiction_id") or ""
    ).strip()
    ours = str(settings.WATCHHOUSE_OPEN311_JURISDICTION or "")
    if asked and asked != ours:
        return _error(fmt, 404, "jurisdiction_id was not found.")
    return None


def _service(service: ServiceType) -> dict[str, Any]:
    return {
        "service_code": service.code,
        "service_name": service.name,
        "description": service.description,
        "metadata": False,
        "type": "realtime",
        "keywords": service.keywords,
        "group": service.group,
    }


def _request(report: ServiceRequest) -> dict[str, Any]:
    """A service request as the public may see it (nothing about the reporter)."""
    return {
        "service_request_id": str(report.pk),
        "status": report.status,
        "status_notes": report.status_notes,
        "service_name": report.service.name,
        "service_code": report.service.code,
        "description": report.description,
        "agency_responsible": report.agency_responsible or settings.WATCHHOUSE_AGENCY_NAME,
        "service_notice": "",
        "requested_datetime": _when(report.requested_at),
        "updated_datetime": _when(report.updated_at),
        "expected_datetime": _when(report.expected_at),
        "address": report.address,
        "address_id": "",
        "zipcode": "",
        "lat": report.lat,
        "long": report.lon,
        "media_url": report.media_url,
    }


@require_safe
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    """What this endpoint is and offers (the spec's service discovery)."""
    services_url = request.build_absolute_uri(reverse("open311:services", kwargs={"fmt": fmt}))
    base = services_url.rsplit("/", 1)[0] + "/"
    record = {
        "changeset": CHANGESET,
        "contact": f"{settings.WATCHHOUSE_AGENCY_NAME}, {settings.SITE_URL}",
        "key_service": "Ask the department for an API key (issued by staff in the console).",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base,
                "changeset": CHANGESET,
                "type": "production",
                "formats": list(CONTENT_TYPES.values()),
            }
        ],
    }
    if fmt == "xml":
        top = ET.Element("discovery")
        _fill(top, record)
        body = bytes(ET.tostring(top, encoding="utf-8", xml_declaration=True))
        response = HttpResponse(body, content_type="text/xml; charset=utf-8")
    else:
        response = JsonResponse(record)
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
def services(request: HttpRequest, fmt: str) -> HttpResponse:
    """The kinds of report one can file."""
    refused = _jurisdiction_error(request, fmt)
    if refused is not None:
        return refused
    return _answer(fmt, "services", "service", [_service(s) for s in selectors.service_list()])


@require_safe
def service_definition(request: HttpRequest, service_code: str, fmt: str) -> HttpResponse:
    """A service's extra attributes: none here (every service has ``metadata`` false)."""
    refused = _jurisdiction_error(request, fmt)
    if refused is not None:
        return refused
    try:
        service = selectors.service_get(service_code)
    except ServiceType.DoesNotExist:
        return _error(fmt, 404, "service_code was not found.")
    record = {"service_code": service.code, "attributes": []}
    if fmt == "xml":
        top = ET.Element("service_definition")
        _fill(top, record)
        response = HttpResponse(
            bytes(ET.tostring(top, encoding="utf-8", xml_declaration=True)),
            content_type="text/xml; charset=utf-8",
        )
    else:
        response = JsonResponse(record)
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _float(raw: str, name: str) -> float | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise InvalidInputError(f"{name} must be a number.") from None


def _post(request: HttpRequest, fmt: str) -> HttpResponse:
    data = request.POST
    api_key = api_key_check(data.get("api_key", ""))
    if api_key is None:
        return _error(fmt, 403, "api_key was not provided or is invalid.")
    code = data.get("service_code", "").strip()
    if not code:
        return _error(fmt, 400, "service_code was not provided.")
    if not ServiceType.objects.filter(code=code, active=True).exists():
        return _error(fmt, 404, "service_code was not found.")
    try:
        report = report_submit(
            service_code=code,
            description=data.get("description", ""),
            lat=_float(data.get("lat", ""), "lat"),
            lon=_float(data.get("long", ""), "long"),
            address=data.get("address_string", ""),
            media_url=data.get("media_url", ""),
            reporter=Reporter(
                email=data.get("email", ""),
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
                phone=data.get("phone", ""),
                device_id=data.get("device_id", ""),
                account_id=data.get("account_id", ""),
            ),
            api_key=api_key,
        )
    except InvalidInputError as exc:
        return _error(fmt, 400, str(exc))
    record = {
        "service_request_id": str(report.pk),
        "token": report.token,
        "service_notice": SERVICE_NOTICE,
        "account_id": None,
    }
    return _answer(fmt, "service_requests", "request", [record])


def _date(raw: str, name: str) -> datetime | None:
    raw = raw.strip()
    if not raw:
        return None
    # A "+" in an offset arrives as a space when a client did not encode it.
    value = parse_datetime(raw.replace(" ", "+"))
    if value is None:
        raise InvalidInputError(f"{name} must be a date and time in ISO 8601 (w3 format).")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def requests_(request: HttpRequest, fmt: str) -> HttpResponse:
    """POST: file a service request (API key required). GET: requests, filtered."""
    refused = _jurisdiction_error(request, fmt)
    if refused is not None:
        return refused
    if request.method == "POST":
        return _post(request, fmt)
    params = request.GET
    try:
        ids = [int(v) for v in params.get("service_request_id", "").split(",") if v.strip()]
    except ValueError:
        return _error(fmt, 400, "service_request_id must be a comma-separated list of ids.")
    try:
        start = _date(params.get("start_date", ""), "start_date")
        end = _date(params.get("end_date", ""), "end_date")
    except InvalidInputError as exc:
        return _error(fmt, 400, str(exc))
    status = params.get("status", "").strip()
    if status and any(s.strip() not in ("open", "closed") for s in status.split(",")):
        return _error(fmt, 400, "status must be open or closed.")
    reports = selectors.report_public_list(
        ids=ids, service_code=params.get("service_code", ""), start=start, end=end, status=status
    )
    return _answer(fmt, "service_requests", "request", [_request(r) for r in reports])


@never_cache
@require_safe
def request_detail(request: HttpRequest, service_request_id: str, fmt: str) -> HttpResponse:
    """One service request."""
    refused = _jurisdiction_error(request, fmt)
    if refused is not None:
        return refused
    report = (
        ServiceRequest.objects.select_related("service").filter(pk=int(service_request_id)).first()
        if service_request_id.isdigit()
        else None
    )
    if report is None:
        return _error(fmt, 404, "service_request_id was not found.")
    return _answer(fmt, "service_requests", "request", [_request(report)])


@never_cache
@require_safe
def token(request: HttpRequest, token: str, fmt: str) -> HttpResponse:
    """The service request id behind a token."""
    refused = _jurisdiction_error(request, fmt)
    if refused is not None:
        return refused
    try:
        report = selectors.report_by_token(token)
    except ServiceRequest.DoesNotExist:
        return _error(fmt, 404, "token was not found.")
    record = {"service_request_id": str(report.pk), "token": report.token}
    return _answer(fmt, "service_requests", "request", [record])
