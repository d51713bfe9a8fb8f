"""Residents' subscriptions, the endpoints messages go to, and one delivery row per message.

E-mail addresses, phone numbers and push endpoints are personal data: ``__str__`` never shows
them, so they stay out of logs and error reports.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from watchhouse.geo.models import Area, LocatedModel
from watchhouse.geo.points import CELL_ID_LENGTH

# A resident may follow this many places in one subscription.
MAX_PLACES = 5
# Radius limits of a point place, in metres (0.25 and 10 statute miles).
MIN_RADIUS_M = 402.336
MAX_RADIUS_M = 16_093.44


class SubscriptionStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for confirmation")
    ACTIVE = "active", _("Active")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")


class DigestPeriod(models.TextChoices):
    WEEK = "week", _("Every week")
    MONTH = "month", _("Every month")


class Subscription(models.Model):
    """What one resident wants to hear about: places, categories, language and quiet hours."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    language = models.CharField(max_length=10, default="en")
    want_alert = models.BooleanField(default=True)
    want_advisory = models.BooleanField(default=True)
    want_community = models.BooleanField(default=False)
    want_traffic = models.BooleanField(default=False)
    # The crime digest is an e-mail of what was reported near the places, once a period.
    want_crime_digest = models.BooleanField(default=False)
    digest_period = models.CharField(
        max_length=5, choices=DigestPeriod.choices, default=DigestPeriod.WEEK
    )
    quiet_start = models.TimeField(null=True, blank=True, help_text="Local time.")
    quiet_end = models.TimeField(null=True, blank=True, help_text="Local time.")
    status = models.CharField(
        max_length=15, choices=SubscriptionStatus.choices, default=SubscriptionStatus.PENDING
    )
    source = models.CharField(max_length=10, default="web", help_text="web, sms or partner.")
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status"], name="notify_sub_status")]

    def __str__(self) -> str:
        return f"subscription {self.public_id}"

    def wants(self, category: str) -> bool:
        """True when the resident chose ``category`` (alert, advisory, community, traffic,
        crime_digest)."""
        return bool(getattr(self, f"want_{category}", False))


class PlaceKind(models.TextChoices):
    POINT = "point", _("A point and a radius")
    AREA = "area", _("An area")
    JURISDICTION = "jurisdiction", _("The whole jurisdiction")


