"""Operational endpoints: health and metrics."""

from __future__ import annotations

import ipaddress
import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from watchhouse.accounts.roles import second_factor_ok
from watchhouse.core import metrics
from watchhouse.core.taskqueue import queue_stats

logger = logging.getLogger(__name__)
# A due task waiting longer than this while no worker is alive means background work stalled.
QUEUE_STALL_SECONDS = 300


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers and the task queue is reachable and moving; else 503.

    The queue counts as stalled when a due task has waited longer than
    :data:`QUEUE_STALL_SECONDS` and no worker is alive to take it.
    """
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
        stalled = (
            stats.waiting > 0
            and stats.oldest_age_seconds > QUEUE_STALL_SECONDS
            and stats.workers_alive == 0
        )
        if stalled:
            logger.error(
                "Health check: task queue stalled (%d due, oldest %.0f s, no worker alive)",
                stats.waiting,
                stats.oldest_age_seconds,
            )
        checks["task_queue"] = {
            "status": "stalled" if stalled else "ok",
            "backend": stats.backend,
            "waiting": stats.waiting,
            "scheduled": stats.scheduled,
            "running": stats.running,
            "failed": stats.failed,
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
        try:
            network = ipaddress.ip_network(allowed, strict=False)
        except ValueError:
            logger.error(
                "WATCHHOUSE_METRICS_ALLOWED_IPS holds %r, not an address; ignored.", allowed
            )
            continue
        if address in network:
            return True
    return False


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for signed-in staff or an allowed internal address only."""
    user = request.user
    staff = user.is_authenticated and user.is_staff and second_factor_ok(user)
    if not staff and not _internal_address(request):
        return HttpResponse(
            "Metrics are for staff and internal addresses.\n", status=403, content_type="text/plain"
        )
    return HttpResponse(metrics.render(), content_type="text/plain; version=0.0.4")
