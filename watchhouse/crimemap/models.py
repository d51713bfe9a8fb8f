"""Incidents in one schema whatever their source, the hundred blocks they are shown at, and
the reports of the imports that wrote them.

Every incident keeps two locations: the exact one (``exact_*``, staff only, read through the
audited analyst selector) and the public one (``public_*``) that the privacy rules of
:mod:`watchhouse.crimemap.privacy` computed at import. Public pages and statistics use only
the public columns and the area columns.

Statistics are not computed from these rows per request: the columns that key them (the
jurisdiction, the local ``occurred_date``, ``category``, the area columns, ``block`` and
``public_h3``) are plain columns here so that pre-aggregated count tables keyed by area,
hundred block, H3 cell, offence, day and category can be rebuilt from them after each import.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from watchhouse.crimemap.categories import Category, CrimesAgainst
from watchhouse.crimemap.privacy import PlaceKind, WithheldReason
from watchhouse.crimemap.states import IncidentState
from watchhouse.geo.models import Area, Jurisdiction
from watchhouse.geo.points import CELL_ID_LENGTH


class RowIdField(models.BigAutoField):
    """The primary key of the tables an import fills in bulk: a ``BigAutoField`` that on
    SQLite is the table's plain rowid, without ``AUTOINCREMENT``.

    With ``AUTOINCREMENT`` SQLite reads and rewrites its ``sqlite_sequence`` row for every
    statement, which an import runs once per row: an eighth of an incident insert's time,
    and a sixth of an offence's (https://sqlite.org/autoinc.html: "should be avoided if not
    strictly needed"). A new row still takes the next number after the table's largest id,
    so the rows one statement inserts get ids in insertion order. The one difference, that a
    deleted row's number can come back when it was the largest, does not arise: incidents
    are withdrawn, never deleted, and nothing refers to an offence or a block by an id it
    could have outlived. Other databases get ``BigAutoField``'s own column.
    """

    def db_type_suffix(self, connection: Any) -> str | None:
        if connection.vendor == "sqlite":
            return None
        return super().db_type_suffix(connection)


class Precision(models.TextChoices):
    """How precisely the source gives an incident's time."""

    MINUTE = "minute", _("To the minute")
    DAY = "day", _("To the day")
    MONTH = "month", _("To the month")


class RejectionReason(models.TextChoices):
    """Why a row of a file was not imported."""

    MISSING_TIME = "missing_time", _("No time")
    BAD_TIME = "bad_time", _("Time not understood")
    BAD_COORDINATES = "bad_coordinates", _("Coordinates not understood")
    ZERO_COORDINATES = "zero_coordinates", _("Coordinates at 0, 0")
    NO_LOCATION = "no_location", _("No location and no area")
    OUTSIDE = "outside_jurisdiction", _("Outside the jurisdiction")
    DUPLICATE_ID = "duplicate_id", _("Id repeated in the file")
    CONFLICTING_ROW = "conflicting_row", _("Same id, different time or place")
    UNKNOWN_OFFENCE = "unknown_offence", _("Offence not in the mapping")
    NO_OFFENCE = "no_offence", _("No offence given")


