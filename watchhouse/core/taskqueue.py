"""Background work that survives dying workers.

Both backends run Django's tasks API, and both promise the same: a task whose worker dies is
handed to another worker once the worker's lease (``WATCHHOUSE_WORKER_LEASE_SECONDS``) has
lapsed, and a task that raises is attempted again with backoff, up to
``WATCHHOUSE_TASK_MAX_ATTEMPTS`` attempts in all. Tasks are idempotent by house rule and run
their writes in one transaction, so running one again is safe and a dead attempt leaves
nothing behind.

- Database backend (default): :class:`Worker` is django-tasks-db's worker plus heartbeats
  (:class:`~watchhouse.core.models.WorkerHeartbeat`), :func:`reclaim_abandoned_tasks` and
  retries.
- RQ backend: :class:`RetryingQueue` gives every job RQ's ``Retry``; :class:`RQWorker` keeps
  RQ's own abandoned-job detection but on the lease rather than RQ's fixed minute, and takes
  over the scheduler of a dead worker so the retry is not held up by a stale lock.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from traceback import format_exception
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Min, Q
from django.utils import timezone
from django_rq.queues import DjangoRQ
from django_tasks_db.compat import TaskContext, TaskResultStatus, task_finished, task_started
from django_tasks_db.management.commands.db_worker import Worker as DatabaseWorker
from django_tasks_db.models import DBTaskResult, get_date_max
from rq import Retry
from rq import Worker as BaseRQWorker
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.scripts import release_lock
from rq.utils import as_text, utcparse

from watchhouse.core.models import WorkerHeartbeat

logger = logging.getLogger("watchhouse.worker")


class WorkerDiedError(Exception):
    """Recorded on a task whose worker died during every allowed attempt."""


def retry_delay_seconds(attempt: int) -> int:
    """Backoff before attempt ``attempt + 1``: 5 s, 20 s, 80 s, … capped at 15 minutes."""
    return int(min(5 * 4 ** max(attempt - 1, 0), 900))


def _lease_seconds() -> int:
    return max(int(settings.WATCHHOUSE_WORKER_LEASE_SECONDS), 1)


# --- RQ ----------------------------------------------------------------------------------


class RetryingQueue(DjangoRQ):
    """An RQ queue whose jobs are retried with backoff, also when their worker died."""

    def create_job(self, *args: Any, **kwargs: Any) -> Any:
        attempts = settings.WATCHHOUSE_TASK_MAX_ATTEMPTS
        if kwargs.get("retry") is None and attempts > 1:
            kwargs["retry"] = Retry(
                max=attempts - 1, interval=[retry_delay_seconds(n) for n in range(1, attempts)]
            )
        return super().create_job(*args, **kwargs)


class RQWorker(BaseRQWorker):
    """RQ's forking worker, on Watchhouse's lease.

    RQ keeps a running job's entry alive with heartbeats and treats the job as abandoned once
    they stop; out of the box the grace is a fixed minute past the heartbeat and registries are
    checked every ten minutes, and a dead worker's scheduler lock blocks retries for another
    minute. Here all three follow the lease.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        lease = _lease_seconds()
        kwargs.setdefault("job_monitoring_interval", max(lease // 3, 1))
        kwargs.setdefault("maintenance_interval", lease)
        super().__init__(*args, **kwargs)

    @property
    def dequeue_timeout(self) -> int:
        # Wake at least once a lease, so maintenance (abandoned jobs) runs on an idle worker.
        return max(1, min(super().dequeue_timeout, _lease_seconds()))

    def get_heartbeat_ttl(self, job: Any, working_time: float = 0.0) -> int:
        beat = float(self.job_monitoring_interval)
        if job.timeout and job.timeout > 0:
            beat = max(min(job.timeout - working_time, beat), 0.0)
        return int(beat) + _lease_seconds()

    def run_maintenance_tasks(self) -> None:
        scheduler = self.scheduler
        process = scheduler._process if scheduler is not None else None
        if scheduler is not None and (process is None or not process.is_alive()):
            self._release_stale_scheduler_locks(scheduler)
        super().run_maintenance_tasks()

    def _release_stale_scheduler_locks(self, scheduler: RQScheduler) -> None:
        """Free the scheduler locks of schedulers that stopped beating a lease ago."""
        lease = _lease_seconds()
        for queue in self.queues:
            lock_key = RQScheduler.get_locking_key(queue.name)
            holder = self.connection.get(lock_key)
            if holder is None or as_text(holder) == scheduler.name:
                continue
            holder_name = as_text(holder)
            beat = self.connection.hget(SCHEDULER_KEY_TEMPLATE % holder_name, "last_heartbeat")
            if beat is None:
                continue  # not registered yet, or gone: its lock expires by itself
            silent = (timezone.now() - utcparse(as_text(beat))).total_seconds()
            if silent > lease and release_lock(self.connection, lock_key, holder_name):
                logger.warning(
                    "Scheduler %s of queue %s has been silent for %.0f s; took over its lock.",
                    holder_name,
                    queue.name,
                    silent,
                )


# --- Database backend --------------------------------------------------------------------


def reclaim_abandoned_tasks(*, backend_name: str = "default") -> int:
    """Hand tasks whose worker stopped beating back to the queue; return how many.

    A task is abandoned when it has run longer than the lease and the worker that claimed it
    has not beaten within the lease, or has restarted since it claimed the task. After the
    last allowed attempt it is failed instead.
    """
    lease = timedelta(seconds=_lease_seconds())
    cutoff = timezone.now() - lease
    alive = dict(
        WorkerHeartbeat.objects.filter(last_seen__gte=cutoff).values_list("worker_id", "started_at")
    )
    max_attempts = settings.WATCHHOUSE_TASK_MAX_ATTEMPTS
    reclaimed = 0
    candidates = DBTaskResult.objects.running().filter(
        backend_name=backend_name, started_at__lt=cutoff
    )
    for task_result in candidates:
        owner = task_result.worker_ids[-1] if task_result.worker_ids else ""
        if owner in alive and alive[owner] <= task_result.started_at:
            continue
        attempts = len(task_result.worker_ids)
        with transaction.atomic():
            still_abandoned = DBTaskResult.objects.select_for_update().filter(
                pk=task_result.pk,
                status=TaskResultStatus.RUNNING,
                started_at=task_result.started_at,
            )
            if attempts >= max_attempts:
                changed = still_abandoned.update(
                    status=TaskResultStatus.FAILED,
                    finished_at=timezone.now(),
                    exception_class_path=f"{__name__}.{WorkerDiedError.__qualname__}",
                    traceback=f"The worker died during attempt {attempts} of {max_attempts}.",
                )
            else:
                changed = still_abandoned.update(
                    status=TaskResultStatus.READY, run_after=timezone.now()
                )
        if changed:
            reclaimed += 1
            logger.warning(
                "Task %s (%s) lost its worker %s in attempt %d of %d; %s.",
                task_result.pk,
                task_result.task_path,
                owner or "?",
                attempts,
                max_attempts,
                "failed for good" if attempts >= max_attempts else "queued again",
            )
    return reclaimed


class Worker(DatabaseWorker):
    """django-tasks-db's worker with heartbeats, reclaiming and retries."""

    def run(self) -> None:
        self._beat(starting=True)
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
        """Run one claimed task; a failure with attempts left goes back to the queue at once.

        Success, retry or final failure is one write, so a worker dying between two steps
        cannot lose the retry.
        """
        self.running_task = True
        try:
            task = db_task_result.task
            task_result = db_task_result.task_result
            backend_type = type(task.get_backend())
            task_started.send(sender=backend_type, task_result=task_result)
            if task.takes_context:
                value = task.call(
                    TaskContext(task_result=task_result), *task_result.args, **task_result.kwargs
                )
            else:
                value = task.call(*task_result.args, **task_result.kwargs)
            db_task_result.set_successful(value)
            task_finished.send(sender=backend_type, task_result=db_task_result.task_result)
        except BaseException as exc:  # noqa: BLE001 - every failure is recorded, none is lost
            self._record_failure(db_task_result, exc)
        finally:
            self.running_task = False
            self._run_tasks += 1

    def _record_failure(self, db_task_result: DBTaskResult, exc: BaseException) -> None:
        attempts = len(db_task_result.worker_ids)
        max_attempts = settings.WATCHHOUSE_TASK_MAX_ATTEMPTS
        exception_class_path = f"{type(exc).__module__}.{type(exc).__qualname__}"
        if attempts >= max_attempts:
            db_task_result.set_failed(exc)
            logger.error(
                "Task %s (%s) failed for good in attempt %d of %d: %s",
                db_task_result.pk,
                db_task_result.task_path,
                attempts,
                max_attempts,
                exception_class_path,
            )
            try:
                backend_type = type(db_task_result.task.get_backend())
            except Exception:  # noqa: BLE001 - the task itself may be what cannot be loaded
                return
            task_finished.send(sender=backend_type, task_result=db_task_result.task_result)
            return
        delay = retry_delay_seconds(attempts)
        DBTaskResult.objects.filter(
            pk=db_task_result.pk,
            status=TaskResultStatus.RUNNING,
            started_at=db_task_result.started_at,
        ).update(
            status=TaskResultStatus.READY,
            run_after=timezone.now() + timedelta(seconds=delay),
            exception_class_path=exception_class_path,
            traceback="".join(format_exception(exc)),
        )
        logger.warning(
            "Task %s (%s) failed in attempt %d of %d (%s); retrying in %d s.",
            db_task_result.pk,
            db_task_result.task_path,
            attempts,
            max_attempts,
            exception_class_path,
            delay,
        )

    def _beat(self, *, starting: bool = False) -> None:
        now = timezone.now()
        identity = {"last_seen": now, "hostname": socket.gethostname(), "pid": os.getpid()}
        if starting:
            # A restarted worker with the same id is a new incarnation: tasks it claimed before
            # are abandoned, which reclaim_abandoned_tasks() tells from this time.
            identity["started_at"] = now
        WorkerHeartbeat.objects.update_or_create(
            worker_id=self.worker_id,
            defaults=identity,
            create_defaults={**identity, "started_at": now},
        )

    def _beat_loop(self, stop: threading.Event) -> None:
        interval = max(_lease_seconds() / 3, 0.5)
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


# --- Queue state -------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueStats:
    """The task queue at a glance."""

    backend: str
    waiting: int  # due now, not yet picked up
    scheduled: int  # waiting for a later time (deferred or backing off before a retry)
    running: int
    failed: int  # failed for good
    oldest_age_seconds: float  # how long the longest-waiting due task has been due
    workers_alive: int


def queue_stats() -> QueueStats:
    """Read the queue's depth, age and failures from whichever backend is configured."""
    if settings.WATCHHOUSE_TASK_BACKEND == "rq":
        return _rq_queue_stats()
    now = timezone.now()
    date_max = get_date_max()
    due = DBTaskResult.objects.ready()
    oldest = due.aggregate(
        unscheduled=Min("enqueued_at", filter=Q(run_after=date_max)),
        scheduled=Min("run_after", filter=~Q(run_after=date_max)),
    )
    due_since = [moment for moment in oldest.values() if moment is not None]
    lease = timedelta(seconds=_lease_seconds())
    waiting = due.count()
    return QueueStats(
        backend="database",
        waiting=waiting,
        scheduled=DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() - waiting,
        running=DBTaskResult.objects.running().count(),
        failed=DBTaskResult.objects.failed().count(),
        oldest_age_seconds=_age(now, min(due_since)) if due_since else 0.0,
        workers_alive=WorkerHeartbeat.objects.filter(last_seen__gte=now - lease).count(),
    )


def _rq_queue_stats() -> QueueStats:
    import django_rq
    from django_tasks_rq import Job

    queue = django_rq.get_queue("default", job_class=Job)
    try:
        head = queue.get_jobs(0, 0)
        enqueued_at = head[0].enqueued_at if head else None
        return QueueStats(
            backend="rq",
            waiting=queue.count,
            scheduled=queue.scheduled_job_registry.count,
            running=queue.started_job_registry.count,
            failed=queue.failed_job_registry.count,
            oldest_age_seconds=_age(timezone.now(), enqueued_at) if enqueued_at else 0.0,
            workers_alive=BaseRQWorker.count(queue=queue),
        )
    finally:
        # django-rq opens a new client per queue; close it rather than wait for the collector.
        queue.connection.close()


def _age(now: datetime, since: datetime) -> float:
    return max((now - since).total_seconds(), 0.0)
