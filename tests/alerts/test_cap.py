"""CAP 1.2: rendering, schema validation, strict parsing, profile rules, feeds, WEA text."""

from __future__ import annotations

import dataclasses
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import feedparser
import pytest
from capvalidator.validate import Validator
from lxml import etree

from watchhouse.alerts.cap import (
    CAP_NS,
    CapAlert,
    CapArea,
    CapFeedEntry,
    CapFormatError,
    CapInfo,
    cap_atom_entries,
    cap_atom_render,
    cap_parse,
    cap_problems,
    cap_render,
    cap_schema_errors,
    cap_time,
    close_ring,
    ipaws_profile_errors,
    polygon_problems,
    wea_problems,
)

SAMPLES = Path(__file__).parent / "cap_samples"
CENTRAL = ZoneInfo("America/Chicago")
SENDER = "alerts@alderford-pd.example"
SENT = datetime(2025, 4, 12, 14, 5, 0, tzinfo=CENTRAL)
# A quadrilateral around a few blocks near St. Louis (lat, lon), closed.
BLOCKS = ((38.6412, -90.2101), (38.6455, -90.2032), (38.6398, -90.1987), (38.6362, -90.2068),
          (38.6412, -90.2101))  # fmt: skip
# Edges cross at (0.5, 0.5).
BOWTIE = ((0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0))


def _info(language: str = "en-US", **changes: Any) -> CapInfo:
    spanish = language.startswith("es")
    info = CapInfo(
        language=language,
        categories=("Security",),
        event="Orden de refugio" if spanish else "Shelter in Place Warning",
        urgency="Immediate",
        severity="Severe",
        certainty="Observed",
        headline=(
            "Actividad policial: refúgiese en su lugar"
            if spanish
            else "Police activity: shelter in place"
        ),
        description=(
            "Agentes buscan a un sospechoso armado cerca de la calle Mill y la Quinta Avenida."
            if spanish
            else "Officers are searching for an armed suspect near Mill St & 5th Ave."
        ),
        instruction=(
            "Permanezca adentro y cierre las puertas con llave."
            if spanish
            else "Stay indoors and lock your doors."
        ),
        web="https://alderford-pd.example/alerts/APD-2025-0001",
        contact="Non-emergency line 555-0142",
        sender_name="Alderford Police Department",
        response_types=("Shelter",),
        effective=SENT,
        onset=SENT,
        expires=SENT + timedelta(hours=3),
        event_codes=(("SAME", "LEW"),),
        parameters=(
            ("CMAMtext", "Alderford PD: armed suspect near Mill St. Shelter in place."),
            ("CMAMlongtext", "Alderford Police: an armed suspect is near Mill St and 5th Ave."),
            ("EAS-ORG", "CIV"),
        ),
        areas=(
            CapArea(
                area_desc="Mill Street corridor",
                polygons=(BLOCKS,),
                circles=((38.6401, -90.2043, 0.8),),
                geocodes=(("SAME", "029510"),),
            ),
        ),
    )
    return dataclasses.replace(info, **changes)


def _alert(**changes: Any) -> CapAlert:
    alert = CapAlert(
        identifier="APD-2025-0001",
        sender=SENDER,
        sent=SENT,
        status="Actual",
        msg_type="Alert",
        codes=("IPAWSv1.0",),
        note="Issued by the watch commander.",
        infos=(_info("en-US"), _info("es-US")),
    )
    return dataclasses.replace(alert, **changes)


def _line_of(document: bytes, needle: bytes) -> int:
    return document[: document.index(needle)].count(b"\n") + 1


# --- rendering and the XSD -----------------------------------------------------------------


