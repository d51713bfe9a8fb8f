"""The demo jurisdiction: Alderford, a fictional city drawn by this code (no real data).

Its outline is a wobbly disc some 6 km across in central Illinois farmland; neighbourhoods,
beats and wards are Voronoi cells of seeded random points clipped to it, and each district is
the union of a third of the beats, so beats nest in districts as they do in real agencies.
The same seed draws the same city every time, so loading it again changes nothing.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from watchhouse.geo.distance import destination
from watchhouse.geo.models import AreaKind
from watchhouse.geo.services import area_import

JURISDICTION = "Alderford"
CENTRE = (39.95, -89.35)  # latitude, longitude
RADIUS_M = 6000.0
SEED = 1832
NEIGHBOURHOODS = (
    "Old Town", "Millbrook", "Riverside", "Cedar Park", "Linden Hill", "Northgate",
    "Quarry Flats", "Southbank", "Elm Grove", "Fairview", "Harbor Point", "Alder Heights",
)  # fmt: skip
BEATS_PER_DISTRICT = 8
WARDS = 5


def _outline() -> shapely.Polygon:
    angles = np.linspace(0.0, 360.0, 120, endpoint=False)
    theta = np.radians(angles)
    wobble = 1 + 0.14 * np.sin(3 * theta + 1.0) + 0.07 * np.sin(5 * theta + 2.0)
    lats, lons = [], []
    for bearing, scale in zip(angles, wobble, strict=True):
        lat, lon = destination(*CENTRE, bearing_deg=bearing, distance_m=RADIUS_M * scale)
        lats.append(float(lat))
        lons.append(float(lon))
    return shapely.Polygon(np.column_stack([lons, lats]))


def _seeds(outline: BaseGeometry, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random points inside ``outline``, at least a few hundred metres apart."""
    min_x, min_y, max_x, max_y = outline.bounds
    chosen: list[tuple[float, float]] = []
    spacing = 0.35 * np.sqrt((max_x - min_x) * (max_y - min_y) / count)
    while len(chosen) < count:
        x, y = rng.uniform(min_x, max_x), rng.uniform(min_y, max_y)
        far = all((x - a) ** 2 + (y - b) ** 2 > spacing**2 for a, b in chosen)
        if far and outline.contains(shapely.Point(x, y)):
            chosen.append((x, y))
    return np.array(chosen)


def _cells(outline: BaseGeometry, seeds: np.ndarray) -> list[BaseGeometry]:
    """Voronoi cells of ``seeds`` clipped to ``outline``, in the seeds' order."""
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=outline, ordered=True)
    )
    clipped = shapely.intersection(cells, outline)
    return [shapely.set_precision(c, 1e-7) for c in clipped]


def _features(items: Sequence[tuple[str, str, int | None, BaseGeometry]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": name, "code": code, "population": population},
                "geometry": shapely.geometry.mapping(geometry),
            }
            for name, code, population, geometry in items
        ],
    }


def demo_layers() -> dict[str, dict[str, Any]]:
    """The demo city's areas as GeoJSON FeatureCollections, by kind."""
    rng = np.random.default_rng(SEED)
    outline = shapely.set_precision(_outline(), 1e-7)
    neighbourhoods = _cells(outline, _seeds(outline, len(NEIGHBOURHOODS), rng))
    beat_seeds = _seeds(outline, 3 * BEATS_PER_DISTRICT, rng)
    beats = _cells(outline, beat_seeds)
    # Districts are thirds of the city by bearing from the centre, made of whole beats.
    bearings = np.degrees(np.arctan2(beat_seeds[:, 0] - CENTRE[1], beat_seeds[:, 1] - CENTRE[0]))
    order = np.argsort((bearings + 360.0) % 360.0, kind="stable")
    beat_items, district_items = [], []
    for district in range(3):
        members = order[district * BEATS_PER_DISTRICT : (district + 1) * BEATS_PER_DISTRICT]
        for number, member in enumerate(sorted(members), start=1):
            code = f"{district + 1}{number:02d}"
            beat_items.append((f"Beat {code}", code, None, beats[member]))
        union = shapely.set_precision(shapely.union_all([beats[m] for m in members]), 1e-7)
        district_items.append((f"District {district + 1}", str(district + 1), None, union))
    wards = _cells(outline, _seeds(outline, WARDS, rng))
    populations = rng.integers(2_000, 15_000, size=len(NEIGHBOURHOODS))
    return {
        AreaKind.NEIGHBOURHOOD: _features(
            [
                (name, f"N{i:02d}", int(pop), geom)
                for i, (name, pop, geom) in enumerate(
                    zip(NEIGHBOURHOODS, populations, neighbourhoods, strict=True), start=1
                )
            ]
        ),
        AreaKind.BEAT: _features(beat_items),
        AreaKind.DISTRICT: _features(district_items),
        AreaKind.WARD: _features(
            [(f"Ward {i}", str(i), None, geom) for i, geom in enumerate(wards, start=1)]
        ),
    }


def load(*, stdout: Any) -> None:
    """Create or refresh Alderford's areas through the import service, and say what was done."""
    counts, created, updated = [], 0, 0
    with tempfile.TemporaryDirectory(prefix="watchhouse-demo-") as folder:
        for kind, collection in demo_layers().items():
            path = Path(folder) / f"alderford-{kind}.geojson"
            path.write_text(json.dumps(collection), encoding="utf-8")
            report = area_import(
                actor=None, kind=kind, path=path, jurisdiction=JURISDICTION,
                source_name=f"demo {path.name}",
            )  # fmt: skip
            total = len(report.created) + len(report.updated) + len(report.unchanged)
            label = str(AreaKind(kind).label).lower()
            counts.append(f"{total} {label}s")
            created += len(report.created)
            updated += len(report.updated)
    stdout.write(
        f"Demo areas: {JURISDICTION} with {', '.join(counts)} "
        f"({created} created, {updated} updated)."
    )
