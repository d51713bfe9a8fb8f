"""Emergency alerts: one row per CAP message, with an ``<info>`` per language and its areas.

An update or a cancellation is a message of its own (CAP ``msgType`` Update/Cancel) that
references the message before it, so the chain of what residents were told is never rewritten.
"""

from __future__ import annotations

import shapely
from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from shapely.geometry.base import BaseGeometry

from watchhouse.alerts.states import SENT_STATES, AlertState
from watchhouse.geo.models import Area
from watchhouse.geo.points import CELL_ID_LENGTH

# Limits of the short texts, in characters.
WEA_SHORT_LIMIT = 90
WEA_LONG_LIMIT = 360


class Category(models.TextChoices):
    """Nixle's four kinds of message; what residents subscribe to."""

    ALERT = "alert", _("Alert")
    ADVISORY = "advisory", _("Advisory")
    COMMUNITY = "community", _("Community")
    TRAFFIC = "traffic", _("Traffic")


class MsgType(models.TextChoices):
    ALERT = "Alert", _("Alert")
    UPDATE = "Update", _("Update")
    CANCEL = "Cancel", _("Cancel")


class CapStatus(models.TextChoices):
    ACTUAL = "Actual", _("Actual")
    EXERCISE = "Exercise", _("Exercise")
    SYSTEM = "System", _("System")
    TEST = "Test", _("Test")


class CapCategory(models.TextChoices):
    GEO = "Geo", _("Geophysical")
    MET = "Met", _("Meteorological")
    SAFETY = "Safety", _("Public safety")
    SECURITY = "Security", _("Law enforcement, security")
    RESCUE = "Rescue", _("Rescue and recovery")
    FIRE = "Fire", _("Fire")
    HEALTH = "Health", _("Health")
    ENV = "Env", _("Environment")
    TRANSPORT = "Transport", _("Transport")
    INFRA = "Infra", _("Infrastructure")
    CBRNE = "CBRNE", _("Chemical, biological, radiological, nuclear, explosive")
    OTHER = "Other", _("Other")


class Urgency(models.TextChoices):
    IMMEDIATE = "Immediate", _("Immediate")
    EXPECTED = "Expected", _("Expected")
    FUTURE = "Future", _("Future")
    PAST = "Past", _("Past")
    UNKNOWN = "Unknown", _("Unknown")


class Severity(models.TextChoices):
    EXTREME = "Extreme", _("Extreme")
    SEVERE = "Severe", _("Severe")
    MODERATE = "Moderate", _("Moderate")
    MINOR = "Minor", _("Minor")
    UNKNOWN = "Unknown", _("Unknown")


class Certainty(models.TextChoices):
    OBSERVED = "Observed", _("Observed")
    LIKELY = "Likely", _("Likely")
    POSSIBLE = "Possible", _("Possible")
    UNLIKELY = "Unlikely", _("Unlikely")
    UNKNOWN = "Unknown", _("Unknown")


class ResponseType(models.TextChoices):
    NONE = "", _("(none)")
    SHELTER = "Shelter", _("Shelter in place")
    EVACUATE = "Evacuate", _("Evacuate")
    PREPARE = "Prepare", _("Prepare")
    EXECUTE = "Execute", _("Execute the planned action")
    AVOID = "Avoid", _("Avoid the area")
    MONITOR = "Monitor", _("Monitor")
    ASSESS = "Assess", _("Assess")
    ALL_CLEAR = "AllClear", _("All clear")


