"""Prometheus metrics: requests, task queue depth and age, task failures.

Request counters live in each web process; queue figures are read from the queue itself at
scrape time, so they are the same whichever process answers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "watchhouse_http_requests",
    "HTTP requests served, by method, route and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "watchhouse_http_request_seconds",
    "Time to serve a request, by route.",
    ["route"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class TaskQueueCollector(Collector):
    """Read the queue's state from its backend at scrape time."""

    def describe(self) -> Iterator[Metric]:
        # Nothing to describe up front: reading the queue at import time would touch the database.
        return iter(())

    def collect(self) -> Iterator[Metric]:
        from watchhouse.core.taskqueue import queue_stats

        try:
            stats = queue_stats()
        except Exception:  # noqa: BLE001 - an unreachable queue is a figure, not a failed scrape
            logger.exception("Metrics: the task queue could not be read")
            yield GaugeMetricFamily(
                "watchhouse_task_queue_up", "1 when the task queue could be read.", value=0
            )
            return
        yield GaugeMetricFamily(
            "watchhouse_task_queue_up", "1 when the task queue could be read.", value=1
        )
        for name, help_text, value in (
            ("watchhouse_task_queue_depth", "Tasks due and waiting to run.", stats.waiting),
            (
                "watchhouse_task_queue_scheduled",
                "Tasks waiting for a later time (deferred, or backing off before a retry).",
                stats.scheduled,
            ),
            ("watchhouse_task_queue_running", "Tasks being run by a worker.", stats.running),
            (
                "watchhouse_task_queue_oldest_age_seconds",
                "How long the longest-waiting due task has been due.",
                stats.oldest_age_seconds,
            ),
            ("watchhouse_task_failures", "Tasks that failed for good.", stats.failed),
            ("watchhouse_workers_alive", "Workers with a recent heartbeat.", stats.workers_alive),
        ):
            yield GaugeMetricFamily(name, help_text, value=value)


REGISTRY.register(TaskQueueCollector())


def render() -> bytes:
    """Return every metric in Prometheus' text exposition format."""
    return generate_latest(REGISTRY)
