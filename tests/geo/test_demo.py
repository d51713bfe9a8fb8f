"""The demo city is drawn by the project's own code, and loading it twice changes nothing."""

from __future__ import annotations

import io

import pytest
import shapely

from watchhouse.audit.models import AuditEntry
from watchhouse.geo import demo
from watchhouse.geo.models import Area, Jurisdiction
from watchhouse.geo.selectors import area_index

pytestmark = pytest.mark.django_db


def test_demo_loads_a_city_once():
    out = io.StringIO()
    demo.load(stdout=out)
    assert out.getvalue() == (
        "Demo areas: Alderford with 12 neighbourhoods, 24 beats, 3 districts, 5 wards "
        "(44 created, 0 updated)."
    )
    assert AuditEntry.objects.filter(action="geo.area_import").count() == 4
    again = io.StringIO()
    demo.load(stdout=again)
    assert "(0 created, 0 updated)" in again.getvalue()
    assert Area.objects.count() == 44 and Jurisdiction.objects.get().name == "Alderford"


def test_demo_areas_tile_the_city_and_beats_nest_in_districts():
    demo.load(stdout=io.StringIO())
    city = shapely.from_wkb(bytes(Jurisdiction.objects.get().boundary))
    for kind in ("neighbourhood", "beat", "district", "ward"):
        shapes = [a.shape for a in Area.objects.filter(kind=kind)]
        assert all(s.is_valid and not s.is_empty for s in shapes)
        assert sum(s.area for s in shapes) == pytest.approx(city.area, rel=1e-4)
    districts = {a.code: a.shape for a in Area.objects.filter(kind="district")}
    for beat in Area.objects.filter(kind="beat"):
        assert districts[beat.code[0]].buffer(1e-6).covers(beat.shape), beat.name
    # Every point of the city is in exactly one neighbourhood.
    index = area_index(kind="neighbourhood")
    centre = Area.objects.get(kind="district", code="1").shape.representative_point()
    assert index.at(centre.y, centre.x) >= 0
