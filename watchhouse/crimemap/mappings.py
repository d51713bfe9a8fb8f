"""Mapping files: how an agency's incident export maps onto the incident schema.

A mapping is a small TOML file. An agency whose export is not one of the built-in formats
writes one (start from ``watchhouse import-incidents --show-format socrata-chicago``) and
imports with ``--format mapping --mapping FILE.toml``; the built-in formats are mappings too
(:mod:`watchhouse.crimemap.formats`). Every key::

    name = "my-agency"              # short name, shown in reports
    title = "My agency's CAD export"
    reader = "csv"                  # "csv" or "parquet"
    rows = "incident"               # or "offence": rows sharing an id are one incident's offences
    crs = "EPSG:4326"               # coordinate system of x/y (any code PROJ knows)
    time_zone = "America/Chicago"   # the zone the source's local times are in

    [columns]                       # the source's column names
    id = "case_number"              # optional: without it ids are derived from row contents
    time = "date"                   # or [time] year/month/day/hour/minute below
    address = "address"             # a full street address (a hundred block is derived), or
    block = "block"                 #   the source's own hundred block, or
    place = "location"              #   a public place label used as given
    x = "longitude"                 # x/easting and y/northing in `crs`
    y = "latitude"
    area = "neighbourhood"          # the source's area name (used when there is no point)
    area_code = "beat"
    offence = ["primary_type"]      # columns whose values pick an [offences] rule
    offence_label = ["primary_type", "description"]   # the source's own label, joined by ": "
    nibrs = "nibrs_code"            # a column of NIBRS codes, if there is one
    firearm = "gun_used"            # flags: values in [values] true/false, anything else unknown
    domestic = "domestic"

    [time]
    format = "%m/%d/%Y %H:%M"       # strptime format(s) of a text time column (a list is tried
    precision = "minute"            #   in order); "minute", "day" or "month"
    # year = "YEAR"  month = "MONTH"  day = "DAY"  hour = "HOUR"  minute = "MINUTE"

    [privacy]
    marker_column = "block"         # rows whose value here is a marker had their location
    marker_values = ["OFFSET TO PROTECT PRIVACY"]   # hidden by the source: area level only
    marker_precision = "day"        # the time precision of marked rows (their times are blanked)
    unknown_places = ["X NK_LOC ST"]  # address values that mean "not known"
    points_anonymised = false       # true when x/y are already public map points (police.uk)

    [area_names]                    # the source's area names that differ from the boundary
    "Central Business District" = "Downtown"   # file's (matched without case or punctuation)

    [values]
    true = ["Y", "Yes", "true", "1"]
    false = ["N", "No", "false", "0"]

    [offences]                      # offence value(s) -> category (see categories.py)
    "THEFT" = { category = "theft", nibrs = "23H" }
    "BATTERY | 04B" = { category = "assault", nibrs = "13A", against = "person" }
    "OFFENSE INVOLVING CHILDREN | *" = { category = "family_offence", withhold = true }

With several ``offence`` columns a rule's key joins their values with ``|``; ``*`` matches any
value, and the rule with the fewest ``*`` wins. Keys compare without case. Where no rule
matches, a NIBRS code from the ``nibrs`` column gives the category; otherwise the row is
rejected as an unknown offence.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyproj
from pyproj.exceptions import CRSError

from watchhouse.core.errors import InvalidInputError
from watchhouse.crimemap.categories import NIBRS, Category, CrimesAgainst

READERS = ("csv", "parquet")
ROW_KINDS = ("incident", "offence")
PRECISIONS = ("minute", "day", "month")
TIME_PARTS = ("year", "month", "day", "hour", "minute")
WILDCARD = "*"
KEY_SEPARATOR = "|"
DEFAULT_TRUE = ("true", "t", "yes", "y", "1")
DEFAULT_FALSE = ("false", "f", "no", "n", "0")
_TOP_KEYS = {"name", "title", "reader", "rows", "crs", "time_zone", "description"}
_TABLES = {"columns", "time", "privacy", "values", "offences", "area_names"}
_COLUMN_KEYS = {
    "id", "time", "address", "block", "place", "x", "y", "area", "area_code", "offence",
    "offence_label", "nibrs", "firearm", "domestic",
}  # fmt: skip
_TIME_KEYS = {"format", "precision", *TIME_PARTS}
_PRIVACY_KEYS = {
    "marker_column", "marker_values", "marker_precision", "unknown_places", "points_anonymised"
}  # fmt: skip
_RULE_KEYS = {"category", "nibrs", "against", "withhold"}


class MappingError(InvalidInputError):
    """A mapping file is not valid; the message names the file and the key."""


@dataclass(frozen=True)
class OffenceRule:
    """What one offence value (or combination of values) means."""

    key: tuple[str, ...]  # casefolded values, WILDCARD for any
    text: str  # the key as written
    category: str
    nibrs: str
    against: str | None  # None: the NIBRS code's group (or unknown)
    withhold: bool

    @property
    def wildcards(self) -> int:
        return sum(1 for part in self.key if part == WILDCARD)


@dataclass(frozen=True)
class Mapping:
    """A validated mapping (see the module docstring for what each field means)."""

    name: str
    title: str
    description: str
    reader: str
    rows: str
    crs: str
    time_zone: str
    id_column: str | None
    time_column: str | None
    time_formats: tuple[str, ...]
    time_parts: dict[str, str]
    precision: str
    address_column: str | None
    block_column: str | None
    place_column: str | None
    x_column: str | None
    y_column: str | None
    area_column: str | None
    area_code_column: str | None
    offence_columns: tuple[str, ...]
    label_columns: tuple[str, ...]
    nibrs_column: str | None
    firearm_column: str | None
    domestic_column: str | None
    marker_column: str | None
    marker_values: frozenset[str]
    marker_precision: str
    unknown_places: frozenset[str]
    points_anonymised: bool
    true_values: frozenset[str]
    false_values: frozenset[str]
    rules: tuple[OffenceRule, ...]
    area_names: dict[str, str] = field(default_factory=dict)  # casefolded name -> area name
    text: str = field(repr=False, default="")

    @property
    def columns(self) -> list[str]:
        """Every source column the mapping reads, in a stable order, without repeats."""
        names = [
            self.id_column, self.time_column, *self.time_parts.values(), self.address_column,
            self.block_column, self.place_column, self.x_column, self.y_column,
            self.area_column, self.area_code_column, *self.offence_columns,
            *self.label_columns, self.nibrs_column, self.firearm_column,
            self.domestic_column, self.marker_column,
        ]  # fmt: skip
        return list(dict.fromkeys(n for n in names if n))

    def rule_for(self, values: tuple[str, ...]) -> OffenceRule | None:
        """The rule for one combination of offence values: an exact rule, else the one with
        the fewest wildcards (the first written on a tie); None when none matches."""
        folded = tuple(v.strip().casefold() for v in values)
        best: OffenceRule | None = None
        for rule in self.rules:
            if all(k in (WILDCARD, v) for k, v in zip(rule.key, folded, strict=True)) and (
                best is None or rule.wildcards < best.wildcards
            ):
                best = rule
        return best


def mapping_read(path: Path) -> Mapping:
    """Read and validate a mapping file; raises :class:`MappingError` saying what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path.name}: the mapping file cannot be read ({exc}).") from exc
    return mapping_parse(text, source=path.name)


