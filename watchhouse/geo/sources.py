"""Reading area boundary files: GeoJSON, ESRI shapefiles, and zip files holding either.

:func:`area_layer_read` turns a file into validated :class:`AreaDraft` objects in WGS84
longitude/latitude, or raises :class:`AreaSourceError` naming the file, the feature (by its
1-based position and name) and the field that is wrong. Nothing here touches the database, so
a file is checked completely before anything is stored.
"""

from __future__ import annotations

import json
import math
import re
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapefile
import shapely
from django.utils.text import slugify
from pyproj.exceptions import CRSError, ProjError
from shapely.geometry.base import BaseGeometry

from watchhouse.core.errors import InvalidInputError

# The longest list of problems one error message spells out.
MAX_PROBLEMS_SHOWN = 10
# Uncompressed bytes a zip file may expand to (a guard against zip bombs).
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024
WGS84 = pyproj.CRS.from_epsg(4326)
GEOJSON_SUFFIXES = {".geojson", ".json"}
# How to give the coordinate system, in the command and in the console.
CRS_HINT = "give it with --crs (in the console: 'Coordinate system')"
# Field names that usually hold an area's name, code and population, in order of preference
# (compared without case).
NAME_FIELDS = (
    "name",
    "neighbourhood_name",
    "neighborhood_name",
    "neighbourhood",
    "neighborhood",
    "nbhd_name",
    "community",
    "area_name",
    "ward_name",
    "beat_name",
    "district_name",
    "label",
)
CODE_FIELDS = (
    "code",
    "neighbourhood_id",
    "neighborhood_id",
    "nbhd_num",
    "nbhd_id",
    "mapid",
    "area_numbe",
    "area_number",
    "area_num",
    "ward",
    "beat",
    "district",
    "number",
    "num",
    "id",
)
POPULATION_FIELDS = (
    "population",
    "total_population",
    "tot_pop",
    "pop_total",
    "totpop",
    "pop",
    "pop2020",
    "pop2010",
)
_POLYGON_SHAPE_TYPES = {shapefile.POLYGON, shapefile.POLYGONZ, shapefile.POLYGONM}
_GEOJSON_TYPES = {
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
}


