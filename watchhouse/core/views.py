"""Operational endpoints: health and metrics."""

from __future__ import annotations

import ipaddress
import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from watchhouse.core import metrics
from watchhouse.core.taskqueue import queue_stats

logger = logging.getLogger(__name__)
# A due task waiting longer than this means background work has stalled.
QUEUE_STALL_SECONDS = 300


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers and the task queue is reachable and moving; else 503."""
    checks: dict[str, object] = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure is an unhealthy database
        logger.exception("Health check: database failed")
        checks["database"] = f"error: {type(exc).__name__}"
        healthy = False
    try:
        stats = queue_stats()
        stalled = stats.waiting > 0 and stats.oldest_age_seconds > QUEUE_STALL_SECONDS
        checks["task_queue"] = {
            "status": "stalled" if stalled else "ok",
            "backend": stats.backend,
            "waiting": stats.waiting,
            "running": stats.running,
            "oldest_age_seconds": round(stats.oldest_age_seconds, 1),
            "workers_alive": stats.workers_alive,
        }
        healthy = healthy and not stalled
    except Exception as exc:  # noqa: BLE001 - any failure is an unhealthy queue
        logger.exception("Health check: task queue failed")
        checks["task_queue"] = {"status": f"error: {type(exc).__name__}"}
        healthy = False
    return JsonResponse(
        {"status": "ok" if healthy else "unhealthy", "checks": checks},
        status=200 if healthy else 503,
    )


def _internal_address(request: HttpRequest) -> bool:
    remote = request.META.get("REMOTE_ADDR", "")
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    for allowed in settings.WATCHHOUSE_METRICS_ALLOWED_IPS:
        if address in ipaddress.ip_network(allowed, strict=False):
            return True
    return False


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for staff or an allowed internal address only."""
    if not (request.user.is_authenticated and request.user.is_staff) and not _internal_address(
        request
    ):
        return HttpResponse("Metrics are for staff and internal addresses.\n", status=403,
                            content_type="text/plain")
    return HttpResponse(metrics.render(), content_type="text/plain; version=0.0.4")
