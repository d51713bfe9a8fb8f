"""A dispatcher writes an alert in the composer with its script running under the strict CSP:
draws on the map, watches the reach and the counters change as they work, saves the draft and
finds what they drew stored where they clicked; the page passes axe while doing so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import shapely
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.alerts.conftest import point, subscribe
from tests.browser.test_alerts_a11y import axe
from tests.browser.test_public_site import use_language
from watchhouse.accounts.services import totp_device_create
from watchhouse.alerts.models import Alert
from watchhouse.geo.selectors import area_shape_list
from watchhouse.geo.svg import Projection, svg_map

HEADLINE = "Water main break on Mill Road"
# Corners to click, around the middle of Old Mill (-89.36..-89.35, 39.95..39.96).
CORNERS = [(-89.358, 39.952), (-89.352, 39.952), (-89.352, 39.958), (-89.358, 39.958)]
LINDEN_HILL_MIDDLE = (-89.345, 39.945)
REACH = reverse("console:alert_reach")
NO_AREA = "Choose an area, or draw a polygon or a circle, to see who the alert reaches."


def projection() -> Projection:
    """The projection of the composer's map, as the server draws it."""
    drawn = svg_map((a.shape, "", a.name) for a in area_shape_list()).projection
    assert drawn is not None
    return drawn


class Screen:
    """Where points of the map are on the screen now, and back (the SVG's screen matrix)."""

    def __init__(self, page: Any, frame: Projection) -> None:
        svg = page.locator(".composer-map")
        svg.scroll_into_view_if_needed()
        self.a, self.b, self.c, self.d, self.e, self.f = svg.evaluate(
            "el => { const m = el.getScreenCTM(); return [m.a, m.b, m.c, m.d, m.e, m.f]; }"
        )
        assert self.b == self.c == 0  # north up, no rotation
        self.frame = frame

    def pixel(self, lon: float, lat: float) -> tuple[int, int]:
        """The whole pixel nearest the point (a mouse clicks on whole pixels)."""
        x, y = self.frame.xy(lon, lat)
        return round(self.a * x + self.e), round(self.d * y + self.f)

    def lonlat(self, px: int, py: int) -> tuple[float, float]:
        """The point under a pixel."""
        return self.frame.lonlat((px - self.e) / self.a, (py - self.f) / self.d)

    def degrees_per_pixel(self) -> float:
        return 1 / (self.a * self.frame.scale * self.frame.squash)


def click_map(page: Any, frame: Projection, lon: float, lat: float) -> tuple[float, float]:
    """Click the map at the pixel nearest the point; the point under that pixel."""
    screen = Screen(page, frame)
    px, py = screen.pixel(lon, lat)
    page.mouse.click(px, py)
    return screen.lonlat(px, py)


