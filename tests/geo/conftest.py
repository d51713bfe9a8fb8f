"""Helpers for the geo tests: small boundary files written to tmp_path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import shapefile
import shapely

from watchhouse.audit.models import AuditEntry
from watchhouse.geo.models import Area, AreaCell, Jurisdiction

# A small grid of 2x2 blocks near St. Louis: (name, west, south), each 0.01 degrees square.
BLOCKS = [("North West", -90.30, 38.61), ("North East", -90.29, 38.61),
          ("South West", -90.30, 38.60), ("South East", -90.29, 38.60)]  # fmt: skip
SIZE = 0.01
# A polygon whose edges cross at (-90.295, 38.605).
BOWTIE = [[[-90.30, 38.60], [-90.29, 38.61], [-90.29, 38.60], [-90.30, 38.61], [-90.30, 38.60]]]


def square(west: float, south: float, size: float = SIZE) -> list[list[list[float]]]:
    """GeoJSON Polygon coordinates of a square."""
    return [[[west, south], [west + size, south], [west + size, south + size],
             [west, south + size], [west, south]]]  # fmt: skip


def feature(geometry: Any, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def polygon(coordinates: Any) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": coordinates}


def collection(*features: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features), **extra}


def block_features() -> list[dict[str, Any]]:
    return [
        feature(polygon(square(w, s)), name=name, code=f"B{i}", population=1000 * i)
        for i, (name, w, s) in enumerate(BLOCKS, start=1)
    ]


@pytest.fixture
def write_geojson(tmp_path: Path) -> Callable[..., Path]:
    """Write a GeoJSON document (dict, or raw text) and return its path."""

    def write(document: dict[str, Any] | str, name: str = "areas.geojson") -> Path:
        path = tmp_path / name
        text = document if isinstance(document, str) else json.dumps(document)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def blocks_file(write_geojson: Callable[..., Path]) -> Path:
    """Four square neighbourhoods sharing edges."""
    return write_geojson(collection(*block_features()), "blocks.geojson")


@pytest.fixture
def write_shapefile(tmp_path: Path) -> Callable[..., Path]:
    """Write polygons (shapely, in any coordinate system) as a shapefile; return the .shp."""

    def write(
        shapes: list[tuple[str, shapely.Geometry | None]],
        name: str = "areas",
        prj: str | None = None,
        fields: tuple[str, ...] = ("NAME",),
    ) -> Path:
        base = tmp_path / name
        with shapefile.Writer(str(base), shapeType=shapefile.POLYGON) as writer:
            for field in fields:
                writer.field(field, "C", size=80)
            for label, geometry in shapes:
                if geometry is None:
                    writer.null()
                else:
                    writer.shape(shapely.geometry.mapping(geometry))
                writer.record(*([label] * len(fields)))
        if prj is not None:
            base.with_suffix(".prj").write_text(prj)
        return base.with_suffix(".shp")

    return write


def db_counts() -> tuple[int, int, int, int]:
    """Rows in the geo tables and the audit log, to show that nothing changed."""
    return (
        Jurisdiction.objects.count(),
        Area.objects.count(),
        AreaCell.objects.count(),
        AuditEntry.objects.count(),
    )
