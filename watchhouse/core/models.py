"""Models shared by every app."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """The last sign of life of a background worker; stale ones have died."""

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"worker {self.worker_id} on {self.hostname} (pid {self.pid})"


class ProbeRecord(models.Model):
    """The effect of one probe task: proof that background work ran, and ran once per key."""

    key = models.CharField(max_length=100, unique=True)
    attempt = models.PositiveIntegerField(help_text="The attempt of the task that wrote it.")
    worker_pid = models.PositiveIntegerField(help_text="The process that wrote it.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"probe {self.key} (attempt {self.attempt})"


class DailyRun(models.Model):
    """The last day one of the daily jobs (``WATCHHOUSE_DAILY``) was handed to the worker.

    ``key`` is the SHA-256 of the job's line, so changing a job's time or arguments makes a
    new job. Workers claim a day by a conditional update, so a job starts once a day however
    many workers tick.
    """

    key = models.CharField(max_length=64, unique=True)
    line = models.TextField()
    last_day = models.DateField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["line"]

    def __str__(self) -> str:
        return f"{self.line} (last {self.last_day})"