class Alert(models.Model):
    """One CAP message: an alert, an update of an earlier one, or its cancellation."""

    identifier = models.CharField(max_length=120, unique=True, help_text="CAP identifier.")
    msg_type = models.CharField(max_length=10, choices=MsgType.choices, default=MsgType.ALERT)
    references = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="followups",
        help_text="The earlier message this one updates or cancels.",
    )
    status = models.CharField(max_length=10, choices=CapStatus.choices, default=CapStatus.ACTUAL)
    category = models.CharField(max_length=12, choices=Category.choices)
    cap_category = models.CharField(
        max_length=12, choices=CapCategory.choices, default=CapCategory.SECURITY
    )
    event = models.CharField(max_length=120)
    urgency = models.CharField(max_length=10, choices=Urgency.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    certainty = models.CharField(max_length=10, choices=Certainty.choices)
    response_type = models.CharField(
        max_length=10, choices=ResponseType.choices, blank=True, default=""
    )
    same_code = models.CharField(
        max_length=3, blank=True, help_text="SAME event code (IPAWS), for example CEM or LAE."
    )
    web = models.URLField(max_length=500, blank=True)
    contact = models.CharField(max_length=200, blank=True)
    note = models.CharField(max_length=500, blank=True, help_text="CAP note, e.g. why cancelled.")
    expires = models.DateTimeField()
    ipaws = models.BooleanField(default=False, help_text="Follow the IPAWS CAP profile.")
    state = models.CharField(max_length=20, choices=AlertState.choices, default=AlertState.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="alerts_created"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="alerts_approved",
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="alerts_issued",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True, db_index=True)
    ended_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was updated, cancelled or expired."
    )
    cap_xml = models.TextField(blank=True, help_text="The CAP document, frozen when issued.")
    recipients_resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-created_at"]
        indexes = [models.Index(fields=["state", "issued_at"], name="alerts_alert_state_issued")]

    def __str__(self) -> str:
        first = self.infos.first() if self.pk else None
        return f"{self.get_msg_type_display()}: {first.headline if first else self.event}"

    def get_absolute_url(self) -> str:
        return reverse("alerts:detail", kwargs={"pk": self.pk})

    @property
    def is_public(self) -> bool:
        """True once the message has gone out."""
        return self.state in SENT_STATES

    @cached_property
    def root(self) -> Alert:
        """The first message of this message's chain."""
        alert = self
        seen = {alert.pk}
        while alert.references_id is not None and alert.references_id not in seen:
            alert = alert.references  # type: ignore[assignment]
            seen.add(alert.pk)
        return alert


class AlertInfo(models.Model):
    """The texts of an alert in one language (one CAP ``<info>``)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="infos")
    language = models.CharField(max_length=10)
    headline = models.CharField(max_length=160)
    description = models.TextField()
    instruction = models.TextField(blank=True)
    sms_text = models.CharField(max_length=1600, blank=True)
    wea_short = models.CharField(max_length=WEA_SHORT_LIMIT, blank=True)
    wea_long = models.CharField(max_length=WEA_LONG_LIMIT, blank=True)

    class Meta:
        ordering = ["alert", "id"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "language"], name="alerts_info_one_per_lang")
        ]

    def __str__(self) -> str:
        return f"{self.language}: {self.headline}"


class AreaShape(models.TextChoices):
    POLYGON = "polygon", _("Polygon")
    CIRCLE = "circle", _("Circle")
    AREA = "area", _("Area of the jurisdiction")


class AlertArea(models.Model):
    """Where an alert applies: a drawn polygon, a circle, or one of the jurisdiction's areas.

    ``geometry`` holds the shape as WKB (longitude/latitude) whichever way it was given, with
    its bounding box beside it for plain-number searches.
    """

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="areas")
    shape = models.CharField(max_length=10, choices=AreaShape.choices)
    description = models.CharField(max_length=200)
    polygon_geojson = models.TextField(blank=True)
    circle_lat = models.FloatField(null=True, blank=True)
    circle_lon = models.FloatField(null=True, blank=True)
    circle_radius_m = models.FloatField(null=True, blank=True)
    geo_area = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    geometry = models.BinaryField()
    min_lat = models.FloatField()
    min_lon = models.FloatField()
    max_lat = models.FloatField()
    max_lon = models.FloatField()

    class Meta:
        ordering = ["alert", "id"]

    def __str__(self) -> str:
        return self.description

    @cached_property
    def shapely_geometry(self) -> BaseGeometry:
        return shapely.from_wkb(bytes(self.geometry))


class AlertCell(models.Model):
    """An H3 cell the alert's area touches; ``interior`` when wholly inside it."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="cells")
    cell = models.CharField(max_length=CELL_ID_LENGTH, db_index=True)
    interior = models.BooleanField()

    class Meta:
        ordering = ["alert", "cell"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "cell"], name="alerts_alertcell_unique")
        ]

    def __str__(self) -> str:
        return f"{self.cell} of alert {self.alert_id}"


