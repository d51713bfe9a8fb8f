"""The public never sees an exact address or point; exact locations are audited reads."""

from __future__ import annotations

import h3
import pytest

from tests.crimemap.conftest import row
from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.crimemap.models import HundredBlock, Incident
from watchhouse.crimemap.privacy import PlaceKind, place_from_address, privacy_policy
from watchhouse.crimemap.selectors import PUBLIC_FIELDS, incident_exact_get, incident_public_list
from watchhouse.crimemap.services import incidents_import


def _import(path, mapping):  # type: ignore[no-untyped-def]
    return incidents_import(
        actor=None, path=path, format="mapping", mapping=mapping, jurisdiction="Grid City"
    )


@pytest.mark.parametrize(
    ("text", "kind", "label"),
    [
        ("4601 MARYLAND AVE", PlaceKind.BLOCK, "46XX MARYLAND AVE"),
        ("3812 N. Grand Blvd", PlaceKind.BLOCK, "38XX N GRAND BLVD"),
        ("1 GOVERNMENT DR", PlaceKind.BLOCK, "0XX GOVERNMENT DR"),
        ("805A RUSSELL BLVD", PlaceKind.BLOCK, "8XX RUSSELL BLVD"),
        ("5207-5209 LOUGHBOROUGH AVE", PlaceKind.BLOCK, "52XX LOUGHBOROUGH AVE"),
        ("10XX ALBERNI ST", PlaceKind.BLOCK, "10XX ALBERNI ST"),
        ("024XX W LITHUANIAN PLAZA CT", PlaceKind.BLOCK, "024XX W LITHUANIAN PLAZA CT"),
        ("1915 OLIVE ST / 19TH ST", PlaceKind.INTERSECTION, "19TH ST / OLIVE ST"),
        ("HOLLY HILLS BLVD & LIVINGSTON DR", PlaceKind.INTERSECTION,
         "HOLLY HILLS BLVD / LIVINGSTON DR"),
        ("S GRAND BLVD", PlaceKind.STREET, "S GRAND BLVD"),
        ("20TH ST", PlaceKind.STREET, "20TH ST"),
        ("2101", PlaceKind.NONE, ""),
        ("63103", PlaceKind.NONE, ""),
        ("", PlaceKind.NONE, ""),
    ],
)  # fmt: skip
def test_addresses_become_places_without_house_numbers(text, kind, label):
    place = place_from_address(text)
    assert (place.kind, place.label) == (kind, label)


def test_unknown_place_values_name_no_place():
    assert place_from_address("X NK_LOC ST", unknown=frozenset({"X NK_LOC ST"})).label == ""


def test_the_policy_comes_from_settings_with_safe_defaults(settings):
    settings.WATCHHOUSE_CRIME_PRIVACY = {}
    policy = privacy_policy()
    assert policy.withheld_categories == {"sex_offence", "family_offence"}
    assert {"11A", "36B", "90F"} <= policy.withheld_nibrs and policy.withhold_domestic
    settings.WATCHHOUSE_CRIME_PRIVACY = {"withhold_domestic": False}
    assert privacy_policy().withhold_domestic is False
    assert privacy_policy().withheld_categories == policy.withheld_categories
    settings.WATCHHOUSE_CRIME_PRIVACY = {"withheld_nibrs": ["11A", "ZZZ"]}
    with pytest.raises(InvalidInputError, match="unknown categories or NIBRS codes: ZZZ"):
        privacy_policy()
    settings.WATCHHOUSE_CRIME_PRIVACY = {"hide_everything": True}
    with pytest.raises(InvalidInputError, match="unknown keys hide_everything"):
        privacy_policy()


@pytest.mark.django_db
def test_withheld_incidents_show_nothing_finer_than_their_area(
    grid, write_export, mapping_file, settings
):
    path = write_export(
        [
            row("SEX", code="11D", label="FONDLING"),
            row("TRAFFICKING", code="64B", label="INVOLUNTARY SERVITUDE"),
            row("DV", code="13B", label="ASSAULT", dv="Y"),
            row("RULE", code="NEIGHBOUR DISPUTE", label="DISPUTE"),
            row("SHOWN", code="290", label="DAMAGE", lat="38.6151", lon="-90.2951"),
        ]
    )
    _import(path, mapping_file)
    reasons = dict(Incident.objects.values_list("record_id", "withheld_reason"))
    assert reasons == {
        "SEX": "category", "TRAFFICKING": "nibrs", "DV": "domestic", "RULE": "offence",
        "SHOWN": "",
    }  # fmt: skip
    for incident in Incident.objects.filter(withheld=True):
        assert (incident.public_lat, incident.public_lon, incident.public_h3) == (None, None, "")
        assert (incident.public_place, incident.block_id) == ("", None)
        assert incident.neighbourhood.name == "North West"
        assert incident.exact_lat == 38.615  # kept for analysts
    # Withheld points do not count towards a block's point either.
    assert HundredBlock.objects.get().point_count == 1
    public = {p["id"]: p for p in incident_public_list(jurisdiction=grid)}
    assert len(public) == 5
    for incident in public.values():
        assert set(incident) == set(PUBLIC_FIELDS)
        if incident["withheld"]:
            assert incident["public_time"] is None and incident["public_place"] == ""
    settings.WATCHHOUSE_CRIME_PRIVACY = {"withhold_domestic": False}
    _import(path, mapping_file)
    assert Incident.objects.get(record_id="DV").public_place == "19XX OLIVE ST"


