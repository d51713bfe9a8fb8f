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