class SubscriptionPlace(LocatedModel):
    """A place a resident follows. A point place carries the bounding box of its circle so
    candidates for an alert are found by plain-number comparison."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="places")
    kind = models.CharField(max_length=15, choices=PlaceKind.choices)
    radius_m = models.FloatField(null=True, blank=True)
    area = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    label = models.CharField(max_length=200, blank=True)
    # Indexed by ``notify_place_cell_radius``, which starts with it.
    h3 = models.CharField(max_length=CELL_ID_LENGTH, blank=True, editable=False)
    min_lat = models.FloatField(null=True, blank=True)
    min_lon = models.FloatField(null=True, blank=True)
    max_lat = models.FloatField(null=True, blank=True)
    max_lon = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["subscription", "id"]
        indexes = [
            models.Index(fields=["kind", "min_lat", "max_lat"], name="notify_place_kind_lat"),
            models.Index(fields=["area"], name="notify_place_area"),
            # Resolution reads places by cell and a range of radii, and wants only the
            # subscription and, for the circles that need the exact test, the centre: the
            # database answers from this index alone.
            models.Index(
                fields=["h3", "radius_m", "subscription", "lat", "lon"],
                name="notify_place_cell_radius",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of subscription {self.subscription_id}"


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    PUSH = "push", _("Browser notification")
    SMS = "sms", _("Text message")
    WEBHOOK = "webhook", _("Webhook")


def address_key(channel: str, address: str) -> int:
    """A signed 64-bit number for a channel and address, e-mail compared without case: the
    same for the same address, and for two others almost never (a hash).

    Resolution groups endpoints by it before it compares the addresses themselves, so that
    sorting a few hundred thousand endpoints by address compares numbers, not strings.
    """
    normal = address.lower() if channel == Channel.EMAIL else address
    digest = hashlib.blake2b(f"{channel}\0{normal}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class EndpointQuerySet(models.QuerySet["Endpoint"]):
    def mark_shared(self) -> int:
        """Flag every endpoint whose address key another endpoint has; how many changed."""
        twins = (
            Endpoint.objects.order_by()
            .values("address_key")
            .annotate(n=models.Count("id"))
            .filter(n__gt=1)
            .values("address_key")
        )
        return Endpoint.objects.filter(address_key__in=twins, shared=False).update(shared=True)


class Endpoint(models.Model):
    """Where a subscription's messages go on one channel (address is personal data).

    ``address_key`` is :func:`address_key` of the channel and address, set by :meth:`save`;
    code that writes endpoints in bulk sets it itself (the column has no default, so a row
    without it is refused). ``shared`` says that another endpoint has had the same key: only
    those are grouped by address when an alert is resolved, which spares sorting the rest.
    :meth:`save` sets it on both; after writing endpoints in bulk, call
    ``Endpoint.objects.mark_shared()``. A flag set where no twin is left costs nothing but
    time; one missing (two residents saving the same address at the same instant) could only
    send that address a message twice.
    """

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="endpoints"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=1000, help_text="E-mail, phone, push or webhook URL.")
    keys = models.JSONField(default=dict, blank=True, help_text="Push keys or webhook secret.")
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    address_key = models.BigIntegerField(editable=False)
    shared = models.BooleanField(default=False, editable=False)

    objects = EndpointQuerySet.as_manager()

    class Meta:
        ordering = ["subscription", "id"]
        indexes = [
            models.Index(fields=["channel", "address"], name="notify_endpoint_address"),
            models.Index(fields=["address_key"], name="notify_endpoint_key"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} endpoint {self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is None or {"channel", "address"} & set(update_fields):
            self.address_key = address_key(self.channel, self.address)
            twins = Endpoint.objects.filter(address_key=self.address_key).exclude(pk=self.pk)
            if twins.exists():
                self.shared = True
                twins.filter(shared=False).update(shared=True)
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "address_key", "shared"}
        super().save(*args, **kwargs)

    @property
    def is_live(self) -> bool:
        return self.confirmed_at is not None and self.disabled_at is None


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class SendState(models.Model):
    """Where one message to one endpoint stands: queued → sending → sent, failed or skipped.

    A sender claims a row by a conditional update that sets ``sending``, ``claimed_at`` and
    its claim token (held in ``provider_id`` until the provider's id replaces it); a row left
    ``sending`` past the worker lease belonged to a worker that died and may be claimed again.
    """

    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    provider_id = models.CharField(max_length=200, blank=True)
    queued_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        abstract = True


class Delivery(SendState):
    """One message of one alert to one endpoint; written before anything is sent.

    There is one row per (endpoint, alert), so resolving an alert twice never makes a second
    row, and a row moves queued → sending → sent by conditional updates, so no row is sent
    twice.

    An alert writes hundreds of thousands of these rows at once, and each index or foreign-key
    constraint costs one more lookup per row (on PostgreSQL a constraint check per row at
    commit takes longer than writing the row). So there are only two indexes besides the key,
    (endpoint, alert), which is also the endpoint's, and (alert, channel, status), which is
    also the alert's, and the references are kept by Django rather than by database
    constraints: rows are only written by resolution, from the alert and the live endpoints
    it has just read in the same transaction, and never deleted but with their endpoint
    (CASCADE) or alert (PROTECT refuses while it has any).
    """

    alert = models.ForeignKey(
        "alerts.Alert", on_delete=models.PROTECT, related_name="deliveries", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    # The endpoint's subscription, kept so sends and reports need no join; it goes with the
    # endpoint (CASCADE above), which belongs to this subscription.
    subscription = models.ForeignKey(
        Subscription, on_delete=models.DO_NOTHING, related_name="deliveries", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    channel = models.CharField(max_length=10, choices=Channel.choices)
    language = models.CharField(max_length=10, default="en")
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["alert", "id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["alert", "channel", "status"], name="notify_delivery_state"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "alert"], name="notify_delivery_once")
        ]

    def __str__(self) -> str:
        return f"delivery {self.idempotency_key} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        """Stable per (alert, endpoint): providers use it to drop a message sent twice."""
        return f"{self.alert_id}:{self.endpoint_id}"


class DigestDelivery(SendState):
    """One crime digest of one period to one e-mail endpoint; written before it is sent.

    There is one row per (endpoint, period, first day), so queueing a period again writes
    nothing, and a row moves queued → sending → sent by conditional updates. A row left
    ``sending`` by a worker that died is taken again once its lease has passed.
    """

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="digests")
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="digests")
    period = models.CharField(max_length=5, choices=DigestPeriod.choices)
    first_day = models.DateField()
    last_day = models.DateField()

    class Meta:
        ordering = ["-first_day", "id"]
        verbose_name_plural = "digest deliveries"
        indexes = [models.Index(fields=["status", "queued_at"], name="notify_digest_state")]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "period", "first_day"], name="notify_digest_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.period} digest {self.idempotency_key} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        """Stable per (endpoint, period): the e-mail's Message-ID is made from it."""
        return f"digest.{self.period}.{self.first_day:%Y%m%d}.{self.endpoint_id}"
