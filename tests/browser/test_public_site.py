"""The public site as a resident meets it: accessible, readable without JavaScript, on a phone,
in English and Spanish."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from playwright.sync_api import expect

from watchhouse.geo.selectors import area_list

# axe-core impacts that fail the test; "moderate" and "minor" are reported only.
BLOCKING_IMPACTS = {"serious", "critical"}
PHONE = {"width": 390, "height": 844}


def web_url_names() -> list[str]:
    """Every named route of the public site (the ``web:`` namespace)."""
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace == "web":
            return [f"web:{p.name}" for p in entry.url_patterns if isinstance(p, URLPattern)]
    raise AssertionError("the public site's URLs (namespace 'web') are not installed")


def area_urls() -> list[str]:
    """One area page of each kind that exists."""
    first_of_kind = {}
    for area in area_list():
        first_of_kind.setdefault(area.kind, area)
    return [area.get_absolute_url() for area in first_of_kind.values()]


# Routes that take arguments, and how to list real addresses for them.
PARAMETERISED: dict[str, Callable[[], list[str]]] = {"web:area": area_urls}


def public_urls() -> list[str]:
    """Every public page that can be listed now, and the staff sign-in page."""
    urls = []
    for name in web_url_names():
        if name in PARAMETERISED:
            urls.extend(PARAMETERISED[name]())
            continue
        try:
            urls.append(reverse(name))
        except NoReverseMatch as exc:
            raise AssertionError(
                f"{name} takes arguments: add a way to list its pages to PARAMETERISED"
            ) from exc
    return [*urls, reverse("accounts:login")]


def use_language(context: Any, live_server: Any, code: str) -> None:
    """Choose ``code`` as a returning visitor would have (the language cookie)."""
    from django.conf import settings

    context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": code, "url": live_server.url}]
    )


@pytest.mark.parametrize("language", ["en", "es"])
def test_public_pages_have_no_serious_accessibility_violations(
    new_context, live_server, axe_script, areas, language
):
    """axe-core finds no serious or critical violation on any public page, in either language.

    axe is injected as a script tag, which the site's strict CSP (rightly) refuses, so the
    audited context bypasses CSP. Each page is first loaded in a normal context to prove it
    renders under the real CSP with no refused or failed resource and nothing from other sites,
    so the bypass cannot hide a page that looks different to residents.
    """
    urls = public_urls()
    assert {reverse("web:home"), reverse("web:areas"), areas[0].get_absolute_url()} <= set(urls)
    strict = new_context()
    use_language(strict, live_server, language)
    strict_page = strict.new_page()
    errors: list[str] = []
    requested: list[str] = []
    strict_page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    strict_page.on("request", lambda request: requested.append(request.url))
    audited = new_context(bypass_csp=True)
    use_language(audited, live_server, language)
    page = audited.new_page()

    violations: dict[str, list[str]] = {}
    for url in urls:
        response = strict_page.goto(url)
        assert response is not None and response.status == 200, url
        expect(strict_page.locator("html")).to_have_attribute("lang", language)
        # The stylesheet applied: the header has its colour, so contrast is judged as shown.
        assert (
            strict_page.locator(".site-header").evaluate(
                "el => getComputedStyle(el).backgroundColor"
            )
            == "rgb(11, 79, 138)"
        ), url

        page.goto(url)
        page.add_script_tag(path=str(axe_script))
        results = page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations']})"
        )
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(" ".join(n["target"]) for n in v["nodes"][:3])
            for v in results["violations"]
            if v["impact"] in BLOCKING_IMPACTS
        ]
        if bad:
            violations[url] = bad
    assert errors == [], errors
    assert [url for url in requested if not url.startswith(live_server.url + "/")] == []
    assert violations == {}, json.dumps(violations, indent=2)


def test_home_page_reads_without_javascript_on_a_phone(new_context, areas):
    """On a phone with JavaScript off the home page shows everything, without sideways scroll."""
    context = new_context(java_script_enabled=False, viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    response = page.goto(reverse("web:home"))
    assert response is not None and response.status == 200

    expect(page.get_by_role("heading", level=1)).to_have_text(page.locator(".brand").inner_text())
    expect(page.get_by_role("heading", name="Emergency? Call 911.")).to_be_visible()
    expect(page.get_by_role("link", name="Call 911")).to_have_attribute("href", "tel:911")
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Home")
    ).to_have_attribute("aria-current", "page")
    expect(page.get_by_label("Language")).to_be_visible()
    listed = page.get_by_role("region", name="Neighbourhoods").get_by_role("listitem")
    expect(listed).to_have_text(sorted(a.name for a in areas if a.kind == "neighbourhood"))
    listed.get_by_role("link", name="Riverside").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Riverside")

    # The layout is measured in pages of phone sizes with scripts on, since reading widths
    # needs JavaScript; the layout itself uses none. 320 px is WCAG's reflow width.
    for viewport in (PHONE, {"width": 320, "height": 640}):
        measure = new_context(viewport=viewport, is_mobile=True, has_touch=True).new_page()
        measure.goto(reverse("web:home"))
        widths = measure.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"the page scrolls sideways at {viewport}: {widths}"
        for link in measure.locator("a:visible:not(.skip-link)").all():
            box = link.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= widths[1]


def test_home_page_links_all_lead_somewhere(page, areas):
    """Every link on the home page opens a page (only pages that exist are linked)."""
    page.goto(reverse("web:home"))
    hrefs = {
        href
        for href in page.locator("a[href]").evaluate_all(
            "els => els.map(e => e.getAttribute('href'))"
        )
        if href.startswith("/")
    }
    assert {reverse("web:areas"), areas[0].get_absolute_url()} <= hrefs
    for href in sorted(hrefs):
        response = page.request.get(href)
        assert response.ok, f"{href} answers {response.status}"


def test_language_form_switches_to_spanish_without_javascript(new_context, live_server, areas):
    """Choosing Español in the language form shows the home page in Spanish, and it sticks."""
    page = new_context(java_script_enabled=False).new_page()
    page.goto(reverse("web:home"))
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.get_by_label("Language").select_option("es")
    page.get_by_role("button", name="Change").click()

    expect(page).to_have_url(live_server.url + reverse("web:home"))
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name="¿Una emergencia? Llame al 911.")).to_be_visible()
    expect(page.get_by_role("link", name="Llamar al 911")).to_be_visible()
    nav = page.get_by_role("navigation", name="Principal")
    expect(nav.get_by_role("link", name="Inicio")).to_be_visible()
    expect(nav.get_by_role("link", name="Vecindarios")).to_be_visible()
    expect(page.get_by_label("Idioma")).to_have_value("es")

    page.get_by_role("region", name="Vecindarios").get_by_role("link", name="Cedar Park").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text("Cedar Park")
