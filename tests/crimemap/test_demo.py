"""The demo incidents are drawn by the project's own code in Alderford, and load once."""

from __future__ import annotations

import io

import pytest
from django.utils import timezone

from watchhouse.crimemap import demo as crime_demo
from watchhouse.crimemap.models import Incident
from watchhouse.geo import demo as geo_demo
from watchhouse.geocode import demo as address_demo

pytestmark = pytest.mark.django_db


def test_demo_incidents_load_once_inside_alderford():
    geo_demo.load(stdout=io.StringIO())
    address_demo.load(stdout=io.StringIO())
    out = io.StringIO()
    crime_demo.load(stdout=out)
    assert out.getvalue().startswith(
        "Demo incidents: demo alderford-incidents.csv (mapping alderford-rms): 2490 rows read, "
        "0 skipped, 0 rejected; incidents 2490 created"
    )
    incidents = Incident.objects.filter(jurisdiction__name="Alderford")
    assert incidents.count() == 2490
    # A year and more, so a period has one before it and one a year earlier.
    first, last = incidents.order_by("occurred_at").values_list("occurred_date", flat=True)[::2489]
    assert (last - first).days >= 390
    assert last < timezone.localdate()
    assert not incidents.filter(neighbourhood=None).exists()
    assert not incidents.filter(beat=None).exists()
    assert incidents.values("category").distinct().count() >= 10
    withheld = incidents.filter(withheld=True)
    assert withheld.exists() and not withheld.exclude(public_lat=None).exists()
    assert not incidents.filter(withheld=False, public_lat=None).exists()
    again = io.StringIO()
    crime_demo.load(stdout=again)
    assert "incidents 0 created, 0 updated, 2490 unchanged" in again.getvalue()
