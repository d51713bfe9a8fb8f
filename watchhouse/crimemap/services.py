"""Importing incident files. ``actor=None`` means the command line.

:func:`incidents_import` reads a file in a built-in format or through a mapping file,
normalises it (:mod:`.normalise`), applies the privacy rules (:mod:`.privacy`) and upserts the
incidents by source id, all in one transaction with its :class:`ImportReport` and audit entry:
a file either imports (its bad rows listed in the report) or changes nothing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

import h3
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from watchhouse.accounts.roles import Role, require_role
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError
from watchhouse.crimemap import store
from watchhouse.crimemap.formats import MAPPING_FORMAT, format_get
from watchhouse.crimemap.mappings import Mapping, mapping_read
from watchhouse.crimemap.models import (
    HundredBlock,
    ImportRejection,
    ImportReport,
    Incident,
    IncidentSource,
    Offence,
)
from watchhouse.crimemap.normalise import AREA_KINDS, Areas, Normalised, incidents_normalise
from watchhouse.crimemap.privacy import (
    OFFSET_RESOLUTION,
    PlaceKind,
    PrivacyPolicy,
    privacy_policy,
)
from watchhouse.crimemap.readers import incidents_file_read
from watchhouse.crimemap.states import IncidentState, transition_check
from watchhouse.geo.models import Area, Jurisdiction
from watchhouse.geo.points import CELL_RESOLUTION
from watchhouse.geo.selectors import area_index, area_kind_counts

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

T = TypeVar("T")

# Roles that may import incidents.
IMPORT_ROLES = (Role.ANALYST, Role.ADMIN)
# Incidents turned into rows at a time (bounds the memory a large file needs).
WRITE_BATCH = 50_000
# Rejected rows kept one by one per report (every rejection is counted by reason).
MAX_REJECTIONS_KEPT = 1000

# What an import writes of each incident (the same for every incident of an import:
# Writer._fixed).
INCIDENT_FIELDS = (
    "occurred_at", "occurred_until", "precision", "occurred_date", "category", "nibrs_code",
    "crimes_against", "offence_label", "offence_count", "firearm", "domestic", "exact_address",
    "exact_lat", "exact_lon", "withheld", "withheld_reason", "public_place",
    "public_place_kind", "public_lat", "public_lon", "public_h3", "block", "neighbourhood",
    "beat", "district", "ward", "area_label", "area_code", "digest",
)  # fmt: skip
OFFENCE_FIELDS = (
    "incident", "position", "category", "nibrs_code", "crimes_against", "label", "firearm",
    "withheld",
)  # fmt: skip
BLOCK_FIELDS = (
    "point_count", "sum_lat", "sum_lon", "min_lat", "min_lon", "max_lat", "max_lon", "lat",
    "lon", "h3", "updated_at",
)  # fmt: skip


def incidents_import(
    *,
    actor: User | None,
    path: Path,
    format: str,
    mapping: Path | None = None,
    jurisdiction: str | None = None,
    source: str | None = None,
    since: date | None = None,
    withdraw_missing: bool = False,
    file_name: str | None = None,
) -> ImportReport:
    """Create, update or withdraw the incidents of one file, and report what was done.

    ``format`` is a built-in format or ``"mapping"`` with ``mapping`` a mapping file. Rows
    are matched to stored incidents by source id within ``source`` (default: the format's
    name) of ``jurisdiction`` (default: the only one; created when named and new), so
    importing the same file again changes nothing and a corrected row updates its incident in
    place. ``since`` imports only rows from that local date on; ``withdraw_missing`` marks
    the source's incidents that the file (a full export) no longer holds as withdrawn.

    A file of the wrong kind or without the mapping's columns raises
    :class:`InvalidInputError` and changes nothing; bad rows are rejected one by one and
    listed in the report while the rest imports, in one transaction. Once it commits, a task
    rebuilds the source's pre-aggregated counts for the statistics.
    """
    if actor is not None:
        require_role(actor, *IMPORT_ROLES, action="import incidents")
    if withdraw_missing and since is not None:
        raise InvalidInputError(
            "--withdraw-missing needs a full export, so it cannot be combined with --since."
        )
    chosen = _mapping_for(format, mapping)
    shown = (file_name or path.name)[:255]
    started_at = timezone.now()
    clock = time.perf_counter()
    table, row_base = incidents_file_read(path, chosen, shown=shown)
    with path.open("rb") as handle:
        sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
    policy = privacy_policy()
    place = _jurisdiction_find(jurisdiction)
    areas = _areas(place)
    normalised = incidents_normalise(
        table, chosen, areas=areas, policy=policy, since=since, row_base=row_base
    )
    del table
    warnings = []
    if not areas.indexes:
        warnings.append(
            "The jurisdiction has no areas: incidents keep the source's area names only, and "
            "points were not checked against the jurisdiction (import areas with import-areas)."
        )

    with store.bulk_writes(), transaction.atomic():
        if place is None:
            place = _jurisdiction_create(jurisdiction or "")
        # Imports into one jurisdiction take turns: they share its hundred blocks.
        place = Jurisdiction.objects.select_for_update().get(pk=place.pk)
        feed = _source_lock(place, source or chosen.name, chosen.name)
        report = ImportReport.objects.create(
            source=feed, actor=actor, file_name=shown, file_sha256=sha256,
            format=chosen.name if format != MAPPING_FORMAT else f"mapping {chosen.name}",
            mapping=chosen.text, since=since, withdraw_missing=withdraw_missing,
            started_at=started_at, seconds=0.0, rows_read=normalised.rows_read,
            rows_skipped=normalised.rows_skipped, rows_rejected=normalised.rows_rejected,
            incidents_created=0, incidents_updated=0, incidents_unchanged=0,
            incidents_withdrawn=0, offences_written=0,
            rejected_by_reason=normalised.rejected_by_reason, warnings=warnings,
        )  # fmt: skip
        writer = _Writer(
            report=report, feed=feed, place=place, data=normalised, mapping=chosen, policy=policy
        )
        writer.write()
        if withdraw_missing:
            writer.withdraw_missing()
        ImportRejection.objects.bulk_create(
            [
                ImportRejection(
                    report=report, row=r.row, record_id=r.record_id, reason=r.reason,
                    detail=r.detail,
                )
                for r in sorted(normalised.rejections, key=lambda r: r.row)[:MAX_REJECTIONS_KEPT]
            ],
            batch_size=500,
        )  # fmt: skip
        report.seconds = round(time.perf_counter() - clock, 3)
        report.save()
        audit_record(
            actor=actor,
            action="crimemap.incidents_import",
            obj=report,
            data={
                "source": feed.slug,
                "jurisdiction": place.slug,
                "file": shown,
                "sha256": sha256,
                "format": report.format,
                "since": since,
                "withdraw_missing": withdraw_missing,
                "rows_read": report.rows_read,
                "rows_skipped": report.rows_skipped,
                "rows_rejected": report.rows_rejected,
                "created": report.incidents_created,
                "updated": report.incidents_updated,
                "unchanged": report.incidents_unchanged,
                "withdrawn": report.incidents_withdrawn,
                "rejected_by_reason": report.rejected_by_reason,
            },
        )

        def refresh_counts() -> None:
            # The statistics read pre-aggregated counts; they follow within the worker's
            # reach rather than holding up the import (see crimemap/rollups.py).
            from watchhouse.crimemap.tasks import rollups_refresh_task

            rollups_refresh_task.enqueue(feed.pk)

        transaction.on_commit(refresh_counts)
    return report


def _mapping_for(format: str, mapping: Path | None) -> Mapping:
    if format == MAPPING_FORMAT:
        if mapping is None:
            raise InvalidInputError(
                "The mapping format needs a mapping file (--mapping FILE.toml)."
            )
        return mapping_read(mapping)
    if mapping is not None:
        raise InvalidInputError(
            f"A mapping file goes with --format {MAPPING_FORMAT}, not {format}."
        )
    return format_get(format)


def _cells(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """The H3 cell of each point, computed once per distinct point."""
    pairs, inverse = _distinct_points(lat, lon)
    cells = np.array([_cell(a, b) for a, b in pairs], dtype=object)
    return cells[inverse]


def _offsets(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The offset point (and its H3 cell) of each point: :func:`.privacy.offset_point` once per
    distinct offset cell, after finding each distinct point's offset cell (many points share
    one)."""
    pairs, inverse = _distinct_points(lat, lon)
    to_cell = h3.latlng_to_cell
    offset_cells = pc.dictionary_encode(
        pa.array([to_cell(a, b, OFFSET_RESOLUTION) for a, b in pairs], type=pa.string())
    )
    which = offset_cells.indices.to_numpy(zero_copy_only=False)
    centres = [h3.cell_to_latlng(c) for c in offset_cells.dictionary.to_pylist()]
    o_lat = np.array([float(c[0]) for c in centres])
    o_lon = np.array([float(c[1]) for c in centres])
    cells = np.array(
        [_cell(a, b) for a, b in zip(o_lat.tolist(), o_lon.tolist(), strict=True)], dtype=object
    )
    per_point = which[inverse]
    return o_lat[per_point], o_lon[per_point], cells[per_point]


