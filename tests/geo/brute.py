"""The reference answer every lookup is checked against: shapely ``covers``, polygon by polygon."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely


def brute_force(
    polygons: Sequence[shapely.Geometry], lat: np.ndarray, lon: np.ndarray
) -> np.ndarray:
    """For each point, the position of the first polygon that covers it, or -1."""
    points = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    answer = np.full(points.size, -1, dtype=np.int64)
    for position in range(len(polygons) - 1, -1, -1):
        answer[shapely.covers(polygons[position], points)] = position
    return answer
