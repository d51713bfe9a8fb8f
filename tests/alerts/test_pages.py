"""Public alert pages, CAP documents and feeds; script in any field is shown as text."""

from __future__ import annotations

import json

import feedparser
import pytest
from django.urls import reverse

from tests.alerts.conftest import circle, fields, info
from watchhouse.alerts.cap import cap_schema_errors
from watchhouse.alerts.services import alert_create, alert_issue, alert_issue_update

pytestmark = pytest.mark.django_db

SCRIPT = '<script>alert("x")</script><b>bold</b>'


@pytest.fixture
def issued(make_staff):
    pio = make_staff("pio")
    first = alert_create(actor=pio, fields=fields(event=f"Event {SCRIPT}"),
                         infos=[info(headline=f"Closed {SCRIPT}", description=SCRIPT,
                                     instruction=SCRIPT),
                                info(language="es", headline="Calle cerrada")],
                         areas=[circle()])  # fmt: skip
    first = alert_issue(actor=pio, alert=first)
    update = alert_issue_update(actor=pio, alert=first, infos=[info(headline="All clear")])
    return first, update


def test_list_and_detail_show_alerts_with_html_as_text(client, issued):
    first, update = issued
    page = client.get(reverse("alerts:list"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "All clear" in text and "&lt;script&gt;" in text and "<script>alert" not in text
    detail = client.get(first.get_absolute_url()).content.decode()
    assert "<script>alert" not in detail and "<b>bold</b>" not in detail
    assert "&lt;b&gt;bold&lt;/b&gt;" in detail
    assert '<svg class="area-map"' in detail and 'class="current"' in detail
    # The updates chain links both messages.
    assert update.get_absolute_url() in detail and "Calle cerrada" in detail
    spanish = client.get(first.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="es")
    assert "<h1>Calle cerrada</h1>" in spanish.content.decode()


def test_drafts_are_not_public(client, make_alert):
    draft = make_alert()
    assert client.get(reverse("alerts:detail", kwargs={"pk": draft.pk})).status_code == 404
    assert client.get(reverse("alerts:cap", kwargs={"pk": draft.pk})).status_code == 404


def test_cap_document_validates_against_the_xsd(client, issued):
    first, update = issued
    for alert in issued:
        response = client.get(reverse("alerts:cap", kwargs={"pk": alert.pk}))
        assert response["Content-Type"] == "application/cap+xml"
        assert cap_schema_errors(response.content) == []
        assert response.content == alert.cap_xml.encode()
    assert (
        f"<identifier>{first.identifier}</identifier>".encode()
        in client.get(reverse("alerts:cap", kwargs={"pk": first.pk})).content
    )


def test_atom_feed_links_each_entry_to_its_cap(client, issued):
    first, update = issued
    response = client.get(reverse("alerts:feed_atom"))
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert [e.title for e in feed.entries] == ["All clear", f"Closed {SCRIPT}"]
    caps = [
        link.href for e in feed.entries for link in e.links if link.type == "application/cap+xml"
    ]
    assert caps[1].endswith(reverse("alerts:cap", kwargs={"pk": first.pk}))


def test_json_feed(client, issued):
    response = client.get(reverse("alerts:feed_json"))
    feed = json.loads(response.content)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert [i["title"] for i in feed["items"]] == ["All clear", f"Closed {SCRIPT}"]
    assert feed["items"][0]["attachments"][0]["mime_type"] == "application/cap+xml"
    # JSON Feed 1.1 requires these of every item (feedparser reads only XML feeds).
    assert all({"id", "url", "content_text", "date_published"} <= set(i) for i in feed["items"])
    assert {"title", "home_page_url", "feed_url"} <= set(feed)


def test_home_links_the_alerts(client):
    assert reverse("alerts:list") in client.get("/").content.decode()


def test_an_area_page_lists_the_alerts_that_touch_it(client, make_staff, town):
    """Cedar Park's page shows an alert drawn over it, in the reader's language and as text;
    Riverside, which the circle does not reach, shows none."""
    dispatcher = make_staff("dispatcher")
    alert = alert_create(
        actor=dispatcher, fields=fields(),
        infos=[info(headline=f"Gas leak {SCRIPT}"), info(language="es", headline="Fuga de gas")],
        areas=[circle(lat=39.955, lon=-89.345, radius_m=200.0)],
    )  # fmt: skip
    alert_issue(actor=dispatcher, alert=alert)
    cedar = town["Cedar Park"].get_absolute_url()
    page = client.get(cedar).content.decode()
    assert "Gas leak &lt;script&gt;" in page and SCRIPT not in page
    assert f'href="{alert.get_absolute_url()}"' in page
    spanish = client.get(cedar, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Fuga de gas" in spanish
    assert "Gas leak" not in client.get(town["Riverside"].get_absolute_url()).content.decode()