def _distinct_points(
    lat: np.ndarray, lon: np.ndarray
) -> tuple[list[tuple[float, float]], np.ndarray]:
    """The distinct (lat, lon) points and, per point, which of them it is. Sorting the
    points as complex numbers is several times faster than ``np.unique(axis=0)``."""
    unique, inverse = np.unique(lat + 1j * lon, return_inverse=True)
    return list(zip(unique.real.tolist(), unique.imag.tolist(), strict=True)), inverse.ravel()


def _jurisdiction_find(name: str | None) -> Jurisdiction | None:
    """The named jurisdiction (None if it is new), or the only one there is."""
    if name:
        slug = slugify(name)
        if not slug:
            raise InvalidInputError(f"The jurisdiction name {name!r} has no letters or digits.")
        return Jurisdiction.objects.filter(slug=slug).first()
    existing = list(Jurisdiction.objects.order_by("slug")[:3])
    if len(existing) == 1:
        return existing[0]
    if not existing:
        raise InvalidInputError(
            "There is no jurisdiction yet: import its areas first (import-areas), or name one "
            "with --jurisdiction."
        )
    raise InvalidInputError(
        f"There are several jurisdictions ({', '.join(j.slug for j in existing)}, …); say "
        "which one the incidents belong to (--jurisdiction)."
    )


