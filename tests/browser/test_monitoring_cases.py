"""An investigator opens a case page: the timeline, and the places its posts named, carried or
showed in a photo both on the map (the project's own Leaflet, no base map) and in the table."""

from __future__ import annotations

import hashlib

from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.monitoring.cases_support import open_case
from watchhouse.accounts.roles import Role
from watchhouse.accounts.services import totp_device_create
from watchhouse.monitoring.models import CaseItem
from watchhouse.monitoring.services.cases import item_canonical


def test_the_case_page_maps_the_places_of_its_posts(page, make_staff, sign_in, settings):
    settings.WATCHHOUSE_MFA_REQUIRED = True
    settings.WATCHHOUSE_CRIME_TILES_URL = ""
    people = type("People", (), {})()
    people.investigator = make_staff(Role.INVESTIGATOR, username="d.okafor")
    people.supervisor = make_staff(Role.SUPERVISOR)
    case = open_case(people)
    places = [
        [{"name": "", "found_by": "coordinates", "lat": 39.80, "lon": -89.65}],
        [{"name": "Old Mill", "kind": "landmark", "found_by": "mention", "lat": 39.79,
          "lon": -89.61},
         {"name": "photo.jpg", "kind": "exif", "found_by": "exif", "lat": 39.7875,
          "lon": -89.6417}],
    ]  # fmt: skip
    for n, found in enumerate(places):
        item = CaseItem(case=case, source_kind="fediverse", remote_id=f"p{n}",
                        author_handle="@jdoe@social.example", text=f"post {n}",
                        posted_at=timezone.now(), places=found,
                        collected_by=people.investigator)  # fmt: skip
        item.sha256 = hashlib.sha256(item_canonical(item)).hexdigest()
        item.save()
    sign_in(page, people.investigator, totp_device_create(actor=None, user=people.investigator))

    page.goto(reverse("console:monitoring_case_detail", args=[case.pk]))
    expect(page.get_by_role("heading", level=1)).to_contain_text(case.number)
    expect(page.get_by_role("region", name="Map of the places in the case")).to_be_visible()
    expect(page.locator("#case-map path.case-place")).to_have_count(3)
    expect(page.locator("#case-map path.case-place-exif")).to_have_count(1)
    rows = page.locator("#places-table tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#places-table")).to_contain_text("in a photo (EXIF)")
    expect(page.locator("#places-table")).to_contain_text("Old Mill")
