"""From a source file's rows to the incident schema, column by column (no database here).

:func:`incidents_normalise` takes the file as an Arrow table and a :class:`Mapping` and returns
:class:`Normalised`: the incidents and their offences as arrays, and every rejected row with
its reason. Work is vectorised over whole columns (Arrow compute, numpy, pyproj on arrays,
:class:`~watchhouse.geo.index.AreaIndex` lookups on arrays). Rules that need Python (offence
rules, the rarer address shapes, area names) run once per *distinct* value of a column and
are spread back over the rows; per-row Python only builds the plain lists the database
writes take.

Rows are checked in this order, and a row gets the first reason that applies: time, then
coordinates, then location, then offence, then duplicate or conflicting ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyproj
from django.utils.text import slugify

from watchhouse.crimemap.categories import CATEGORY_RANK, NIBRS, Category
from watchhouse.crimemap.mappings import Mapping, OffenceRule
from watchhouse.crimemap.models import Precision, RejectionReason
from watchhouse.crimemap.privacy import (
    NO_PLACE,
    PlaceKind,
    PrivacyPolicy,
    WithheldReason,
    place_from_address,
    place_from_label,
)
from watchhouse.geo.index import NO_AREA, AreaIndex

# Area kinds an incident records, in the order of the Incident model's columns.
AREA_KINDS = ("neighbourhood", "beat", "district", "ward")
# Rejection details spelled out per reason (the rest of a reason's rows are counted).
DETAILS_PER_REASON = 200
_US_PER_S = 1_000_000
_NULL_HASH = np.uint64(0x9E3779B97F4A7C15)
_NULL_DIGEST = int(_NULL_HASH).to_bytes(8, "little")
_WGS84 = pyproj.CRS.from_epsg(4326)
_REASONS = list(RejectionReason)
_CODE = {reason: number for number, reason in enumerate(_REASONS, start=1)}


@dataclass(frozen=True)
class Areas:
    """The jurisdiction's areas as the importer needs them."""

    indexes: dict[str, AreaIndex]  # kind -> index whose lookup_ids gives area ids
    by_label: dict[str, int]  # slug of a neighbourhood's name or its code -> area id


@dataclass(frozen=True)
class Rejection:
    """One rejected row."""

    row: int
    record_id: str
    reason: str
    detail: str


@dataclass(frozen=True)
class Coded:
    """A column of text as its distinct ``values`` (an object array of str) and, per entry,
    the position of its value (``indices``)."""

    values: np.ndarray
    indices: np.ndarray

    @classmethod
    def of(cls, values: Sequence[str], indices: np.ndarray) -> Coded:
        return cls(np.array(values, dtype=object), np.asarray(indices, dtype=np.int64))

    def take(self, rows: np.ndarray) -> Coded:
        """The entries ``rows``."""
        return Coded(self.values, self.indices[rows])


# The text columns of :class:`Normalised`: of incidents, then of offences.
TEXTS = frozenset(
    {
        "precision", "category", "nibrs", "against", "label", "address", "withheld_reason",
        "place_kind", "place_label", "area_label", "area_code", "offence_category",
        "offence_nibrs", "offence_against", "offence_label",
    }
)  # fmt: skip