def _jurisdiction_create(name: str) -> Jurisdiction:
    jurisdiction, _ = Jurisdiction.objects.get_or_create(
        slug=slugify(name), defaults={"name": name.strip()}
    )
    return jurisdiction


def _areas(place: Jurisdiction | None) -> Areas:
    if place is None:
        return Areas(indexes={}, by_label={})
    kinds = [k for k in area_kind_counts(jurisdiction=place) if k in AREA_KINDS]
    indexes = {kind: area_index(kind=kind, jurisdiction=place) for kind in kinds}
    by_label: dict[str, int] = {}
    rows = Area.objects.filter(jurisdiction=place, kind="neighbourhood").values_list(
        "id", "slug", "code"
    )
    for pk, slug, _code in rows:
        by_label[slug] = pk
    for pk, _slug, code in rows:
        if code and slugify(code) not in by_label:
            by_label[slugify(code)] = pk
    return Areas(indexes=indexes, by_label=by_label)


def _source_lock(place: Jurisdiction, name: str, format_name: str) -> IncidentSource:
    """The source, created if new, locked so imports into it take turns."""
    slug = slugify(name)[:100]
    if not slug:
        raise InvalidInputError(f"The source name {name!r} has no letters or digits.")
    feed, _ = IncidentSource.objects.get_or_create(
        jurisdiction=place, slug=slug, defaults={"name": name[:200], "format": format_name}
    )
    feed = IncidentSource.objects.select_for_update().get(pk=feed.pk)
    if feed.format != format_name:
        feed.format = format_name
        feed.save(update_fields=["format", "updated_at"])
    return feed


@dataclass
class _Blocks:
    """The blocks this import's shown incidents are at, by position in ``names``, with the
    stored id and public point of each (NaN/"" where there is none yet)."""

    names: list[str]
    pk: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    h3: np.ndarray
    moved: list[tuple[float, float, str, int]]  # (lat, lon, h3, id) of stored blocks that moved
    written: np.ndarray  # the ids of the blocks this import inserted or updated