class AreaSourceError(InvalidInputError):
    """A boundary file cannot be imported; the message names the file, feature and field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        if len(problems) == 1:
            message = f"{source}: {problems[0]}"
        else:
            message = f"{source}: {len(problems)} problems, nothing was imported:\n" + "\n".join(
                f"- {p}" for p in shown
            )
            if more:
                message += f"\n- … and {more} more."
        super().__init__(message)


@dataclass(frozen=True)
class AreaDraft:
    """One validated area from a file, ready to store."""

    number: int  # 1-based position of the feature in the file
    name: str
    slug: str
    code: str
    population: int | None
    geometry: BaseGeometry  # Polygon or MultiPolygon, WGS84 longitude/latitude, valid
    properties: dict[str, Any]


@dataclass(frozen=True)
class AreaLayer:
    """The areas of one file, and what the reader noticed on the way."""

    source: str
    crs: str
    name_field: str
    code_field: str
    drafts: list[AreaDraft]
    warnings: list[str] = field(default_factory=list)


@dataclass
class _RawFeature:
    number: int
    properties: dict[str, Any]
    geometry: Any  # GeoJSON geometry object (dict), or None


@dataclass
class _RawLayer:
    fields: list[str]
    features: list[_RawFeature]
    crs: pyproj.CRS | None  # what the file declares, or None
    crs_origin: str  # where the declaration came from, for messages
    crs_problem: str | None  # why the declaration cannot be used, unless --crs replaces it
    wgs84_by_default: bool  # the format means WGS84 when nothing is declared (RFC 7946)
    warnings: list[str] = field(default_factory=list)


def area_layer_read(
    path: Path,
    *,
    kind: str = "area",
    crs: str | None = None,
    name_field: str | None = None,
    code_field: str | None = None,
    source_name: str | None = None,
) -> AreaLayer:
    """Read and validate every feature of a boundary file.

    Guarantees: every returned draft has a non-empty, valid Polygon or MultiPolygon in WGS84
    longitude/latitude, a name and a slug unique in the file. Features without geometry are
    skipped and listed in ``warnings``; any other problem raises :class:`AreaSourceError`.
    ``crs`` (e.g. ``"EPSG:3435"``) overrides what the file declares.
    """
    source = source_name or path.name
    given_crs = _crs_from_option(source, crs) if crs else None
    with _opened(path, source) as (real_path, shown):
        raw = _read_raw(real_path, shown)
        return _layer_build(
            raw,
            source=shown,
            kind=kind,
            given_crs=given_crs,
            name_field=name_field,
            code_field=code_field,
        )


# Files


@contextmanager
def _opened(path: Path, source: str) -> Iterator[tuple[Path, str]]:
    """The path to read and the name to show, unpacking a zip file first."""
    if not path.is_file():
        raise AreaSourceError(source, ["the file does not exist."])
    if path.suffix.lower() != ".zip" and not zipfile.is_zipfile(path):
        yield path, source
        return
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise AreaSourceError(source, [f"the file is not a readable zip file ({exc})."]) from exc
    with archive, tempfile.TemporaryDirectory(prefix="watchhouse-areas-") as folder:
        members = [
            m
            for m in archive.infolist()
            if not m.is_dir()
            and not m.filename.startswith("__MACOSX/")
            and not Path(m.filename).name.startswith(".")
        ]
        main = [m for m in members if Path(m.filename).suffix.lower() == ".shp"] or [
            m for m in members if Path(m.filename).suffix.lower() in GEOJSON_SUFFIXES
        ]
        if len(main) != 1:
            names = ", ".join(Path(m.filename).name for m in main) or "none"
            raise AreaSourceError(
                source,
                [
                    f"a zip file must hold exactly one shapefile (.shp) or one GeoJSON file; "
                    f"this one holds: {names}."
                ],
            )
        stem = Path(main[0].filename).with_suffix("").as_posix()
        wanted = [m for m in members if Path(m.filename).with_suffix("").as_posix() == stem]
        if sum(m.file_size for m in wanted) > MAX_UNZIPPED_BYTES:
            raise AreaSourceError(source, ["the zip file unpacks to more than 512 MB."])
        target = Path(folder)
        for member in wanted:
            # Only the base name is kept, so no member can write outside the folder.
            (target / Path(member.filename).name).write_bytes(archive.read(member))
        inner = Path(main[0].filename).name
        yield target / inner, f"{source}/{inner}"


def _read_raw(path: Path, source: str) -> _RawLayer:
    suffix = path.suffix.lower()
    if suffix == ".shp":
        return _read_shapefile(path, source)
    if suffix in GEOJSON_SUFFIXES:
        return _read_geojson(path, source)
    with path.open("rb") as handle:
        start = handle.read(64).lstrip()
    if start.startswith((b"{", b"\xef\xbb\xbf")):
        return _read_geojson(path, source)
    raise AreaSourceError(
        source,
        ["the file is not a GeoJSON file (.geojson, .json), a shapefile (.shp) or a zip file."],
    )


def _read_geojson(path: Path, source: str) -> _RawLayer:
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise AreaSourceError(
            source, [f"the file is not UTF-8 text, as GeoJSON must be ({exc.reason})."]
        ) from exc
    except json.JSONDecodeError as exc:
        raise AreaSourceError(
            source,
            [f"the file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."],
        ) from exc
    if not isinstance(document, dict):
        raise AreaSourceError(source, ["the file is JSON but not a GeoJSON object."])
    kind = document.get("type")
    if kind == "Feature":
        items: Any = [document]
    elif kind == "FeatureCollection":
        items = document.get("features")
        if not isinstance(items, list):
            raise AreaSourceError(
                source, ["the FeatureCollection's 'features' member is missing or not a list."]
            )
    else:
        raise AreaSourceError(
            source, [f"the file is a GeoJSON {kind!r}, not a FeatureCollection or Feature."]
        )
    features = []
    problems = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or item.get("type") != "Feature":
            problems.append(f"feature {number} is not a GeoJSON Feature object.")
            continue
        properties = item.get("properties") or {}
        if not isinstance(properties, dict):
            problems.append(f"feature {number} has 'properties' that are not an object.")
            continue
        features.append(_RawFeature(number, properties, item.get("geometry")))
    if problems:
        raise AreaSourceError(source, problems)
    fields: list[str] = []
    for feature in features:
        fields.extend(k for k in feature.properties if k not in fields)
    declared, origin, problem = _geojson_crs(document)
    return _RawLayer(
        fields=fields,
        features=features,
        crs=declared,
        crs_origin=origin,
        crs_problem=problem,
        wgs84_by_default=True,
    )


def _geojson_crs(document: dict[str, Any]) -> tuple[pyproj.CRS | None, str, str | None]:
    """The coordinate system an old-style GeoJSON 'crs' member declares (RFC 7946 has none),
    where the declaration came from, and why it cannot be used (or None)."""
    member = document.get("crs")
    if member is None:
        return None, "no 'crs' member", None
    props = member.get("properties") if isinstance(member, dict) else None
    kind = member.get("type") if isinstance(member, dict) else None
    if kind == "name" and isinstance(props, dict) and isinstance(props.get("name"), str):
        text = props["name"]
    elif kind == "EPSG" and isinstance(props, dict) and props.get("code") is not None:
        text = f"EPSG:{props['code']}"
    else:
        shown = json.dumps(member)[:200]
        return (
            None,
            "a 'crs' member",
            (
                f"the 'crs' member {shown} is not a named coordinate system; remove it, or "
                f"{CRS_HINT}."
            ),
        )
    try:
        return pyproj.CRS.from_user_input(text), f"the 'crs' member {text!r}", None
    except CRSError:
        return (
            None,
            f"the 'crs' member {text!r}",
            (
                f"the file declares the coordinate system {text!r}, which PROJ does not know; "
                f"{CRS_HINT}, for example EPSG:26910."
            ),
        )


def _sibling(path: Path, suffix: str) -> Path | None:
    """The file beside ``path`` with the same stem and ``suffix``, in any letter case."""
    for candidate in path.parent.iterdir():
        if candidate.stem == path.stem and candidate.suffix.lower() == suffix:
            return candidate
    return None


def _read_shapefile(path: Path, source: str) -> _RawLayer:
    dbf = _sibling(path, ".dbf")
    if dbf is None:
        raise AreaSourceError(
            source,
            [
                f"the shapefile has no {path.stem}.dbf beside it; a shapefile's names and codes "
                "are in its .dbf "
                "file (give .shp, .shx, .dbf and .prj together, or zip them)."
            ],
        )
    shx = _sibling(path, ".shx")
    prj = _sibling(path, ".prj")
    cpg = _sibling(path, ".cpg")
    encoding = "utf-8"
    if cpg is not None:
        encoding = cpg.read_text(errors="replace").strip() or "utf-8"
    try:
        with ExitStack() as files:
            # pyshp warns about damaged headers; the warnings become part of the import report.
            noticed = files.enter_context(warnings.catch_warnings(record=True))
            warnings.simplefilter("always")
            reader = shapefile.Reader(
                shp=files.enter_context(path.open("rb")),
                dbf=files.enter_context(dbf.open("rb")),
                shx=files.enter_context(shx.open("rb")) if shx else None,
                encoding=encoding,
                encodingErrors="strict",
            )
            fields = [f[0] for f in reader.fields[1:]]
            if reader.shapeType not in _POLYGON_SHAPE_TYPES | {shapefile.NULL}:
                raise AreaSourceError(
                    source,
                    [f"the shapefile holds {reader.shapeTypeName} shapes; areas must be polygons."],
                )
            features = []
            for number, pair in enumerate(reader.iterShapeRecords(), start=1):
                shape, record = pair.shape, pair.record
                geometry = None if shape.shapeType == shapefile.NULL else shape.__geo_interface__
                features.append(_RawFeature(number, record.as_dict(), geometry))
            notes = [f"The shapefile reader warned: {w.message}" for w in noticed]
    except AreaSourceError:
        raise
    except LookupError as exc:
        raise AreaSourceError(
            source, [f"the shapefile's .cpg file names an unknown text encoding {encoding!r}."]
        ) from exc
    except UnicodeDecodeError as exc:
        raise AreaSourceError(
            source,
            [
                f"the shapefile's .dbf text is not {encoding}; add a .cpg file naming the encoding "
                "(for example 'latin1')."
            ],
        ) from exc
    except (shapefile.ShapefileException, struct.error, ValueError, IndexError, OSError) as exc:
        raise AreaSourceError(
            source, [f"the file is not a readable ESRI shapefile ({exc})."]
        ) from exc
    declared = None
    origin = f"no {path.stem}.prj file"
    problem = None
    if prj is not None:
        origin = prj.name
        try:
            declared = pyproj.CRS.from_wkt(prj.read_text(errors="replace").strip())
        except CRSError:
            problem = (
                f"{prj.name} does not hold a coordinate system PROJ understands; fix it or "
                f"{CRS_HINT}."
            )
    return _RawLayer(
        fields=fields,
        features=features,
        crs=declared,
        crs_origin=origin,
        crs_problem=problem,
        wgs84_by_default=False,
        warnings=notes,
    )


# Features


def _crs_from_option(source: str, text: str) -> pyproj.CRS:
    try:
        return pyproj.CRS.from_user_input(text)
    except CRSError as exc:
        raise AreaSourceError(
            source,
            [
                f"the coordinate system {text!r} that was given is not known to PROJ; use a "
                "code such as EPSG:3435."
            ],
        ) from exc


def _crs_name(crs: pyproj.CRS) -> str:
    code = crs.to_authority(min_confidence=90)
    return f"{code[0]}:{code[1]}" if code else crs.name


def _pick_field(
    fields: list[str], given: str | None, candidates: tuple[str, ...], *, what: str, source: str
) -> str | None:
    if given:
        if given in fields:
            return given
        matches = [f for f in fields if f.lower() == given.lower()]
        if len(matches) == 1:
            return matches[0]
        raise AreaSourceError(
            source,
            [
                f"the file has no field {given!r} for the {what}; its fields are: "
                f"{', '.join(fields) or 'none'}."
            ],
        )
    by_lower = {f.lower(): f for f in fields}
    for candidate in candidates:
        if candidate in by_lower:
            return by_lower[candidate]
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _population(value: Any) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) and number >= 0 else None


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, date | datetime | Decimal | bytes):
        return str(value)
    return value


def _label(number: int, name_field: str, properties: dict[str, Any]) -> str:
    name = _text(properties.get(name_field))
    return f"feature {number} ({name_field} {name!r})" if name else f"feature {number}"


def _rings(coordinates: Any) -> list[np.ndarray]:
    """A GeoJSON polygon's rings as (n, 2) arrays; raises ValueError saying what is wrong."""
    if not isinstance(coordinates, list | tuple):
        raise ValueError("polygon coordinates are not a list of rings")
    rings = []
    for number, ring in enumerate(coordinates, start=1):
        if not isinstance(ring, list | tuple) or not all(
            isinstance(p, list | tuple)
            and len(p) >= 2
            and all(isinstance(c, int | float) and not isinstance(c, bool) for c in p[:2])
            for p in ring
        ):
            raise ValueError(f"ring {number} is not a list of [x, y] number pairs")
        array = np.array([p[:2] for p in ring], dtype=float).reshape(-1, 2)
        if not np.isfinite(array).all():
            raise ValueError(f"ring {number} has a coordinate that is not a finite number")
        if len(array) and not np.array_equal(array[0], array[-1]):
            array = np.vstack([array, array[:1]])
        if len(array) < 4:
            raise ValueError(f"ring {number} has {len(array)} positions; a ring needs at least 4")
        rings.append(array)
    return rings