def test_bilingual_alert_with_polygon_and_circle_is_valid_cap():
    """An English and Spanish alert renders as CAP 1.2 that the OASIS XSD accepts."""
    document = cap_render(_alert())

    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert cap_schema_errors(document) == []
    assert Validator(document).schema()[0] is True  # capvalidator's own check agrees
    root = etree.fromstring(document)
    assert root.tag == f"{{{CAP_NS}}}alert"
    ns = {"cap": CAP_NS}
    assert [e.text for e in root.findall("cap:info/cap:language", ns)] == ["en-US", "es-US"]
    assert "refúgiese" in root.findall("cap:info/cap:headline", ns)[1].text
    polygon = root.find("cap:info/cap:area/cap:polygon", ns).text
    assert polygon == "38.6412,-90.2101 38.6455,-90.2032 38.6398,-90.1987 38.6362,-90.2068 " \
        "38.6412,-90.2101"  # fmt: skip
    assert root.find("cap:info/cap:area/cap:circle", ns).text == "38.6401,-90.2043 0.8"
    assert root.find("cap:sent", ns).text == "2025-04-12T14:05:00-05:00"


def test_update_and_cancel_reference_the_earlier_alert_and_validate():
    """An Update and a Cancel name the earlier message as sender,identifier,sent."""
    original = _alert()
    reference = (original.sender, original.identifier, original.sent)
    update = _alert(
        identifier="APD-2025-0002",
        sent=SENT + timedelta(minutes=30),
        msg_type="Update",
        references=(reference,),
        infos=(_info("en-US", headline="Shelter area widened to the rail yard"),),
    )
    cancel = _alert(
        identifier="APD-2025-0003",
        sent=SENT + timedelta(hours=1),
        msg_type="Cancel",
        references=(reference, (update.sender, update.identifier, update.sent)),
        note="Suspect in custody. All clear.",
        infos=(),
    )

    for message in (update, cancel):
        document = cap_render(message)
        assert cap_schema_errors(document) == []
        assert ipaws_profile_errors(message) == []
        assert cap_parse(document) == message
    refs = etree.fromstring(cap_render(cancel)).find(f"{{{CAP_NS}}}references").text
    assert refs == (
        f"{SENDER},APD-2025-0001,2025-04-12T14:05:00-05:00 "
        f"{SENDER},APD-2025-0002,2025-04-12T14:35:00-05:00"
    )


def test_schema_errors_name_the_line_and_the_element():
    """A misspelt status is reported with its line, without namespace noise."""
    document = cap_render(_alert()).replace(b"<status>Actual<", b"<status>Actaul<")

    errors = cap_schema_errors(document)

    line = _line_of(document, b"<status>")
    assert len(errors) == 1
    assert errors[0].startswith(f"line {line}: Element 'status'")
    assert "Actaul" in errors[0]
    assert "urn:oasis" not in errors[0]


def test_schema_errors_for_text_that_is_not_xml():
    """Bytes that are not XML give one message with the syntax error and its line."""
    errors = cap_schema_errors(b"<alert>\n<unclosed>\n</alert>")
    assert len(errors) == 1
    assert errors[0].startswith("line ")
    assert "not well-formed XML" in errors[0]


def test_times_have_offsets_never_z_or_fractions():
    """Every time is YYYY-MM-DDThh:mm:ss±hh:mm; UTC is written -00:00 as CAP 1.2 requires."""
    utc_sent = datetime(2025, 4, 12, 19, 5, 7, 654321, tzinfo=UTC)
    alert = _alert(sent=utc_sent, infos=(_info(expires=utc_sent + timedelta(hours=2)),))

    document = cap_render(alert).decode()

    times = re.findall(r"<(sent|effective|onset|expires)>([^<]*)<", document)
    assert len(times) == 4
    for _name, value in times:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", value), value
    assert "<sent>2025-04-12T19:05:07-00:00</sent>" in document
    assert "Z<" not in document
    kathmandu = timezone(timedelta(hours=5, minutes=45))
    assert cap_time(datetime(2025, 1, 2, 3, 4, 5, tzinfo=kathmandu)) == "2025-01-02T03:04:05+05:45"
    assert cap_time(datetime(2025, 7, 1, 12, 0, tzinfo=CENTRAL)) == "2025-07-01T12:00:00-05:00"
    assert cap_time(datetime(2025, 1, 1, 12, 0, tzinfo=CENTRAL)) == "2025-01-01T12:00:00-06:00"


