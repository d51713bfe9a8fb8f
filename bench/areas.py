"""Point-in-area lookups per second: AreaIndex against brute force, on St. Louis neighbourhoods.

Reads ../shared/data/crime/st-louis/stl_neighborhoods.geojson (88 polygons; the 89th feature
has no geometry and is reported as skipped) and draws 1,000,000 uniform random points twice:
inside the neighbourhoods (the headline figures) and over their bounding box (about half
outside every polygon). For each set it times, in the same run and on the same points:

- ``index``: :class:`watchhouse.geo.index.AreaIndex` lookup (grid + exact boundary test);
- ``brute_force``: a loop over the 88 prepared polygons, each tested against every point with
  shapely's vectorised ``intersects_xy`` (lowest polygon wins, as in the index);
- ``strtree``: one vectorised ``STRtree.query(points, predicate="intersects")`` for reference.

Every repetition checks that the index's (and the STRtree's) answers equal the brute force's.
Prints one JSON line with the medians of the repetitions; exits 1 on any mismatch.
Usage: ``python bench/areas.py [--points N] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely

from watchhouse.geo.index import AreaIndex
from watchhouse.geo.sources import area_layer_read

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("WATCHHOUSE_SHARED_DATA", REPO.parent / "shared" / "data"))
BOUNDARIES = SHARED / "crime" / "st-louis" / "stl_neighborhoods.geojson"


def brute_force(polygons: list[shapely.Geometry], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Test every polygon against every point; the lowest-numbered polygon holding it wins."""
    result = np.full(lat.size, -1, dtype=np.int32)
    for position in range(len(polygons) - 1, -1, -1):
        result[shapely.intersects_xy(polygons[position], lon, lat)] = position
    return result


def strtree(tree: shapely.STRtree, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """One vectorised STRtree query; the lowest-numbered polygon holding a point wins."""
    point, area = tree.query(shapely.points(lon, lat), predicate="intersects")
    result = np.full(lat.size, -1, dtype=np.int32)
    order = np.lexsort((area, point))
    point, area = point[order], area[order]
    first = np.concatenate(([True], point[1:] != point[:-1]))
    result[point[first]] = area[first]
    return result


def timed(run: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    answer = run()
    return time.perf_counter() - start, answer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20260501)
    args = parser.parse_args()
    if not BOUNDARIES.is_file():
        print(json.dumps({"bench": "areas", "error": f"{BOUNDARIES} is missing"}))
        return 1

    layer = area_layer_read(BOUNDARIES, kind="neighbourhood")
    polygons = [d.geometry for d in layer.drafts]
    shapely.prepare(polygons)
    start = time.perf_counter()
    index = AreaIndex(polygons)
    build_s = time.perf_counter() - start
    tree = shapely.STRtree(polygons)

    rng = np.random.default_rng(args.seed)
    scenarios = {
        "in_neighbourhoods": points_inside(polygons, args.points, rng),
        "bounding_box": points_in_box(polygons, args.points, rng),
    }
    figures = {
        name: run(index, polygons, tree, lat, lon, args.repeats)
        for name, (lat, lon) in scenarios.items()
    }
    main_figures = figures["in_neighbourhoods"]
    print(
        json.dumps(
            {
                "bench": "areas",
                "file": BOUNDARIES.name,
                "polygons": len(polygons),
                "skipped_features": len(layer.warnings),
                "points": args.points,
                "repeats": args.repeats,
                "index_build_s": round(build_s, 4),
                "grid_cells": int(index.grid.size),
                "boundary_cell_share": round(index.boundary_share, 4),
                "index_lookups_per_s": main_figures["index_lookups_per_s"],
                "brute_force_lookups_per_s": main_figures["brute_force_lookups_per_s"],
                "speedup_vs_brute_force": main_figures["speedup_vs_brute_force"],
                "mismatches": sum(f["mismatches"] for f in figures.values()),
                "scenarios": figures,
            }
        )
    )
    return 0 if all(f["mismatches"] == 0 for f in figures.values()) else 1


def points_in_box(
    polygons: list[shapely.Geometry], count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random points over the polygons' bounding box (about half fall outside all)."""
    min_lon, min_lat, max_lon, max_lat = shapely.total_bounds(polygons)
    return rng.uniform(min_lat, max_lat, count), rng.uniform(min_lon, max_lon, count)


def points_inside(
    polygons: list[shapely.Geometry], count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random points inside the union of the polygons (rejection sampling)."""
    city = shapely.union_all(polygons)
    shapely.prepare(city)
    lats, lons, found = [], [], 0
    while found < count:
        lat, lon = points_in_box(polygons, count, rng)
        keep = shapely.intersects_xy(city, lon, lat)
        lats.append(lat[keep])
        lons.append(lon[keep])
        found += int(keep.sum())
    return np.concatenate(lats)[:count], np.concatenate(lons)[:count]


def run(
    index: AreaIndex,
    polygons: list[shapely.Geometry],
    tree: shapely.STRtree,
    lat: np.ndarray,
    lon: np.ndarray,
    repeats: int,
) -> dict[str, object]:
    """Time the three methods ``repeats`` times on the same points; medians and checks."""
    rates: dict[str, list[float]] = {"index": [], "brute_force": [], "strtree": []}
    mismatches = 0
    truth = np.empty(0)
    for _ in range(repeats):
        seconds, ours = timed(lambda: index.lookup(lat, lon))
        rates["index"].append(lat.size / seconds)
        seconds, truth = timed(lambda: brute_force(polygons, lat, lon))
        rates["brute_force"].append(lat.size / seconds)
        seconds, tree_answer = timed(lambda: strtree(tree, lat, lon))
        rates["strtree"].append(lat.size / seconds)
        mismatches += int(np.count_nonzero(ours != truth))
        mismatches += int(np.count_nonzero(tree_answer != truth))
    median = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "share_inside": round(float(np.count_nonzero(truth >= 0)) / lat.size, 4),
        "index_lookups_per_s": round(median["index"]),
        "brute_force_lookups_per_s": round(median["brute_force"]),
        "strtree_lookups_per_s": round(median["strtree"]),
        "speedup_vs_brute_force": round(median["index"] / median["brute_force"], 1),
        "speedup_vs_strtree": round(median["index"] / median["strtree"], 1),
        "mismatches": mismatches,
        "runs_index_lookups_per_s": [round(r) for r in rates["index"]],
        "runs_brute_force_lookups_per_s": [round(r) for r in rates["brute_force"]],
    }


if __name__ == "__main__":
    sys.exit(main())
