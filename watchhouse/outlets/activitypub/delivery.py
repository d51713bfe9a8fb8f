"""Sending activities to other servers: one signed POST per inbox, claimed like every send.

:func:`fan_out` writes an activity's deliveries (one per distinct inbox: a server's shared
inbox when it has one, however many of its users follow us; servers given up are skipped).
:func:`ap_deliveries_send` claims due deliveries by a conditional UPDATE (a claim token and
time, so two workers never send the same row and a dead worker's claim is taken again once
the lease has passed), POSTs them concurrently from a thread pool (each thread keeps its
connections open per host), and writes the results back in a few UPDATEs:

- 2xx: delivered; the server is alive (and revived if it had been given up).
- 404/410: the inbox is gone; the followers behind it are removed.
- 408, 429, 5xx, timeouts, refused connections: queued again after
  :func:`~watchhouse.core.taskqueue.retry_delay_seconds`; the server's failures are counted
  and a server failing for ``WATCHHOUSE_AP_DEAD_AFTER_DAYS`` days without a success is
  given up (its queued deliveries too) until it answers again.
- any other 4xx: failed (the server refused it; trying again cannot help).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from watchhouse.core.taskqueue import retry_delay_seconds
from watchhouse.outlets.activitypub import documents
from watchhouse.outlets.activitypub.remote import (
    TIMEOUT,
    USER_AGENT,
    RemoteFetchError,
    check_address,
)
from watchhouse.outlets.activitypub.signatures import sign_request
from watchhouse.outlets.models import (
    Activity,
    ApDelivery,
    ApDeliveryStatus,
    ApServer,
    Follower,
    RemoteActor,
)

logger = logging.getLogger("watchhouse.outlets.activitypub")

# Deliveries claimed at once by one run.
CLAIM_BATCH = 1000
RETRY_STATUSES = frozenset({408, 429})
GONE_STATUSES = frozenset({404, 410})


def _dead_after() -> timedelta:
    return timedelta(days=float(getattr(settings, "WATCHHOUSE_AP_DEAD_AFTER_DAYS", 7)))


def _max_attempts() -> int:
    return int(getattr(settings, "WATCHHOUSE_AP_MAX_ATTEMPTS", 10))


def _concurrency() -> int:
    return max(1, int(getattr(settings, "WATCHHOUSE_AP_DELIVERY_CONCURRENCY", 32)))


def _lease() -> timedelta:
    return timedelta(seconds=max(int(settings.WATCHHOUSE_WORKER_LEASE_SECONDS), 1))


def host_of(url: str) -> str:
    return urlsplit(url).netloc.lower()[:255]


def servers_for(hosts: Iterable[str]) -> dict[str, ApServer]:
    """The ApServer row of each host, made when missing."""
    wanted = set(hosts)
    found = {s.host: s for s in ApServer.objects.filter(host__in=wanted)}
    missing = wanted - set(found)
    if missing:
        ApServer.objects.bulk_create([ApServer(host=h) for h in missing], ignore_conflicts=True)
        found = {s.host: s for s in ApServer.objects.filter(host__in=wanted)}
    return found


def enqueue_delivery(activity_id: int, *, delay_s: float = 0) -> None:
    """Send the activity's deliveries after commit (``delay_s`` later for a retry)."""
    from watchhouse.outlets.activitypub.tasks import deliver_activity_task

    def enqueue() -> None:
        task = deliver_activity_task
        if delay_s > 0:
            task = task.using(run_after=timezone.now() + timedelta(seconds=delay_s))
        task.enqueue(activity_id)

    transaction.on_commit(enqueue)


def _add_deliveries(activity: Activity, inboxes: Iterable[str]) -> int:
    inboxes = {i for i in inboxes if i}
    servers = servers_for(host_of(i) for i in inboxes)
    rows = [
        ApDelivery(activity=activity, inbox=inbox, server=servers[host_of(inbox)])
        for inbox in sorted(inboxes)
        if servers[host_of(inbox)].dead_since is None
    ]
    ApDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)


def fan_out(activity: Activity) -> int:
    """Write one delivery of ``activity`` per distinct inbox of its actor's followers (the
    shared inbox when a server has one); return how many."""
    # The database folds the followers into their distinct inboxes (500 rows, not 10,000).
    inboxes = (
        Follower.objects.filter(actor_id=activity.actor_id, remote__gone_at__isnull=True)
        .annotate(
            target=Case(
                When(remote__shared_inbox="", then=F("remote__inbox")),
                default=F("remote__shared_inbox"),
            )
        )
        .order_by()
        .values_list("target", flat=True)
        .distinct()
    )
    return _add_deliveries(activity, list(inboxes))


def deliver_to(activity: Activity, inbox: str) -> int:
    """Write one delivery of ``activity`` to one inbox (an Accept to its follower)."""
    return _add_deliveries(activity, [inbox])


# --- sending ------------------------------------------------------------------------------


