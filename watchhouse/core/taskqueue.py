"""Background work that survives dying workers.

Both backends run Django's tasks API. The database backend (default) gets what it lacks here:
workers write heartbeats, a task whose worker stopped beating is handed to another worker, and a
task that raises is attempted again with backoff, up to ``WATCHHOUSE_TASK_MAX_ATTEMPTS``. The RQ
backend gets the same from RQ itself (abandoned-job detection and ``Retry``), switched on by
:class:`RetryingQueue`. Tasks are idempotent by house rule, so running one again is safe.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker as DatabaseWorker
from django_tasks_db.models import DBTaskResult
from django_rq.queues import DjangoRQ
from rq import Retry

from watchhouse.core.models import WorkerHeartbeat

logger = logging.getLogger("watchhouse.worker")


def retry_delay_seconds(attempt: int) -> int:
    """Backoff before attempt ``attempt + 1``: 5 s, 20 s, 80 s, … capped at 15 minutes."""
    return int(min(5 * 4 ** max(attempt - 1, 0), 900))


class RetryingQueue(DjangoRQ):
    """An RQ queue whose jobs are retried with backoff, also when their worker died."""

    def create_job(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("retry") is None:
            attempts = settings.WATCHHOUSE_TASK_MAX_ATTEMPTS
            kwargs["retry"] = Retry(
                max=attempts - 1, interval=[retry_delay_seconds(n) for n in range(1, attempts)]
            )
        return super().create_job(*args, **kwargs)


def reclaim_abandoned_tasks(*, backend_name: str = "default") -> int:
    """Hand tasks whose worker stopped beating back to the queue; return how many.

    A task is abandoned when it has run longer than the lease and none of the workers that
    claimed it has beaten within the lease. After the last allowed attempt it is failed.
    """
    lease = timedelta(seconds=settings.WATCHHOUSE_WORKER_LEASE_SECONDS)
    cutoff = timezone.now() - lease
    alive = set(
        WorkerHeartbeat.objects.filter(last_seen__gte=cutoff).values_list("worker_id", flat=True)
    )
    reclaimed = 0
    candidates = DBTaskResult.objects.running().filter(
        backend_name=backend_name, started_at__lt=cutoff
    )
    for task_result in candidates:
        if task_result.worker_ids and task_result.worker_ids[-1] in alive:
            continue
        attempts = len(task_result.worker_ids)
        with transaction.atomic():
            still_abandoned = DBTaskResult.objects.select_for_update().filter(
                pk=task_result.pk,
                status=TaskResultStatus.RUNNING,
                started_at=task_result.started_at,
            )
            if attempts >= settings.WATCHHOUSE_TASK_MAX_ATTEMPTS:
                changed = still_abandoned.update(
                    status=TaskResultStatus.FAILED,
                    finished_at=timezone.now(),
                    exception_class_path="watchhouse.core.taskqueue.WorkerDiedError",
                    traceback=f"The worker died during each of {attempts} attempts.",
                )
            else:
                changed = still_abandoned.update(
                    status=TaskResultStatus.READY, run_after=timezone.now()
                )
        if changed:
            reclaimed += 1
            logger.warning(
                "Task %s (%s) lost its worker %s after %d attempt(s); %s.",
                task_result.pk,
                task_result.task_path,
                task_result.worker_ids[-1] if task_result.worker_ids else "?",
                attempts,
                "failed for good" if attempts >= settings.WATCHHOUSE_TASK_MAX_ATTEMPTS
                else "queued again",
            )
    return reclaimed


class Worker(DatabaseWorker):
    """django-tasks-db's worker with heartbeats, reclaiming and retries."""

    def run(self) -> None:
        self._beat()
        reclaim_abandoned_tasks(backend_name=self.backend_name)
        stop = threading.Event()
        beater = threading.Thread(target=self._beat_loop, args=(stop,), daemon=True)
        beater.start()
        try:
            super().run()
        finally:
            stop.set()
            beater.join(timeout=5)
            WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete()

    def run_task(self, db_task_result: DBTaskResult) -> None:
        super().run_task(db_task_result)
        if db_task_result.status != TaskResultStatus.FAILED:
            return
        attempts = len(db_task_result.worker_ids)
        if attempts >= settings.WATCHHOUSE_TASK_MAX_ATTEMPTS:
            logger.error(
                "Task %s (%s) failed for good after %d attempts: %s",
                db_task_result.pk, db_task_result.task_path, attempts,
                db_task_result.exception_class_path,
            )
            return
        delay = retry_delay_seconds(attempts)
        logger.warning(
            "Task %s (%s) failed (attempt %d, %s); retrying in %d s.",
            db_task_result.pk, db_task_result.task_path, attempts,
            db_task_result.exception_class_path, delay,
        )
        DBTaskResult.objects.filter(pk=db_task_result.pk, status=TaskResultStatus.FAILED).update(
            status=TaskResultStatus.READY,
            run_after=timezone.now() + timedelta(seconds=delay),
            finished_at=None,
        )

    def _beat(self) -> None:
        now = timezone.now()
        WorkerHeartbeat.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={"last_seen": now, "hostname": socket.gethostname(), "pid": os.getpid()},
            create_defaults={
                "last_seen": now,
                "started_at": now,
                "hostname": socket.gethostname(),
                "pid": os.getpid(),
            },
        )

    def _beat_loop(self, stop: threading.Event) -> None:
        interval = max(settings.WATCHHOUSE_WORKER_LEASE_SECONDS / 3, 0.5)
        try:
            while not stop.wait(interval):
                try:
                    close_old_connections()
                    self._beat()
                    reclaim_abandoned_tasks(backend_name=self.backend_name)
                except Exception:  # noqa: BLE001 - a missed beat must not kill the worker
                    logger.exception("Worker heartbeat failed; trying again.")
        finally:
            connection.close()


@dataclass(frozen=True)
class QueueStats:
    """The task queue at a glance."""

    backend: str
    waiting: int
    running: int
    failed: int
    oldest_age_seconds: float
    workers_alive: int


def queue_stats() -> QueueStats:
    """Read the queue's depth, age and failures from whichever backend is configured."""
    if settings.WATCHHOUSE_TASK_BACKEND == "rq":
        import django_rq
        from rq import Worker as RQWorker

        queue = django_rq.get_queue("default")
        jobs = queue.get_jobs(0, 0)
        oldest = 0.0
        if jobs and jobs[0].enqueued_at:
            oldest = (timezone.now() - jobs[0].enqueued_at).total_seconds()
        return QueueStats(
            backend="rq",
            waiting=queue.count,
            running=queue.started_job_registry.count,
            failed=queue.failed_job_registry.count,
            oldest_age_seconds=max(oldest, 0.0),
            workers_alive=RQWorker.count(queue=queue),
        )
    now = timezone.now()
    due = DBTaskResult.objects.ready()
    oldest_task = due.order_by("enqueued_at").values_list("enqueued_at", flat=True).first()
    lease = timedelta(seconds=settings.WATCHHOUSE_WORKER_LEASE_SECONDS)
    return QueueStats(
        backend="database",
        waiting=DBTaskResult.objects.filter(status=TaskResultStatus.READY).count(),
        running=DBTaskResult.objects.running().count(),
        failed=DBTaskResult.objects.failed().count(),
        oldest_age_seconds=(now - oldest_task).total_seconds() if oldest_task else 0.0,
        workers_alive=WorkerHeartbeat.objects.filter(last_seen__gte=now - lease).count(),
    )