def _shape(geometry: Any) -> BaseGeometry:
    """A shapely Polygon/MultiPolygon from a GeoJSON geometry; ValueError says what is wrong."""
    if not isinstance(geometry, dict):
        raise ValueError("its geometry is not a GeoJSON geometry object")
    kind = geometry.get("type")
    if kind not in {"Polygon", "MultiPolygon"}:
        if kind in _GEOJSON_TYPES:
            raise ValueError(f"its geometry is a {kind}; areas must be Polygon or MultiPolygon")
        raise ValueError(f"its geometry type {kind!r} is not a GeoJSON type")
    coordinates = geometry.get("coordinates")
    parts = [coordinates] if kind == "Polygon" else coordinates
    if not isinstance(parts, list | tuple):
        raise ValueError("its MultiPolygon coordinates are not a list of polygons")
    polygons = []
    for part in parts:
        rings = _rings(part)
        if rings:
            polygons.append(shapely.Polygon(rings[0], rings[1:]))
    if kind == "Polygon":
        return polygons[0] if polygons else shapely.Polygon()
    return shapely.MultiPolygon(polygons)


def _validity_problem(geometry: BaseGeometry) -> str | None:
    reason = shapely.is_valid_reason(geometry)
    if reason == "Valid Geometry":
        return None
    match = re.fullmatch(r"(.+?)\[(\S+) (\S+)\]", reason)
    if match:
        what, x, y = match.groups()
        return f"{what.lower()} at longitude {float(x):.6f}, latitude {float(y):.6f}"
    return reason.lower()


