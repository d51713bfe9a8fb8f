"""Importing the agency's address file into the local geocoder's index.

``actor=None`` means the command line.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import transaction

from watchhouse.accounts.roles import Role, require_role
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError
from watchhouse.geo.points import InvalidPointError, point_check
from watchhouse.geocode.geocoder import address_normalise, address_split, is_intersection
from watchhouse.geocode.models import AddressPoint

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

# Formats address_import reads, with the columns each needs.
FORMATS = {
    "csv": ("address", "lat", "lon"),
    # The St. Louis Metropolitan Police incident file (NIBRS, parquet).
    "stl-nibrs": ("address", "lat", "lon"),
}
# Rows per INSERT.
INSERT_BATCH = 2000
# Problems listed one by one in a report (the rest are counted).
MAX_LISTED = 50


@dataclass
class AddressImportReport:
    """What an import did."""

    source: str
    format: str
    rows: int = 0
    addresses: int = 0
    created: int = 0
    updated: int = 0
    intersections: int = 0
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    @property
    def summary(self) -> str:
        """One line for people."""
        return (
            f"{self.source} ({self.format}): {self.rows} rows, {self.addresses} addresses "
            f"({self.created} new, {self.updated} updated); {self.intersections} intersections "
            f"skipped; {self.problem_count} rows could not be read."
        )

    def problem(self, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append(message)


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInputError(f"{path.name}: cannot be read ({exc.strerror}).") from exc
    with handle:
        reader = csv.DictReader(handle)
        header = [h.strip().lower() for h in reader.fieldnames or []]
        _require_columns(path, header, FORMATS["csv"])
        reader.fieldnames = header
        try:
            yield from enumerate(reader, start=2)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"{path.name}: not a readable CSV file ({exc}).") from exc


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq  # optional: only this format needs it
    except ImportError:
        raise InvalidInputError(
            "Reading the St. Louis parquet file needs pyarrow (pip install pyarrow)."
        ) from None
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"{path.name}: not a readable parquet file ({exc}).") from exc
    _require_columns(path, list(parquet.schema_arrow.names), FORMATS["stl-nibrs"])
    number = 0
    for batch in parquet.iter_batches(columns=list(FORMATS["stl-nibrs"]), batch_size=20_000):
        for row in batch.to_pylist():
            number += 1
            yield number, row


def _require_columns(path: Path, header: list[str], needed: tuple[str, ...]) -> None:
    missing = [c for c in needed if c not in header]
    if missing:
        raise InvalidInputError(
            f"{path.name}: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (it has: {', '.join(header) or 'none'})."
        )


def _rows(path: Path, format: str) -> Iterator[tuple[int, dict[str, Any]]]:
    if format == "csv":
        return _csv_rows(path)
    return _parquet_rows(path)


def _collect(
    path: Path, format: str, report: AddressImportReport
) -> dict[str, tuple[float, float, int]]:
    """Sum of latitudes, longitudes and count per normalised address; rows that cannot be
    read are reported with their number and skipped."""
    sums: dict[str, tuple[float, float, int]] = {}
    for number, row in _rows(path, format):
        report.rows += 1
        address = address_normalise(str(row.get("address") or ""))
        if not address:
            report.problem(f"row {number}: the address is empty")
            continue
        if is_intersection(address):
            report.intersections += 1
            continue
        try:
            lat, lon = point_check(row.get("lat"), row.get("lon"))  # type: ignore[arg-type]
        except InvalidPointError as exc:
            report.problem(f"row {number}: {exc}")
            continue
        if lat == 0 and lon == 0:
            report.problem(f"row {number}: the point is 0, 0 (no location)")
            continue
        if len(address) > 200:
            report.problem(f"row {number}: the address is longer than 200 characters")
            continue
        s_lat, s_lon, n = sums.get(address, (0.0, 0.0, 0))
        sums[address] = (s_lat + lat, s_lon + lon, n + 1)
    return sums


def address_import(
    *, actor: User | None, path: Path, format: str, source_name: str | None = None
) -> AddressImportReport:
    """Add or move the address points of a file, one point per address (the mean of the
    file's points for it), and report rows that could not be read.

    Formats: ``csv`` (columns address, lat, lon) and ``stl-nibrs`` (the St. Louis incident
    file). An unknown format or a file without the needed columns raises
    :class:`InvalidInputError` and changes nothing; intersections ("A ST / B AVE") are no
    address and are counted, not stored. Importing the same file again changes nothing.
    """
    if actor is not None:
        require_role(actor, Role.ADMIN, action="import addresses")
    if format not in FORMATS:
        raise InvalidInputError(
            f"Unknown address format {format!r}; formats are: {', '.join(sorted(FORMATS))}."
        )
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file.")
    source = (source_name or path.name)[:100]
    report = AddressImportReport(source=source, format=format)
    sums = _collect(path, format, report)
    report.addresses = len(sums)
    points = []
    for address, (s_lat, s_lon, n) in sums.items():
        number, street = address_split(address)
        point = AddressPoint(address=address, house_number=number, street=street, source=source)
        point.place(s_lat / n, s_lon / n)
        points.append(point)
    with transaction.atomic():
        existing: dict[str, tuple[float | None, float | None]] = {}
        names = list(sums)
        for start in range(0, len(names), INSERT_BATCH):
            rows = AddressPoint.objects.filter(
                address__in=names[start : start + INSERT_BATCH]
            ).values_list("address", "lat", "lon")
            existing.update((address, (lat, lon)) for address, lat, lon in rows)
        changed = [p for p in points if not _same(existing.get(p.address), p)]
        report.created = sum(1 for p in changed if p.address not in existing)
        report.updated = len(changed) - report.created
        AddressPoint.objects.bulk_create(
            changed,
            batch_size=INSERT_BATCH,
            update_conflicts=True,
            unique_fields=["address"],
            update_fields=["lat", "lon", "h3", "house_number", "street", "source", "updated_at"],
        )
        audit_record(
            actor=actor,
            action="geocode.address_import",
            object_type="geocode.addresspoint",
            data={
                "source": source,
                "format": format,
                "rows": report.rows,
                "addresses": report.addresses,
                "created": report.created,
                "updated": report.updated,
                "intersections": report.intersections,
                "problems": report.problem_count,
            },
        )
    return report


def _same(stored: tuple[float | None, float | None] | None, point: AddressPoint) -> bool:
    """True when the stored location is the point's (to about a centimetre)."""
    if stored is None or stored[0] is None or stored[1] is None:
        return False
    return math.isclose(stored[0], point.lat or 0.0, abs_tol=1e-7) and math.isclose(
        stored[1], point.lon or 0.0, abs_tol=1e-7
    )
