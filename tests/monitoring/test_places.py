"""Place extraction from the jurisdiction's own gazetteer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.alerts.conftest import town_create
from watchhouse.geo.models import Area
from watchhouse.geocode.models import AddressPoint
from watchhouse.monitoring.models import Landmark
from watchhouse.monitoring.normalise import normalise_text
from watchhouse.monitoring.places import Gazetteer, street_variants

pytestmark = pytest.mark.django_db


@pytest.fixture
def gazetteer(tmp_path: Path) -> Gazetteer:
    town_create(tmp_path)
    for number, (lat, lon) in enumerate([(39.955, -89.355), (39.957, -89.355)], 1):
        point = AddressPoint(
            address=f"{number} N OAK AVE", house_number=number, street="N OAK AVE", source="t"
        )
        point.place(lat, lon)
        point.save()
    point = AddressPoint(address="5 MAIN ST", house_number=5, street="MAIN ST", source="t")
    point.place(39.945, -89.345)
    point.save()
    point = AddressPoint(address="9 BROADWAY", house_number=9, street="BROADWAY", source="t")
    point.place(39.945, -89.345)
    point.save()
    Landmark.objects.create(
        name="Testford Memorial Stadium", aliases=["the dome"], lat=39.945, lon=-89.355
    )
    return Gazetteer.from_database()


def names(gazetteer: Gazetteer, text: str) -> list[tuple[str, str]]:
    return [(p.kind, p.name) for p in gazetteer.extract(normalise_text(text))]


def test_area_names_are_found_with_their_area(gazetteer: Gazetteer) -> None:
    """An area named in a post gives the area, at its centroid."""
    places = gazetteer.extract(normalise_text("Big fire in CEDAR PARK right now"))
    assert [(p.kind, p.name) for p in places] == [("area", "Cedar Park")]
    cedar = Area.objects.get(name="Cedar Park")
    assert places[0].area_id == cedar.pk
    assert places[0].lat == pytest.approx(cedar.centroid_lat)


def test_streets_with_a_type_are_found_in_several_spellings(gazetteer: Gazetteer) -> None:
    """A street is found abbreviated, written out, and without its directional."""
    assert names(gazetteer, "crash at oak ave") == [("street", "N OAK AVE")]
    assert names(gazetteer, "crash on North Oak Avenue.") == [("street", "N OAK AVE")]
    assert names(gazetteer, "smoke on main street") == [("street", "MAIN ST")]
    place = gazetteer.extract("oak ave")[0]
    assert place.lat == pytest.approx(39.956)
    assert place.area_id == Area.objects.get(name="Old Mill").pk


def test_bare_one_word_street_names_are_not_used(gazetteer: Gazetteer) -> None:
    """A one-word street without a type ("Broadway") is too often an ordinary word."""
    assert names(gazetteer, "tickets for broadway tonight") == []
    assert street_variants("BROADWAY") == []
    assert street_variants("MARTIN LUTHER KING") == ["martin luther king"]


def test_landmark_aliases_are_found(gazetteer: Gazetteer) -> None:
    """A landmark is found by its name and by each alias."""
    assert names(gazetteer, "evacuating the dome!") == [("landmark", "Testford Memorial Stadium")]
    assert names(gazetteer, "testford memorial stadium") == [
        ("landmark", "Testford Memorial Stadium")
    ]


def test_names_inside_longer_words_are_not_found(gazetteer: Gazetteer) -> None:
    """Names match on word boundaries only: no "main st" in "domain st", no area in a
    longer word."""
    assert names(gazetteer, "our domain st uff") == []
    assert names(gazetteer, "bigoak ave") == []
    assert names(gazetteer, "riversides") == []


def test_carried_coordinates_are_checked_against_the_jurisdiction(gazetteer: Gazetteer) -> None:
    """Coordinates inside the town are local and get their area; far ones are not local."""
    inside = gazetteer.carried(39.945, -89.355)
    assert gazetteer.in_jurisdiction(39.945, -89.355)
    assert inside.area_id == Area.objects.get(name="Riverside").pk
    assert gazetteer.is_local(inside)
    outside = gazetteer.carried(40.5, -90.0)
    assert not gazetteer.in_jurisdiction(40.5, -90.0)
    assert outside.area_id is None
    assert not gazetteer.is_local(outside)
    assert outside.as_dict()["kind"] == "coordinates"


def test_a_name_inside_a_longer_name_is_the_longer_place(gazetteer: Gazetteer) -> None:
    """ "Cedar Park Mall" is the mall, not also the area called Cedar Park; the area alone is
    still found where it is named alone."""
    Landmark.objects.create(name="Cedar Park Mall", lat=39.95, lon=-89.35)
    gazetteer = Gazetteer.from_database()
    assert names(gazetteer, "smoke at cedar park mall") == [("landmark", "Cedar Park Mall")]
    assert names(gazetteer, "cedar park mall, then cedar park") == [
        ("landmark", "Cedar Park Mall"),
        ("area", "Cedar Park"),
    ]
