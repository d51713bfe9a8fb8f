"""The jurisdiction, its areas, and the H3 cells that index areas and points.

Geometry is stored as WKB bytes in WGS84 longitude/latitude with plain-number bounding boxes
beside it, so the same tables work on SQLite and PostgreSQL without a spatial extension.
"""

from __future__ import annotations

from typing import Any

import shapely
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from shapely.geometry.base import BaseGeometry

from watchhouse.geo.points import CELL_ID_LENGTH, point_check, point_h3


class AreaKind(models.TextChoices):
    """What an area is for; a point lies in at most one area of each kind (custom aside)."""

    NEIGHBOURHOOD = "neighbourhood", _("Neighbourhood")
    BEAT = "beat", _("Beat")
    DISTRICT = "district", _("District")
    WARD = "ward", _("Ward")
    CUSTOM = "custom", _("Custom area")


class Jurisdiction(models.Model):
    """The city or county an agency serves; its extent is the union of its areas."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    boundary = models.BinaryField(null=True, editable=False, help_text="WKB, longitude/latitude.")
    min_lat = models.FloatField(null=True)
    min_lon = models.FloatField(null=True)
    max_lat = models.FloatField(null=True)
    max_lon = models.FloatField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Area(models.Model):
    """A neighbourhood, beat, district, ward or custom area of a jurisdiction."""

    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="areas")
    kind = models.CharField(max_length=20, choices=AreaKind.choices)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200)
    code = models.CharField(max_length=50, blank=True, help_text="The source's id or number.")
    geometry = models.BinaryField(help_text="Polygon or MultiPolygon as WKB, longitude/latitude.")
    min_lat = models.FloatField()
    min_lon = models.FloatField()
    max_lat = models.FloatField()
    max_lon = models.FloatField()
    centroid_lat = models.FloatField()
    centroid_lon = models.FloatField()
    centroid_h3 = models.CharField(max_length=CELL_ID_LENGTH)
    area_km2 = models.FloatField(help_text="Geodesic area on the WGS84 ellipsoid.")
    population = models.PositiveIntegerField(null=True, blank=True)
    properties = models.JSONField(default=dict, blank=True, help_text="The source's attributes.")
    source_file = models.CharField(max_length=255, blank=True)
    source_feature = models.PositiveIntegerField(null=True, help_text="1-based, in the file.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["jurisdiction", "kind", "slug"], name="geo_area_unique_slug"
            )
        ]
        indexes = [
            models.Index(fields=["kind", "min_lat", "max_lat"], name="geo_area_kind_lat"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def get_absolute_url(self) -> str:
        return reverse("web:area", kwargs={"kind": self.kind, "slug": self.slug})

    @cached_property
    def shape(self) -> BaseGeometry:
        """The geometry as a shapely object (longitude/latitude)."""
        return shapely.from_wkb(bytes(self.geometry))

    def covers_point(self, lat: float, lon: float) -> bool:
        """True when the point is inside the area or on its edge (holes excluded)."""
        return bool(shapely.intersects_xy(self.shape, lon, lat))


class AreaCell(models.Model):
    """An H3 cell (at :data:`~watchhouse.geo.points.CELL_RESOLUTION`) that an area touches.

    Every point inside the area lies in one of the area's cells. Where ``interior`` is true
    the whole cell lies inside the area, so a point in that cell needs no exact test.
    """

    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="cells")
    cell = models.CharField(max_length=CELL_ID_LENGTH, db_index=True)
    interior = models.BooleanField()

    class Meta:
        ordering = ["area", "cell"]
        constraints = [models.UniqueConstraint(fields=["area", "cell"], name="geo_areacell_unique")]

    def __str__(self) -> str:
        return f"{self.cell} {'inside' if self.interior else 'on the edge of'} area {self.area_id}"


class LocatedModel(models.Model):
    """Abstract base for anything stored at a point: latitude, longitude and their H3 cell.

    ``h3`` is the point's cell at :data:`~watchhouse.geo.points.CELL_RESOLUTION`, indexed, so
    an area's candidates are found by joining on :class:`AreaCell`. Set a location with
    :meth:`place` (which also suits ``bulk_create``); ``save`` recomputes ``h3`` as well, so
    no path can leave the index column stale.
    """

    lat = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    lon = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    h3 = models.CharField(max_length=CELL_ID_LENGTH, blank=True, db_index=True, editable=False)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._sync_h3()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"lat", "lon"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "h3"}
        super().save(*args, **kwargs)

    def place(self, lat: float | None, lon: float | None) -> None:
        """Set the location (both None for no location); raises InvalidPointError off the globe."""
        if lat is None or lon is None:
            self.lat = self.lon = None
        else:
            self.lat, self.lon = point_check(lat, lon)
        self._sync_h3()

    def _sync_h3(self) -> None:
        self.h3 = "" if self.lat is None or self.lon is None else point_h3(self.lat, self.lon)
