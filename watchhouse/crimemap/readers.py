"""Reading an incident file into an Arrow table, with the columns a mapping needs.

Nothing is imported from a file that is not what the format says: the wrong kind of file, or
one without the mapping's columns, raises :class:`InvalidInputError` naming what is missing
(and the built-in format the file looks like, if any) before a row is read.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from watchhouse.core.errors import InvalidInputError
from watchhouse.crimemap.formats import format_list
from watchhouse.crimemap.mappings import Mapping

PARQUET_MAGIC = b"PAR1"
# Bytes of a CSV file read at once (Arrow reads blocks in parallel).
CSV_BLOCK_BYTES = 16 * 1024 * 1024


def incidents_file_read(path: Path, mapping: Mapping, *, shown: str) -> tuple[pa.Table, int]:
    """The file's needed columns, and the number its first data row is reported as (a CSV
    file's first data row is its line 2; a parquet file's first row is row 1)."""
    if not path.is_file():
        raise InvalidInputError(f"{shown}: no such file.")
    with path.open("rb") as handle:
        is_parquet = handle.read(4) == PARQUET_MAGIC
    if mapping.reader == "parquet":
        if not is_parquet:
            raise InvalidInputError(
                f"{shown} is not a parquet file, and the {mapping.name} format reads parquet "
                f"files.{_guess(path, None)}"
            )
        return _parquet(path, mapping, shown), 1
    if is_parquet:
        raise InvalidInputError(
            f"{shown} is a parquet file, and the {mapping.name} format reads CSV files."
            f"{_guess(path, 'parquet')}"
        )
    return _csv(path, mapping, shown), 2


def _parquet(path: Path, mapping: Mapping, shown: str) -> pa.Table:
    try:
        parquet = pq.ParquetFile(path)
        names = list(parquet.schema_arrow.names)
        _require(shown, mapping, names, path)
        return parquet.read(columns=mapping.columns)
    except (OSError, pa.ArrowException) as exc:
        raise InvalidInputError(f"{shown}: not a readable parquet file ({exc}).") from exc


def csv_header(path: Path) -> list[str]:
    """The column names of a CSV file (empty for an empty or unreadable file)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return [h.strip() for h in next(csv.reader(io.StringIO(handle.readline())), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _csv(path: Path, mapping: Mapping, shown: str) -> pa.Table:
    header = csv_header(path)
    if not header:
        raise InvalidInputError(f"{shown}: not a CSV file with a header line in UTF-8.")
    _require(shown, mapping, header, path)
    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            convert_options=pacsv.ConvertOptions(
                include_columns=mapping.columns,
                column_types=dict.fromkeys(mapping.columns, pa.string()),
                strings_can_be_null=True,
            ),
        )
    except (OSError, pa.ArrowException) as exc:
        raise InvalidInputError(f"{shown}: not a readable CSV file ({exc}).") from exc


def _require(shown: str, mapping: Mapping, names: list[str], path: Path) -> None:
    missing = [c for c in mapping.columns if c not in names]
    if missing:
        raise InvalidInputError(
            f"{shown} is not a {mapping.name} file: missing column"
            f"{'s' if len(missing) > 1 else ''} {', '.join(missing)} (it has: "
            f"{', '.join(names[:30]) or 'none'}). Nothing was imported.{_guess(path, None)}"
        )


def _guess(path: Path, reader: str | None) -> str:
    """ " It looks like a … file." when a built-in format's columns are all there."""
    try:
        with path.open("rb") as handle:
            kind = reader or ("parquet" if handle.read(4) == PARQUET_MAGIC else "csv")
        names = (
            list(pq.ParquetFile(path).schema_arrow.names) if kind == "parquet" else csv_header(path)
        )
    except (OSError, pa.ArrowException):
        return ""
    for candidate in format_list():
        if candidate.reader == kind and all(c in names for c in candidate.columns):
            return f" It looks like a {candidate.name} file (--format {candidate.name})."
    return ""