# --- other agencies' CAP feeds (see watchhouse.alerts.imports) -----------------------------


class ExternalFeed(models.Model):
    """Another agency's CAP Atom feed that Watchhouse reads: the weather service, a
    neighbouring agency. Staff may relay its alerts to residents only when ``relay`` is on."""

    name = models.CharField(max_length=200)
    url = models.URLField(max_length=500, unique=True)
    relay = models.BooleanField(
        default=False, help_text="Staff may relay this feed's alerts to residents."
    )
    active = models.BooleanField(default=True, help_text="Read the feed on schedule.")
    etag = models.CharField(max_length=300, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    last_fetched = models.DateTimeField(null=True, blank=True)
    last_result = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ExternalAlertStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    UPDATED = "updated", _("Superseded by an update")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


class ExternalAlert(models.Model):
    """One CAP message read from another agency's feed, kept as received.

    ``areas`` holds each ``<area>`` as ``{"desc", "polygons": [[[lat, lon], …]], "circles":
    [[lat, lon, radius_km]]}``; an update or cancellation marks the messages it references.
    """

    feed = models.ForeignKey(ExternalFeed, on_delete=models.PROTECT, related_name="alerts")
    entry_id = models.CharField(max_length=500, help_text="The Atom entry's id.")
    entry_updated = models.DateTimeField()
    sender = models.CharField(max_length=200)
    identifier = models.CharField(max_length=200)
    sent = models.DateTimeField()
    msg_type = models.CharField(max_length=10)
    cap_status = models.CharField(max_length=10, help_text="Actual, Exercise, System, Test…")
    references = models.TextField(blank=True, help_text="CAP references as received.")
    event = models.CharField(max_length=200, blank=True)
    headline = models.CharField(max_length=500, blank=True)
    expires = models.DateTimeField(null=True, blank=True)
    areas = models.JSONField(default=list, blank=True)
    cap_xml = models.TextField()
    status = models.CharField(
        max_length=10, choices=ExternalAlertStatus.choices, default=ExternalAlertStatus.ACTIVE
    )
    replaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaces"
    )
    relayed_alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.PROTECT, related_name="relayed_from"
    )
    received_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-sent"]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "identifier"], name="alerts_external_sender_identifier"
            )
        ]
        indexes = [models.Index(fields=["feed", "entry_id"], name="alerts_external_entry")]

    def __str__(self) -> str:
        return f"{self.msg_type} from {self.sender}: {self.headline or self.event}"


# --- templates (see watchhouse.alerts.templating) -----------------------------------------


class AlertTemplate(models.Model):
    """A prepared alert that a composer starts from: the message-wide fields, and per
    language the texts with ``{placeholders}`` (``{location}``, ``{description}``…) to fill.

    ``texts`` maps a language code to ``{"headline", "description", "instruction",
    "sms_text", "wea_short", "wea_long"}``.
    """

    name = models.CharField(max_length=200, unique=True)
    category = models.CharField(max_length=12, choices=Category.choices)
    cap_category = models.CharField(
        max_length=12, choices=CapCategory.choices, default=CapCategory.SECURITY
    )
    event = models.CharField(max_length=120)
    urgency = models.CharField(max_length=10, choices=Urgency.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    certainty = models.CharField(max_length=10, choices=Certainty.choices)
    response_type = models.CharField(
        max_length=10, choices=ResponseType.choices, blank=True, default=""
    )
    same_code = models.CharField(max_length=3, blank=True)
    expires_hours = models.PositiveIntegerField(
        default=4, help_text="How long an alert made from it runs, by default."
    )
    texts = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