@dataclass
class Normalised:
    """A file in the incident schema: one entry per incident, one per offence. The text
    columns (:data:`TEXTS`) are kept coded (:meth:`coded`): most have a few distinct values,
    and the writer takes the entries it writes from them."""

    rows_read: int
    rows_skipped: int
    rejected_by_reason: dict[str, int]
    rejections: list[Rejection]
    ids_seen: list[str] = field(default_factory=list)  # every row's id, rejected rows too
    # Incidents (arrays of equal length).
    record_id: list[str] = field(default_factory=list)
    occurred_us: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    until_us: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # -1: none
    local_date: np.ndarray = field(default_factory=lambda: np.zeros(0, "datetime64[D]"))
    offence_count: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    firearm: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))  # -1 unknown
    domestic: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    lat: np.ndarray = field(default_factory=lambda: np.zeros(0))  # NaN: no exact point
    lon: np.ndarray = field(default_factory=lambda: np.zeros(0))
    areas: dict[str, np.ndarray] = field(default_factory=dict)  # kind -> area id, -1 none
    # Offences (arrays of equal length), grouped by incident in position order.
    offence_incident: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    offence_position: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    offence_firearm: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    offence_withheld: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    # The text columns (see TEXTS), each as a few values and an index per entry.
    _coded: dict[str, Coded] = field(default_factory=dict, repr=False, compare=False)
    _arrow_values: dict[str, pa.Array] = field(default_factory=dict, repr=False, compare=False)
    # For the digests (see digests): hashes of some columns, made while normalising, by name;
    # of the other text columns, by name: each entry's distinct value, those values, their
    # hashes and whether each is made yet; the incidents' digests and whether each is made.
    _hashes: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    _value_hashes: dict[str, tuple[np.ndarray, pa.Array, np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _digests: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def coded(self, name: str) -> Coded:
        """The text column ``name`` (one of :data:`TEXTS`) as values (few; one may repeat)
        and an index per entry; empty when the file has no incidents."""
        if name not in TEXTS:
            raise KeyError(name)
        return self._coded.get(name) or Coded.of([], np.zeros(0, dtype=np.int64))

    def strings(self, name: str, rows: np.ndarray) -> list[str]:
        """The text column ``name``'s values for the entries ``rows``."""
        coded = self.coded(name)
        return coded.values[coded.indices[rows]].tolist()

    def values(self, name: str) -> pa.Array:
        """The values of the text column ``name`` (see :meth:`coded`) as an Arrow array,
        made once (the digest hashes them, the COPY path takes its entries from them)."""
        found = self._arrow_values.get(name)
        if found is None:
            found = self._arrow_values[name] = pa.array(self.coded(name).values, type=pa.string())
        return found

    def text(self, name: str, rows: np.ndarray) -> pa.Array:
        """:meth:`strings` as an Arrow array."""
        return self.values(name).take(pa.array(self.coded(name).indices[rows]))

    def text_set(self, name: str, coded: Coded) -> None:
        if name not in TEXTS:
            raise KeyError(name)
        self._coded[name] = coded
        self._arrow_values.pop(name, None)
        self._value_hashes.pop(name, None)
        self._hashes.pop(name, None)

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    def __len__(self) -> int:
        return len(self.record_id)

    def digests(self, rows: np.ndarray) -> np.ndarray:
        """The 64-bit digest of each incident of ``rows`` (int64): of everything the import
        writes for it, so that a row that did not change is recognised without comparing
        columns. Each is made the first time it is asked for (a text value is hashed the
        first time one of those incidents has it): an import asks for those it writes one
        batch at a time, as it sends the batch to the database, so that the database
        stores one batch while the next one's digests are made."""
        rows = np.asarray(rows, dtype=np.int64)
        if self._digests is None:
            self._digests = (np.zeros(len(self), np.int64), np.zeros(len(self), bool))
        digests, made = self._digests
        todo = _not_made(rows, made)
        if todo.size:
            digests[todo] = _digest(self, todo)
            made[todo] = True
        return digests[rows]

    def hashes(self, name: str, rows: np.ndarray) -> np.ndarray:
        """The hash of column ``name`` (one of :data:`TEXTS`) for the entries ``rows``."""
        known = self._hashes.get(name)
        if known is not None:
            return known[rows]
        found = self._value_hashes.get(name)
        if found is None:
            # A value may be among the values more than once (a block's label, once per
            # address on it): each distinct one is hashed once. The last is null's.
            encoded = pc.dictionary_encode(self.values(name))
            size = len(encoded.dictionary)
            hashes = np.zeros(size + 1, np.uint64)
            hashes[size] = _NULL_HASH
            made = np.zeros(size + 1, bool)
            made[size] = True
            which = pc.fill_null(encoded.indices, size).to_numpy(zero_copy_only=False)
            found = self._value_hashes[name] = (
                which[self.coded(name).indices],
                encoded.dictionary,
                hashes,
                made,
            )
        which, distinct, hashes, made = found
        wanted = which[rows]
        todo = _not_made(wanted, made)
        if todo.size:
            hashes[todo] = _string_hash(distinct.take(todo).to_pylist())
            made[todo] = True
        return hashes[wanted]

    def hashes_known(self, hashes: dict[str, np.ndarray]) -> None:
        """Hashes of some text columns by name (of every entry), made while normalising from
        their few distinct values: equal to what :meth:`hashes` would make."""
        self._hashes |= hashes


def _not_made(entries: np.ndarray, made: np.ndarray) -> np.ndarray:
    """The distinct positions among ``entries`` whose ``made`` is False, in order (marked in
    an array as long as ``made``: quicker than sorting the entries)."""
    wanted = np.zeros(made.size, dtype=bool)
    wanted[entries] = True
    return np.flatnonzero(wanted & ~made)


# Hashing: stable 64-bit digests of columns, the same in every process and on every machine.


def _mix(h: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Fold ``value`` into running hashes ``h`` (both uint64 arrays; splitmix64 finaliser)."""
    x = h * np.uint64(0x100000001B3) ^ value
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _string_hash(values: Sequence[str | None]) -> np.ndarray:
    """The first 8 bytes of each value's BLAKE2b digest (of its UTF-8), read little-endian."""
    blake2b = hashlib.blake2b
    return np.frombuffer(
        b"".join(
            [
                _NULL_DIGEST if value is None else blake2b(value.encode(), digest_size=8).digest()
                for value in values
            ]
        ),
        dtype="<u8",
    ).astype(np.uint64)


def _hash(array: pa.Array | np.ndarray) -> np.ndarray:
    """A uint64 hash per value (nulls and NaN hash alike)."""
    if isinstance(array, np.ndarray):
        if array.dtype.kind == "f":
            clean = np.where(np.isnan(array), np.inf, array) + 0.0  # -0.0 becomes 0.0
            return clean.astype(np.float64).view(np.uint64)
        return array.astype(np.int64).view(np.uint64)
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        encoded = pc.dictionary_encode(array)
        unique = _string_hash(encoded.dictionary.to_pylist())
        if unique.size == 0:
            return np.full(len(array), _NULL_HASH, dtype=np.uint64)
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        if encoded.indices.null_count:
            filled = pc.fill_null(encoded.indices, -1).to_numpy()
            return np.where(filled < 0, _NULL_HASH, unique[np.maximum(filled, 0)])
        return unique[indices]
    if pa.types.is_floating(array.type) or pa.types.is_integer(array.type):
        return _hash(pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False))
    if pa.types.is_timestamp(array.type) or pa.types.is_date(array.type):
        return _hash(
            pc.cast(pc.cast(array, pa.int64()), pa.float64()).to_numpy(zero_copy_only=False)
        )
    return _hash(pc.cast(array, pa.string()))


def _hash_rows(columns: list[pa.Array | np.ndarray], size: int) -> np.ndarray:
    h = np.full(size, np.uint64(0xCBF29CE484222325), dtype=np.uint64)
    for column in columns:
        h = _mix(h, _hash(column))
    return h


# Reading columns.


def _array(table: pa.Table, name: str) -> pa.Array:
    column = table.column(name)
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _as_text(array: pa.Array) -> pa.Array:
    """Any column as trimmed text, empty text as null; whole floats lose their '.0'."""
    if pa.types.is_floating(array.type):
        numbers = array.to_numpy(zero_copy_only=False)
        missing = ~np.isfinite(numbers)
        whole = np.where(missing, 0.0, numbers)
        if np.all(whole == np.round(whole)) and np.all(np.abs(whole) < 2**53):
            array = pa.array(whole.astype(np.int64), mask=missing)
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pc.cast(array, pa.string())
    trimmed = pc.utf8_trim_whitespace(array)
    empty = pc.equal(trimmed, "")
    if not pc.any(empty).as_py():
        # Most columns have no empty text: no copy of every value to make.
        return trimmed
    return pc.if_else(empty, pa.scalar(None, pa.string()), trimmed)


def _as_number(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Floats (NaN for missing) and a mask of values given but not numbers."""
    if pa.types.is_floating(array.type) or pa.types.is_integer(array.type):
        numbers = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
        return numbers.astype(np.float64, copy=True), np.zeros(len(array), dtype=bool)
    text = _as_text(array)
    try:
        numbers = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
        return numbers, np.zeros(len(array), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    encoded = pc.dictionary_encode(text)
    values = np.full(len(encoded.dictionary), np.nan)
    bad_value = np.zeros(len(encoded.dictionary), dtype=bool)
    for i, value in enumerate(encoded.dictionary.to_pylist()):
        try:
            values[i] = float(value.replace(",", ""))
        except ValueError:
            bad_value[i] = True
    indices = pc.fill_null(encoded.indices, -1).to_numpy()
    missing = indices < 0
    numbers = np.where(missing, np.nan, values[np.maximum(indices, 0)])
    bad = ~missing & bad_value[np.maximum(indices, 0)]
    return numbers, bad


def _lookup(array: pa.Array, convert: Callable[[str], object], default: object) -> list[object]:
    """``convert`` applied to each distinct value, spread back over the rows."""
    return _lookup_array(array, convert, default, object).tolist()


def _lookup_array(
    array: pa.Array, convert: Callable[[str], object], default: object, dtype: type
) -> np.ndarray:
    """:func:`_lookup` as an array of ``dtype``."""
    encoded = pc.dictionary_encode(array)
    table: np.ndarray = np.empty(len(encoded.dictionary) + 1, dtype=dtype)
    # One by one: a converted value may itself be a sequence (a place), not a row of them.
    for k, value in enumerate(encoded.dictionary.to_pylist()):
        table[k] = convert(value)
    table[-1] = default
    indices = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return table[np.where(indices >= 0, indices, table.size - 1)]


def _flag(array: pa.Array | None, mapping: Mapping, size: int) -> np.ndarray:
    """1 for the mapping's true values, 0 for its false values, -1 otherwise."""
    if array is None:
        return np.full(size, -1, dtype=np.int8)
    if pa.types.is_boolean(array.type):
        return pc.fill_null(pc.cast(array, pa.int8()), -1).to_numpy().astype(np.int8)

    def convert(value: str) -> int:
        folded = value.casefold()
        return 1 if folded in mapping.true_values else 0 if folded in mapping.false_values else -1

    return _lookup_array(_as_text(array), convert, -1, np.int8)


class _Rows:
    """The per-row state of one normalisation: reasons and their first details."""

    def __init__(self, size: int, row_base: int) -> None:
        self.size = size
        self.row_base = row_base
        self.reason = np.zeros(size, dtype=np.int8)
        self.details: dict[int, str] = {}
        self.skipped = np.zeros(size, dtype=bool)

    @property
    def ok(self) -> np.ndarray:
        return (self.reason == 0) & ~self.skipped

    def reject(
        self, mask: np.ndarray, reason: RejectionReason, detail: Callable[[int], str]
    ) -> None:
        """Reject the rows of ``mask`` that are still fine; spell out the first few."""
        fresh = np.flatnonzero(mask & self.ok)
        self.reason[fresh] = _CODE[reason]
        for i in fresh[:DETAILS_PER_REASON]:
            self.details[int(i)] = detail(int(i))


# The normalisation.


def incidents_normalise(
    table: pa.Table,
    mapping: Mapping,
    *,
    areas: Areas,
    policy: PrivacyPolicy,
    since: date | None = None,
    row_base: int = 1,
) -> Normalised:
    """The file's incidents and offences in the common schema, and its rejected rows.

    ``row_base`` is the number the first data row is reported as (2 for a CSV file's line
    after the header). ``since`` skips rows whose local date is earlier.
    """
    size = table.num_rows
    rows = _Rows(size, row_base)

    def col(name: str | None) -> pa.Array | None:
        return _array(table, name) if name else None

    ids = _ids(table, mapping, size)
    start_local, precision = _times(table, mapping, rows, ids)
    marker = _marker(col(mapping.marker_column), mapping, size)
    precision = np.where(marker, _PRECISION_CODE[mapping.marker_precision], precision)
    start_local = _truncate(start_local, precision)
    if since is not None:
        since_s = (np.datetime64(since, "s") - np.datetime64(0, "s")).astype(np.int64)
        rows.skipped |= (rows.reason == 0) & (start_local < since_s)

    lat, lon = _points(table, mapping, rows, ids, marker)
    area_ids = {kind: np.full(size, NO_AREA, dtype=np.int64) for kind in AREA_KINDS}
    have_point = np.isfinite(lat)
    for kind, index in areas.indexes.items():
        if kind in area_ids:
            area_ids[kind][have_point] = index.lookup_ids(lat[have_point], lon[have_point])
    if areas.indexes:
        inside = np.zeros(size, dtype=bool)
        for found in area_ids.values():
            inside |= found >= 0
        rows.reject(
            have_point & ~inside,
            RejectionReason.OUTSIDE,
            lambda i: f"id {ids[i]}: the point is outside the jurisdiction's areas",
        )
    area_label = _as_text(col(mapping.area_column)) if mapping.area_column else None
    area_code = _as_text(col(mapping.area_code_column)) if mapping.area_code_column else None
    label_area = _label_areas(area_label, area_code, areas, mapping, size)
    area_ids["neighbourhood"] = np.where(have_point, area_ids["neighbourhood"], label_area)
    has_area_text = np.zeros(size, dtype=bool)
    for text in (area_label, area_code):
        if text is not None:
            has_area_text |= pc.is_valid(text).to_numpy(zero_copy_only=False)
    rows.reject(
        ~have_point & ~marker & ~has_area_text,
        RejectionReason.NO_LOCATION,
        lambda i: f"id {ids[i]}: no coordinates and no area",
    )

    offences = _offences(table, mapping, policy, rows, ids)
    domestic = _flag(col(mapping.domestic_column), mapping, size)
    place_text = col(mapping.address_column or mapping.block_column or mapping.place_column)
    place_text = _as_text(place_text) if place_text is not None else None
    # Reading the addresses is mostly Arrow's regular expressions, which run without the
    # GIL: a thread reads them while this one groups, checks and hashes.
    places = _in_thread(_places, place_text, mapping, size)
    incident_of, heads = _group(
        mapping, rows, ids, start_local, lat, lon, place_text, area_label, marker
    )

    result = Normalised(
        rows_read=size,
        rows_skipped=int(np.count_nonzero(rows.skipped & (rows.reason == 0))),
        rejected_by_reason={},
        rejections=[],
        ids_seen=ids,
    )
    _collect_rejections(result, rows, ids)
    if heads.size == 0:
        return result

    keep = np.flatnonzero(rows.ok)
    # Offence rows in file order, grouped by incident (stable sort keeps file order inside).
    order = keep[np.argsort(incident_of[keep], kind="stable")]
    owner = incident_of[order]
    starts = np.flatnonzero(np.concatenate(([True], owner[1:] != owner[:-1])))
    counts = np.diff(np.append(starts, order.size))
    position = np.arange(order.size) - np.repeat(starts, counts)

    rank = offences.rank[order]
    primary = order[starts + _argmin_per_group(rank, starts, counts)]
    firearm = np.maximum.reduceat(offences.firearm[order], starts)
    domestic_any = np.maximum.reduceat(domestic[order], starts)

    reasons = [""]
    reason_code = np.zeros(heads.size, dtype=np.int64)
    for mask, why in (
        (domestic_any > 0, WithheldReason.DOMESTIC if policy.withhold_domestic else ""),
        (np.logical_or.reduceat(offences.by_nibrs[order], starts), WithheldReason.NIBRS),
        (np.logical_or.reduceat(offences.by_category[order], starts), WithheldReason.CATEGORY),
        (np.logical_or.reduceat(offences.by_rule[order], starts), WithheldReason.OFFENCE),
        (marker[heads], WithheldReason.SOURCE),
    ):
        if why:
            reason_code[mask] = len(reasons)
            reasons.append(str(why))
    reason = Coded.of(reasons, reason_code)

    result.record_id = _pick(ids, heads)
    result.occurred_us = _to_utc_us(start_local[heads], mapping.time_zone)
    until_local = _until(start_local[heads], precision[heads])
    result.until_us = np.where(
        until_local >= 0, _to_utc_us(np.maximum(until_local, 0), mapping.time_zone), -1
    )
    result.text_set("precision", Coded.of(_PRECISIONS, precision[heads]))
    result.local_date = (start_local[heads] // 86400).astype("datetime64[D]")
    for name in ("category", "nibrs", "against"):
        result.text_set(name, offences.pick(name, primary))
    result.text_set("label", offences.label.take(primary))
    result.offence_count = counts.astype(np.int64)
    result.firearm = firearm.astype(np.int8)
    result.domestic = domestic_any.astype(np.int8)
    result.text_set("address", _texts(place_text, heads))
    result.lat, result.lon = lat[heads], lon[heads]
    result.text_set("withheld_reason", reason)
    place_kind, place_label = places.result()
    result.text_set("place_kind", place_kind.take(heads))
    result.text_set("place_label", place_label.take(heads))
    result.areas = {kind: found[heads] for kind, found in area_ids.items()}
    result.text_set("area_label", _texts(area_label, heads))
    result.text_set("area_code", _texts(area_code, heads))

    result.offence_incident = owner.astype(np.int64)
    result.offence_position = position.astype(np.int64)
    for name in ("category", "nibrs", "against"):
        result.text_set(f"offence_{name}", offences.pick(name, order))
    result.text_set("offence_label", offences.label.take(order))
    result.offence_firearm = offences.firearm[order]
    result.offence_withheld = offences.withheld[order]
    # Hashes of the columns known by a few distinct values, for the digest.
    coded = {
        name: _string_hash(offences.coding[name].tolist())[offences.combination]
        for name in ("category", "nibrs", "against")
    }
    result.hashes_known(
        {f"offence_{name}": values[order] for name, values in coded.items()}
        | {name: values[primary] for name, values in coded.items()}
        | {"precision": _string_hash(_PRECISIONS)[precision[heads]]}
    )
    return result


_T = TypeVar("_T")


def _in_thread(work: Callable[..., _T], *args: Any) -> Future[_T]:
    """``work(*args)`` started in a thread of its own, which ends once it is done (so a
    process forked later holds no stale thread)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="watchhouse-normalise")
    try:
        return pool.submit(work, *args)
    finally:
        pool.shutdown(wait=False)


# Ids.


def _ids(table: pa.Table, mapping: Mapping, size: int) -> list[str]:
    """The source's ids; rows without one get an id derived from their contents and their
    order among identical rows, so the same file always gives the same ids."""
    given: list[str | None] = (
        _as_text(_array(table, mapping.id_column)).to_pylist()
        if mapping.id_column
        else [None] * size
    )
    if None not in given:
        return given  # type: ignore[return-value]
    missing = np.array([v is None for v in given], dtype=bool)
    columns = [_array(table, c) for c in mapping.columns if c != mapping.id_column]
    digest = _hash_rows(columns, size)
    which = np.flatnonzero(missing)
    order = which[np.argsort(digest[which], kind="stable")]
    sorted_digest = digest[order]
    starts = np.concatenate(([True], sorted_digest[1:] != sorted_digest[:-1]))
    group_start = np.maximum.accumulate(np.where(starts, np.arange(order.size), 0))
    occurrence = np.arange(order.size) - group_start
    out: list[str] = [v or "" for v in given]
    for row, value, n in zip(
        order.tolist(), sorted_digest.tolist(), occurrence.tolist(), strict=True
    ):
        out[row] = f"~{value:016x}" if n == 0 else f"~{value:016x}-{n}"
    return out


# Times: local wall-clock seconds since 1970 (as if UTC), converted to UTC at the end.

_PRECISIONS = [Precision.MINUTE.value, Precision.DAY.value, Precision.MONTH.value]
_PRECISION_CODE = {value: code for code, value in enumerate(_PRECISIONS)}
_MISSING = np.iinfo(np.int64).min


def _times(
    table: pa.Table, mapping: Mapping, rows: _Rows, ids: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    size = rows.size
    precision = np.full(size, _PRECISION_CODE[mapping.precision], dtype=np.int8)
    if mapping.time_column:
        raw = _array(table, mapping.time_column)
        seconds, given = _time_column(raw, mapping)
        if pa.types.is_date(raw.type):
            precision = np.maximum(precision, _PRECISION_CODE["day"]).astype(np.int8)
        shown = _as_text(raw)
        missing_rows = ~given
        bad_rows = given & (seconds == _MISSING)

        def show(i: int) -> str:
            value = shown[i].as_py()
            return f"id {ids[i]}: {mapping.time_column} {value!r} is not a time in the format"

    else:
        seconds, given, bad = _time_parts(table, mapping)
        if "day" not in mapping.time_parts:
            precision = np.maximum(precision, _PRECISION_CODE["month"]).astype(np.int8)
        elif "hour" not in mapping.time_parts:
            precision = np.maximum(precision, _PRECISION_CODE["day"]).astype(np.int8)
        missing_rows = ~given
        bad_rows = bad

        def show(i: int) -> str:
            values = {p: table.column(c)[i].as_py() for p, c in mapping.time_parts.items()}
            return f"id {ids[i]}: the time parts {values} are not a date and time"

    rows.reject(missing_rows, RejectionReason.MISSING_TIME, lambda i: f"id {ids[i]}: no time")
    rows.reject(bad_rows, RejectionReason.BAD_TIME, show)
    return np.where(seconds == _MISSING, 0, seconds), precision


def _time_column(raw: pa.Array, mapping: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """Local seconds (``_MISSING`` where not understood) and where a value was given."""
    if pa.types.is_timestamp(raw.type):
        if raw.type.tz is not None:
            raw = pc.local_timestamp(raw)
        seconds = pc.cast(pc.cast(raw, pa.timestamp("s")), pa.int64())
        given = pc.is_valid(raw).to_numpy(zero_copy_only=False)
        return pc.fill_null(seconds, _MISSING).to_numpy(), given
    if pa.types.is_date(raw.type):
        seconds = pc.cast(pc.cast(raw, pa.timestamp("s")), pa.int64())
        given = pc.is_valid(raw).to_numpy(zero_copy_only=False)
        return pc.fill_null(seconds, _MISSING).to_numpy(), given
    text = _as_text(raw)
    given = pc.is_valid(text).to_numpy(zero_copy_only=False)
    parsed = None
    for fmt in mapping.time_formats or (
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d",
    ):
        attempt = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
        parsed = attempt if parsed is None else pc.coalesce(parsed, attempt)
    seconds = pc.cast(parsed, pa.int64())
    return pc.fill_null(seconds, _MISSING).to_numpy(), given


def _time_parts(table: pa.Table, mapping: Mapping) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts = {}
    bad = np.zeros(table.num_rows, dtype=bool)
    for part, column in mapping.time_parts.items():
        numbers, unreadable = _as_number(_array(table, column))
        parts[part] = numbers
        bad |= unreadable
    year, month = parts["year"], parts["month"]
    given = np.isfinite(year) & np.isfinite(month)
    day = parts.get("day", np.ones(table.num_rows))
    hour = np.nan_to_num(parts.get("hour", np.zeros(table.num_rows)), nan=0.0)
    minute = np.nan_to_num(parts.get("minute", np.zeros(table.num_rows)), nan=0.0)
    whole = np.all(
        [
            np.nan_to_num(v, nan=0.0) == np.round(np.nan_to_num(v, nan=0.0))
            for v in (year, month, day, hour, minute)
        ],
        axis=0,
    )
    valid = given & whole & (year >= 1900) & (year <= 2200) & (month >= 1) & (month <= 12)
    valid &= (day >= 1) & (day <= 31) & (hour >= 0) & (hour <= 23) & (minute >= 0) & (minute <= 59)
    y = np.where(valid, year, 1970).astype(np.int64)
    m = np.where(valid, month, 1).astype(np.int64)
    d = np.where(valid, day, 1).astype(np.int64)
    first = ((y - 1970) * 12 + (m - 1)).astype("datetime64[M]")
    days = first.astype("datetime64[D]") + (d - 1)
    valid &= days.astype("datetime64[M]") == first  # 31 April is no day
    seconds = (
        days.astype("datetime64[s]").astype(np.int64)
        + hour.astype(np.int64) * 3600
        + minute.astype(np.int64) * 60
    )
    bad |= given & ~valid
    return np.where(valid, seconds, _MISSING), given, bad


def _truncate(seconds: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Local times cut to their precision: midnight for days, the 1st for months."""
    day = seconds - seconds % 86400
    month = (seconds // 86400).astype("datetime64[D]").astype("datetime64[M]")
    month_start = month.astype("datetime64[s]").astype(np.int64)
    code = _PRECISION_CODE
    return np.where(
        precision == code["month"], month_start, np.where(precision == code["day"], day, seconds)
    )


def _until(start: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Local end of each range (-1 for minute precision)."""
    next_month = (start // 86400).astype("datetime64[D]").astype("datetime64[M]") + 1
    month_end = next_month.astype("datetime64[s]").astype(np.int64)
    code = _PRECISION_CODE
    return np.where(
        precision == code["month"], month_end, np.where(precision == code["day"], start + 86400, -1)
    )


def _to_utc_us(local_seconds: np.ndarray, zone: str) -> np.ndarray:
    """Local wall-clock seconds in ``zone`` as UTC microseconds (the earlier instant where a
    clock change makes a time ambiguous or skips it)."""
    if local_seconds.size == 0:
        return np.zeros(0, dtype=np.int64)
    naive = pa.array(local_seconds, type=pa.int64()).cast(pa.timestamp("s"))
    aware = pc.assume_timezone(naive, timezone=zone, ambiguous="earliest", nonexistent="earliest")
    return pc.cast(aware, pa.int64()).to_numpy().astype(np.int64) * _US_PER_S


# Places and points.


def _marker(array: pa.Array | None, mapping: Mapping, size: int) -> np.ndarray:
    if array is None or not mapping.marker_values:
        return np.zeros(size, dtype=bool)
    return np.array(
        _lookup(_as_text(array), lambda v: v.casefold() in mapping.marker_values, False),
        dtype=bool,
    )


def _points(
    table: pa.Table, mapping: Mapping, rows: _Rows, ids: list[str], marker: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes in WGS84 (NaN where there is no usable point)."""
    size = rows.size
    if not (mapping.x_column and mapping.y_column):
        return np.full(size, np.nan), np.full(size, np.nan)
    x, bad_x = _as_number(_array(table, mapping.x_column))
    y, bad_y = _as_number(_array(table, mapping.y_column))
    rows.reject(
        (bad_x | bad_y) & ~marker,
        RejectionReason.BAD_COORDINATES,
        lambda i: f"id {ids[i]}: {mapping.x_column}/{mapping.y_column} are not numbers",
    )
    zero = (x == 0) & (y == 0)
    rows.reject(
        zero & ~marker,
        RejectionReason.ZERO_COORDINATES,
        lambda i: f"id {ids[i]}: the point is 0, 0",
    )
    usable = np.isfinite(x) & np.isfinite(y) & ~zero & ~bad_x & ~bad_y
    lat = np.full(size, np.nan)
    lon = np.full(size, np.nan)
    crs = pyproj.CRS.from_user_input(mapping.crs)
    if crs.equals(_WGS84, ignore_axis_order=True):
        lon[usable], lat[usable] = x[usable], y[usable]
    else:
        transformer = pyproj.Transformer.from_crs(crs, _WGS84, always_xy=True)
        lon[usable], lat[usable] = transformer.transform(x[usable], y[usable], errcheck=False)
    off_globe = usable & ~(
        np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    )
    rows.reject(
        off_globe & ~marker,
        RejectionReason.BAD_COORDINATES,
        lambda i: f"id {ids[i]}: the point is not on the globe in {mapping.crs}",
    )
    lat[off_globe] = np.nan
    lon[off_globe] = np.nan
    return lat, lon


def _label_areas(
    label: pa.Array | None, code: pa.Array | None, areas: Areas, mapping: Mapping, size: int
) -> np.ndarray:
    """Neighbourhood ids found by the source's area name (through the mapping's
    ``[area_names]``) or code, for rows without a point."""
    found = np.full(size, NO_AREA, dtype=np.int64)
    if not areas.by_label:
        return found

    def area_of(value: str) -> int:
        name = mapping.area_names.get(value.strip().casefold(), value)
        return areas.by_label.get(slugify(name), NO_AREA)

    for text in (code, label):
        if text is not None:
            ids = _lookup_array(text, area_of, NO_AREA, np.int64)
            found = np.where(found >= 0, found, ids)
    return found


def _places(place_text: pa.Array | None, mapping: Mapping, size: int) -> tuple[Coded, Coded]:
    """The public place (kind and label) of each of the ``size`` rows."""
    if place_text is None:
        none = Coded.of([""], np.zeros(size, dtype=np.int64))
        return none, none
    unknown = mapping.unknown_places
    if mapping.address_column or mapping.block_column:
        return _places_from_addresses(place_text, unknown=unknown)
    encoded = pc.dictionary_encode(place_text)
    places = [place_from_label(v, unknown=unknown) for v in encoded.dictionary.to_pylist()]
    indices = pc.fill_null(encoded.indices, len(places)).to_numpy(zero_copy_only=False)
    return (
        Coded.of([*(p.kind for p in places), NO_PLACE.kind], indices),
        Coded.of([*(p.label for p in places), NO_PLACE.label], indices),
    )


# The common shapes of an address, as place_from_address reads them (RE2 syntax).
_RE_SPACES = r"[\s\p{Z}]+"
_RE_BLOCK = r"^\d*X+ .*[A-Z].*$"
_RE_HOUSE = r"^(?P<num>\d{1,15})[A-Z]?(?: ?- ?\d+[A-Z]?)? (?P<street>.*[A-Z].*)$"
_RE_CROSSING = r"/|&|@|\bAND\b"


def places_from_addresses(
    text: pa.Array, *, unknown: frozenset[str] = frozenset()
) -> tuple[list[str], list[str]]:
    """The kind and label of :func:`~watchhouse.crimemap.privacy.place_from_address` for
    every value: computed in Arrow for the common shapes (house number and street, published
    block, street starting with a letter) and by that function itself for the rest
    (intersections, streets that start with a digit), so the answers are the same.

    Each distinct address is read once (a city's addresses repeat: the same blocks, the same
    corners) and its place spread back over the rows; a missing one has no place."""
    kinds, labels = _places_from_addresses(text, unknown=unknown)
    return kinds.values[kinds.indices].tolist(), labels.values[labels.indices].tolist()


def _places_from_addresses(text: pa.Array, *, unknown: frozenset[str]) -> tuple[Coded, Coded]:
    """:func:`places_from_addresses`, coded."""
    encoded = pc.dictionary_encode(pc.cast(text, pa.string()))
    kinds, labels = _distinct_places(encoded.dictionary, unknown)
    indices = pc.fill_null(encoded.indices, len(kinds)).to_numpy(zero_copy_only=False)
    return Coded.of([*kinds, ""], indices), Coded.of([*labels, ""], indices)


def _distinct_places(text: pa.Array, unknown: frozenset[str]) -> tuple[list[str], list[str]]:
    """:func:`places_from_addresses` of each value of ``text``."""
    cleaned = pc.utf8_upper(pc.cast(text, pa.string()))
    cleaned = pc.replace_substring_regex(cleaned, pattern=r"[.#'\"]", replacement="")
    cleaned = pc.replace_substring_regex(cleaned, pattern=_RE_SPACES, replacement=" ")
    cleaned = pc.utf8_trim(cleaned, characters=" ")
    empty = pc.fill_null(
        pc.or_(
            pc.invert(pc.match_substring_regex(cleaned, "[A-Z]")),
            pc.is_in(cleaned, value_set=pa.array(sorted(unknown), type=pa.string())),
        ),
        True,
    )
    block = pc.fill_null(pc.match_substring_regex(cleaned, _RE_BLOCK), False)
    house = pc.extract_regex(cleaned, _RE_HOUSE)
    has_house = pc.fill_null(pc.is_valid(house), False)
    crossing = pc.fill_null(pc.match_substring_regex(cleaned, _RE_CROSSING), False)
    digit = pc.fill_null(pc.starts_with(cleaned, "0"), False)
    for d in "123456789":
        digit = pc.or_(digit, pc.fill_null(pc.starts_with(cleaned, d), False))
    plain = pc.or_(block, has_house)
    fallback = pc.and_(pc.invert(empty), pc.or_(crossing, pc.and_(digit, pc.invert(plain))))
    numbers = pc.cast(pc.if_else(has_house, pc.struct_field(house, "num"), "0"), pa.int64())
    hundreds = pc.cast(pc.divide(numbers, 100), pa.string())
    derived = pc.binary_join_element_wise(
        hundreds, pc.struct_field(house, "street"), "XX ", null_handling="replace"
    )
    kinds = pc.if_else(
        empty, "", pc.if_else(plain, PlaceKind.BLOCK.value, PlaceKind.STREET.value)
    ).to_pylist()
    derived = pc.if_else(block, cleaned, pc.if_else(has_house, derived, cleaned))
    labels = pc.if_else(empty, "", derived).to_pylist()
    rest = np.flatnonzero(fallback.to_numpy(zero_copy_only=False))
    if rest.size:
        slow = _lookup(
            text.take(pa.array(rest)), lambda v: place_from_address(v, unknown=unknown), NO_PLACE
        )
        for i, place in zip(rest.tolist(), slow, strict=True):
            kinds[i], labels[i] = place.kind, place.label  # type: ignore[attr-defined]
    return kinds, labels


def _texts(array: pa.Array | None, heads: np.ndarray) -> Coded:
    """The head rows' values of ``array`` ("" for none), cut to 200 characters, each
    distinct value cut once."""
    if array is None:
        return Coded.of([""], np.zeros(heads.size, dtype=np.int64))
    return _cut(pc.dictionary_encode(array.take(pa.array(heads))))


def _cut(encoded: pa.DictionaryArray) -> Coded:
    """Dictionary-encoded text, each value cut to 200 characters ("" for none)."""
    values = [(v or "")[:200] for v in encoded.dictionary.to_pylist()]
    indices = pc.fill_null(encoded.indices, len(values)).to_numpy(zero_copy_only=False)
    return Coded.of([*values, ""], indices)


# Offences.


@dataclass
class _Offences:
    combination: np.ndarray  # per row: which distinct combination of offence values
    coding: dict[str, np.ndarray]  # category, nibrs, against -> value per combination
    label: Coded  # per row
    rank: np.ndarray
    firearm: np.ndarray
    withheld: np.ndarray
    by_rule: np.ndarray
    by_category: np.ndarray
    by_nibrs: np.ndarray

    def pick(self, name: str, rows: np.ndarray) -> Coded:
        """The ``name`` coding (category, nibrs or against) of each of ``rows``."""
        return Coded(self.coding[name], self.combination[rows])


def _offences(
    table: pa.Table, mapping: Mapping, policy: PrivacyPolicy, rows: _Rows, ids: list[str]
) -> _Offences:
    size = rows.size
    keys = [_as_text(_array(table, c)) for c in mapping.offence_columns]
    nibrs_text = _as_text(_array(table, mapping.nibrs_column)) if mapping.nibrs_column else None
    # The NIBRS column, when it is not one of the key columns, is part of what is shown.
    extra = nibrs_text if mapping.nibrs_column not in mapping.offence_columns else None
    # One integer per distinct combination of key values (and NIBRS code).
    parts = [pc.dictionary_encode(k) for k in keys]
    if nibrs_text is not None:
        parts.append(pc.dictionary_encode(nibrs_text))
    combined = np.zeros(size, dtype=np.int64)
    for part in parts:
        width = len(part.dictionary) + 1
        combined = combined * width + (pc.fill_null(part.indices, -1).to_numpy() + 1)
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    dictionaries = [p.dictionary.to_pylist() for p in parts]
    indices = [pc.fill_null(p.indices, -1).to_numpy() for p in parts]

    resolved: list[tuple[str, str, str, bool, bool, bool, bool, bool]] = []
    for row in first:
        values = [
            dictionaries[n][indices[n][row]] if indices[n][row] >= 0 else ""
            for n in range(len(parts))
        ]
        key, code = values[: len(keys)], (values[len(keys)] if nibrs_text is not None else "")
        resolved.append(_resolve(mapping.rule_for(tuple(key)), code.upper(), policy, key))
    category = [r[0] for r in resolved]
    nibrs = [r[1] for r in resolved]
    against = [r[2] for r in resolved]
    unknown = np.array([r[3] for r in resolved], dtype=bool)[inverse]
    empty = np.array([r[7] for r in resolved], dtype=bool)[inverse]
    rows.reject(
        empty,
        RejectionReason.NO_OFFENCE,
        lambda i: f"id {ids[i]}: {', '.join(mapping.offence_columns)} empty",
    )
    rows.reject(
        unknown,
        RejectionReason.UNKNOWN_OFFENCE,
        lambda i: f"id {ids[i]}: offence {_key_text(keys, extra, i)} is not in the mapping",
    )
    labels = [_as_text(_array(table, c)) for c in mapping.label_columns]
    joined = (
        labels[0]
        if len(labels) == 1
        else pc.binary_join_element_wise(*labels, ": ", null_handling="skip")
    )
    label = _cut(pc.dictionary_encode(joined))
    ranks = np.array([CATEGORY_RANK.get(c, len(CATEGORY_RANK)) for c in category])[inverse]
    by_rule = np.array([r[4] for r in resolved], dtype=bool)[inverse]
    by_category = np.array([r[5] for r in resolved], dtype=bool)[inverse]
    by_nibrs = np.array([r[6] for r in resolved], dtype=bool)[inverse]
    firearm = _flag(
        _array(table, mapping.firearm_column) if mapping.firearm_column else None, mapping, size
    )
    return _Offences(
        combination=inverse.ravel(),
        coding={
            "category": np.array(category, dtype=object),
            "nibrs": np.array(nibrs, dtype=object),
            "against": np.array(against, dtype=object),
        },
        label=label,
        rank=ranks,
        firearm=firearm,
        withheld=by_rule | by_category | by_nibrs,
        by_rule=by_rule,
        by_category=by_category,
        by_nibrs=by_nibrs,
    )


def _pick(values: list[str], rows: np.ndarray) -> list[str]:
    """``values[i]`` for each ``i`` of ``rows``, taken in C rather than one by one."""
    return np.array(values, dtype=object)[rows].tolist()


def _resolve(
    rule: OffenceRule | None, code: str, policy: PrivacyPolicy, key: list[str]
) -> tuple[str, str, str, bool, bool, bool, bool, bool]:
    """(category, nibrs, against, unknown, withheld by rule, by category, by NIBRS code,
    empty) for one combination of offence values."""
    if not any(key) and not code:
        return Category.OTHER.value, "", "", False, False, False, False, True
    nibrs = rule.nibrs if rule is not None and rule.nibrs else (code if code in NIBRS else "")
    if rule is not None:
        category = rule.category
    elif nibrs:
        category = str(NIBRS[nibrs].category)
    else:
        return Category.OTHER.value, "", "", True, False, False, False, False
    if rule is not None and rule.against is not None:
        against = rule.against
    else:
        against = NIBRS[nibrs].against if nibrs else ""
    return (
        category,
        nibrs,
        against,
        False,
        bool(rule is not None and rule.withhold),
        category in policy.withheld_categories,
        nibrs in policy.withheld_nibrs,
        False,
    )


def _key_text(keys: list[pa.Array], nibrs: pa.Array | None, i: int) -> str:
    values = [k[i].as_py() or "" for k in keys] + ([nibrs[i].as_py() or ""] if nibrs else [])
    return repr(" | ".join(values))


# Incidents.


def _group(
    mapping: Mapping,
    rows: _Rows,
    ids: list[str],
    start: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    place: pa.Array | None,
    area: pa.Array | None,
    marker: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's incident number and each incident's head row (its first good row).

    Rows sharing an id are one incident's offences when the mapping says ``rows =
    "offence"``; a row whose time or place differs from its head's is rejected. Otherwise a
    repeated id is rejected as a duplicate.
    """
    good = np.flatnonzero(rows.ok)
    if good.size == 0:
        return np.full(rows.size, -1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    encoded = pc.dictionary_encode(pa.array(_pick(ids, good), type=pa.string()))
    code = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    first = _first_rows(code, len(encoded.dictionary))
    head_of = good[first][code]
    repeated = head_of != good
    if mapping.rows == "offence":
        # The same point is the same place, however its address was typed.
        fields = [start, _hash(lat), _hash(lon), marker.astype(np.int64)]
        if area is not None:
            fields.append(_hash(area))
        differs = np.zeros(good.size, dtype=bool)
        for values in fields:
            differs |= values[good] != values[head_of]
        conflicting = np.zeros(rows.size, dtype=bool)
        conflicting[good[repeated & differs]] = True
        rows.reject(
            conflicting,
            RejectionReason.CONFLICTING_ROW,
            lambda i: f"id {ids[i]}: an earlier row with this id has another time or place",
        )
    else:
        duplicate = np.zeros(rows.size, dtype=bool)
        duplicate[good[repeated]] = True
        rows.reject(
            duplicate,
            RejectionReason.DUPLICATE_ID,
            lambda i: f"id {ids[i]}: an earlier row has the same id",
        )
    # The distinct head rows in file order (a mask, not a sort).
    is_head = np.zeros(rows.size, dtype=bool)
    is_head[head_of[rows.ok[good]]] = True
    heads = np.flatnonzero(is_head)
    incident_of = np.full(rows.size, -1, dtype=np.int64)
    incident_of[heads] = np.arange(heads.size)
    incident_of[good] = incident_of[head_of]
    incident_of[~rows.ok] = -1
    return incident_of, heads


def _first_rows(code: np.ndarray, count: int) -> np.ndarray:
    """The row where each of the ``count`` dictionary codes first appears, by code.

    Arrow numbers a dictionary's values in the order they first appear, so those rows are
    where the code passes every code before it; checked, with sorting as the fallback.
    """
    if code.size:
        seen = np.maximum.accumulate(code)
        fresh = np.concatenate(([True], code[1:] > seen[:-1]))
        first = np.flatnonzero(fresh)
        if first.size == count and np.array_equal(code[first], np.arange(count)):
            return first
    return np.unique(code, return_index=True)[1]


def _argmin_per_group(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Offset of the smallest value in each group (the first on a tie)."""
    group = np.repeat(np.arange(starts.size), counts)
    order = np.lexsort((np.arange(values.size), values, group))
    first = order[np.concatenate(([0], np.cumsum(counts)[:-1]))]
    return first - starts


def _digest(result: Normalised, rows: np.ndarray) -> np.ndarray:
    """The digests of incidents ``rows`` (see :meth:`Normalised.digests`), as int64."""
    columns: list[np.ndarray] = [
        result.hashes(name, rows)
        for name in (
            "precision", "category", "nibrs", "against", "label", "address",
            "withheld_reason", "place_kind", "place_label", "area_label", "area_code",
        )
    ]  # fmt: skip
    columns += [
        values[rows]
        for values in (
            result.occurred_us, result.until_us, result.offence_count, result.firearm,
            result.domestic, result.lat, result.lon, *result.areas.values(),
        )
    ]  # fmt: skip
    digest = _hash_rows(columns, rows.size)
    # The incidents' offences, incident by incident (each has at least one; the offences
    # are grouped by incident, in incident order).
    sizes = result.offence_count[rows]
    starts = np.cumsum(sizes) - sizes
    first = np.searchsorted(result.offence_incident, rows)
    which = np.arange(int(sizes.sum())) + np.repeat(first - starts, sizes)
    offence_columns: list[np.ndarray] = [
        result.hashes(name, which)
        for name in ("offence_category", "offence_nibrs", "offence_against", "offence_label")
    ]
    offence_columns += [
        result.offence_position[which],
        result.offence_firearm[which],
        result.offence_withheld[which].astype(np.int64),
    ]
    per_offence = _hash_rows(offence_columns, which.size)
    # Their sum per incident (modulo 2**64: the order of the offences does not matter).
    total = np.add.reduceat(per_offence, starts) if rows.size else per_offence[:0]
    return _mix(digest, total).view(np.int64)


def _collect_rejections(result: Normalised, rows: _Rows, ids: list[str]) -> None:
    rejected = np.flatnonzero(rows.reason)
    codes = rows.reason[rejected]
    for code, count in zip(*np.unique(codes, return_counts=True), strict=True):
        result.rejected_by_reason[_REASONS[int(code) - 1].value] = int(count)
    for i in rejected:
        detail = rows.details.get(int(i))
        if detail is not None:
            result.rejections.append(
                Rejection(
                    row=int(i) + rows.row_base,
                    record_id=ids[int(i)][:100],
                    reason=_REASONS[int(rows.reason[i]) - 1].value,
                    detail=detail[:300],
                )
            )
