"""Drawing areas as inline SVG paths, so pages show maps without scripts or map tiles."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

# Width (or height, whichever is longer) of the drawing in SVG units.
CANVAS = 1000.0


@dataclass(frozen=True)
class MapShape:
    """One area as an SVG path."""

    d: str
    css_class: str
    label: str


class Projection:
    """Maps longitude/latitude into the canvas (equirectangular, scaled at the middle latitude).

    ``x = (lon - min_lon) * squash * scale`` and ``y = (max_lat - lat) * scale``, so a script
    given these four numbers turns a point of the drawing back into longitude/latitude.
    """

    def __init__(self, bounds: tuple[float, float, float, float], pad: float) -> None:
        min_lon, min_lat, max_lon, max_lat = bounds
        span_lon = max(max_lon - min_lon, 1e-6)
        span_lat = max(max_lat - min_lat, 1e-6)
        min_lon -= span_lon * pad
        max_lon += span_lon * pad
        min_lat -= span_lat * pad
        max_lat += span_lat * pad
        self.squash = math.cos(math.radians((min_lat + max_lat) / 2))
        width = (max_lon - min_lon) * self.squash
        height = max_lat - min_lat
        self.scale = CANVAS / max(width, height)
        self.min_lon, self.max_lat = min_lon, max_lat
        self.width = round(width * self.scale, 1)
        self.height = round(height * self.scale, 1)

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        """The canvas position of a point."""
        return (lon - self.min_lon) * self.squash * self.scale, (self.max_lat - lat) * self.scale

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        """The longitude and latitude of a canvas position (the inverse of :meth:`xy`)."""
        return self.min_lon + x / (self.squash * self.scale), self.max_lat - y / self.scale

    def path(self, geometry: BaseGeometry) -> str:
        """SVG path data of a polygonal geometry, simplified to half a canvas unit."""
        simple = shapely.simplify(geometry, 0.5 / self.scale, preserve_topology=True)
        parts = []
        for ring in shapely.get_rings(shapely.get_parts(simple)):
            xy = shapely.get_coordinates(ring)[:-1]
            if len(xy) < 3:
                continue
            x = (xy[:, 0] - self.min_lon) * self.squash * self.scale
            y = (self.max_lat - xy[:, 1]) * self.scale
            points = " ".join(f"{a:.1f},{b:.1f}" for a, b in np.column_stack([x, y]))
            parts.append(f"M{points}Z")
        return "".join(parts)


@dataclass(frozen=True)
class SvgMap:
    """Paths in a ``viewBox``; north is up and a kilometre is as long east-west as north-south.

    ``projection`` is None only for an empty map.
    """

    view_box: str
    shapes: list[MapShape]
    projection: Projection | None = None


def svg_map(
    items: Iterable[tuple[BaseGeometry, str, str]],
    *,
    bounds: tuple[float, float, float, float] | None = None,
    pad: float = 0.03,
) -> SvgMap:
    """Draw ``(geometry, css_class, label)`` items framed to ``bounds`` (default: all of them).

    Shapes outside the frame are left out; those crossing its edge are cut by the viewBox.
    """
    items = list(items)
    if not items:
        return SvgMap(view_box="0 0 1 1", shapes=[])
    if bounds is None:
        min_lon, min_lat, max_lon, max_lat = shapely.total_bounds([g for g, _, _ in items])
        bounds = (float(min_lon), float(min_lat), float(max_lon), float(max_lat))
    frame = Projection(bounds, pad)
    box = shapely.box(*bounds)
    shapes = [
        MapShape(d=frame.path(geometry), css_class=css_class, label=label)
        for geometry, css_class, label in items
        if geometry.intersects(box)
    ]
    return SvgMap(view_box=f"0 0 {frame.width} {frame.height}", shapes=shapes, projection=frame)