def test_naive_times_are_refused():
    """A time without an offset cannot be written as CAP and is named in the error."""
    with pytest.raises(CapFormatError, match="no UTC offset"):
        cap_time(datetime(2025, 4, 12, 14, 5))  # noqa: DTZ001
    naive = _alert(infos=(_info(expires=datetime(2025, 4, 12, 17, 5)),))  # noqa: DTZ001
    with pytest.raises(CapFormatError, match="<expires>"):
        cap_render(naive)
    assert any("no UTC offset" in p for p in cap_problems(naive))


def test_markup_in_headline_is_escaped_and_reads_back_identically():
    """An HTML/script payload stays text: escaped in the XML, identical after parsing."""
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)> & <![CDATA[ ]]>'
    alert = _alert(infos=(_info(headline=payload, description=f"<b>{payload}</b>"),))

    document = cap_render(alert)

    assert b"<script>" not in document
    assert b"<img" not in document
    assert b"&lt;script&gt;" in document
    assert cap_schema_errors(document) == []
    parsed = cap_parse(document)
    assert parsed.infos[0].headline == payload
    assert parsed.infos[0].description == f"<b>{payload}</b>"


def test_characters_xml_cannot_carry_are_refused_by_name():
    """A control character in a field is named instead of producing broken XML."""
    with pytest.raises(CapFormatError, match=r"<headline> holds U\+000B"):
        cap_render(_alert(infos=(_info(headline="vertical\x0btab"),)))


# --- round trip and strict parsing ---------------------------------------------------------


def test_round_trip_gives_back_the_same_alert():
    """Parsing a rendered alert gives back an equal alert; times keep instant and offset."""
    alert = _alert(
        source="Dispatch console 3",
        incidents="APD-25-0412",
        infos=(
            _info("en-US", audience="Residents of the Mill Street corridor"),
            _info(
                "es-US",
                areas=(
                    CapArea(
                        area_desc="Two rings, an unclosed one among them",
                        polygons=(BLOCKS, BLOCKS[:-1]),
                        geocodes=(("SAME", "029510"), ("UGC", "MOC510")),
                        altitude=420.0,
                        ceiling=1200.5,
                    ),
                ),
            ),
        ),
    )

    parsed = cap_parse(cap_render(alert))

    # Rings are written closed, so the unclosed one comes back closed.
    expected_areas = (dataclasses.replace(alert.infos[1].areas[0], polygons=(BLOCKS, BLOCKS)),)
    expected = dataclasses.replace(
        alert, infos=(alert.infos[0], dataclasses.replace(alert.infos[1], areas=expected_areas))
    )
    assert parsed == expected
    assert parsed.sent.utcoffset() == timedelta(hours=-5)
    assert parsed.infos[0].expires == SENT + timedelta(hours=3)