def _layer_build(
    raw: _RawLayer,
    *,
    source: str,
    kind: str,
    given_crs: pyproj.CRS | None,
    name_field: str | None,
    code_field: str | None,
) -> AreaLayer:
    warnings = list(raw.warnings)
    chosen_name = _pick_field(raw.fields, name_field, NAME_FIELDS, what="area name", source=source)
    if chosen_name is None:
        raise AreaSourceError(
            source,
            [
                "no field looks like the area name; give it with --name-field (in the console: "
                "'Name field'), one of: "
                f"{', '.join(raw.fields) or 'none'}."
            ],
        )
    chosen_code = _pick_field(raw.fields, code_field, CODE_FIELDS, what="area code", source=source)
    if chosen_code == chosen_name:
        chosen_code = None
    population_field = _pick_field(raw.fields, None, POPULATION_FIELDS, what="", source=source)

    problems: list[str] = []
    shapes: list[tuple[_RawFeature, BaseGeometry]] = []
    for feature in raw.features:
        label = _label(feature.number, chosen_name, feature.properties)
        if feature.geometry is None:
            warnings.append(f"{label} has no geometry and was skipped.")
            continue
        if not _text(feature.properties.get(chosen_name)):
            problems.append(
                f"feature {feature.number} has no value in the name field {chosen_name!r}."
            )
            continue
        try:
            geometry = _shape(feature.geometry)
        except ValueError as exc:
            problems.append(f"{label}: {exc}.")
            continue
        if geometry.is_empty:
            problems.append(f"{label} has an empty polygon (no coordinates).")
            continue
        shapes.append((feature, geometry))
    if not shapes:
        raise AreaSourceError(source, problems or ["the file holds no feature with a polygon."])

    geometries = np.array([g for _, g in shapes], dtype=object)
    crs, crs_text = _source_crs(raw, given_crs, geometries, source, warnings)
    geometries = _to_wgs84(geometries, crs, source)

    drafts = []
    slugs: dict[str, int] = {}
    for (feature, _), geometry in zip(shapes, geometries, strict=True):
        label = _label(feature.number, chosen_name, feature.properties)
        problem = _validity_problem(geometry)
        if problem:
            problems.append(
                f"{label} is not a valid polygon: {problem}. Fix it (for example with QGIS "
                "'Fix geometries') and import again."
            )
            continue
        name = _text(feature.properties.get(chosen_name))[:200]
        code = _text(feature.properties.get(chosen_code))[:50] if chosen_code else ""
        slug = (slugify(name) or slugify(code) or f"{kind}-{feature.number}")[:200]
        if slug in slugs:
            problems.append(
                f"{label} has the same name as feature {slugs[slug]}; names must differ "
                "(merge the two features or rename one)."
            )
            continue
        slugs[slug] = feature.number
        population = (
            _population(feature.properties.get(population_field)) if population_field else None
        )
        drafts.append(
            AreaDraft(
                number=feature.number,
                name=name,
                slug=slug,
                code=code,
                population=population,
                geometry=shapely.orient_polygons(geometry),
                properties=_json_safe(feature.properties),
            )
        )
    if problems:
        raise AreaSourceError(source, problems)
    return AreaLayer(
        source=source,
        crs=crs_text,
        name_field=chosen_name,
        code_field=chosen_code or "",
        drafts=drafts,
        warnings=warnings,
    )


