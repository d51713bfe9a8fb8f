"""Prometheus metrics: requests, task queue depth and age, task failures."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

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

    def describe(self):  # type: ignore[no-untyped-def]
        # Nothing to describe up front: reading the queue at import time would touch the database.
        return []

    def collect(self):  # type: ignore[no-untyped-def]
        from watchhouse.core.taskqueue import queue_stats

        stats = queue_stats()
        for name, help_text, value in (
            ("watchhouse_task_queue_depth", "Tasks waiting to run.", stats.waiting),
            ("watchhouse_task_queue_running", "Tasks being run by a worker.", stats.running),
            (
                "watchhouse_task_queue_oldest_age_seconds",
                "Age of the oldest waiting task that is due.",
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
