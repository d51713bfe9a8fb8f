"""Importing the jurisdiction's areas. ``actor=None`` means the command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyproj
import shapely
from django.conf import settings
from django.db import transaction
from django.utils.text import slugify

from watchhouse.accounts.roles import Role, require_role
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError
from watchhouse.geo.models import Area, AreaCell, AreaKind, Jurisdiction
from watchhouse.geo.points import point_h3, polygon_cells
from watchhouse.geo.selectors import area_index_forget
from watchhouse.geo.sources import AreaDraft, area_layer_read

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

_GEOD = pyproj.Geod(ellps="WGS84")


@dataclass(frozen=True)
class AreaImportReport:
    """What an import did, area names in file order."""

    jurisdiction: Jurisdiction
    kind: str
    source: str
    crs: str
    name_field: str
    code_field: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One line for people: how many areas of which kind, from where, and what changed."""
        total = len(self.created) + len(self.updated) + len(self.unchanged)
        kind = str(AreaKind(self.kind).label).lower()
        return (
            f"{self.jurisdiction.name}: {total} {kind}{'s' if total != 1 else ''} from "
            f"{self.source} ({self.crs}, names from {self.name_field!r}): "
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged; {len(self.warnings)} warning"
            f"{'s' if len(self.warnings) != 1 else ''}."
        )


@dataclass(frozen=True)
class _Prepared:
    draft: AreaDraft
    values: dict[str, Any]
    cells: list[tuple[str, bool]]


def _prepare(draft: AreaDraft, source: str) -> _Prepared:
    """The columns and H3 cells of one area (computed before the transaction opens)."""
    geometry = draft.geometry
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    centroid = geometry.centroid
    area_m2, _perimeter = _GEOD.geometry_area_perimeter(geometry)
    values = {
        "name": draft.name,
        "code": draft.code,
        "geometry": shapely.to_wkb(geometry, output_dimension=2, byte_order=1),
        "min_lat": min_lat,
        "min_lon": min_lon,
        "max_lat": max_lat,
        "max_lon": max_lon,
        "centroid_lat": centroid.y,
        "centroid_lon": centroid.x,
        "centroid_h3": point_h3(centroid.y, centroid.x),
        "area_km2": abs(area_m2) / 1e6,
        "population": draft.population,
        "properties": draft.properties,
        "source_file": source[:255],
        "source_feature": draft.number,
    }
    cells = [(c.cell, c.interior) for c in polygon_cells(geometry)]
    return _Prepared(draft=draft, values=values, cells=cells)


def _differs(area: Area, values: dict[str, Any]) -> bool:
    for name, value in values.items():
        current = getattr(area, name)
        if name == "geometry":
            current = bytes(current)
        if current != value:
            return True
    return False


def _jurisdiction_for(name: str | None) -> Jurisdiction:
    """The named jurisdiction (created if new), or the only one there is."""
    if name:
        slug = slugify(name)
        if not slug:
            raise InvalidInputError(f"The jurisdiction name {name!r} has no letters or digits.")
        found = Jurisdiction.objects.filter(slug=slug).first()
        return found or Jurisdiction.objects.create(name=name.strip(), slug=slug)
    existing = list(Jurisdiction.objects.order_by("slug")[:3])
    if len(existing) == 1:
        return existing[0]
    if not existing:
        agency = settings.WATCHHOUSE_AGENCY_NAME
        return Jurisdiction.objects.create(name=agency, slug=slugify(agency) or "jurisdiction")
    names = ", ".join(j.slug for j in existing)
    raise InvalidInputError(
        f"There are several jurisdictions ({names}, …); say which one the areas belong to "
        "(--jurisdiction)."
    )


def _jurisdiction_refresh(jurisdiction: Jurisdiction) -> None:
    """Set the jurisdiction's boundary and bounding box to the union of its areas."""
    shapes = [
        shapely.from_wkb(bytes(wkb))
        for wkb in Area.objects.filter(jurisdiction=jurisdiction).values_list("geometry", flat=True)
    ]
    union = shapely.union_all(shapes)
    min_lon, min_lat, max_lon, max_lat = union.bounds
    jurisdiction.boundary = shapely.to_wkb(union, output_dimension=2, byte_order=1)
    jurisdiction.min_lat, jurisdiction.min_lon = min_lat, min_lon
    jurisdiction.max_lat, jurisdiction.max_lon = max_lat, max_lon
    jurisdiction.save()


def area_import(
    *,
    actor: User | None,
    kind: str,
    path: Path,
    jurisdiction: str | None = None,
    crs: str | None = None,
    name_field: str | None = None,
    code_field: str | None = None,
    source_name: str | None = None,
) -> AreaImportReport:
    """Create or update the areas of ``kind`` from a GeoJSON file, shapefile or zip of either.

    All or nothing: the whole file is validated first, and any problem raises an
    :class:`~watchhouse.core.errors.InvalidInputError` naming the file, feature and field,
    with nothing changed. Features without geometry are skipped and listed in the report's
    warnings. Areas are matched by slug, so importing the same file again changes nothing;
    areas of this kind that are missing from the file are kept. Each area's H3 cells are
    rewritten with it, and cached indexes are dropped once the import commits.
    """
    if actor is not None:
        require_role(actor, Role.ADMIN, action="import areas")
    if kind not in AreaKind.values:
        raise InvalidInputError(
            f"Unknown area kind {kind!r}; kinds are: {', '.join(AreaKind.values)}."
        )
    source = source_name or path.name
    layer = area_layer_read(
        path, kind=kind, crs=crs, name_field=name_field, code_field=code_field, source_name=source
    )
    prepared = [_prepare(draft, source) for draft in layer.drafts]

    with transaction.atomic():
        # Locking the jurisdiction makes concurrent imports into it take turns.
        place = Jurisdiction.objects.select_for_update().get(pk=_jurisdiction_for(jurisdiction).pk)
        existing = {
            a.slug: a
            for a in Area.objects.select_for_update().filter(jurisdiction=place, kind=kind)
        }
        created, updated, unchanged = [], [], []
        cells: list[AreaCell] = []
        for item in prepared:
            area = existing.get(item.draft.slug)
            if area is None:
                area = Area.objects.create(
                    jurisdiction=place, kind=kind, slug=item.draft.slug, **item.values
                )
                created.append(area.name)
            elif _differs(area, item.values):
                for name, value in item.values.items():
                    setattr(area, name, value)
                area.save()
                AreaCell.objects.filter(area=area).delete()
                updated.append(area.name)
            else:
                unchanged.append(area.name)
                continue
            cells.extend(AreaCell(area=area, cell=c, interior=i) for c, i in item.cells)
        AreaCell.objects.bulk_create(cells, batch_size=2000)
        if created or updated:
            _jurisdiction_refresh(place)
        report = AreaImportReport(
            jurisdiction=place, kind=kind, source=source, crs=layer.crs,
            name_field=layer.name_field, code_field=layer.code_field,
            created=created, updated=updated, unchanged=unchanged, warnings=layer.warnings,
        )  # fmt: skip
        audit_record(
            actor=actor,
            action="geo.area_import",
            obj=place,
            data={
                "kind": kind,
                "source": source,
                "crs": layer.crs,
                "name_field": layer.name_field,
                "code_field": layer.code_field,
                "created": created,
                "updated": updated,
                "unchanged": len(unchanged),
                "warnings": layer.warnings,
            },
        )
        transaction.on_commit(area_index_forget)
    return report
