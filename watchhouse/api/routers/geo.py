"""Areas of the jurisdiction: list them, fetch one as GeoJSON, find those holding a point."""

from __future__ import annotations

from typing import Any, Literal

import shapely
from django.http import Http404, HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from watchhouse.geo import selectors
from watchhouse.geo.models import Area, AreaKind
from watchhouse.geo.points import point_h3

router = Router(tags=["areas"])


class AreaOut(Schema):
    id: int
    kind: str
    name: str
    slug: str
    code: str
    jurisdiction: str = Field(description="The jurisdiction's slug.")
    population: int | None
    area_km2: float
    centroid: tuple[float, float] = Field(description="[latitude, longitude]")
    centroid_h3: str
    bbox: tuple[float, float, float, float] = Field(
        description="[min longitude, min latitude, max longitude, max latitude]"
    )
    url: str = Field(description="The public page of the area.")

    @staticmethod
    def of(area: Area) -> AreaOut:
        return AreaOut(
            id=area.pk, kind=area.kind, name=area.name, slug=area.slug, code=area.code,
            jurisdiction=area.jurisdiction.slug, population=area.population,
            area_km2=round(area.area_km2, 4),
            centroid=(area.centroid_lat, area.centroid_lon), centroid_h3=area.centroid_h3,
            bbox=(area.min_lon, area.min_lat, area.max_lon, area.max_lat),
            url=area.get_absolute_url(),
        )  # fmt: skip


class AreaFeature(Schema):
    """A GeoJSON Feature (RFC 7946): WGS84 longitude/latitude."""

    type: Literal["Feature"] = "Feature"
    id: int
    bbox: tuple[float, float, float, float]
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon.")
    properties: AreaOut


class LookupOut(Schema):
    lat: float
    lon: float
    h3: str = Field(description="The point's H3 cell (resolution 9).")
    areas: dict[str, list[AreaOut]] = Field(
        description="Areas holding the point (edges included), by kind, ordered by id."
    )


class LookupQuery(Schema):
    lat: float = Field(ge=-90, le=90, description="Latitude, WGS84 degrees.")
    lon: float = Field(ge=-180, le=180, description="Longitude, WGS84 degrees.")
    kind: list[AreaKind] | None = Field(None, description="Only these kinds (repeatable).")


@router.get("", response=list[AreaOut], summary="List areas, optionally of one kind")
def area_list(request: HttpRequest, kind: AreaKind | None = None) -> list[AreaOut]:
    return [AreaOut.of(a) for a in selectors.area_list(kind=kind)]


@router.get(
    "/lookup", response=LookupOut, summary="The areas holding a point, by kind (edges included)"
)
def area_lookup(request: HttpRequest, query: Query[LookupQuery]) -> LookupOut:
    found = selectors.areas_at(lat=query.lat, lon=query.lon, kinds=query.kind)
    return LookupOut(
        lat=query.lat,
        lon=query.lon,
        h3=point_h3(query.lat, query.lon),
        areas={kind: [AreaOut.of(a) for a in areas] for kind, areas in found.items()},
    )


@router.get("/{kind}/{slug}", response=AreaFeature, summary="One area as a GeoJSON Feature")
def area_get(request: HttpRequest, kind: AreaKind, slug: str) -> AreaFeature:
    try:
        area = selectors.area_get(kind=kind, slug=slug)
    except Area.DoesNotExist as exc:
        raise Http404(str(exc)) from exc
    return AreaFeature(
        id=area.pk,
        bbox=(area.min_lon, area.min_lat, area.max_lon, area.max_lat),
        geometry=shapely.geometry.mapping(area.shape),
        properties=AreaOut.of(area),
    )