@dataclass
class SendReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    given_up: int = 0
    gone_inboxes: list[str] = field(default_factory=list)
    retry_after_s: float | None = None

    @property
    def attempted(self) -> int:
        return self.delivered + self.retried + self.failed + self.given_up


@dataclass(frozen=True)
class _Job:
    pk: int
    inbox: str
    host: str
    attempts: int
    body: bytes
    key_id: str
    private_key_pem: str


@dataclass(frozen=True)
class _Result:
    job: _Job
    status: int | None
    error: str


_local = threading.local()
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """The process's sending threads (kept, so their connections to each host stay open
    from one activity to the next)."""
    size = _concurrency()
    with _pools_lock:
        if size not in _pools:
            _pools[size] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="ap-deliver")
        return _pools[size]


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=64, pool_maxsize=4)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _local.session = session
    return session


def post_signed(
    url: str, body: bytes, *, key_id: str, private_key_pem: str,
    session: requests.Session | None = None,
) -> requests.Response:  # fmt: skip
    """POST ``body`` to an inbox, signed as Mastodon expects."""
    headers = sign_request(method="POST", url=url, body=body, key_id=key_id,
                           private_key_pem=private_key_pem)  # fmt: skip
    headers["Content-Type"] = documents.AP_CONTENT_TYPE
    headers["User-Agent"] = USER_AGENT
    headers["Accept"] = documents.AP_CONTENT_TYPE
    return (session or _session()).post(
        url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False
    )


def _send(job: _Job) -> _Result:
    try:
        check_address(job.inbox)
        response = post_signed(job.inbox, job.body, key_id=job.key_id,
                               private_key_pem=job.private_key_pem)  # fmt: skip
        response.close()
    except RemoteFetchError as error:
        return _Result(job, None, str(error)[:500])
    except requests.RequestException as error:
        return _Result(job, None, f"{type(error).__name__}: {error}"[:500])
    text = "" if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return _Result(job, response.status_code, text)


def _send_in_order(jobs: list[_Job]) -> list[_Result]:
    """Send one inbox's jobs one after another, oldest activity first (an Update must not
    overtake its Create, nor a Delete its Update)."""
    return [_send(job) for job in jobs]


def _by_inbox(jobs: list[_Job]) -> list[list[_Job]]:
    groups: dict[str, list[_Job]] = defaultdict(list)
    for job in jobs:
        groups[job.inbox].append(job)
    return list(groups.values())


def _due(now: datetime) -> Q:
    return Q(status=ApDeliveryStatus.QUEUED) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    ) | Q(status=ApDeliveryStatus.SENDING, claimed_at__lt=now - _lease())


def claim(ids: list[int], token: str, now: datetime) -> list[_Claimed]:
    """Take the claimable deliveries among ``ids`` for this run (one conditional UPDATE, then
    read back the rows carrying this run's token), oldest activity first."""
    if not ids:
        return []
    ApDelivery.objects.filter(_due(now), pk__in=ids).update(
        status=ApDeliveryStatus.SENDING, claimed_at=now, claim_token=token,
        attempts=F("attempts") + 1,
    )  # fmt: skip
    rows = (
        ApDelivery.objects.filter(pk__in=ids, status=ApDeliveryStatus.SENDING, claim_token=token)
        .order_by("activity_id", "id")
        .values_list("pk", "inbox", "attempts", "activity_id")
    )
    return [_Claimed(*row) for row in rows]


@dataclass(frozen=True)
class _Claimed:
    pk: int
    inbox: str
    attempts: int
    activity_id: int


def _jobs(rows: list[_Claimed]) -> list[_Job]:
    """What to send for each claimed row: each activity's body serialised once and its
    actor's key unsealed once."""
    activities = {
        a.pk: a
        for a in Activity.objects.filter(pk__in={r.activity_id for r in rows}).select_related(
            "actor"
        )
    }
    bodies: dict[int, bytes] = {}
    keys: dict[int, tuple[str, str]] = {}
    for activity in activities.values():
        bodies[activity.pk] = json.dumps(activity.payload, separators=(",", ":")).encode()
        actor = activity.actor
        if actor.pk not in keys:
            keys[actor.pk] = (documents.key_id(actor), documents.private_key_pem(actor))
    jobs = []
    for row in rows:
        activity = activities[row.activity_id]
        key_id, pem = keys[activity.actor_id]
        jobs.append(_Job(row.pk, row.inbox, host_of(row.inbox), row.attempts,
                         bodies[activity.pk], key_id, pem))  # fmt: skip
    return jobs


