"""Reading community reports, their kinds (Open311 services) and the Open311 API keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from watchhouse.community.models import ApiKey, ReportStatus, ServiceRequest, ServiceType

# Open311: without dates, requests of the last 90 days; at most 1000 in one answer.
DEFAULT_DAYS = 90
MAX_REQUESTS = 1000


def service_list(*, active_only: bool = True) -> QuerySet[ServiceType]:
    """Kinds of report, by name."""
    services = ServiceType.objects.all()
    return services.filter(active=True) if active_only else services


def service_get(code: str) -> ServiceType:
    """The active service ``code``. Raises ``ServiceType.DoesNotExist``."""
    return ServiceType.objects.get(code=code, active=True)


def report_triage_list(*, status: str = "") -> QuerySet[ServiceRequest]:
    """Reports for staff: open ones first, then newest first."""
    reports = ServiceRequest.objects.select_related("service", "area").annotate(
        open_first=Case(
            When(status=ReportStatus.OPEN, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    )
    if status:
        reports = reports.filter(status=status)
    return reports.order_by("open_first", "-requested_at", "-id")


def report_get(pk: int) -> ServiceRequest:
    """Raises ``ServiceRequest.DoesNotExist``."""
    return ServiceRequest.objects.select_related("service", "area").get(pk=pk)


def report_by_token(token: str) -> ServiceRequest:
    """The report with Open311 ``token``. Raises ``ServiceRequest.DoesNotExist``."""
    return ServiceRequest.objects.select_related("service", "area").get(token=token)


def report_public_list(
    *,
    ids: Sequence[int] = (),
    service_code: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
    status: str = "",
) -> list[ServiceRequest]:
    """Reports for the Open311 API, newest first, at most :data:`MAX_REQUESTS`.

    With ``ids`` only those reports (other filters ignored, as the spec says); otherwise the
    filters apply, and without dates the last :data:`DEFAULT_DAYS` days.
    """
    reports = ServiceRequest.objects.select_related("service").order_by("-requested_at", "-id")
    if ids:
        return list(reports.filter(pk__in=list(ids))[:MAX_REQUESTS])
    if service_code:
        codes = [c.strip() for c in service_code.split(",") if c.strip()]
        reports = reports.filter(service__code__in=codes)
    if status:
        reports = reports.filter(status__in=[s.strip() for s in status.split(",")])
    if start is None and end is None:
        start = timezone.now() - timedelta(days=DEFAULT_DAYS)
    if start is not None:
        reports = reports.filter(requested_at__gte=start)
    if end is not None:
        reports = reports.filter(requested_at__lte=end)
    return list(reports[:MAX_REQUESTS])


def api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("created_by").order_by("-active", "name")