def test_parse_reads_a_neighbouring_agency_update():
    """A hand-written Update with UTC as -00:00, references, a resource and a signature."""
    alert = cap_parse((SAMPLES / "neighbour_update.xml").read_bytes())

    assert alert.msg_type == "Update"
    assert alert.sent == datetime(2025, 4, 12, 21, 40, tzinfo=UTC)
    assert alert.references[0][1:] == (
        "NCPD-2025-0412-0001",
        datetime(2025, 4, 12, 21, 5, tzinfo=UTC),
    )
    assert len(alert.references) == 2
    info = alert.infos[0]
    assert info.categories == ("Security", "Safety")
    assert info.headline == "Police activity near Mill & 5th: shelter in place"
    assert (info.parameter("CMAMtext") or "").startswith("North County PD")
    assert info.resources[0].size == 48213
    area = info.areas[0]
    assert area.polygons[0][0] == (38.6412, -90.2101)
    assert area.circles == ((38.6401, -90.2043, 0.8),)
    assert area.geocodes == (("SAME", "029510"), ("UGC", "MOC510"))
    assert (area.altitude, area.ceiling) == (420.0, 1200.0)
    assert ipaws_profile_errors(alert) == []
    assert cap_problems(alert) == []


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"this is not XML at all", r"line 1: the CAP document is not well-formed XML"),
        (b"", r"the CAP document is empty"),
        ((SAMPLES / "cap11_alert.xml").read_bytes(), r"line 2: the root element is <alert> in "
         r"namespace 'urn:oasis:names:tc:emergency:cap:1\.1'; a CAP 1\.2 document"),
        ((SAMPLES / "missing_sender.xml").read_bytes(), r"not valid against the CAP 1\.2 schema: "
         r"line 4: Element 'sent': This element is not expected\. Expected is \( sender \)"),
        (b"<html><body>hello</body></html>", r"the root element is <html> in no namespace"),
    ],
    ids=["not-xml", "empty", "cap-1.1", "missing-sender", "html"],
)  # fmt: skip
def test_malformed_cap_is_refused_with_a_clear_message(document, message):
    """Malformed CAP raises CapFormatError saying what is wrong and where."""
    with pytest.raises(CapFormatError, match=message):
        cap_parse(document)


def test_external_entity_is_refused_and_no_file_is_read(tmp_path):
    """An XXE payload is refused for its DOCTYPE; the file's content appears nowhere."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    payload = (
        f'<?xml version="1.0"?>\n<!DOCTYPE alert [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n'
        f'<alert xmlns="{CAP_NS}"><identifier>&xxe;</identifier><sender>a</sender>'
        "<sent>2025-04-12T10:00:00-05:00</sent><status>Actual</status><msgType>Alert</msgType>"
        "<scope>Public</scope></alert>"
    ).encode()

    with pytest.raises(CapFormatError, match="DOCTYPE") as raised:
        cap_parse(payload)
    assert "TOP-SECRET" not in str(raised.value)
    errors = cap_schema_errors(payload)
    assert len(errors) == 1
    assert "DOCTYPE" in errors[0]
    # Hidden from the byte scan (UTF-16), the DOCTYPE is still refused after parsing, unresolved.
    with pytest.raises(CapFormatError, match="DOCTYPE") as raised:
        cap_parse(payload.replace(b'<?xml version="1.0"?>', b"").decode().encode("utf-16"))
    assert "TOP-SECRET" not in str(raised.value)


def test_entity_expansion_bomb_is_refused_quickly():
    """Nested entities (billion laughs) are refused before any expansion."""
    started = time.perf_counter()
    with pytest.raises(CapFormatError, match="DOCTYPE"):
        cap_parse((SAMPLES / "billion_laughs.xml").read_bytes())
    assert time.perf_counter() - started < 1.0


def test_malformed_geometry_and_references_in_valid_xml_are_refused():
    """The XSD sees strings; the reader checks polygons, circles and references itself."""
    good = cap_render(_alert())
    bad_polygon = re.sub(rb"<polygon>[^<]*", b"<polygon>38.1,-90.1 38.2;-90.2", good, count=1)
    bad_circle = re.sub(rb"<circle>[^<]*", b"<circle>38.1,-90.1", good, count=1)
    bad_number = re.sub(rb"<circle>[^<]*", b"<circle>38.1,nan 2", good, count=1)
    bad_refs = cap_render(_alert(msg_type="Update", references=((SENDER, "X", SENT),)))
    bad_refs = re.sub(rb"<references>[^<]*", b"<references>only,two", bad_refs)

    with pytest.raises(CapFormatError, match=r"line \d+: <polygon> point '38.2;-90.2'"):
        cap_parse(bad_polygon)
    with pytest.raises(CapFormatError, match=r"<circle> '38.1,-90.1' is not 'lat,lon radius'"):
        cap_parse(bad_circle)
    with pytest.raises(CapFormatError, match=r"<circle> has longitude 'nan', not a number"):
        cap_parse(bad_number)
    with pytest.raises(CapFormatError, match=r"<references> entry 'only,two'"):
        cap_parse(bad_refs)


def test_parse_refuses_text_instead_of_bytes():
    """The reader takes the document's bytes, so the declared encoding is honoured."""
    with pytest.raises(CapFormatError, match="must be bytes"):
        cap_parse(cap_render(_alert()).decode())  # type: ignore[arg-type]