def _record(results: list[_Result], token: str, now: datetime, report: SendReport) -> None:
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    alive: set[str] = set()
    failing: set[str] = set()
    gone: set[str] = set()
    retry_delays: list[int] = []
    for result in results:
        status, job = result.status, result.job
        if status is not None and 200 <= status < 300:
            key: tuple[Any, ...] = (ApDeliveryStatus.DELIVERED, status, "", None, now)
            alive.add(job.host)
            report.delivered += 1
        elif status is not None and status in GONE_STATUSES:
            key = (ApDeliveryStatus.FAILED, status, result.error, None, None)
            alive.add(job.host)
            gone.add(job.inbox)
            report.failed += 1
        elif status is not None and status < 500 and status not in RETRY_STATUSES:
            key = (ApDeliveryStatus.FAILED, status, result.error, None, None)
            alive.add(job.host)
            report.failed += 1
        else:
            failing.add(job.host)
            if job.attempts < _max_attempts():
                delay = retry_delay_seconds(job.attempts)
                retry_delays.append(delay)
                key = (ApDeliveryStatus.QUEUED, status, result.error,
                       now + timedelta(seconds=delay), None)  # fmt: skip
                report.retried += 1
            else:
                key = (ApDeliveryStatus.FAILED, status, result.error, None, None)
                report.failed += 1
        groups[key].append(job.pk)
    with transaction.atomic():
        for (status, http_status, error, next_at, delivered_at), pks in groups.items():
            ApDelivery.objects.filter(
                pk__in=pks, status=ApDeliveryStatus.SENDING, claim_token=token
            ).update(
                status=status, http_status=http_status, error=error, next_attempt_at=next_at,
                delivered_at=delivered_at, claim_token="",
            )  # fmt: skip
        if alive:
            ApServer.objects.filter(host__in=alive).update(
                failures=0, failing_since=None, dead_since=None, last_ok_at=now
            )
        if failing - alive:
            _count_failures(failing - alive, now, report)
        if gone:
            _remove_gone(gone, report)
    if retry_delays:
        shortest = min(retry_delays)
        report.retry_after_s = (
            shortest if report.retry_after_s is None else min(report.retry_after_s, shortest)
        )


def _count_failures(hosts: set[str], now: datetime, report: SendReport) -> None:
    """Count a failure for each host; give up those failing for longer than the policy."""
    ApServer.objects.filter(host__in=hosts).update(
        failures=F("failures") + 1, failing_since=Coalesce(F("failing_since"), now)
    )
    dead = list(
        ApServer.objects.filter(
            host__in=hosts, dead_since__isnull=True, failing_since__lte=now - _dead_after()
        ).values_list("pk", "host")
    )
    if not dead:
        return
    ids = [pk for pk, _host in dead]
    ApServer.objects.filter(pk__in=ids).update(dead_since=now)
    report.given_up += ApDelivery.objects.filter(
        server_id__in=ids, status=ApDeliveryStatus.QUEUED
    ).update(status=ApDeliveryStatus.GIVEN_UP, next_attempt_at=None, claim_token="")
    for _pk, host in dead:
        logger.warning(
            "ActivityPub server %s given up after failing since the policy's limit", host
        )


def _remove_gone(inboxes: set[str], report: SendReport) -> None:
    """An inbox answered 404/410: the actors delivered there no longer follow us."""
    remotes = RemoteActor.objects.filter(Q(inbox__in=inboxes) | Q(shared_inbox__in=inboxes))
    removed, _rows = Follower.objects.filter(remote__in=remotes).delete()
    report.gone_inboxes.extend(sorted(inboxes))
    logger.info("Removed %s followers behind %s gone inboxes", removed, len(inboxes))


def ap_deliveries_send(
    *, activity_id: int | None = None, now: datetime | None = None, limit: int | None = None,
) -> SendReport:  # fmt: skip
    """Send the due deliveries (of one activity, or all), until none is left that is due;
    queue a later run for those to retry. Safe to run in several workers at once."""
    report = SendReport()
    token = secrets.token_hex(16)
    sent = 0
    pool = _pool()
    while limit is None or sent < limit:
        moment = now or timezone.now()
        due = ApDelivery.objects.filter(_due(moment))
        if activity_id is not None:
            due = due.filter(activity_id=activity_id)
        batch = CLAIM_BATCH if limit is None else min(CLAIM_BATCH, limit - sent)
        ids = list(due.order_by("id").values_list("pk", flat=True)[:batch])
        if not ids:
            break
        rows = claim(ids, token, moment)
        if not rows:
            continue
        results = [r for group in pool.map(_send_in_order, _by_inbox(_jobs(rows))) for r in group]
        _record(results, token, now or timezone.now(), report)
        sent += len(rows)
    if report.retry_after_s is not None:
        _enqueue_retry(activity_id, report.retry_after_s)
    return report


def _enqueue_retry(activity_id: int | None, delay_s: float) -> None:
    from watchhouse.outlets.activitypub.tasks import deliver_activity_task, deliver_due_task

    run_after = timezone.now() + timedelta(seconds=delay_s)
    if activity_id is None:
        deliver_due_task.using(run_after=run_after).enqueue()
    else:
        deliver_activity_task.using(run_after=run_after).enqueue(activity_id)