class IncidentSource(models.Model):
    """One agency feed within a jurisdiction; source ids are unique within it."""

    jurisdiction = models.ForeignKey(
        Jurisdiction, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    slug = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    format = models.CharField(max_length=100, help_text="The format of its last import.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["jurisdiction", "slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["jurisdiction", "slug"], name="crimemap_source_unique_slug"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ImportReport(models.Model):
    """What one import of one file did; kept for every import."""

    source = models.ForeignKey(IncidentSource, on_delete=models.PROTECT, related_name="reports")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", help_text="Empty for the command line.",
    )  # fmt: skip
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    format = models.CharField(max_length=100)
    mapping = models.TextField(help_text="The mapping (TOML) the file was read with.")
    since = models.DateField(null=True, blank=True)
    withdraw_missing = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    seconds = models.FloatField()
    rows_read = models.PositiveIntegerField()
    rows_skipped = models.PositiveIntegerField(help_text="Before --since.")
    rows_rejected = models.PositiveIntegerField()
    incidents_created = models.PositiveIntegerField()
    incidents_updated = models.PositiveIntegerField()
    incidents_unchanged = models.PositiveIntegerField()
    incidents_withdrawn = models.PositiveIntegerField()
    offences_written = models.PositiveIntegerField()
    rejected_by_reason = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.format}) {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def summary(self) -> str:
        """One line for people."""
        return (
            f"{self.file_name} ({self.format}): {self.rows_read} rows read, "
            f"{self.rows_skipped} skipped, {self.rows_rejected} rejected; incidents "
            f"{self.incidents_created} created, {self.incidents_updated} updated, "
            f"{self.incidents_unchanged} unchanged, {self.incidents_withdrawn} withdrawn "
            f"({self.seconds:.1f} s)."
        )


class ImportRejection(models.Model):
    """One rejected row of an import (the first ones of each import are kept)."""

    report = models.ForeignKey(ImportReport, on_delete=models.CASCADE, related_name="rejections")
    row = models.PositiveIntegerField(help_text="Line of a CSV file; row of a parquet file.")
    record_id = models.CharField(max_length=100, blank=True)
    reason = models.CharField(max_length=30, choices=RejectionReason.choices)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["report", "row"]

    def __str__(self) -> str:
        return f"row {self.row}: {self.get_reason_display()}"


class HundredBlock(models.Model):
    """A hundred block or intersection, with the representative point incidents there are
    shown at: the mean of their exact points, kept as running sums."""

    id = RowIdField(primary_key=True)

    # Kept by Django, as the incident's own references are (see Incident): an import writes
    # thousands of blocks, and a constraint's check of each at the commit took 6% of the
    # database's time for the St. Louis file.
    jurisdiction = models.ForeignKey(
        Jurisdiction, on_delete=models.PROTECT, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    name = models.CharField(max_length=200, help_text="As the public sees it: 46XX MARYLAND AVE.")
    kind = models.CharField(max_length=20, choices=PlaceKind.choices)
    point_count = models.PositiveIntegerField()
    sum_lat = models.FloatField()
    sum_lon = models.FloatField()
    min_lat = models.FloatField()
    min_lon = models.FloatField()
    max_lat = models.FloatField()
    max_lon = models.FloatField()
    lat = models.FloatField(help_text="The public point.")
    lon = models.FloatField()
    h3 = models.CharField(max_length=CELL_ID_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["jurisdiction", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["jurisdiction", "name"], name="crimemap_block_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Incident(models.Model):
    """One incident of one source, normalised (see the module docstring).

    An import writes incidents a few hundred thousand at a time, and PostgreSQL checks a
    foreign-key constraint row by row (about one lookup and row lock per reference per row,
    more than the row's own write), so the references are kept by Django rather than by
    database constraints: the import checks each distinct referenced row once, and locks it
    against deletion until it commits (:func:`watchhouse.crimemap.store.tables_insert`), and
    deletions through Django apply ``on_delete`` as with a constraint. Only the import writes
    incidents.
    """

    id = RowIdField(primary_key=True)

    jurisdiction = models.ForeignKey(
        Jurisdiction, on_delete=models.PROTECT, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    source = models.ForeignKey(
        IncidentSource, on_delete=models.PROTECT, related_name="incidents", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    record_id = models.CharField(max_length=100, help_text="The source's own id of it.")
    state = models.CharField(
        max_length=20, choices=IncidentState.choices, default=IncidentState.ACTIVE
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    occurred_at = models.DateTimeField(help_text="When it happened (the start of the range).")
    occurred_until = models.DateTimeField(
        null=True, blank=True, help_text="End of the range, for day or month precision."
    )
    precision = models.CharField(max_length=10, choices=Precision.choices)
    occurred_date = models.DateField(help_text="The local date of occurred_at.")
    category = models.CharField(max_length=30, choices=Category.choices)
    nibrs_code = models.CharField(max_length=3, blank=True)
    crimes_against = models.CharField(max_length=10, choices=CrimesAgainst.choices, blank=True)
    offence_label = models.CharField(max_length=200, help_text="The source's own label.")
    offence_count = models.PositiveSmallIntegerField()
    firearm = models.BooleanField(null=True)
    domestic = models.BooleanField(null=True)
    exact_address = models.CharField(max_length=200, blank=True)
    exact_lat = models.FloatField(null=True, blank=True)
    exact_lon = models.FloatField(null=True, blank=True)
    withheld = models.BooleanField(default=False)
    withheld_reason = models.CharField(max_length=20, choices=WithheldReason.choices, blank=True)
    public_place = models.CharField(max_length=200, blank=True)
    public_place_kind = models.CharField(max_length=20, choices=PlaceKind.choices, blank=True)
    public_lat = models.FloatField(null=True, blank=True)
    public_lon = models.FloatField(null=True, blank=True)
    public_h3 = models.CharField(max_length=CELL_ID_LENGTH, blank=True)
    # No index of its own: an import is the only writer that looks incidents up by their
    # block, and does it once for all the blocks it moved, reading the table once
    # (:func:`watchhouse.crimemap.store.rows_update_joined`); keeping an index for that cost
    # every incident written a fifth more.
    block = models.ForeignKey(
        HundredBlock, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents",
        db_constraint=False, db_index=False,
    )  # fmt: skip
    neighbourhood = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    beat = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    district = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    ward = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    area_label = models.CharField(max_length=200, blank=True, help_text="The source's area name.")
    area_code = models.CharField(max_length=50, blank=True)
    digest = models.BigIntegerField(help_text="Of the normalised record: unchanged rows match.")
    report = models.ForeignKey(
        ImportReport, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False, db_constraint=False, help_text="The import that last wrote it.",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "record_id"], name="crimemap_incident_unique_record"
            )
        ]
        indexes = [
            # One index by date serves the lists and digests (jurisdiction, date range,
            # categories) and the points endpoint (the same and a box): the points are
            # checked in the index, and an import keeps one index by date instead of two.
            models.Index(
                fields=["jurisdiction", "occurred_date", "category", "public_lon", "public_lat"],
                name="crimemap_incident_when",
            )
        ]

    def __str__(self) -> str:
        return f"{self.record_id} {self.get_category_display()} {self.occurred_date}"


class Offence(models.Model):
    """One offence of an incident with several, as the source coded it and as mapped.

    An incident with one offence has no offence rows: its own columns (category, nibrs_code,
    crimes_against, offence_label, firearm) are that offence, at position 0.
    """

    id = RowIdField(primary_key=True)

    # Kept by Django, as the incident's own references are (see Incident).
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="offences", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    position = models.PositiveSmallIntegerField(help_text="0 for the first row in the file.")
    category = models.CharField(max_length=30, choices=Category.choices)
    nibrs_code = models.CharField(max_length=3, blank=True)
    crimes_against = models.CharField(max_length=10, choices=CrimesAgainst.choices, blank=True)
    label = models.CharField(max_length=200, help_text="The source's own label.")
    firearm = models.BooleanField(null=True)
    withheld = models.BooleanField(default=False, help_text="This offence withholds the incident.")

    class Meta:
        ordering = ["incident", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "position"], name="crimemap_offence_unique_position"
            )
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_category_display()})"


# Pre-aggregated counts (see :mod:`watchhouse.crimemap.rollups`).


class CountSpan(models.TextChoices):
    """How many days a pre-aggregated count covers."""

    DAY = "day", _("One day")
    MONTH = "month", _("One calendar month")


class RollupCount(models.Model):
    """What every pre-aggregated count holds: one source's active incidents of one day or one
    month (``day`` is the month's first day) and of one category ('' for every category)."""

    source = models.ForeignKey(
        IncidentSource, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    jurisdiction = models.ForeignKey(
        Jurisdiction, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    span = models.CharField(max_length=5, choices=CountSpan.choices)
    day = models.DateField()
    category = models.CharField(max_length=30, blank=True)
    count = models.PositiveIntegerField()

    class Meta:
        abstract = True


class AreaColumns(models.Model):
    """The areas of each kind the counted incidents lie in, one column per kind (empty where
    the jurisdiction has none), so that one row serves the city and every area."""

    neighbourhood = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    beat = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    district = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    ward = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )

    class Meta:
        abstract = True


class CrimeCount(RollupCount):
    """Incidents by day or month, category and area (empty: the whole jurisdiction, else one
    row per area of each kind); withheld incidents included."""

    area = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    area_kind = models.CharField(max_length=20, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["area", "span", "day"], name="crimemap_count_day"),
            models.Index(fields=["area_kind", "span", "day"], name="crimemap_count_kind"),
            models.Index(fields=["source"], name="crimemap_count_source"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.category or '*'}: {self.count}"


class BlockCount(RollupCount, AreaColumns):
    """Public incidents by hundred block; withheld incidents are never in it."""

    block = models.ForeignKey(
        HundredBlock, on_delete=models.CASCADE, related_name="+", db_index=False
    )

    class Meta:
        indexes = [
            models.Index(fields=["span", "day"], name="crimemap_blockcount_day"),
            models.Index(fields=["neighbourhood", "span", "day"], name="crimemap_blockcount_hood"),
            models.Index(fields=["ward", "span", "day"], name="crimemap_blockcount_ward"),
            models.Index(fields=["source"], name="crimemap_blockcount_source"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.block_id}: {self.count}"


class CellCount(RollupCount, AreaColumns):
    """Public incidents by H3 cell; withheld ones are never in it. Resolution 9 rows carry
    their areas; resolution 8 and 7 rows are for the whole jurisdiction (areas empty)."""

    resolution = models.PositiveSmallIntegerField()
    cell = models.CharField(max_length=CELL_ID_LENGTH)

    class Meta:
        indexes = [
            models.Index(fields=["resolution", "span", "day"], name="crimemap_cellcount_day"),
            models.Index(fields=["neighbourhood", "span", "day"], name="crimemap_cellcount_hood"),
            models.Index(fields=["ward", "span", "day"], name="crimemap_cellcount_ward"),
            models.Index(fields=["source"], name="crimemap_cellcount_source"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.cell}: {self.count}"


class HourCount(RollupCount, AreaColumns):
    """Public incidents timed to the minute, by local weekday (0 is Monday) and hour."""

    weekday = models.PositiveSmallIntegerField()
    hour = models.PositiveSmallIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["span", "day"], name="crimemap_hourcount_day"),
            models.Index(fields=["neighbourhood", "span", "day"], name="crimemap_hourcount_hood"),
            models.Index(fields=["ward", "span", "day"], name="crimemap_hourcount_ward"),
            models.Index(fields=["source"], name="crimemap_hourcount_source"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.weekday} {self.hour}h: {self.count}"


class OffenceCount(RollupCount, AreaColumns):
    """Offences by day or month, offence (the source's label, with its NIBRS code and
    crimes-against group where known) and area; withheld incidents included, as in
    :class:`CrimeCount`.

    Counted per offence, not per incident: an incident with several offences counts once
    under each of them, so these counts add up to more than the incidents. ``category`` is
    the offence's own category (not its incident's), and there are no rows for every category
    together: an offence's label already decides its category.
    """

    nibrs_code = models.CharField(max_length=3, blank=True)
    crimes_against = models.CharField(max_length=10, choices=CrimesAgainst.choices, blank=True)
    label = models.CharField(max_length=200, help_text="The source's own label.")

    class Meta:
        indexes = [
            models.Index(fields=["span", "day"], name="crimemap_offencecount_day"),
            models.Index(
                fields=["neighbourhood", "span", "day"], name="crimemap_offencecount_hood"
            ),
            models.Index(fields=["ward", "span", "day"], name="crimemap_offencecount_ward"),
            models.Index(fields=["source"], name="crimemap_offencecount_source"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.label}: {self.count}"


class CellParent(models.Model):
    """The resolution 8 and 7 parents of a resolution 9 cell, so that SQL can roll cells up
    without H3 functions in the database."""

    cell = models.CharField(max_length=CELL_ID_LENGTH, primary_key=True)
    parent8 = models.CharField(max_length=CELL_ID_LENGTH)
    parent7 = models.CharField(max_length=CELL_ID_LENGTH)

    def __str__(self) -> str:
        return self.cell


class CalendarDay(models.Model):
    """The first day of the month of each day counts exist for, so that SQL can sum day
    counts into months without date functions (which SQLite runs in Python, row by row)."""

    day = models.DateField(primary_key=True)
    month = models.DateField()

    def __str__(self) -> str:
        return f"{self.day} ({self.month:%Y-%m})"