# --- CAP and IPAWS rules -------------------------------------------------------------------


def test_cap_problems_name_what_the_schema_cannot_see():
    """Commas in the sender, an unclosed bow-tie, a bad circle and more are each reported."""
    alert = _alert(
        sender="alerts, dispatch",
        scope="Private",
        infos=(
            _info(
                language="english please",
                urgency="Soon",
                expires=SENT - timedelta(hours=1),
                areas=(CapArea(area_desc="", polygons=(BOWTIE,), circles=((91.0, 0.0, -1.0),)),),
            ),
        ),
    )

    problems = cap_problems(alert)

    assert problems == [
        "<sender> 'alerts, dispatch' must not contain spaces, commas, '<' or '&'",
        "scope Private needs <addresses>",
        "info 1 (english please) <language> 'english please' is not an RFC 3066 language tag",
        "<info 1 (english please) urgency> 'Soon' is not one of "
        "Immediate, Expected, Future, Past, Unknown",
        "info 1 (english please) <expires> is before its effective or onset time",
        "info 1 (english please) area 1 <areaDesc> is empty",
        "info 1 (english please) area 1 polygon 1: the polygon crosses or touches itself near "
        "(0.5, 0.5)",
        "info 1 (english please) area 1 circle 1 centre has latitude 91.0, outside -90..90",
        "info 1 (english please) area 1 circle 1 has radius -1.0 km; it must be zero or more",
    ]
    assert cap_problems(_alert()) == []


def test_ipaws_profile_passes_a_compliant_alert():
    """A bilingual alert with IPAWSv1.0, a SAME event code, expiry and SAME geocode complies."""
    assert ipaws_profile_errors(_alert()) == []
    polygon_only = _info(areas=(CapArea(area_desc="Mill Street corridor", polygons=(BLOCKS,)),))
    assert ipaws_profile_errors(_alert(infos=(polygon_only,))) == []


def test_ipaws_profile_lists_each_rule_a_message_breaks():
    """Every broken IPAWS rule is listed once, in words an operator can act on."""
    first = _info(
        expires=None,
        event_codes=(("SAME", "lew"),),
        parameters=(("EAS-ORG", "POLICE"), ("CMAMtext", "x" * 91)),
        areas=(CapArea(area_desc="Somewhere", circles=((38.6, -90.2, 1.0),),
                       geocodes=(("SAME", "29510"),)),),
    )  # fmt: skip
    second = _info("es-US", categories=("Safety",), event_codes=(), areas=())
    alert = _alert(
        sender="Alderford PD",
        msg_type="Update",
        codes=(),
        infos=(first, second),
    )

    errors = ipaws_profile_errors(alert)

    assert errors == [
        "<code>IPAWSv1.0</code> is missing",
        "<sender> 'Alderford PD' must not contain spaces, commas, '<' or '&'",
        "a Update must reference the earlier messages in <references>",
        "info 1 (en-US) has no <expires>",
        "info 1 (en-US) SAME event code 'lew' is not three capital letters",
        "info 1 (en-US) area 1 SAME geocode '29510' is not 6 digits",
        "info 1 (en-US) has no area with a polygon or a SAME geocode (6 digits)",
        "info 1 (en-US) EAS-ORG 'POLICE' is not one of PEP, CIV, WXR, EAS",
        "info 1 (en-US) the WEA text (CMAMtext) has 91 characters; the limit is 90",
        "info 2 (es-US) has other categories than info 1; all must match",
        "info 2 (es-US) has other event codes than info 1; all must match",
        "info 2 (es-US) needs exactly one SAME <eventCode> (it has 0)",
        "info 2 (es-US) has no <area>",
    ]
    no_info = ipaws_profile_errors(_alert(infos=()))
    assert no_info == ["an Alert needs at least one <info>"]


