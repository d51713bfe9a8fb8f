"""H3 cells of points and polygons; distances, radii and circles."""

from __future__ import annotations

import h3
import numpy as np
import pyproj
import pytest
import shapely

from watchhouse.geo.distance import (
    circle_polygon,
    destination,
    haversine_m,
    metres_to_miles,
    miles_to_metres,
    within_radius,
)
from watchhouse.geo.points import (
    CELL_RESOLUTION,
    InvalidPointError,
    point_h3,
    points_h3,
    polygon_cells,
)

ARCH = (38.6247, -90.1848)  # Gateway Arch, St. Louis
WILLIS = (41.8789, -87.6359)  # Willis Tower, Chicago
GEOD = pyproj.Geod(ellps="WGS84")


def test_point_h3_is_the_h3_cell_at_the_stored_resolution():
    assert point_h3(*ARCH) == h3.latlng_to_cell(*ARCH, CELL_RESOLUTION)
    assert h3.get_resolution(point_h3(*ARCH)) == 9
    assert points_h3([ARCH[0], 95.0, float("nan")], [ARCH[1], 0.0, 0.0]) == [
        point_h3(*ARCH),
        "",
        "",
    ]
    for lat, lon, message in [
        (91, 0, "Latitude 91 is outside"),
        (0, -181, "Longitude -181"),
        ("x", 0, "must be numbers"),
    ]:
        with pytest.raises(InvalidPointError, match=message):
            point_h3(lat, lon)


def test_polygon_cells_cover_the_polygon_and_interior_cells_lie_inside():
    area = shapely.Polygon(
        [(-90.30, 38.60), (-90.27, 38.60), (-90.28, 38.63), (-90.30, 38.62)],
        [[(-90.29, 38.61), (-90.285, 38.61), (-90.285, 38.615)]],
    )
    cells = {c.cell: c.interior for c in polygon_cells(area)}
    assert any(cells.values()) and not all(cells.values())
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(-90.31, -90.26, 20_000), rng.uniform(38.59, 38.64, 20_000)
    for la, lo in zip(lat, lon, strict=True):
        cell = point_h3(la, lo)
        inside = area.covers(shapely.Point(lo, la))
        if inside:
            assert cell in cells
        if cells.get(cell):
            assert inside
    # A polygon smaller than a cell still gets the cell it lies in, and no interior cell.
    tiny = polygon_cells(shapely.box(-90.2001, 38.6001, -90.2000, 38.6002))
    assert point_h3(38.60015, -90.20005) in {c.cell for c in tiny}
    assert not any(c.interior for c in tiny)
    assert polygon_cells(shapely.Polygon()) == []


def test_haversine_is_within_half_a_percent_of_the_geodesic():
    _, _, geodesic = GEOD.inv(ARCH[1], ARCH[0], WILLIS[1], WILLIS[0])
    distance = haversine_m(*ARCH, *WILLIS)
    assert isinstance(distance, float)
    assert distance == pytest.approx(geodesic, rel=0.005)
    assert haversine_m(*ARCH, *ARCH) == 0.0
    assert haversine_m(0, 0, 0, 180) == pytest.approx(np.pi * 6_371_008.8)
    many = haversine_m(
        ARCH[0], ARCH[1], np.array([ARCH[0], WILLIS[0]]), np.array([ARCH[1], WILLIS[1]])
    )
    assert many.shape == (2,) and many[1] == pytest.approx(distance)


def test_miles_and_metres():
    assert miles_to_metres(1) == 1609.344
    assert metres_to_miles(miles_to_metres(2.5)) == pytest.approx(2.5)


def test_within_radius_includes_the_edge_and_matches_haversine():
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(38.5, 38.75, 50_000), rng.uniform(-90.35, -90.1, 50_000)
    mask = within_radius(lat, lon, lat=ARCH[0], lon=ARCH[1], radius_m=5000)
    np.testing.assert_array_equal(mask, haversine_m(*ARCH, lat, lon) <= 5000)
    assert 0 < mask.sum() < mask.size
    edge_lat, edge_lon = destination(*ARCH, bearing_deg=45.0, distance_m=5000.0)
    assert within_radius(
        [edge_lat], [edge_lon], lat=ARCH[0], lon=ARCH[1], radius_m=5000.001
    ).tolist() == [True]


@pytest.mark.parametrize("lat", [0.0, 38.6, 64.8])
@pytest.mark.parametrize("radius_m", [50.0, 1609.344, 25_000.0])
def test_circle_polygon_holds_every_point_within_the_radius(lat, radius_m):
    circle = circle_polygon(lat, -90.0, radius_m)
    bearings = np.linspace(0, 360, 5000)
    on_lat, on_lon = destination(lat, -90.0, bearing_deg=bearings, distance_m=radius_m)
    assert shapely.covers(circle, shapely.points(on_lon, on_lat)).all()
    out_lat, out_lon = destination(lat, -90.0, bearing_deg=bearings, distance_m=radius_m * 1.003)
    assert not shapely.covers(circle, shapely.points(out_lon, out_lat)).any()
    with pytest.raises(ValueError, match="radius must be positive"):
        circle_polygon(lat, -90.0, 0)
