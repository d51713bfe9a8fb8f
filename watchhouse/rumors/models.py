"""The rumor tracker: claims seen in public, what the department knows, and its answer.

A rumor is public (on /rumors/ and its feeds) once it has a verdict other than unverified and a
"what we know" text; ``answered_at`` is when that happened, so the time from first seen to the
public answer is ``answered_at - first_seen_at``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Incident(models.Model):
    """The event rumors belong to (a shooting, a storm, a protest), for grouping them."""

    name = models.CharField(max_length=150)
    slug = models.SlugField(max_length=160, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class RumorStatus(models.TextChoices):
    UNVERIFIED = "unverified", _("Unverified")
    FALSE = "false", _("False")
    TRUE = "true", _("True")
    PARTLY_TRUE = "partly", _("Partly true")


class Rumor(models.Model):
    """One claim going round, and the department's verdict on it."""

    claim = models.CharField(max_length=300)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="rumors"
    )
    first_seen_at = models.DateTimeField()
    first_seen_where = models.CharField(
        max_length=300, blank=True, help_text="Where it was first seen (network, group, place)."
    )
    status = models.CharField(
        max_length=10, choices=RumorStatus.choices, default=RumorStatus.UNVERIFIED, db_index=True
    )
    what_we_know = models.TextField(blank=True, help_text="The public answer.")
    statement = models.TextField(blank=True, help_text="The official statement, if any.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True, db_index=True)
    correction = models.ForeignKey(
        "posts.Post", null=True, blank=True, on_delete=models.SET_NULL, related_name="rumors"
    )
    source_comment = models.ForeignKey(
        "community.Comment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A reply, comment or mention from another network or the fediverse it was tracked from.
    source_inbound = models.ForeignKey(
        "outlets.InboundItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-first_seen_at", "-id"]

    def __str__(self) -> str:
        return self.claim

    def get_absolute_url(self) -> str:
        return reverse("rumors:detail", args=[self.pk])


class EvidenceKind(models.TextChoices):
    LINK = "link", _("Link")
    SCREENSHOT = "screenshot", _("Screenshot")
    NOTE = "note", _("Note")


class RumorEvidence(models.Model):
    """Where the rumor was seen, or what shows it true or false: a link, a screenshot (stored
    privately with its SHA-256) or a note."""

    rumor = models.ForeignKey(Rumor, on_delete=models.CASCADE, related_name="evidence")
    kind = models.CharField(max_length=10, choices=EvidenceKind.choices)
    url = models.URLField(max_length=1000, blank=True)
    note = models.TextField(blank=True)
    path = models.CharField(max_length=200, blank=True, help_text="Under the private root.")
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    mime = models.CharField(max_length=100, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["added_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for rumor {self.rumor_id}"