# --- polygons --------------------------------------------------------------------------------


def test_bow_tie_polygon_is_reported_where_it_crosses():
    """A self-intersecting ring is named with the point where its edges cross."""
    assert polygon_problems(BOWTIE) == ["the polygon crosses or touches itself near (0.5, 0.5)"]


@pytest.mark.parametrize(
    ("ring", "expected"),
    [
        ((), ["the polygon has no points"]),
        (((38.6, -90.2), (38.7, -90.3)), [
            "the ring is not closed: its last point (38.7, -90.3) differs from its first "
            "(38.6, -90.2) (close_ring() repeats the first point at the end)",
            "the polygon has 2 distinct points; a CAP polygon needs at least 3 corners "
            "(4 points with the first repeated at the end)",
        ]),
        (((38.6, -90.2), (38.7, -90.3), (38.6, -90.2)), [
            "the polygon has 2 distinct points; a CAP polygon needs at least 3 corners "
            "(4 points with the first repeated at the end)",
        ]),
        (((0.0, 0.0), (1.0, 1.0), (2.0, 2.0), (0.0, 0.0)), [
            "the polygon has no area (its points repeat or lie on one line)",
        ]),
        (((95.0, 0.0), (0.0, 200.0), (1.0, 1.0), (95.0, 0.0)), [
            "point 1 has latitude 95.0, outside -90..90",
            "point 2 has longitude 200.0, outside -180..180",
            "point 4 has latitude 95.0, outside -90..90",
        ]),
    ],
    ids=["empty", "two-points", "two-points-closed", "collinear", "out-of-range"],
)  # fmt: skip
def test_polygon_problems_are_spelled_out(ring, expected):
    """Empty, too small, flat and out-of-range rings each get a clear message."""
    assert polygon_problems(ring) == expected


def test_close_ring_closes_an_open_ring_once():
    """close_ring repeats the first point; a closed ring is left as it is."""
    open_ring = [list(p) for p in BLOCKS[:-1]]
    problems = polygon_problems(open_ring)
    assert len(problems) == 1
    assert problems[0].startswith("the ring is not closed")

    closed = close_ring(open_ring)

    assert closed == BLOCKS
    assert close_ring(closed) == BLOCKS
    assert close_ring([]) == ()
    assert polygon_problems(closed) == []


# --- WEA text --------------------------------------------------------------------------------


def test_wea_texts_within_limits_pass_in_english_and_spanish():
    """90/360 characters of GSM text, or Spanish with its accents, are fine."""
    assert wea_problems("x" * 90, "y" * 360) == []
    assert wea_problems("Alerta policial: refúgiese en su lugar. ¿Dudas? Llame al 555-0142.") == []


def test_wea_problems_name_lengths_and_characters():
    """Too long, empty, and emoji or curly quotes are reported with counts and code points."""
    assert wea_problems("") == ["the WEA text (CMAMtext) is empty"]
    assert wea_problems("x" * 91, "y" * 361) == [
        "the WEA text (CMAMtext) has 91 characters; the limit is 90",
        "the long WEA text (CMAMlongtext) has 361 characters; the limit is 360",
    ]
    assert wea_problems("Shelter now \U0001f6a8", "Police say \u201cstay in\u201d") == [
        "the CMAMtext uses characters phones may not show: '\U0001f6a8' (U+1F6A8)",
        "the CMAMlongtext uses characters phones may not show: '\u201c' (U+201C), "
        "'\u201d' (U+201D)",
    ]


