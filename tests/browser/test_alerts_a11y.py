"""The alert pages residents and dispatchers use are accessible, in English and Spanish.

axe-core audits each page as served (strict CSP checked first, as in test_public_site.py): the
public alert list and an alert's page, the subscribe, confirm and manage pages, and the
console's alert composer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.alerts.conftest import circle, fields, info
from tests.browser.test_public_site import BLOCKING_IMPACTS, use_language
from watchhouse.accounts.services import totp_device_create
from watchhouse.alerts.services import alert_create, alert_issue, alert_issue_update
from watchhouse.notify.links import confirm_token, manage_token
from watchhouse.notify.services import Choices, PlaceSpec, subscription_create

HEADER = "rgb(11, 79, 138)"
HEADINGS = {"en": "Get alerts for your places", "es": "Reciba alertas para sus lugares"}
SPANISH = info(
    language="es",
    headline="Calle Main cerrada",
    description="La calle Main está cerrada entre la 1.ª y la 3.ª por una reparación.",
    instruction="Use la avenida Oak.",
    sms_text="Calle Main cerrada. Use la av. Oak.",
    wea_short="Calle Main cerrada; use av. Oak",
    wea_long="La calle Main está cerrada entre la 1.ª y la 3.ª. Use la avenida Oak.",
)


@pytest.fixture
def alert_pages(areas, make_staff) -> dict[str, str]:
    """An issued alert in English and Spanish and its update (so the list has current and
    earlier messages, and the page has updates and other languages), and a subscription
    waiting for confirmation; the addresses of the pages to audit."""
    dispatcher = make_staff("dispatcher")
    first = alert_create(
        actor=dispatcher, fields=fields(), infos=[info(), SPANISH], areas=[circle()]
    )
    first = alert_issue(actor=dispatcher, alert=first)
    update = alert_issue_update(
        actor=dispatcher,
        alert=first,
        infos=[info(headline="Main Street open again"), SPANISH],
    )
    subscription, endpoints = subscription_create(
        choices=Choices(
            categories=frozenset({"alert", "advisory"}),
            places=(PlaceSpec(kind="point", lat=39.955, lon=-89.355, radius_m=402.336),),
        ),
        email="resident@example.org",
    )
    return {
        "list": reverse("alerts:list"),
        "detail": update.get_absolute_url(),
        "first": first.get_absolute_url(),
        "subscribe": reverse("notify:subscribe"),
        "confirm": reverse("notify:confirm", kwargs={"token": confirm_token(endpoints[0].pk)}),
        "manage": reverse("notify:manage", kwargs={"token": manage_token(subscription.public_id)}),
    }


def audit(strict: Any, audited: Any, url: str, language: str, axe_script: Any) -> list[str]:
    """Load ``url`` under the real CSP (it must render in ``language`` with its stylesheet),
    then run axe on it in the CSP-bypassing page; the blocking violations found."""
    response = strict.goto(url)
    assert response is not None and response.status == 200, url
    expect(strict.locator("html")).to_have_attribute("lang", language)
    # The stylesheet applied: the header has its colour, so contrast is judged as shown.
    header = strict.locator(".site-header")
    assert header.evaluate("el => getComputedStyle(el).backgroundColor") == HEADER, url
    audited.goto(url)
    return axe(audited, axe_script)


def axe(page: Any, axe_script: Any) -> list[str]:
    """Run axe-core on the page as it is now; the blocking violations found."""
    page.add_script_tag(path=str(axe_script))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(n["target"]) for n in v["nodes"][:3])
        for v in results["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]


@pytest.fixture
def pages_in(new_context, live_server) -> Iterator[Any]:
    """``pages_in(language, storage_state=None)``: a strict page and an audited page (CSP
    bypassed for axe), sharing cookies; console errors and off-site requests are recorded."""
    seen: dict[str, list[str]] = {"errors": [], "requested": []}

    def make(language: str, storage_state: Any = None) -> tuple[Any, Any]:
        strict = new_context(storage_state=storage_state)
        audited = new_context(bypass_csp=True, storage_state=storage_state)
        for context in (strict, audited):
            use_language(context, live_server, language)
        page = strict.new_page()
        page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: seen["requested"].append(r.url))
        return page, audited.new_page()

    yield make
    assert seen["errors"] == [], seen["errors"]
    offsite = [u for u in seen["requested"] if not u.startswith(live_server.url + "/")]
    assert offsite == [], offsite


@pytest.mark.parametrize("language", ["en", "es"])
def test_alert_and_subscription_pages_have_no_serious_accessibility_violations(
    pages_in, alert_pages, axe_script, language
):
    """The public alert list, an alert's page (current and superseded), the subscribe page,
    and the confirm and manage pages reached from e-mailed links."""
    strict, audited = pages_in(language)
    violations = {}
    for name, url in alert_pages.items():
        bad = audit(strict, audited, url, language, axe_script)
        if bad:
            violations[name] = bad
    assert violations == {}, json.dumps(violations, indent=2, ensure_ascii=False)
    # The pages really were in the language audited, not English with a Spanish lang.
    strict.goto(alert_pages["subscribe"])
    expect(strict.get_by_role("heading", level=1)).to_have_text(HEADINGS[language])


@pytest.mark.parametrize("language", ["en", "es"])
def test_alert_composer_has_no_serious_accessibility_violations(
    new_context, pages_in, live_server, areas, make_staff, sign_in, axe_script, language
):
    """The console's alert composer as a signed-in dispatcher sees it: empty, with the
    preview (counters and reach), and with errors."""
    dispatcher = make_staff("dispatcher")
    signed_in = new_context()
    sign_in(signed_in.new_page(), dispatcher, totp_device_create(actor=None, user=dispatcher))
    strict, audited = pages_in(language, storage_state=signed_in.storage_state())
    url = reverse("console:alert_new")
    assert audit(strict, audited, url, language, axe_script) == []

    # With the preview shown (counters and reach).
    audited.locator("[name=event]").fill("Road closure")
    expires = timezone.localtime() + timedelta(hours=3)
    audited.locator("[name=expires]").fill(expires.strftime("%Y-%m-%dT%H:%M"))
    audited.locator("[name=en_headline]").fill("Main Street closed")
    audited.locator("[name=en_description]").fill("Closed for a repair.")
    audited.locator("[name=en_sms_text]").fill("Main St closed. Use Oak Ave.")
    audited.locator("[name=circle_lat]").fill("39.955")
    audited.locator("[name=circle_lon]").fill("-89.355")
    audited.locator("[name=circle_radius_m]").fill("300")
    audited.locator("button[name=preview]").click()
    expect(audited.locator(".preview [role=status]")).to_be_visible()
    assert axe(audited, axe_script) == []

    # With errors: no event, and a text message too long for one part.
    audited.locator("[name=event]").fill("")
    audited.locator("[name=event]").evaluate("el => el.removeAttribute('required')")
    audited.locator("[name=en_sms_text]").fill("x" * 200)
    audited.locator("button[name=save]").click()
    expect(audited.locator(".errorlist").first).to_be_visible()
    assert axe(audited, axe_script) == []
