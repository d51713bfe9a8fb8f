"""The console's crime section: formats with their offence tables, and import reports."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.crimemap.conftest import row
from watchhouse.crimemap.services import incidents_import

pytestmark = pytest.mark.django_db


def test_staff_see_the_formats_and_the_reports(
    client, make_staff, grid, write_export, mapping_file
):
    report = incidents_import(
        actor=None, path=write_export([row("A1"), row("T1", when="soon")]), format="mapping",
        mapping=mapping_file, jurisdiction="Grid City",
    )  # fmt: skip
    client.force_login(make_staff("pio"))
    home = client.get(reverse("console:home")).content.decode()
    assert reverse("crimemap:console") in home
    page = client.get(reverse("crimemap:console")).content.decode()
    for name in ("stl-nibrs", "vancouver", "police-uk", "socrata-chicago"):
        assert reverse("crimemap:format", args=[name]) in page
    assert "Sexual offence" in page and "No: area totals only" in page
    assert reverse("crimemap:report", args=[report.pk]) in page
    detail = client.get(reverse("crimemap:report", args=[report.pk])).content.decode()
    assert "id T1: when &#x27;soon&#x27; is not a time in the format" in detail
    assert "1 created, 0 updated, 0 unchanged, 0 withdrawn" in detail


def test_a_format_page_shows_its_offence_table_and_mapping(client, make_staff):
    client.force_login(make_staff())
    page = client.get(reverse("crimemap:format", args=["vancouver"])).content.decode()
    assert "<td>Offence Against a Person</td><td>Assault</td><td>—</td><td>Person</td>" in page
    assert "<td>Theft of Vehicle</td><td>Vehicle theft and break-in</td><td>240</td>" in page
    assert "OFFSET TO PROTECT PRIVACY" in page
    nibrs = client.get(reverse("crimemap:format", args=["stl-nibrs"])).content.decode()
    assert "<td>11A Rape</td><td>Sexual offence</td><td>11A</td><td>Person</td><td>No" in nibrs
    assert client.get(reverse("crimemap:format", args=["nope"])).status_code == 404
    assert client.get(reverse("crimemap:report", args=[999])).status_code == 404


def test_the_public_is_sent_to_sign_in(client):
    response = client.get(reverse("crimemap:console"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