class _BlockPlan(NamedTuple):
    """The blocks' public points (by position in the names) and the rows that store them."""

    lat: np.ndarray
    lon: np.ndarray
    h3: np.ndarray
    touched: np.ndarray  # the blocks this import adds points to
    added: list[int]  # those of them not stored yet
    inserts: list[tuple[Any, ...]]
    updates: list[tuple[Any, ...]]
    moved: list[tuple[float, float, str, int]]  # (lat, lon, h3, id) of stored blocks that moved


def _table(columns: list[pa.Array]) -> pa.Table:
    """Columns as a table for :func:`store.rows_insert` (which reads them by position)."""
    return pa.Table.from_arrays(columns, names=[str(k) for k in range(len(columns))])


def _cell(lat: float, lon: float) -> str:
    return str(h3.latlng_to_cell(lat, lon, CELL_RESOLUTION))


_BLOCK_KINDS = (PlaceKind.BLOCK.value, PlaceKind.INTERSECTION.value)


@dataclass(frozen=True)
class _Public:
    """What the public sees of each incident of the file (arrays by incident)."""

    lat: np.ndarray
    lon: np.ndarray
    h3: np.ndarray
    block: np.ndarray
    withheld: np.ndarray
    place_label: np.ndarray
    place_kind: np.ndarray
    # Whether every block the written incidents are at is one this import wrote.
    blocks_written_here: bool


