"""Demo address points for Alderford (the city :mod:`watchhouse.geo.demo` draws).

A street grid is laid over the city: numbered streets run east–west, named avenues (Main
Street in the middle) north–south, a block is 400 m and holds 100 house numbers, even
numbers on the north and east sides. Generated, not copied: no real addresses.
"""

from __future__ import annotations

import csv
import math
import tempfile
from pathlib import Path
from typing import Any

from watchhouse.geo.demo import CENTRE
from watchhouse.geocode.services import address_import

# Half the width of the grid, in metres (inside the city's outline, which wobbles between
# about 4.7 and 7.3 km from the centre).
REACH_M = 4_000.0
BLOCK_M = 400.0
# Distance between houses along a street, and from the street's middle to a house.
HOUSE_SPACING_M = 50.0
SETBACK_M = 12.0
AVENUES = (
    "Willow Ave", "Spruce Ave", "Poplar Ave", "Hickory Ave", "Chestnut Ave", "Birch Ave",
    "Cedar Ave", "Elm Ave", "Oak Ave", "Main St", "Maple Ave", "Walnut Ave", "Linden Ave",
    "Alder Ave", "Ash Ave", "Sycamore Ave", "Juniper Ave", "Magnolia Ave", "Laurel Ave",
    "Aspen Ave", "Hawthorn Ave",
)  # fmt: skip


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _to_lat_lon(x: float, y: float) -> tuple[float, float]:
    """The point ``x`` metres east and ``y`` metres north of the centre."""
    lat = CENTRE[0] + y / 111_320.0
    lon = CENTRE[1] + x / (111_320.0 * math.cos(math.radians(CENTRE[0])))
    return round(lat, 6), round(lon, 6)


def demo_addresses() -> list[tuple[str, float, float]]:
    """The demo city's addresses as (address, lat, lon), the same every time."""
    lines = int(REACH_M // BLOCK_M)
    rows: list[tuple[str, float, float]] = []
    steps = int(2 * REACH_M // HOUSE_SPACING_M)
    for i in range(-lines, lines + 1):
        offset = i * BLOCK_M
        avenue = AVENUES[(i + len(AVENUES) // 2) % len(AVENUES)]
        street = f"{_ordinal(i + lines + 1)} St"
        for step in range(1, steps):
            along = -REACH_M + step * HOUSE_SPACING_M
            if math.hypot(offset, along) > REACH_M:
                continue
            block = int((along + REACH_M) // BLOCK_M)
            within = int(((along + REACH_M) % BLOCK_M) / BLOCK_M * 100) // 2 * 2
            number = 100 + block * 100 + within
            for side in (1, -1):
                house = number if side == 1 else number + 1
                rows.append((f"{house} {avenue}", *_to_lat_lon(offset + side * SETBACK_M, along)))
                rows.append((f"{house} {street}", *_to_lat_lon(along, offset + side * SETBACK_M)))
    return rows


def load(*, stdout: Any) -> None:
    """Import the demo addresses through the import service (again: nothing changes)."""
    with tempfile.TemporaryDirectory(prefix="watchhouse-demo-") as folder:
        path = Path(folder) / "alderford-addresses.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["address", "lat", "lon"])
            writer.writerows(demo_addresses())
        report = address_import(
            actor=None, path=path, format="csv", source_name="demo alderford-addresses.csv"
        )
    stdout.write(f"Demo addresses: {report.summary}")
