"""Request id, access log and request metrics for every request."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from watchhouse.core import metrics
from watchhouse.core.context import RequestContext, reset_current_request, set_current_request

logger = logging.getLogger("watchhouse.request")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Give each request an id (kept from a sane ``X-Request-ID`` header) for logs and audit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = set_current_request(
            RequestContext(request_id=request_id, source_ip=request.META.get("REMOTE_ADDR"))
        )
        try:
            response = self.get_response(request)
        finally:
            reset_current_request(token)
        response["X-Request-ID"] = request_id
        return response


class MetricsMiddleware:
    """Count requests and their durations by route and status for Prometheus."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        route = match.view_name if match and match.view_name else "unmatched"
        metrics.REQUESTS.labels(request.method or "", route, str(response.status_code)).inc()
        metrics.REQUEST_SECONDS.labels(route).observe(elapsed)
        if response.status_code >= 500:
            logger.error(
                "%s %s -> %s",
                request.method,
                request.path,
                response.status_code,
                extra={"duration_ms": round(elapsed * 1000, 1)},
            )
        return response