class _Writer:
    """Writes one normalised file inside the import's transaction."""

    def __init__(
        self,
        *,
        report: ImportReport,
        feed: IncidentSource,
        place: Jurisdiction,
        data: Normalised,
        mapping: Mapping,
        policy: PrivacyPolicy,
    ) -> None:
        self.report = report
        self.feed = feed
        self.place = place
        self.data = data
        self.mapping = mapping
        self.policy = policy
        self.now = timezone.now()
        self.now_db = store.now_adapted(self.now)
        self.existing: dict[str, tuple[int, int, str]] = {}

    def write(self) -> None:
        data = self.data
        self.existing = {
            sid: (pk, digest, state)
            for sid, pk, digest, state in Incident.objects.filter(source=self.feed).values_list(
                "record_id", "id", "digest", "state"
            )
        }
        new, changed = self._sort_out()
        report = self.report
        report.incidents_created = len(new)
        report.incidents_updated = len(changed)
        report.incidents_unchanged = len(data) - len(new) - len(changed)
        written = np.array(new + changed, dtype=np.int64)
        if written.size == 0:
            return
        # Every written incident's id is known before any incident is stored, so that the
        # offences can go first, while the blocks are worked out (see _blocks).
        db_id = np.full(len(data), -1, dtype=np.int64)
        db_id[new] = store.ids_reserve(Incident, len(new))
        if changed:
            db_id[changed] = [self.existing[data.record_id[i]][0] for i in changed]
            for chunk in store.chunks(db_id[changed].tolist()):
                Offence.objects.filter(incident_id__in=chunk).delete()
        public = self._public(written, db_id)
        fields = ("id", "record_id", *INCIDENT_FIELDS)
        created = {
            "jurisdiction": self.place.pk, "source": self.feed.pk, "created_at": self.now_db,
            **self._fixed(),
        }  # fmt: skip
        if store.copies_columns():
            record_ids = pa.array(data.record_id, type=pa.string())
            # In tables of one COPY batch: the server starts on the first while the next
            # are made.
            store.tables_insert(
                Incident,
                fields,
                (
                    _table(
                        [
                            pa.array(db_id[rows], type=pa.int64()),
                            record_ids.take(rows),
                            *self._arrow_columns(rows, public),
                        ]
                    )
                    for rows in (
                        np.array(batch, dtype=np.int64)
                        for batch in store.chunks(new, store.COPY_BATCH_ROWS)
                    )
                ),
                fixed=created,
                # Blocks this import wrote exist, and stay until it commits: not checked.
                written_here=("block",) if public.blocks_written_here else (),
            )
        else:
            listed = np.array(data.record_id, dtype=object)
            for batch in store.chunks(new, WRITE_BATCH):
                columns = self._columns(np.array(batch, dtype=np.int64), public)
                store.rows_insert(
                    Incident,
                    fields,
                    zip(db_id[batch].tolist(), listed[batch].tolist(), *columns, strict=True),
                    fixed=created,
                )
        if changed:
            for batch in store.chunks(changed, WRITE_BATCH):
                columns = self._columns(np.array(batch, dtype=np.int64), public)
                store.rows_update(
                    Incident,
                    INCIDENT_FIELDS,
                    list(zip(*columns, db_id[batch].tolist(), strict=True)),
                    fixed=self._fixed(),
                )

    def _sort_out(self) -> tuple[list[int], list[int]]:
        """The file's new incidents (in source id order) and its changed ones."""
        data = self.data
        if not self.existing:
            record_ids = pa.array(data.record_id, type=pa.string())
            # In id order the unique (source, record_id) index grows at its end: much faster.
            return pc.array_sort_indices(record_ids).to_numpy().tolist(), []
        new: list[int] = []
        stored: list[int] = []
        for i, sid in enumerate(data.record_id):
            (stored if sid in self.existing else new).append(i)
        new.sort(key=data.record_id.__getitem__)
        # Only the stored incidents' digests are made here; the new ones' as they are written.
        active = IncidentState.ACTIVE
        changed = [
            i
            for i, digest in zip(
                stored, data.digests(np.array(stored, dtype=np.int64)).tolist(), strict=True
            )
            if self.existing[data.record_id[i]][1:] != (digest, active)
        ]
        return new, changed

    def _blocks(
        self,
        written: np.ndarray,
        shown: np.ndarray,
        code: np.ndarray,
        names: list[str],
        db_id: np.ndarray,
    ) -> _Blocks:
        """Add the exact points of this import's shown incidents to their blocks (stored as
        running sums), store the blocks, and give every incident of a block whose point
        moved the new point.

        The written incidents' offences (their incidents' ids in ``db_id``) go to the
        database while the blocks' sums and points are worked out: neither needs the other,
        and the server stores the one while this process does the other."""
        data = self.data
        wanted = np.unique(code[written][shown[written]])
        wanted = wanted[wanted >= 0]
        size = len(names)
        pk = np.full(size, -1, dtype=np.int64)
        count = np.zeros(size, dtype=np.int64)
        sums = np.zeros((2, size))
        low = np.full((2, size), np.inf)
        high = np.full((2, size), -np.inf)
        stored: dict[int, tuple[float, float, str]] = {}
        by_name = {names[c]: c for c in wanted.tolist()}
        fields = ("id", "name", *BLOCK_FIELDS[:-1])
        for row in self._stored_blocks(by_name, fields):
            if row[1] in by_name:
                c = by_name[row[1]]
                pk[c], count[c] = row[0], row[2]
                sums[:, c] = row[3:5]
                low[:, c] = row[5:7]
                high[:, c] = row[7:9]
                stored[c] = (row[9], row[10], row[11])

        def plan() -> _BlockPlan:
            adds = written[shown[written] & np.isfinite(data.lat[written])]
            if self.mapping.points_anonymised:
                adds = adds[:0]
            c_add = code[adds]
            count[:] += np.bincount(c_add, minlength=size)
            for axis, values in enumerate((data.lat[adds], data.lon[adds])):
                sums[axis] += np.bincount(c_add, weights=values, minlength=size)
                np.minimum.at(low[axis], c_add, values)
                np.maximum.at(high[axis], c_add, values)
            lat = np.full(size, np.nan)
            lon = np.full(size, np.nan)
            cell = np.full(size, "", dtype=object)
            for c, point in stored.items():
                lat[c], lon[c], cell[c] = point
            # The kind of each place: that of its last incident, found without a loop over them.
            last = code.size - 1 - np.unique(code[::-1], return_index=True)[1]
            kinds = dict(zip(code[last].tolist(), data.strings("place_kind", last), strict=True))
            touched = np.unique(c_add)
            shown_at = self._representative(
                count[touched], sums[:, touched], low[:, touched], high[:, touched]
            )
            columns: list[np.ndarray] = [
                count[touched], sums[0, touched], sums[1, touched], low[0, touched],
                low[1, touched], high[0, touched], high[1, touched], *shown_at,
            ]  # fmt: skip
            fresh = pk[touched] < 0
            added = touched[fresh].tolist()
            inserts = list(
                zip(
                    repeat(self.place.pk), [names[c][:200] for c in added],
                    [kinds[c] for c in added], repeat(self.now_db),
                    *(v[fresh].tolist() for v in columns), repeat(self.now_db),
                )
            )  # fmt: skip
            updates: list[tuple[Any, ...]] = []
            moved: list[tuple[float, float, str, int]] = []
            kept = ~fresh
            for c, block_pk, *values in zip(
                touched[kept].tolist(),
                pk[touched[kept]].tolist(),
                *(v[kept].tolist() for v in columns),
                strict=True,
            ):
                updates.append((*values, self.now_db, block_pk))
                if stored.get(c) != tuple(values[-3:]):
                    moved.append((*values[-3:], block_pk))
            lat[touched], lon[touched], cell[touched] = shown_at
            return _BlockPlan(lat, lon, cell, touched, added, inserts, updates, moved)

        planned = self._offences(written, db_id, meanwhile=plan)
        added = planned.added
        pk[added] = store.ids_reserve(HundredBlock, len(added))
        store.rows_insert(
            HundredBlock,
            ("id", "jurisdiction", "name", "kind", "created_at", *BLOCK_FIELDS),
            [
                (block_pk, *values)
                for block_pk, values in zip(pk[added].tolist(), planned.inserts, strict=True)
            ],
        )
        store.rows_update(HundredBlock, BLOCK_FIELDS, planned.updates)
        # Every shown incident at a block whose point moved gets the new point.
        store.rows_update_joined(
            Incident, ("public_lat", "public_lon", "public_h3"), planned.moved, "block"
        )
        return _Blocks(
            names=names,
            pk=pk,
            lat=planned.lat,
            lon=planned.lon,
            h3=planned.h3,
            moved=planned.moved,
            written=pk[planned.touched],
        )

    def _representative(
        self, count: np.ndarray, sums: np.ndarray, low: np.ndarray, high: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The public point (lat, lon, H3 cell) of blocks with ``count`` points whose
        coordinates add up to ``sums`` within the box ``low``-``high`` (each as lat and lon
        rows): the mean of their points once there are enough of them in more than one
        place, else the mean's offset point (see :mod:`.privacy`)."""
        lat, lon = sums[0] / count, sums[1] / count
        spread = (high[0] > low[0]) | (high[1] > low[1])
        exact = spread & (count >= self.policy.block_min_points)
        cell = np.empty(count.size, dtype=object)
        if exact.any():
            cell[exact] = _cells(lat[exact], lon[exact])
        offset = ~exact
        if offset.any():
            lat[offset], lon[offset], cell[offset] = _offsets(lat[offset], lon[offset])
        return lat, lon, cell

    def _stored_blocks(self, by_name: dict[str, int], fields: tuple[str, ...]) -> Iterator[Any]:
        """The jurisdiction's stored blocks among ``by_name`` (``fields`` of each), and
        perhaps others: all of them in one query when there are not many more than the
        file's (a first import finds none), else by lists of names."""
        blocks = HundredBlock.objects.filter(jurisdiction=self.place).order_by()
        if blocks.count() <= 2 * len(by_name):
            yield from blocks.values_list(*fields)
            return
        for chunk in store.chunks(sorted(by_name)):
            yield from blocks.filter(name__in=chunk).values_list(*fields)

    def _public(self, written: np.ndarray, db_id: np.ndarray) -> _Public:
        """The public place and point the privacy rules give each written incident (and its
        offences stored, see :meth:`_blocks`)."""
        data = self.data
        size = len(data)
        reason = data.coded("withheld_reason")
        withheld = (reason.values != "")[reason.indices]
        kind = data.coded("place_kind")
        kind = kind.values[kind.indices]
        label = data.coded("place_label")
        # The distinct labels (a label may be among the values more than once).
        encoded = pc.dictionary_encode(pa.array(label.values, type=pa.string()))
        code = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)[label.indices]
        names = encoded.dictionary.to_pylist()
        blockish = np.zeros(size, dtype=bool)
        for block_kind in _BLOCK_KINDS:
            blockish |= kind == block_kind
        blockish &= ~withheld
        lat, lon = data.lat, data.lon
        has_point = np.isfinite(lat)
        blocks = self._blocks(written, blockish, code, names, db_id)

        pub_lat = np.full(size, np.nan)
        pub_lon = np.full(size, np.nan)
        pub_h3 = np.full(size, "", dtype=object)
        block_pk = np.full(size, -1, dtype=np.int64)
        # An incident without an exact point is known only by its area: no point for it.
        at_block = blockish & has_point & np.isfinite(blocks.lat[np.maximum(code, 0)])
        block_pk[at_block] = blocks.pk[code[at_block]]
        if self.mapping.points_anonymised:
            direct = ~withheld & has_point
            pub_lat[direct], pub_lon[direct] = lat[direct], lon[direct]
            pub_h3[direct] = _cells(lat[direct], lon[direct])
            at_block &= ~direct
        pub_lat[at_block] = blocks.lat[code[at_block]]
        pub_lon[at_block] = blocks.lon[code[at_block]]
        pub_h3[at_block] = blocks.h3[code[at_block]]
        in_file = np.zeros(size, dtype=bool)
        in_file[written] = True
        offset = in_file & ~withheld & has_point & np.isnan(pub_lat)
        if offset.any():
            pub_lat[offset], pub_lon[offset], pub_h3[offset] = _offsets(lat[offset], lon[offset])
        place_label = np.where(withheld, "", label.values[label.indices])
        place_kind = np.where(withheld, "", kind)
        at = block_pk[written]
        return _Public(
            lat=pub_lat, lon=pub_lon, h3=pub_h3, block=block_pk, withheld=withheld,
            place_label=place_label, place_kind=place_kind,
            blocks_written_here=bool(np.isin(at[at >= 0], blocks.written).all()),
        )  # fmt: skip

    def _columns(self, written: np.ndarray, public: _Public) -> list[list[Any]]:
        """The database values of INCIDENT_FIELDS, column by column, for ``written``."""
        data = self.data
        lat, lon = data.lat, data.lon
        text = data.strings
        return [
            store.datetimes_adapt(data.occurred_us[written]),
            store.datetimes_adapt(data.until_us[written]),
            text("precision", written),
            store.dates_adapt(data.local_date[written]),
            text("category", written),
            text("nibrs", written),
            text("against", written),
            text("label", written),
            data.offence_count[written].tolist(),
            store.flags(data.firearm[written]),
            store.flags(data.domestic[written]),
            text("address", written),
            store.floats(lat[written]),
            store.floats(lon[written]),
            store.booleans(public.withheld[written]),
            text("withheld_reason", written),
            public.place_label[written].tolist(),
            public.place_kind[written].tolist(),
            store.floats(public.lat[written]),
            store.floats(public.lon[written]),
            public.h3[written].tolist(),
            store.ids(public.block[written]),
            *(store.ids(data.areas[k][written]) for k in AREA_KINDS),
            text("area_label", written),
            text("area_code", written),
            data.digests(written).tolist(),
        ]

    def _arrow_columns(self, written: np.ndarray, public: _Public) -> list[pa.Array]:
        """:meth:`_columns` as Arrow arrays, for :func:`store.rows_insert` through COPY."""
        data = self.data
        text = data.text

        def moments(us: np.ndarray) -> pa.Array:
            return pa.array(us, type=pa.timestamp("us", tz="UTC"), mask=us < 0)

        def floats(values: np.ndarray) -> pa.Array:
            return pa.array(values, type=pa.float64(), mask=np.isnan(values))

        def flags(values: np.ndarray) -> pa.Array:
            return pa.array(values > 0, type=pa.bool_(), mask=values < 0)

        def ids(values: np.ndarray) -> pa.Array:
            return pa.array(values, type=pa.int64(), mask=values < 0)

        def objects(values: np.ndarray) -> pa.Array:
            return pa.array(values, type=pa.string())

        return [
            moments(data.occurred_us[written]),
            moments(data.until_us[written]),
            text("precision", written),
            pa.array(data.local_date[written], type=pa.date32()),
            text("category", written),
            text("nibrs", written),
            text("against", written),
            text("label", written),
            pa.array(data.offence_count[written], type=pa.int64()),
            flags(data.firearm[written]),
            flags(data.domestic[written]),
            text("address", written),
            floats(data.lat[written]),
            floats(data.lon[written]),
            pa.array(public.withheld[written], type=pa.bool_()),
            text("withheld_reason", written),
            objects(public.place_label[written]),
            objects(public.place_kind[written]),
            floats(public.lat[written]),
            floats(public.lon[written]),
            objects(public.h3[written]),
            ids(public.block[written]),
            *(ids(data.areas[k][written]) for k in AREA_KINDS),
            text("area_label", written),
            text("area_code", written),
            pa.array(data.digests(written), type=pa.int64()),
        ]

    def _fixed(self) -> dict[str, Any]:
        """The database values every incident this import writes gets alike."""
        return {
            "state": IncidentState.ACTIVE.value, "withdrawn_at": None,
            "report": self.report.pk, "updated_at": self.now_db,
        }  # fmt: skip

    def _offences(self, written: np.ndarray, db_id: np.ndarray, *, meanwhile: Callable[[], T]) -> T:
        """Store the offences of the written incidents that have several (their incidents'
        ids in ``db_id``), doing ``meanwhile`` as the server stores them; its result.

        An incident with one offence already holds all of it (category, NIBRS code, group,
        label, firearm), so only incidents with several get :class:`Offence` rows; the
        report counts every offence of the written incidents.
        """
        data = self.data
        self.report.offences_written = int(data.offence_count[written].sum())
        several = np.zeros(len(data), dtype=bool)
        several[written] = data.offence_count[written] > 1
        chosen = np.flatnonzero(several[data.offence_incident])
        # In incident id order the unique (incident, position) index grows at its end.
        chosen = chosen[np.argsort(db_id[data.offence_incident[chosen]], kind="stable")]
        if store.copies_columns():
            done = store.tables_insert(
                Offence,
                OFFENCE_FIELDS,
                (
                    _table(
                        [
                            pa.array(db_id[data.offence_incident[part]], type=pa.int64()),
                            pa.array(data.offence_position[part], type=pa.int64()),
                            data.text("offence_category", part),
                            data.text("offence_nibrs", part),
                            data.text("offence_against", part),
                            data.text("offence_label", part),
                            pa.array(
                                data.offence_firearm[part] > 0,
                                type=pa.bool_(),
                                mask=data.offence_firearm[part] < 0,
                            ),
                            pa.array(data.offence_withheld[part], type=pa.bool_()),
                        ]
                    )
                    for part in (
                        chosen[start : start + store.COPY_BATCH_ROWS]
                        for start in range(0, chosen.size, store.COPY_BATCH_ROWS)
                    )
                ),
                # Their incidents are this import's: created (before it commits) or updated.
                written_here=("incident",),
                meanwhile=meanwhile,
            )
            return cast(T, done)
        for start in range(0, chosen.size, WRITE_BATCH):
            part = chosen[start : start + WRITE_BATCH]
            rows = iter(
                zip(
                    db_id[data.offence_incident[part]].tolist(),
                    data.offence_position[part].tolist(),
                    data.strings("offence_category", part),
                    data.strings("offence_nibrs", part),
                    data.strings("offence_against", part),
                    data.strings("offence_label", part),
                    store.flags(data.offence_firearm[part]),
                    store.booleans(data.offence_withheld[part]),
                    strict=True,
                )
            )
            store.rows_insert(Offence, OFFENCE_FIELDS, rows)
        return meanwhile()

    def withdraw_missing(self) -> None:
        """Withdraw the source's active incidents that the file does not hold."""
        transition_check(IncidentState.ACTIVE, IncidentState.WITHDRAWN)
        seen = set(self.data.ids_seen)
        missing = [
            pk
            for sid, (pk, _digest, state) in self.existing.items()
            if state == IncidentState.ACTIVE and sid not in seen
        ]
        for chunk in store.chunks(missing):
            Incident.objects.filter(id__in=chunk).update(
                state=IncidentState.WITHDRAWN, withdrawn_at=self.now, report=self.report,
                updated_at=self.now,
            )  # fmt: skip
        self.report.incidents_withdrawn = len(missing)
