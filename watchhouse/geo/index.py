"""Exact point-in-area lookup for many points at once.

:class:`AreaIndex` lays a regular grid over the areas' bounding box. A grid cell that no area
boundary comes near is *resolved*: every point in it has the same answer, which the grid
stores, so most points are answered by a few numpy operations. Points that fall in a cell a
boundary crosses get the exact test (GEOS, through a shapely STRtree). Answers are therefore
exactly those of ``shapely.intersects(area, point)``:

- a point on an area's edge or vertex is inside that area;
- a point in a hole is not inside the area with the hole;
- where areas touch or overlap, the point belongs to the area that comes first in the list
  the index was built from (callers pass areas ordered by id, so the lowest id wins).

Coordinates are planar longitude/latitude, the same plane the areas were drawn in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from scipy import ndimage
from shapely.geometry.base import BaseGeometry

NO_AREA = -1
# Grid value of a cell that a boundary comes near: its points need the exact test.
_BOUNDARY = -2
# Boundary samples per cell width, and how near (in cell widths) a sample must come to a
# cell's edge to mark the neighbour too. Samples are at most 1/4 cell apart, so any point of
# a boundary segment lies within 1/8 cell of a sample; marking neighbours within 1/4 cell
# leaves a safety margin for rounding, so every cell a boundary touches is marked.
_SAMPLES_PER_CELL = 4.0
_EDGE_REACH = 0.25
# Up to this many areas, the exact test scans each area's bounding box (fastest for a city's
# neighbourhoods); beyond it an STRtree finds the candidate areas of each point.
_BOX_SCAN_LIMIT = 256


class AreaIndex:
    """Which of a fixed list of polygonal areas holds each point (see the module docstring)."""

    def __init__(
        self,
        geometries: Sequence[BaseGeometry],
        *,
        ids: Sequence[int] | None = None,
        max_cells: int = 1 << 19,
    ) -> None:
        """Build the index; ``ids`` (default: positions) are what :meth:`lookup_ids` returns.

        ``max_cells`` bounds the grid's memory (two bytes a cell for up to 32,767 areas) and
        its building time. The default suits a city's areas: for St. Louis's neighbourhoods
        and wards it builds in a third of the time 4 times as many cells take, and looks up
        2,000,000 points as fast (the few more points in cells a boundary crosses get the
        exact test).
        """
        self.geometries = np.asarray(list(geometries), dtype=object)
        if ids is None:
            ids = range(len(self.geometries))
        self.ids = np.asarray(list(ids), dtype=np.int64)
        if self.ids.shape != self.geometries.shape:
            raise ValueError("Give exactly one id per geometry.")
        for position, geometry in enumerate(self.geometries):
            if geometry is None or geometry.geom_type not in {"Polygon", "MultiPolygon"}:
                raise ValueError(f"Geometry {position} is not a Polygon or MultiPolygon.")
        shapely.prepare(self.geometries)
        self._bounds = shapely.bounds(self.geometries)
        self.tree = shapely.STRtree(self.geometries)
        self._dtype = np.int16 if len(self.geometries) < np.iinfo(np.int16).max else np.int32
        self._build_grid(max_cells)

    def __len__(self) -> int:
        return len(self.geometries)

    # Building

    def _build_grid(self, max_cells: int) -> None:
        live = ~shapely.is_empty(self.geometries)
        if not live.any():
            self.nx = self.ny = 1
            self.x0 = self.y0 = 0.0
            self.sx = self.sy = 1.0
            self.grid = np.full(1, NO_AREA, dtype=self._dtype)
            return
        min_x, min_y, max_x, max_y = shapely.total_bounds(self.geometries[live])
        width = max(max_x - min_x, 1e-9)
        height = max(max_y - min_y, 1e-9)
        # Square-ish cells; two spare cells on every side keep boundaries (and the cells
        # marked beside them) off the grid's edge, so points beyond the grid, clamped onto
        # its edge cells, read "no area" without an exact test.
        cell = max(math.sqrt(width * height / max_cells), max(width, height) / 8192)
        self.nx = int(math.ceil(width / cell)) + 4
        self.ny = int(math.ceil(height / cell)) + 4
        self.x0 = min_x - 2 * cell
        self.y0 = min_y - 2 * cell
        self.sx = self.sy = 1.0 / cell
        marked = self._boundary_cells()
        self.grid = self._resolve(marked)

    def _boundary_cells(self) -> np.ndarray:
        """Boolean (ny, nx): the cells some area boundary touches (and a few near ones)."""
        rings = shapely.get_rings(shapely.get_parts(self.geometries))
        coords, ring_of = shapely.get_coordinates(rings, return_index=True)
        gx = (coords[:, 0] - self.x0) * self.sx
        gy = (coords[:, 1] - self.y0) * self.sy
        same_ring = ring_of[1:] == ring_of[:-1]
        ax, ay = gx[:-1][same_ring], gy[:-1][same_ring]
        bx, by = gx[1:][same_ring], gy[1:][same_ring]
        length = np.maximum(np.abs(bx - ax), np.abs(by - ay))
        counts = np.ceil(length * _SAMPLES_PER_CELL).astype(np.int64) + 1
        segment = np.repeat(np.arange(counts.size), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        t = (np.arange(segment.size) - first) / np.maximum(counts - 1, 1)[segment]
        px = ax[segment] + (bx - ax)[segment] * t
        py = ay[segment] + (by - ay)[segment] * t
        ix = np.floor(px).astype(np.int64)
        iy = np.floor(py).astype(np.int64)
        fx, fy = px - ix, py - iy
        marked = np.zeros((self.ny, self.nx), dtype=bool)
        steps = {
            -1: (fx < _EDGE_REACH, fy < _EDGE_REACH),
            1: (fx > 1 - _EDGE_REACH, fy > 1 - _EDGE_REACH),
        }
        for ox in (-1, 0, 1):
            near_x = steps[ox][0] if ox else np.ones_like(fx, dtype=bool)
            for oy in (-1, 0, 1):
                near_y = steps[oy][1] if oy else np.ones_like(fy, dtype=bool)
                pick = near_x & near_y
                cx = np.clip(ix[pick] + ox, 0, self.nx - 1)
                cy = np.clip(iy[pick] + oy, 0, self.ny - 1)
                marked[cy, cx] = True
        return marked

    def _resolve(self, marked: np.ndarray) -> np.ndarray:
        """The grid: each unmarked cell's answer, :data:`_BOUNDARY` for marked cells.

        Unmarked cells that share an edge share their answer: a boundary between them would
        touch both, and both would be marked. So each region of unmarked cells joined by
        their edges (scipy's connected-component labelling) needs the exact test at one of
        its cells only: a few hundred tests for a city's neighbourhoods, where testing the
        first cell of every run along a row took tens of thousands.
        """
        labels, count = ndimage.label(~marked)
        flat = labels.ravel()
        # The first cell of each region: among the cells where a row's run of a region
        # begins, the first of each label.
        starts = np.flatnonzero(flat != np.concatenate(([0], flat[:-1])))
        starts = starts[flat[starts] > 0]
        regions, first = np.unique(flat[starts], return_index=True)
        cells = starts[first]
        answers = np.full(count + 1, _BOUNDARY, dtype=np.int64)
        answers[regions] = self._exact(
            (cells % self.nx + 0.5) / self.sx + self.x0,
            (cells // self.nx + 0.5) / self.sy + self.y0,
        )
        return answers.astype(self._dtype)[flat]

    # Looking up

    def _exact(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """For each point, the first area that intersects it, or :data:`NO_AREA`.

        Each area tests only the points inside its bounding box, with its prepared geometry;
        areas are visited last to first so that the first area holding a point wins.
        """
        result = np.full(x.size, NO_AREA, dtype=np.int64)
        if not x.size:
            return result
        if len(self.geometries) > _BOX_SCAN_LIMIT:
            return self._exact_by_tree(x, y, result)
        for position in range(len(self.geometries) - 1, -1, -1):
            min_x, min_y, max_x, max_y = self._bounds[position]
            inside_box = np.flatnonzero((x >= min_x) & (x <= max_x) & (y >= min_y) & (y <= max_y))
            if inside_box.size:
                hit = shapely.intersects_xy(self.geometries[position], x[inside_box], y[inside_box])
                result[inside_box[hit]] = position
        return result

    def _exact_by_tree(self, x: np.ndarray, y: np.ndarray, result: np.ndarray) -> np.ndarray:
        """:meth:`_exact` for many areas: the STRtree pairs points with candidate areas."""
        point, area = self.tree.query(shapely.points(x, y))
        order = np.argsort(area, kind="stable")
        point, area = point[order], area[order]
        hit = np.zeros(point.size, dtype=bool)
        edges = np.flatnonzero(np.diff(area)) + 1
        for start, end in zip(
            np.concatenate(([0], edges)), np.concatenate((edges, [area.size])), strict=True
        ):
            if end > start:
                chosen = point[start:end]
                hit[start:end] = shapely.intersects_xy(
                    self.geometries[area[start]], x[chosen], y[chosen]
                )
        point, area = point[hit], area[hit]
        order = np.lexsort((area, point))
        point, area = point[order], area[order]
        first = np.concatenate(([True], point[1:] != point[:-1]))
        result[point[first]] = area[first]
        return result

    def lookup(self, lat: Any, lon: Any) -> np.ndarray:
        """For each point, the position of the area holding it, or :data:`NO_AREA` (-1).

        ``lat`` and ``lon`` are equal-length arrays; NaN coordinates find no area.
        """
        lat = np.asarray(lat, dtype=np.float64)
        lon = np.asarray(lon, dtype=np.float64)
        if lat.shape != lon.shape:
            raise ValueError("Give as many longitudes as latitudes.")
        lat, lon = lat.ravel(), lon.ravel()
        fx = lon - self.x0
        fx *= self.sx
        fy = lat - self.y0
        fy *= self.sy
        # fmax/fmin clamp points beyond the grid onto its edge cells, which hold no area;
        # unlike clip they also send NaN there, so unknown coordinates find no area.
        np.fmin(np.fmax(fx, 0.0, out=fx), self.nx - 1, out=fx)
        np.fmin(np.fmax(fy, 0.0, out=fy), self.ny - 1, out=fy)
        flat = fy.astype(np.intp)
        flat *= self.nx
        flat += fx.astype(np.intp)
        result = self.grid[flat].astype(np.int32)
        near = np.flatnonzero(result == _BOUNDARY)
        if near.size:
            result[near] = self._exact(lon[near], lat[near])
        return result

    def lookup_ids(self, lat: Any, lon: Any) -> np.ndarray:
        """Like :meth:`lookup`, but the ids given at build time (-1 for no area)."""
        positions = self.lookup(lat, lon)
        return np.where(positions >= 0, self.ids[np.maximum(positions, 0)], NO_AREA)

    def at(self, lat: float, lon: float) -> int:
        """The position of the area holding one point, or :data:`NO_AREA`."""
        return int(self.lookup(np.array([lat]), np.array([lon]))[0])

    def covering(self, lat: float, lon: float) -> list[int]:
        """Positions of every area holding the point (overlapping areas too), ascending."""
        if math.isnan(lat) or math.isnan(lon):
            return []
        found = self.tree.query(shapely.Point(lon, lat), predicate="intersects")
        return sorted(int(p) for p in found)

    @property
    def boundary_share(self) -> float:
        """Share of grid cells whose points need the exact test (a figure for benchmarks)."""
        return float(np.count_nonzero(self.grid == _BOUNDARY)) / self.grid.size
