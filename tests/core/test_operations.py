"""What an operator sees: /healthz, /metrics and log lines that carry the request id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.factories import StaffFactory
from watchhouse.core.logging import JsonFormatter, RequestIdFilter
from watchhouse.core.models import WorkerHeartbeat
from watchhouse.core.probe import record_probe_task
from watchhouse.core.views import QUEUE_STALL_SECONDS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("database_backend")]

OUTSIDE = "203.0.113.9"  # TEST-NET-3: never an internal address


def _waiting_task(*, waited: float, run_after: timedelta | None = None) -> DBTaskResult:
    """A task that was enqueued ``waited`` seconds ago and has not been picked up."""
    result = record_probe_task.enqueue(key=f"waiting-{waited}")
    changes = {"enqueued_at": timezone.now() - timedelta(seconds=waited)}
    if run_after is not None:
        changes["run_after"] = timezone.now() + run_after
    DBTaskResult.objects.filter(pk=result.id).update(**changes)
    return DBTaskResult.objects.get(pk=result.id)


def test_healthz_reports_database_and_queue_ok(client):
    """With the database answering and no backlog, /healthz is 200 and names both checks."""
    _waiting_task(waited=5)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["task_queue"]["status"] == "ok"
    assert body["checks"]["task_queue"]["backend"] == "database"
    assert body["checks"]["task_queue"]["waiting"] == 1
    assert response["Cache-Control"].startswith("max-age=0")


def test_healthz_is_503_when_due_work_waits_and_no_worker_is_alive(client):
    """A due task waiting past the threshold with no live worker means background work has
    stalled: /healthz answers 503 so the operator's monitoring pages someone."""
    _waiting_task(waited=QUEUE_STALL_SECONDS + 60)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["task_queue"]["status"] == "stalled"
    assert body["checks"]["task_queue"]["workers_alive"] == 0


def test_healthz_stays_ok_while_a_worker_is_alive_or_the_task_is_not_due(client):
    """A backlog being worked on, or work deferred to later, is not a stall."""
    _waiting_task(waited=QUEUE_STALL_SECONDS + 60, run_after=timedelta(minutes=10))
    assert client.get("/healthz").status_code == 200

    _waiting_task(waited=QUEUE_STALL_SECONDS + 60)
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        worker_id="alive", hostname="worker-1", pid=1, started_at=now, last_seen=now
    )
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["task_queue"]["workers_alive"] == 1


def test_metrics_refuse_anonymous_outside_addresses(client):
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 403
    assert b"watchhouse_" not in response.content


def test_metrics_refuse_signed_in_non_staff(client):
    client.force_login(StaffFactory(is_staff=False))
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 403


def test_metrics_refuse_staff_without_second_factor_when_mfa_is_required(
    client, make_staff, settings
):
    settings.WATCHHOUSE_MFA_REQUIRED = True
    client.force_login(make_staff("admin"))
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 403


def test_metrics_for_staff_show_requests_and_queue_depth(client, make_staff):
    """Staff read request counts and the queue's depth, age and failures from anywhere."""
    _waiting_task(waited=30)
    _waiting_task(waited=90)
    client.force_login(make_staff())
    client.get("/healthz", REMOTE_ADDR=OUTSIDE)
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'watchhouse_http_requests_total{method="GET",route="healthz",status="200"}' in text
    assert "watchhouse_task_queue_depth 2.0" in text
    assert "watchhouse_task_queue_up 1.0" in text
    age = next(
        float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("watchhouse_task_queue_oldest_age_seconds ")
    )
    assert 90 <= age < 120
    assert "watchhouse_task_failures 0.0" in text


def test_metrics_for_an_internal_address(client):
    """Prometheus scraping from an allowed address needs no account."""
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    text = response.content.decode()
    assert "watchhouse_task_queue_depth" in text
    assert "watchhouse_http_requests_total" in text


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Capture log lines as the production configuration writes them (JSON, request id)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def _lines(stream: io.StringIO, prefix: str = "watchhouse.") -> list[dict[str, object]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [line for line in lines if str(line["logger"]).startswith(prefix)]


def test_log_lines_carry_the_request_id_the_response_shows(client, json_log):
    """Every line logged while serving a request is one JSON object holding the request id
    that the response's X-Request-ID header gives the caller."""
    _waiting_task(waited=QUEUE_STALL_SECONDS + 60)
    response = client.get("/healthz")
    assert response.status_code == 503
    request_id = response["X-Request-ID"]
    assert len(request_id) >= 8
    lines = _lines(json_log)
    stalled = [line for line in lines if "stalled" in str(line["message"])]
    assert stalled and stalled[0]["level"] == "ERROR"
    served = [line for line in lines if line["logger"] == "watchhouse.request"]
    assert served and served[0]["duration_ms"] is not None
    assert {line["request_id"] for line in stalled + served} == {request_id}


def test_a_sane_incoming_request_id_is_kept_and_a_bad_one_replaced(client, json_log):
    _waiting_task(waited=QUEUE_STALL_SECONDS + 60)
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234abcd")
    assert kept["X-Request-ID"] == "lb-1234abcd"
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert replaced["X-Request-ID"] != "bad id\nwith newline"
    ids = {line["request_id"] for line in _lines(json_log)}
    assert ids == {"lb-1234abcd", replaced["X-Request-ID"]}


def test_djangos_own_request_log_lines_carry_the_request_id(client, json_log):
    _waiting_task(waited=QUEUE_STALL_SECONDS + 60)
    response = client.get("/healthz")
    django_lines = _lines(json_log, prefix="django.request")
    assert django_lines
    assert {line["request_id"] for line in django_lines} == {response["X-Request-ID"]}