# --- Atom feeds ------------------------------------------------------------------------------


def test_atom_feed_entries_link_to_or_embed_their_cap():
    """A hand-written CAP Atom feed yields each entry's id, time, title and CAP document."""
    feed = (SAMPLES / "feed.atom").read_bytes()

    parsed = feedparser.parse(feed)
    assert parsed.bozo == 0
    assert len(parsed.entries) == 2

    linked, embedded = cap_atom_entries(feed)

    assert linked == CapFeedEntry(
        entry_id="urn:uuid:5b0e1f5e-6c1a-4f5e-9d55-2f0a3b8c0003",
        updated=datetime(2025, 4, 12, 21, 40, tzinfo=UTC),
        title="Police activity near Mill & 5th: shelter in place",
        cap_url="https://northcounty-pd.example/alerts/NCPD-2025-0412-0003.cap",
        embedded_cap=None,
        summary="Officers are searching for an armed suspect near Mill Street & 5th Avenue.",
    )
    assert embedded.cap_url == "https://northcounty-pd.example/alerts/NCPD-2025-0412-0001.cap"
    assert embedded.updated == datetime(2025, 4, 12, 21, 5, tzinfo=UTC)
    assert embedded.embedded_cap is not None
    alert = cap_parse(embedded.embedded_cap)
    assert alert.identifier == "NCPD-2025-0412-0001"
    assert alert.infos[0].areas[0].circles == ((38.632, -90.215, 0.3),)


def test_rendered_atom_feed_reads_back_and_pleases_feedparser():
    """The feed Watchhouse writes is well-formed Atom that it and feedparser read back."""
    alert = _alert()
    document = cap_render(alert)
    entry = CapFeedEntry(
        entry_id="https://alderford-pd.example/alerts/APD-2025-0001",
        updated=SENT,
        title="Police activity: shelter in place <now> & here",
        cap_url="https://alderford-pd.example/alerts/APD-2025-0001.cap",
        embedded_cap=document,
        summary="Officers are searching for an armed suspect.",
    )

    feed = cap_atom_render(
        feed_id="https://alderford-pd.example/alerts/feed.atom",
        title="Alderford Police Department: alerts",
        self_url="https://alderford-pd.example/alerts/feed.atom",
        author="Alderford Police Department",
        updated=SENT,
        entries=[entry],
        embed=True,
    )

    assert feedparser.parse(feed).bozo == 0
    (read,) = cap_atom_entries(feed)
    assert dataclasses.replace(read, embedded_cap=document) == entry
    assert read.embedded_cap is not None
    assert cap_parse(read.embedded_cap) == alert


@pytest.mark.parametrize(
    ("feed", "message"),
    [
        (b'<rss version="2.0"><channel/></rss>', "not an Atom <feed>"),
        (b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><updated>2025-04-12T10:00:00Z'
         b"</updated></entry></feed>", "line 1: an <entry> has no <id>"),
        (b'<feed xmlns="http://www.w3.org/2005/Atom">\n<entry><id>x</id>'
         b"<updated>2025-04-12T10:00:00Z</updated></entry></feed>",
         "line 2: <entry> 'x' has no link to its CAP document and no embedded alert"),
        (b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>x</id><updated>yesterday'
         b'</updated><link href="a.cap"/></entry></feed>', "'yesterday' is not an RFC 3339 time"),
        (b'<!DOCTYPE feed [<!ENTITY e "x">]><feed xmlns="http://www.w3.org/2005/Atom"/>',
         "DOCTYPE"),
    ],
    ids=["rss", "no-id", "no-link", "bad-time", "doctype"],
)  # fmt: skip
def test_malformed_feeds_are_refused_with_a_clear_message(feed, message):
    """A feed that is not Atom, or an entry missing what it needs, is named in the error."""
    with pytest.raises(CapFormatError, match=re.escape(message)):
        cap_atom_entries(feed)