def fill_message(page: Any) -> None:
    page.locator("[name=category]").select_option("advisory")
    page.locator("[name=event]").fill("Water main break")
    expires = timezone.localtime() + timedelta(hours=3)
    page.locator("[name=expires]").fill(expires.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Headline (English)").fill(HEADLINE)
    page.get_by_label("Description (English)").fill("Crews are repairing a water main.")
    page.get_by_label("Instructions (English)").fill("Use Oak Avenue.")


def draw_polygon(page: Any, frame: Projection) -> list[tuple[float, float]]:
    """Click the corners in Polygon mode and finish; the points under the pixels clicked."""
    page.get_by_role("radio", name="Polygon").check()
    clicked = [click_map(page, frame, lon, lat) for lon, lat in CORNERS]
    page.get_by_role("button", name="Finish polygon").click()
    return clicked


@pytest.fixture
def dispatcher_page(new_context, live_server, make_staff, sign_in) -> Iterator[Any]:
    """A signed-in dispatcher's page under the CSP as served; it records console errors and
    requests to other sites, and the test ends by checking there were none."""
    dispatcher = make_staff("dispatcher")
    page = new_context(viewport={"width": 1280, "height": 1000}).new_page()
    errors: list[str] = []
    offsite: list[str] = []

    def console(message: Any) -> None:
        # Chromium reports every 4xx answer; the reach's 400 for a bad area is expected.
        if message.type == "error" and not message.location["url"].endswith(REACH):
            errors.append(message.text)

    def request(sent: Any) -> None:
        if not sent.url.startswith(live_server.url + "/"):
            offsite.append(sent.url)

    page.on("console", console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", request)
    sign_in(page, dispatcher, totp_device_create(actor=None, user=dispatcher))
    yield page
    assert errors == [] and offsite == []


def test_draw_count_and_save_an_alert(dispatcher_page, areas):
    """Draw a polygon over a resident's home and choose a neighbourhood by clicking it: the
    reach follows; the SMS counter counts € as two septets and switches to UCS-2 for an
    emoji; the draft stores the polygon at the clicked points and shows it again."""
    subscribe(point(39.955, -89.355), email="mill@example.org")
    subscribe(point(39.945, -89.345), email="linden@example.org")
    page = dispatcher_page
    page.goto(reverse("console:alert_new"))
    status = page.get_by_role("status").filter(has_text="Choose an area")
    expect(status).to_have_text(NO_AREA)
    reach = page.locator("#reach-live")
    fill_message(page)

    frame = projection()
    svg = page.locator(".composer-map")
    for name in ("min-lon", "max-lat", "squash", "scale"):
        written = float(svg.get_attribute(f"data-{name}") or "nan")
        assert written == getattr(frame, name.replace("-", "_"))
    clicked = draw_polygon(page, frame)
    slack = Screen(page, frame).degrees_per_pixel()
    expect(page.locator(".composer-map polygon.drawn")).to_have_count(1)
    expect(reach).to_have_text("Reaches 1 subscriptions with 1 messages: E-mail 1.")

    # A neighbourhood, chosen on the map, is ticked in the list and adds its resident.
    page.get_by_role("radio", name="Choose areas").check()
    click_map(page, frame, *LINDEN_HILL_MIDDLE)
    expect(page.get_by_role("checkbox", name="Linden Hill (Neighbourhood)")).to_be_checked()
    linden = areas[[a.name for a in areas].index("Linden Hill")]
    expect(page.locator(f'path[data-area-id="{linden.pk}"]')).to_have_class("chosen")
    expect(reach).to_have_text("Reaches 2 subscriptions with 2 messages: E-mail 2.")

    # A circle takes its centre from a click and a radius when none is given; Clear drops it.
    page.get_by_role("radio", name="Circle").check()
    click_map(page, frame, *LINDEN_HILL_MIDDLE)
    expect(page.get_by_label("Radius (metres)")).to_have_value("500")
    expect(page.locator(".composer-map ellipse.drawn")).to_have_count(1)
    page.get_by_role("button", name="Clear circle").click()
    expect(page.get_by_label("Circle centre latitude")).to_have_value("")
    expect(page.locator(".composer-map ellipse.drawn")).to_have_count(0)

    # Counters, as a phone counts.
    sms = page.get_by_label("Text message (English)")
    counter = page.locator("#id_en_sms_text-count")
    expect(counter).to_contain_text(f"{len(HEADLINE)} / 160")  # the headline stands in
    sms.fill("Road closed")
    expect(counter).to_have_text("11 / 160 · GSM-7 · 1 part")
    sms.press_sequentially(" €5")
    expect(counter).to_have_text("15 / 160 · GSM-7 · 1 part")
    sms.press("End")
    sms.press_sequentially("\U0001f6a7")
    expect(counter).to_have_text("16 / 70 · UCS-2 · 1 part")
    sms.fill("x" * 150 + "€" * 6)
    expect(counter).to_have_text("162 / 160 · GSM-7 · 2 parts · too long: it must fit in one part")
    expect(counter).to_have_class("counter over")
    sms.fill("Road closed €5")
    wea = page.get_by_label("WEA short, 90 (English)")
    wea.fill("Water main break, avoid Mill Rd \U0001f6a7")
    expect(page.locator("#id_en_wea_short-count")).to_have_text(
        "33 / 90 · phones may not show: “\U0001f6a7” U+1F6A7"
    )
    wea.fill("Water main break, avoid Mill Rd")

    # What each channel shows, as typed.
    english = page.locator('[data-preview="en"]')
    expect(english.locator('[data-show="subject"]')).to_have_text(f"[Advisory] {HEADLINE}")
    expect(english.locator('[data-show="sms"]')).to_have_text("Road closed €5")
    expect(english.locator('[data-show="push-body"]')).to_have_text(
        "Crews are repairing a water main."
    )
    expect(page.locator('[data-preview="es"] [data-show="none"]')).to_be_visible()

    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(HEADLINE)
    alert = Alert.objects.get()
    stored = alert.areas.get(shape="polygon")
    ring = json.loads(stored.polygon_geojson)["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == len(CORNERS) + 1
    for (lon, lat), under_mouse, intended in zip(ring[:-1], clicked, CORNERS, strict=True):
        # Exactly where the mouse clicked (to the six decimals stored) ...
        assert (lon, lat) == pytest.approx(under_mouse, abs=1e-6)
        # ... which is within a pixel of where it was meant to.
        assert (lon, lat) == pytest.approx(intended, abs=slack)
    polygon = shapely.from_wkb(bytes(stored.geometry))
    assert shapely.covers(polygon.buffer(1e-6), shapely.points(ring)).all()
    assert polygon.contains(shapely.Point(-89.355, 39.955))
    assert alert.areas.get(shape="area").geo_area_id == linden.pk
    assert alert.infos.get().sms_text == "Road closed €5"

    # Editing the draft draws what was stored.
    page.goto(reverse("console:alert_edit", kwargs={"pk": alert.pk}))
    expect(page.locator(".composer-map polygon.drawn")).to_have_count(1)
    expect(page.locator(f'path[data-area-id="{linden.pk}"]')).to_have_class("chosen")
    expect(page.locator("#reach-live")).to_have_text(
        "Reaches 2 subscriptions with 2 messages: E-mail 2."
    )


def test_a_polygon_that_crosses_itself_is_explained(dispatcher_page, areas):
    """Drawing a bow tie shows the server's reason in the status; Undo point and Clear work."""
    page = dispatcher_page
    page.goto(reverse("console:alert_new"))
    frame = projection()
    page.get_by_role("radio", name="Polygon").check()
    finish = page.get_by_role("button", name="Finish polygon")
    expect(finish).to_be_disabled()
    bow_tie = [(-89.358, 39.952), (-89.352, 39.958), (-89.352, 39.952), (-89.358, 39.958)]
    for lon, lat in bow_tie + [(-89.355, 39.955)]:
        click_map(page, frame, lon, lat)
    expect(page.locator(".composer-map circle.vertex")).to_have_count(5)
    page.get_by_role("button", name="Undo point").click()
    expect(page.locator(".composer-map circle.vertex")).to_have_count(4)
    finish.click()
    expect(page.locator("#reach-live")).to_contain_text("The polygon crosses itself")
    expect(page.locator("#reach-live")).to_have_class("reach-live error")
    page.get_by_role("button", name="Clear polygons").click()
    expect(page.get_by_label("Polygon (GeoJSON)")).to_have_value("")
    expect(page.locator("#reach-live")).to_have_text(NO_AREA)


def test_areas_of_another_kind_are_chosen_on_their_own_layer(dispatcher_page, areas):
    """With wards shown, a click chooses the ward; the neighbourhood under it is left alone."""
    page = dispatcher_page
    page.goto(reverse("console:alert_new"))
    page.get_by_label("Kind of area").select_option(label="Ward")
    click_map(page, projection(), *LINDEN_HILL_MIDDLE)
    expect(page.get_by_role("checkbox", name="Ward 1 (Ward)")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Linden Hill (Neighbourhood)")).not_to_be_checked()
    expect(page.locator("#reach-live")).to_have_text("Reaches 0 subscriptions with 0 messages.")


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_composer_at_work_has_no_serious_accessibility_violations(
    new_context, live_server, areas, make_staff, sign_in, axe_script, language
):
    """With a polygon drawn, an area chosen, counters over the limit and the live preview."""
    dispatcher = make_staff("dispatcher")
    signed_in = new_context()
    sign_in(signed_in.new_page(), dispatcher, totp_device_create(actor=None, user=dispatcher))
    context = new_context(bypass_csp=True, storage_state=signed_in.storage_state(),
                          viewport={"width": 1280, "height": 1000})  # fmt: skip
    use_language(context, live_server, language)
    page = context.new_page()
    page.goto(reverse("console:alert_new"))
    expect(page.locator("html")).to_have_attribute("lang", language)
    page.locator("[name=en_headline]").fill(HEADLINE)
    page.locator("[name=en_description]").fill("Crews are repairing a water main.")
    page.locator("[name=en_sms_text]").fill("x" * 200)
    page.locator("[name=en_wea_short]").fill("Water main break \U0001f6a7")
    frame = projection()
    page.locator("input[name=drawing_mode][value=polygon]").check()
    for lon, lat in CORNERS:
        click_map(page, frame, lon, lat)
    page.locator("[data-drawing=finish]").click()
    page.locator("input[name=drawing_mode][value=areas]").check()
    click_map(page, frame, *LINDEN_HILL_MIDDLE)
    expect(page.locator("#reach-live")).to_contain_text("0")
    expect(page.locator("#id_en_sms_text-count")).to_have_class("counter over")
    assert axe(page, axe_script) == []
