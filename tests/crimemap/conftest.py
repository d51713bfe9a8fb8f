"""Helpers for the crimemap tests: small incident files, and data kept for a whole module."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from watchhouse.geo.models import Jurisdiction

# A 2x2 grid of square neighbourhoods near St. Louis, 0.01 degrees each: (name, west, south).
SQUARES = [("North West", -90.30, 38.61), ("North East", -90.29, 38.61),
           ("South West", -90.30, 38.60), ("South East", -90.29, 38.60)]  # fmt: skip
SIZE = 0.01
# The columns of the small test export, read by MAPPING.
HEADER = ["case", "when", "address", "lat", "lon", "code", "label", "gun", "dv", "hood"]
MAPPING = """\
name = "test-rms"
title = "Test records system"
reader = "csv"
rows = "offence"
crs = "EPSG:4326"
time_zone = "America/Chicago"

[columns]
id = "case"
time = "when"
address = "address"
x = "lon"
y = "lat"
area = "hood"
offence = ["code"]
offence_label = ["label"]
nibrs = "code"
firearm = "gun"
domestic = "dv"

[time]
format = ["%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M"]

[offences]
"THEFT" = { category = "theft", nibrs = "23H" }
"NEIGHBOUR DISPUTE" = { category = "public_order", withhold = true }
"""


def square(west: float, south: float, size: float = SIZE) -> list[list[list[float]]]:
    """GeoJSON Polygon coordinates of a square."""
    return [[[west, south], [west + size, south], [west + size, south + size],
             [west, south + size], [west, south]]]  # fmt: skip


def grid_geojson() -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": name, "code": f"G{i}"},
                "geometry": {"type": "Polygon", "coordinates": square(w, s)},
            }
            for i, (name, w, s) in enumerate(SQUARES, start=1)
        ],
    }


def row(case: str, **values: str) -> dict[str, str]:
    """One row of the test export; a theft at 1915 Olive St in North West by default."""
    base = {
        "case": case, "when": "2026-03-01 14:30", "address": "1915 Olive St",
        "lat": "38.615", "lon": "-90.295", "code": "THEFT", "label": "STEALING", "gun": "N",
        "dv": "N", "hood": "North West",
    }  # fmt: skip
    return {**base, **values}


@pytest.fixture
def write_export(tmp_path: Path) -> Callable[..., Path]:
    """Write rows of the test export as CSV; return the path."""

    def write(rows: list[dict[str, str]], name: str = "export.csv") -> Path:
        path = tmp_path / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=HEADER)
            writer.writeheader()
            writer.writerows(rows)
        return path

    return write


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    path = tmp_path / "test-rms.toml"
    path.write_text(MAPPING, encoding="utf-8")
    return path


@pytest.fixture
def grid(tmp_path: Path) -> Jurisdiction:
    """A jurisdiction "Grid City" of four square neighbourhoods."""
    import json

    from watchhouse.geo.services import area_import

    path = tmp_path / "grid.geojson"
    path.write_text(json.dumps(grid_geojson()), encoding="utf-8")
    return area_import(
        actor=None, kind="neighbourhood", path=path, jurisdiction="Grid City"
    ).jurisdiction


@contextmanager
def kept_for_module(django_db_blocker: Any) -> Iterator[None]:
    """A transaction around a whole module's data, rolled back at its end; each test's own
    transaction nests inside it as a savepoint, so the data is made once and seen by all."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield
        transaction.set_rollback(True)
