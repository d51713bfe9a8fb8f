"""The public area pages in Chromium: maps drawn without JavaScript, and axe-core finds no
serious or critical accessibility problem."""

from __future__ import annotations

import io
import json

from django.urls import reverse
from playwright.sync_api import expect

from tests.geo.conftest import BOWTIE, collection, feature, polygon
from watchhouse.accounts.services import totp_device_create
from watchhouse.geo import demo


def _axe_problems(page, script) -> list[str]:
    # Evaluated through the DevTools protocol, so the site's strict CSP stays as served.
    page.evaluate(script.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document)")
    assert result["passes"], "axe-core did not run"
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def test_area_pages_work_without_javascript_and_pass_axe(new_context, axe_script):
    demo.load(stdout=io.StringIO())
    quiet = new_context(java_script_enabled=False).new_page()
    quiet.goto(reverse("web:areas"))
    expect(quiet.get_by_role("heading", level=1)).to_have_text("Neighbourhoods")
    quiet.get_by_role("link", name="Old Town", exact=True).click()
    expect(quiet.get_by_role("heading", level=1)).to_have_text("Old Town")
    expect(quiet.get_by_role("img", name="Map of Old Town")).to_be_visible()
    assert quiet.locator("svg.area-map path.current").count() == 1

    page = new_context().new_page()
    for url in (
        reverse("web:areas"),
        reverse("web:area", kwargs={"kind": "beat", "slug": "beat-101"}),
    ):
        page.goto(url)
        problems = _axe_problems(page, axe_script)
        assert problems == [], json.dumps(problems, indent=1)


def test_console_areas_and_a_refused_import_pass_axe(
    new_context, axe_script, make_staff, sign_in, tmp_path
):
    """An administrator uploads a file with a bow-tie polygon: the page says what is wrong."""
    demo.load(stdout=io.StringIO())
    admin = make_staff("admin")
    page = new_context().new_page()
    sign_in(page, admin, totp_device_create(actor=None, user=admin))
    page.goto(reverse("console:areas"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Areas")
    assert _axe_problems(page, axe_script) == []

    bad = tmp_path / "wards.geojson"
    bad.write_text(json.dumps(collection(feature(polygon(BOWTIE), name="Bowtie"))))
    page.get_by_role("link", name="Import areas").click()
    page.get_by_label("What the areas are").select_option("ward")
    page.get_by_label("Boundary file").set_input_files(str(bad))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was imported.")
    expect(page.get_by_role("alert")).to_contain_text(
        "feature 1 (name 'Bowtie') is not a valid polygon"
    )
    assert _axe_problems(page, axe_script) == []