def mapping_parse(text: str, *, source: str) -> Mapping:
    """Validate mapping ``text`` (TOML); ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{source}: not valid TOML ({exc}).") from exc
    return _Parser(source, data, text).mapping()


class _Parser:
    def __init__(self, source: str, data: dict[str, Any], text: str) -> None:
        self.source = source
        self.data = data
        self.text = text
        self.problems: list[str] = []

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def table(self, name: str, allowed: set[str]) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            self.fail(f"[{name}] must be a table.")
            return {}
        if name not in ("offences", "area_names"):
            for key in sorted(set(value) - allowed):
                known = ", ".join(sorted(allowed))
                self.fail(f"[{name}] has an unknown key {key!r}; known keys: {known}.")
        return value

    def text_value(self, where: dict[str, Any], key: str, label: str) -> str | None:
        value = where.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{label} must be a non-empty string.")
            return None
        return value

    def text_list(self, where: dict[str, Any], key: str, label: str) -> tuple[str, ...]:
        value = where.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(f"{label} must be a string or a list of strings.")
            return ()
        return tuple(value)

    def choice(self, value: Any, choices: tuple[str, ...], label: str) -> str:
        if value not in choices:
            self.fail(f"{label} must be one of {', '.join(choices)}, not {value!r}.")
            return choices[0]
        return str(value)

    def mapping(self) -> Mapping:
        data = self.data
        for key in sorted(set(data) - _TOP_KEYS - _TABLES):
            self.fail(f"unknown key {key!r} at the top level.")
        name = self.text_value(data, "name", "'name'") or ""
        if not name:
            self.fail("'name' is missing.")
        reader = self.choice(data.get("reader"), READERS, "'reader'")
        rows = self.choice(data.get("rows", "incident"), ROW_KINDS, "'rows'")
        crs = self.text_value(data, "crs", "'crs'") or "EPSG:4326"
        try:
            pyproj.CRS.from_user_input(crs)
        except CRSError:
            self.fail(f"'crs' {crs!r} is not a coordinate system PROJ knows (e.g. EPSG:26910).")
        zone = self.text_value(data, "time_zone", "'time_zone'") or ""
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(f"'time_zone' {zone!r} is not an IANA time zone (e.g. America/Chicago).")
        columns = self.table("columns", _COLUMN_KEYS)
        time = self.table("time", _TIME_KEYS)
        privacy = self.table("privacy", _PRIVACY_KEYS)
        values = self.table("values", {"true", "false"})

        def column(key: str) -> str | None:
            return self.text_value(columns, key, f"[columns] {key}")

        time_column = column("time")
        parts = {p: v for p in TIME_PARTS if (v := self.text_value(time, p, f"[time] {p}"))}
        if time_column and parts:
            self.fail("give either [columns] time or [time] year/month/day…, not both.")
        if not time_column and not {"year", "month"} <= set(parts):
            self.fail("[columns] time is missing (or give [time] year, month and day columns).")
        precision = self.choice(time.get("precision", "minute"), PRECISIONS, "[time] precision")
        places = [k for k in ("address", "block", "place") if columns.get(k)]
        if len(places) > 1:
            self.fail("give only one of [columns] address, block and place.")
        x, y = column("x"), column("y")
        if bool(x) != bool(y):
            self.fail("[columns] x and y go together.")
        offence_columns = self.text_list(columns, "offence", "[columns] offence")
        nibrs_column = column("nibrs")
        if not offence_columns:
            self.fail("[columns] offence is missing: the column(s) that say what the offence was.")
        label_columns = self.text_list(columns, "offence_label", "[columns] offence_label")
        marker_column = self.text_value(privacy, "marker_column", "[privacy] marker_column")
        marker_values = self.text_list(privacy, "marker_values", "[privacy] marker_values")
        if bool(marker_column) != bool(marker_values):
            self.fail("[privacy] marker_column and marker_values go together.")
        marker_precision = self.choice(
            privacy.get("marker_precision", precision), PRECISIONS, "[privacy] marker_precision"
        )
        anonymised = privacy.get("points_anonymised", False)
        if not isinstance(anonymised, bool):
            self.fail("[privacy] points_anonymised must be true or false.")
        unknown = self.text_list(privacy, "unknown_places", "[privacy] unknown_places")
        true_values = self.text_list(values, "true", "[values] true") or DEFAULT_TRUE
        false_values = self.text_list(values, "false", "[values] false") or DEFAULT_FALSE
        rules = self.rules(self.table("offences", set()), len(offence_columns))
        if not rules and not nibrs_column:
            self.fail("[offences] is empty and there is no [columns] nibrs: nothing maps offences.")
        formats = self.text_list(time, "format", "[time] format")
        aliases = self.table("area_names", set())
        if not all(isinstance(v, str) and v for v in aliases.values()):
            self.fail("[area_names] maps each of the source's area names to a name (a string).")
        if self.problems:
            shown = "\n".join(f"- {p}" for p in self.problems)
            raise MappingError(f"{self.source}: the mapping is not valid:\n{shown}")
        return Mapping(
            name=name,
            title=self.text_value(data, "title", "'title'") or name,
            description=self.text_value(data, "description", "'description'") or "",
            reader=reader,
            rows=rows,
            crs=crs,
            time_zone=zone,
            id_column=column("id"),
            time_column=time_column,
            time_formats=formats,
            time_parts=parts,
            precision=precision,
            address_column=column("address"),
            block_column=column("block"),
            place_column=column("place"),
            x_column=x,
            y_column=y,
            area_column=column("area"),
            area_code_column=column("area_code"),
            offence_columns=offence_columns,
            label_columns=label_columns or offence_columns,
            nibrs_column=nibrs_column,
            firearm_column=column("firearm"),
            domestic_column=column("domestic"),
            marker_column=marker_column,
            marker_values=frozenset(v.strip().casefold() for v in marker_values),
            marker_precision=marker_precision,
            unknown_places=frozenset(v.strip().upper() for v in unknown),
            points_anonymised=bool(anonymised),
            true_values=frozenset(v.casefold() for v in true_values),
            false_values=frozenset(v.casefold() for v in false_values),
            rules=rules,
            area_names={str(k).strip().casefold(): str(v) for k, v in aliases.items()},
            text=self.text,
        )

    def rules(self, table: dict[str, Any], width: int) -> tuple[OffenceRule, ...]:
        rules = []
        for text, spec in table.items():
            label = f"[offences] {text!r}"
            if not isinstance(spec, dict):
                self.fail(f'{label} must be a table such as {{ category = "theft" }}.')
                continue
            for key in sorted(set(spec) - _RULE_KEYS):
                self.fail(f"{label} has an unknown key {key!r}.")
            key = tuple(part.strip().casefold() for part in text.split(KEY_SEPARATOR))
            if width and len(key) != width:
                self.fail(f"{label} has {len(key)} value(s); [columns] offence names {width}.")
                continue
            nibrs = str(spec.get("nibrs", "")).upper()
            if nibrs and nibrs not in NIBRS:
                self.fail(f"{label}: {nibrs!r} is not a NIBRS offence code.")
            category = spec.get("category") or (NIBRS[nibrs].category if nibrs in NIBRS else "")
            if category not in Category.values:
                self.fail(
                    f"{label}: category {category!r} is not one of {', '.join(Category.values)}."
                )
                continue
            against = spec.get("against")
            if against is not None and against not in CrimesAgainst.values:
                self.fail(f"{label}: 'against' must be person, property, society or \"\".")
            withhold = spec.get("withhold", False)
            if not isinstance(withhold, bool):
                self.fail(f"{label}: 'withhold' must be true or false.")
            rules.append(
                OffenceRule(
                    key=key, text=text, category=str(category), nibrs=nibrs,
                    against=against, withhold=bool(withhold),
                )
            )  # fmt: skip
        return tuple(rules)
