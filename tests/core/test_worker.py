"""Background work survives dying workers and failing tasks, on both task backends.

These tests run real `watchhouse worker` processes against the test database, kill them with
SIGKILL while a task is inside its transaction, and check the outcome a user would notice: the
work is done, exactly once.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tests.conftest import need
from tests.core.conftest import Workers
from watchhouse.core.models import ProbeRecord
from watchhouse.core.probe import record_probe_task
from watchhouse.core.taskqueue import queue_stats

pytestmark = pytest.mark.usefixtures("transactional_db")

LEASE = {"WATCHHOUSE_WORKER_LEASE_SECONDS": "2"}
DATABASE_WORKER = {"WATCHHOUSE_TASK_BACKEND": "database", **LEASE}


def _status(task_id: str) -> str:
    return DBTaskResult.objects.values_list("status", flat=True).get(pk=task_id)


def _paused_pid(pause: Path) -> int:
    return int(pause.with_name(pause.name + ".paused").read_text())


def _is_paused(pause: Path) -> bool:
    signal_file = pause.with_name(pause.name + ".paused")
    return signal_file.exists() and signal_file.read_text().strip() != ""


@pytest.mark.slow
@pytest.mark.usefixtures("database_backend")
def test_database_worker_killed_mid_task_completes_the_work_exactly_once(
    workers: Workers, tmp_path: Path
):
    """A worker SIGKILLed inside a task's transaction leaves nothing behind; once a new
    worker starts, the task runs again and its effect exists exactly once."""
    pause = tmp_path / "pause"
    pause.touch()
    result = record_probe_task.enqueue(key="killed-mid-task", pause_file=str(pause))

    first = workers.start(**DATABASE_WORKER)
    workers.wait_for(lambda: _is_paused(pause), what="the probe to pause mid-transaction")
    assert _status(result.id) == TaskResultStatus.RUNNING
    # The probe has written its row and holds it uncommitted while paused.
    assert not ProbeRecord.objects.filter(key="killed-mid-task").exists()
    killed_pid = _paused_pid(pause)

    workers.kill(first)
    pause.unlink()
    assert _status(result.id) == TaskResultStatus.RUNNING  # nobody has noticed yet
    assert not ProbeRecord.objects.exists()  # the dead attempt's write was rolled back

    workers.start(**DATABASE_WORKER)
    workers.wait_for(
        lambda: _status(result.id) == TaskResultStatus.SUCCESSFUL,
        what="the abandoned task to be reclaimed and finished",
    )
    record = ProbeRecord.objects.get()
    assert record.key == "killed-mid-task"
    assert record.attempt == 2
    assert record.worker_pid != killed_pid
    task = DBTaskResult.objects.get(pk=result.id)
    assert len(task.worker_ids) == 2 and task.worker_ids[0] != task.worker_ids[1]
    assert task.return_value["attempt"] == 2


@pytest.mark.slow
@pytest.mark.usefixtures("database_backend")
def test_failing_task_is_retried_and_then_succeeds(workers: Workers):
    """A task that raises is attempted again after a backoff and its second attempt counts."""
    result = record_probe_task.enqueue(key="fails-once", fail_attempts=1)

    workers.start(**DATABASE_WORKER)
    workers.wait_for(
        lambda: _status(result.id) == TaskResultStatus.SUCCESSFUL,
        what="the failed task to be retried",
    )
    task = DBTaskResult.objects.get(pk=result.id)
    assert len(task.worker_ids) == 2
    assert ProbeRecord.objects.get().attempt == 2


@pytest.mark.slow
@pytest.mark.usefixtures("database_backend")
def test_task_that_keeps_failing_is_failed_after_the_last_attempt(workers: Workers):
    """After WATCHHOUSE_TASK_MAX_ATTEMPTS attempts a failing task is recorded as failed for
    good, with its error, and counted as a failure."""
    result = record_probe_task.enqueue(key="always-fails", fail_attempts=99)

    workers.start(WATCHHOUSE_TASK_MAX_ATTEMPTS="2", **DATABASE_WORKER)
    workers.wait_for(
        lambda: _status(result.id) == TaskResultStatus.FAILED,
        what="the task to fail for good",
    )
    task = DBTaskResult.objects.get(pk=result.id)
    assert len(task.worker_ids) == 2
    assert task.exception_class_path == "watchhouse.core.probe.ProbeFailureError"
    assert "fails attempt 2" in task.traceback
    assert not ProbeRecord.objects.exists()
    assert queue_stats().failed == 1


def _test_redis_url() -> str:
    """A Redis server for the RQ tests: WATCHHOUSE_TEST_REDIS_URL (so CI runs them beside a
    database-queue suite too), else the configured REDIS_URL."""
    return os.environ.get("WATCHHOUSE_TEST_REDIS_URL") or os.environ.get("REDIS_URL", "")


def _scratch_redis_url() -> str:
    """The test Redis server, but a database of its own (flushed by the test)."""
    parts = urlsplit(_test_redis_url())
    configured = parts.path.strip("/") or "0"
    scratch = os.environ.get("WATCHHOUSE_TEST_REDIS_DB", "15")
    if scratch == configured:
        scratch = "14"
    return urlunsplit(parts._replace(path=f"/{scratch}"))


@pytest.fixture
def rq_backend(settings, monkeypatch):
    """Run tasks on RQ in a scratch Redis database, emptied before and after."""
    need(
        bool(_test_redis_url()),
        "neither WATCHHOUSE_TEST_REDIS_URL nor REDIS_URL is set: the RQ backend needs Redis",
    )
    import django_rq
    import django_rq.queues
    from redis import Redis

    url = _scratch_redis_url()
    redis = Redis.from_url(url)
    redis.flushdb()
    # django-rq opens a client per call and leaves it to the garbage collector, whose
    # ResourceWarning would fail whichever later test it lands in; share one and close it.
    monkeypatch.setattr(django_rq.queues, "get_connection", lambda *args, **kwargs: redis)
    monkeypatch.setattr(django_rq, "get_connection", lambda *args, **kwargs: redis)
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    settings.RQ_QUEUES = {
        "default": {
            "URL": url,
            "DEFAULT_TIMEOUT": 30,
            "QUEUE_CLASS": "watchhouse.core.taskqueue.RetryingQueue",
        }
    }
    settings.WATCHHOUSE_TASK_BACKEND = "rq"
    settings.WATCHHOUSE_TASK_MAX_ATTEMPTS = 5
    yield {
        "WATCHHOUSE_TASK_BACKEND": "rq",
        "REDIS_URL": url,
        "WATCHHOUSE_TASK_TIMEOUT_SECONDS": "30",
        "WATCHHOUSE_TASK_MAX_ATTEMPTS": "5",
        **LEASE,
    }
    redis.flushdb()
    redis.close()


@pytest.mark.slow
def test_rq_worker_killed_mid_task_completes_the_work_exactly_once(
    rq_backend: dict[str, str], workers: Workers, tmp_path: Path
):
    """On RQ too, a job whose worker (and work horse) was SIGKILLed mid-transaction is found
    abandoned once its heartbeat lapses, retried, and its effect exists exactly once."""
    pause = tmp_path / "pause"
    pause.touch()
    result = record_probe_task.enqueue(key="rq-killed-mid-task", pause_file=str(pause))

    first = workers.start(**rq_backend)
    workers.wait_for(lambda: _is_paused(pause), what="the probe to pause mid-transaction")
    assert record_probe_task.get_result(result.id).status == TaskResultStatus.RUNNING
    killed_pid = _paused_pid(pause)

    workers.kill(first)
    pause.unlink()
    assert not ProbeRecord.objects.exists()  # the dead attempt's write was rolled back

    workers.start(**rq_backend)
    workers.wait_for(
        lambda: record_probe_task.get_result(result.id).status == TaskResultStatus.SUCCESSFUL,
        what="the abandoned RQ job to be retried and finished",
        timeout=45,
    )
    record = ProbeRecord.objects.get()
    assert record.key == "rq-killed-mid-task"
    assert record.worker_pid != killed_pid
    assert queue_stats().backend == "rq"


def test_rq_queue_shows_in_healthz_and_metrics(rq_backend: dict[str, str], client):
    """With RQ as the backend, /healthz and /metrics read the queue from Redis."""
    record_probe_task.enqueue(key="rq-waiting")
    response = client.get("/healthz")
    assert response.status_code == 200
    task_queue = response.json()["checks"]["task_queue"]
    assert task_queue["backend"] == "rq"
    assert task_queue["waiting"] == 1
    assert task_queue["workers_alive"] == 0
    metrics = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert "watchhouse_task_queue_depth 1.0" in metrics
    assert "watchhouse_task_queue_up 1.0" in metrics