def _looks_like_degrees(bounds: np.ndarray) -> bool:
    min_x, min_y, max_x, max_y = bounds
    return bool(-180 <= min_x <= max_x <= 180 and -90 <= min_y <= max_y <= 90)


def _source_crs(
    raw: _RawLayer,
    given: pyproj.CRS | None,
    geometries: np.ndarray,
    source: str,
    warnings: list[str],
) -> tuple[pyproj.CRS, str]:
    if given is not None:
        if raw.crs_problem is not None or (
            raw.crs is not None and not raw.crs.equals(given, ignore_axis_order=True)
        ):
            warnings.append(
                f"The file's coordinate system ({raw.crs_origin}) was replaced by the one given, "
                f"{_crs_name(given)}."
            )
        return given, _crs_name(given)
    if raw.crs_problem is not None:
        raise AreaSourceError(source, [raw.crs_problem])
    if raw.crs is not None:
        return raw.crs, _crs_name(raw.crs)
    bounds = shapely.total_bounds(geometries)
    if _looks_like_degrees(bounds):
        if not raw.wgs84_by_default:
            warnings.append(
                f"The file has {raw.crs_origin}; its coordinates look like longitude/latitude "
                f"and were read as WGS84 (if they are not, {CRS_HINT})."
            )
        return WGS84, _crs_name(WGS84)
    min_x, min_y, max_x, max_y = bounds
    raise AreaSourceError(
        source,
        [
            f"the file has {raw.crs_origin}, so its coordinate system is unknown, and its "
            f"coordinates (x {min_x:.0f} to {max_x:.0f}, y {min_y:.0f} to {max_y:.0f}) are not "
            f"longitude/latitude: {CRS_HINT}, for example EPSG:3435 for Illinois East state "
            "plane feet."
        ],
    )


def _to_wgs84(geometries: np.ndarray, crs: pyproj.CRS, source: str) -> np.ndarray:
    if crs.equals(WGS84, ignore_axis_order=True) or crs.equals(
        pyproj.CRS.from_user_input("OGC:CRS84")
    ):
        projected = geometries
    else:
        try:
            transformer = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True)
        except ProjError as exc:
            raise AreaSourceError(
                source, [f"the file cannot be converted from {_crs_name(crs)} to WGS84 ({exc})."]
            ) from exc

        def reproject(xy: np.ndarray) -> np.ndarray:
            lon, lat = transformer.transform(xy[:, 0], xy[:, 1], errcheck=False)
            return np.column_stack([lon, lat])

        projected = shapely.transform(geometries, reproject)
    coordinates = shapely.get_coordinates(projected)
    if not np.isfinite(coordinates).all() or not _looks_like_degrees(
        shapely.total_bounds(projected)
    ):
        raise AreaSourceError(
            source,
            [
                f"the coordinates do not fall on the globe when read as {_crs_name(crs)}; "
                f"the coordinate system is probably wrong ({CRS_HINT})."
            ],
        )
    return projected
