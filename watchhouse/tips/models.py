"""Tips, the dialogue with the tipster, and the files they send (evidence).

Every field that could say who a tipster is, or what they said, is sealed
(:mod:`watchhouse.core.crypto`): the database holds Fernet tokens, never text. What stays in the
clear is what investigators sort and filter by: state, outcome, priority, times, the
neighbourhood, assignment and links.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from watchhouse.core import crypto
from watchhouse.tips.states import TipOutcome, TipState


class TipChannel(models.TextChoices):
    """How a tip arrived."""

    WEB = "web", _("Web form")
    SMS = "sms", _("Text message")
    EMAIL = "email", _("E-mail")


class TipPriority(models.IntegerChoices):
    LOW = 1, _("Low")
    NORMAL = 2, _("Normal")
    HIGH = 3, _("High")
    URGENT = 4, _("Urgent")


class RewardStatus(models.TextChoices):
    NONE = "", _("No reward")
    APPROVED = "approved", _("Approved, not yet claimed")
    PAID = "paid", _("Paid")


class Tip(models.Model):
    """One tip: what a tipster sent and where the investigators are with it.

    ``content`` is the sealed JSON of what the tipster wrote (what, where, when, their own
    reference); ``contact`` the sealed contact details they chose to give, if any. ``sender_hash``
    is a keyed hash of the phone number or e-mail address of an SMS or e-mail tip, so a reply from
    the same sender joins the same thread without the number being stored.
    """

    code = models.CharField(max_length=20, unique=True, help_text="The tipster's tip code.")
    passphrase_hash = models.CharField(max_length=256, blank=True)
    channel = models.CharField(max_length=8, choices=TipChannel.choices, default=TipChannel.WEB)
    state = models.CharField(
        max_length=10, choices=TipState.choices, default=TipState.NEW, db_index=True
    )
    outcome = models.CharField(max_length=10, choices=TipOutcome.choices, blank=True)
    priority = models.PositiveSmallIntegerField(
        choices=TipPriority.choices, default=TipPriority.NORMAL
    )
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    triaged_at = models.DateTimeField(null=True, blank=True)
    first_reply_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The newest message from the tipster that staff have not opened yet.
    unread_at = models.DateTimeField(null=True, blank=True, db_index=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_tips",
    )
    appeal = models.ForeignKey(
        "posts.Post",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tips",
        help_text="The appeal the tipster answered.",
    )
    area = models.ForeignKey(
        "geo.Area", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged"
    )
    content = models.TextField(help_text="Sealed JSON: what, where, when, reference.")
    contact = models.TextField(blank=True, help_text="Sealed contact details, if given.")
    sender_hash = models.CharField(max_length=64, blank=True, db_index=True)
    wants_reward = models.BooleanField(default=False)
    reward_status = models.CharField(
        max_length=10, choices=RewardStatus.choices, blank=True, default=RewardStatus.NONE
    )
    reward_amount = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    reward_code_hash = models.CharField(max_length=64, blank=True, db_index=True)
    reward_paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["state", "priority", "received_at"])]

    def __str__(self) -> str:
        return f"Tip {self.code}"

    def get_absolute_url(self) -> str:
        return reverse("console:tip", args=[self.pk])

    def read_content(self) -> dict[str, Any]:
        """What the tipster wrote. Callers outside services must go through a service that
        audits the read."""
        value = crypto.unseal_json(self.content, {})
        return value if isinstance(value, dict) else {}

    def read_contact(self) -> str:
        return crypto.unseal(self.contact)


class MessageKind(models.TextChoices):
    TO_TIPSTER = "out", _("Question or reply to the tipster")
    FROM_TIPSTER = "in", _("From the tipster")
    NOTE = "note", _("Internal note")


class TipMessage(models.Model):
    """One line of a tip's dialogue, or an investigator's internal note (never shown to the
    tipster)."""

    tip = models.ForeignKey(Tip, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=4, choices=MessageKind.choices)
    body = models.TextField(help_text="Sealed text.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # For a message to the tipster: when they read it; from the tipster: when staff did.
    read_at = models.DateTimeField(null=True, blank=True)
    # A message to an SMS or e-mail tipster: how sending it went ("" not sent yet, "sent",
    # or the error).
    delivery = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.tip}"

    def read_body(self) -> str:
        return crypto.unseal(self.body)


class FileKind(models.TextChoices):
    IMAGE = "image", _("Photo")
    VIDEO = "video", _("Video")
    AUDIO = "audio", _("Sound")
    DOCUMENT = "document", _("Document")


class FileStatus(models.TextChoices):
    RECEIVED = "received", _("Received, being processed")
    READY = "ready", _("Processed")
    UNREADABLE = "unreadable", _("Kept, but cannot be read")


class TipFile(models.Model):
    """One file a tipster sent: evidence.

    The original is sealed at ``path`` (relative to ``WATCHHOUSE_PRIVATE_MEDIA_ROOT``) as it
    arrived, with the SHA-256 of its plaintext computed on the way in; no code path writes to it
    again. ``metadata`` (sealed JSON) is what the file says about itself (time, GPS, device),
    for investigators only. ``preview_path`` is a sealed copy stripped of metadata and resized,
    for quick viewing in the console.
    """

    tip = models.ForeignKey(Tip, on_delete=models.PROTECT, related_name="files")
    message = models.ForeignKey(
        TipMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="files"
    )
    kind = models.CharField(max_length=10, choices=FileKind.choices)
    mime = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    path = models.CharField(max_length=200, unique=True)
    wrapped_key = models.TextField()
    name = models.TextField(help_text="Sealed: the file name the tipster's device gave.")
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=10, choices=FileStatus.choices, default=FileStatus.RECEIVED
    )
    problem = models.CharField(max_length=300, blank=True)
    metadata = models.TextField(blank=True, help_text="Sealed JSON: EXIF or container tags.")
    preview_path = models.CharField(max_length=200, blank=True)
    preview_key = models.TextField(blank=True)
    preview_mime = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.sha256[:12]} of {self.tip}"

    def read_name(self) -> str:
        return crypto.unseal(self.name)

    def read_metadata(self) -> dict[str, Any]:
        value = crypto.unseal_json(self.metadata, {})
        return value if isinstance(value, dict) else {}


class TipLink(models.Model):
    """A tip tied to a case number in the records system, or to an appeal."""

    tip = models.ForeignKey(Tip, on_delete=models.CASCADE, related_name="links")
    case_number = models.CharField(max_length=40, blank=True, db_index=True)
    appeal = models.ForeignKey(
        "posts.Post", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(case_number="") | models.Q(appeal__isnull=False),
                name="tips_link_has_target",
            )
        ]

    def __str__(self) -> str:
        return self.case_number or f"appeal {self.appeal_id}"


class QuestionTemplate(models.Model):
    """A question investigators often ask, ready to send."""

    title = models.CharField(max_length=100)
    body = models.TextField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title
