"""AreaIndex: exact answers on edges, vertices and holes, at any grid size, fast."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from tests.geo.brute import brute_force
from watchhouse.geo.index import NO_AREA, AreaIndex


def _squares() -> list[shapely.Polygon]:
    """Four unit-ish squares sharing edges: NW, NE, SW, SE around (-90.29, 38.61)."""
    return [
        shapely.box(-90.30, 38.61, -90.29, 38.62),
        shapely.box(-90.29, 38.61, -90.28, 38.62),
        shapely.box(-90.30, 38.60, -90.29, 38.61),
        shapely.box(-90.29, 38.60, -90.28, 38.61),
    ]


def _check(index: AreaIndex, polygons: list, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    ours = index.lookup(lat, lon)
    np.testing.assert_array_equal(ours, brute_force(polygons, lat, lon))
    return ours


def test_shared_edges_and_corners_go_to_the_first_area():
    """A point on an edge is inside; on a shared edge or corner the first-listed area wins."""
    index = AreaIndex(_squares())
    lat = np.array([38.615, 38.615, 38.61, 38.61, 38.605, 38.62, 38.60, 38.625, 38.615])
    lon = np.array([-90.295, -90.29, -90.295, -90.29, -90.28, -90.30, -90.28, -90.295, -90.31])
    assert index.lookup(lat, lon).tolist() == [0, 0, 0, 0, 3, 0, 3, NO_AREA, NO_AREA]
    _check(index, _squares(), lat, lon)


def test_holes_are_outside_and_an_island_in_a_hole_is_found():
    """A point in a hole is not in the area with the hole; an island filling the hole is found,
    and the hole's edge belongs to the first-listed of the two."""
    outer = shapely.Polygon(
        [(0, 0), (10, 0), (10, 10), (0, 10)], [[(4, 4), (6, 4), (6, 6), (4, 6)]]
    )
    island = shapely.box(4.5, 4.5, 5.5, 5.5)
    index = AreaIndex([outer, island])
    lat = np.array([5.0, 4.2, 4.5, 4.0, 3.0, 5.0, 5.5])
    lon = np.array([5.0, 4.2, 5.0, 5.0, 3.0, 11.0, 4.5])
    assert index.lookup(lat, lon).tolist() == [1, NO_AREA, 1, 0, 0, NO_AREA, 1]


def test_overlapping_areas_first_wins_and_covering_lists_all():
    big, small = shapely.box(0, 0, 4, 4), shapely.box(1, 1, 2, 2)
    index = AreaIndex([small, big], ids=[70, 30])
    assert index.at(1.5, 1.5) == 0
    assert index.lookup_ids([1.5, 3.0, 9.0], [1.5, 3.0, 9.0]).tolist() == [70, 30, NO_AREA]
    assert index.covering(1.5, 1.5) == [0, 1]
    assert index.covering(9.0, 9.0) == []


@pytest.mark.parametrize("max_cells", [16, 1_000, 1 << 21])
def test_random_shapes_match_brute_force_at_every_grid_size(max_cells):
    """Irregular polygons with holes, multipolygons and shared Voronoi edges: the index equals
    the brute-force answer for random points, every vertex and points on edges."""
    rng = np.random.default_rng(7)
    seeds = shapely.multipoints(rng.uniform(0, 1, (40, 2)))
    cells = list(
        shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=shapely.box(0, 0, 1, 1)))
    )
    cells = [shapely.intersection(c, shapely.box(0, 0, 1, 1)) for c in cells]
    # Punch a hole into some cells, and merge two into a MultiPolygon-ish union.
    for i in range(0, 40, 5):
        hole = shapely.buffer(cells[i].centroid, 0.01)
        if cells[i].contains(hole):
            cells[i] = cells[i].difference(hole)
    cells.append(
        shapely.MultiPolygon([shapely.box(1.2, 0, 1.3, 0.1), shapely.box(1.4, 0, 1.5, 0.1)])
    )
    index = AreaIndex(cells, max_cells=max_cells)
    lon = rng.uniform(-0.1, 1.6, 30_000)
    lat = rng.uniform(-0.1, 1.1, 30_000)
    vertices = shapely.get_coordinates(cells)
    on_edges = shapely.get_coordinates(
        shapely.line_interpolate_point(shapely.boundary(cells), 0.37, normalized=True)
    )
    lon = np.concatenate([lon, vertices[:, 0], on_edges[:, 0]])
    lat = np.concatenate([lat, vertices[:, 1], on_edges[:, 1]])
    ours = _check(index, cells, lat, lon)
    assert (ours[30_000 : 30_000 + len(vertices)] >= 0).all()


def test_unknown_and_faraway_points_find_nothing():
    index = AreaIndex(_squares())
    lat = np.array([np.nan, 38.615, 1e9, -1e9, 38.615, np.inf])
    lon = np.array([-90.295, np.nan, -90.295, 1e9, -np.inf, -90.295])
    assert index.lookup(lat, lon).tolist() == [NO_AREA] * 6
    assert index.covering(float("nan"), -90.295) == []


def test_empty_and_wrong_inputs():
    """Empty areas never match; non-polygons, unequal arrays and id counts are refused."""
    index = AreaIndex([shapely.Polygon(), shapely.box(0, 0, 1, 1)])
    assert index.lookup([0.5], [0.5]).tolist() == [1]
    assert AreaIndex([]).lookup([0.5], [0.5]).tolist() == [NO_AREA]
    with pytest.raises(ValueError, match="not a Polygon"):
        AreaIndex([shapely.Point(0, 0)])
    with pytest.raises(ValueError, match="one id per geometry"):
        AreaIndex([shapely.box(0, 0, 1, 1)], ids=[1, 2])
    with pytest.raises(ValueError, match="as many longitudes"):
        index.lookup([0.5, 0.6], [0.5])


def test_many_areas_use_the_tree_path_and_stay_exact():
    """Beyond a few hundred areas the exact test pairs points with areas through an STRtree."""
    xs, ys = np.meshgrid(np.arange(20), np.arange(20))
    boxes = list(shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + 1, ys.ravel() + 1))
    index = AreaIndex(boxes, max_cells=4096)
    rng = np.random.default_rng(3)
    lon = np.concatenate([rng.uniform(-1, 21, 20_000), xs.ravel().astype(float)])
    lat = np.concatenate([rng.uniform(-1, 21, 20_000), ys.ravel().astype(float)])
    _check(index, boxes, lat, lon)