@pytest.mark.django_db
def test_a_block_shows_its_mean_point_once_it_has_points_in_two_places(
    grid, write_export, mapping_file
):
    elsewhere = row("C", address="1420 PINE ST", lat="38.6146", lon="-90.2946")
    _import(write_export([row("A", lat="38.6150", lon="-90.2950"), elsewhere]), mapping_file)
    c_point = Incident.objects.values_list("public_lat", "public_lon", "public_h3").get(
        record_id="C"
    )
    a = Incident.objects.get(record_id="A")
    # One house on the block: the public point is its offset point, not the house.
    cell = h3.latlng_to_cell(38.615, -90.295, 10)
    assert (a.public_lat, a.public_lon) == pytest.approx(h3.cell_to_latlng(cell))
    assert (a.public_lat, a.public_lon) != (a.exact_lat, a.exact_lon)
    _import(
        write_export([row("B", address="1931 OLIVE ST", lat="38.6152", lon="-90.2954")], "b.csv"),
        mapping_file,
    )
    block = HundredBlock.objects.get(name="19XX OLIVE ST")
    assert (block.point_count, block.lat, block.lon) == (
        2, pytest.approx(38.6151), pytest.approx(-90.2952)
    )  # fmt: skip
    # The first incident moved to the block's new point with the second.
    for incident in Incident.objects.filter(block=block):
        assert (incident.public_lat, incident.public_lon, incident.public_h3) == (
            block.lat, block.lon, block.h3
        )  # fmt: skip
    assert sorted(Incident.objects.filter(block=block).values_list("record_id", flat=True)) == [
        "A", "B"
    ]  # fmt: skip
    # An incident at another block stays where it was.
    assert (
        Incident.objects.values_list("public_lat", "public_lon", "public_h3").get(record_id="C")
        == c_point
    )


@pytest.mark.django_db
def test_streets_without_numbers_and_bare_numbers_get_offset_points(
    grid, write_export, mapping_file
):
    _import(
        write_export(
            [row("S", address="S Grand Blvd", lat="38.6051", lon="-90.2851"),
             row("N", address="2101", lat="38.6052", lon="-90.2852")]
        ),
        mapping_file,
    )  # fmt: skip
    for record_id, place in (("S", "S GRAND BLVD"), ("N", "")):
        incident = Incident.objects.get(record_id=record_id)
        assert (incident.public_place, incident.block_id) == (place, None)
        cell = h3.latlng_to_cell(incident.exact_lat, incident.exact_lon, 10)
        assert (incident.public_lat, incident.public_lon) == pytest.approx(h3.cell_to_latlng(cell))


@pytest.mark.django_db
def test_exact_locations_are_for_analysts_and_every_read_is_audited(
    grid, write_export, mapping_file, make_staff
):
    _import(write_export([row("A1", code="11D", label="FONDLING")]), mapping_file)
    incident = Incident.objects.get()
    for refused in (make_staff("dispatcher"), make_staff("admin", "supervisor")):
        with pytest.raises(NotPermittedError):
            incident_exact_get(actor=refused, incident_id=incident.pk)
    assert not AuditEntry.objects.filter(action="crimemap.exact_location_read").exists()
    analyst = make_staff("analyst")
    exact = incident_exact_get(actor=analyst, incident_id=incident.pk, justification="case 26-114")
    assert (exact.address, exact.lat, exact.lon, exact.record_id) == (
        "1915 Olive St", 38.615, -90.295, "A1"
    )  # fmt: skip
    entry = AuditEntry.objects.get(action="crimemap.exact_location_read")
    assert (entry.actor, entry.object_id, entry.justification) == (
        analyst, str(incident.pk), "case 26-114"
    )  # fmt: skip
    assert entry.object_type == "crimemap.incident"


@pytest.mark.django_db
def test_the_public_list_is_one_query(grid, write_export, mapping_file, django_assert_num_queries):
    _import(write_export([row(f"A{n}") for n in range(20)]), mapping_file)
    with django_assert_num_queries(1):
        listed = list(incident_public_list(jurisdiction=grid, category="theft"))
    assert len(listed) == 20
