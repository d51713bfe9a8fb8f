"""Cached public alert pages and feeds: changes show at once, languages and staff kept apart,
conditional GETs, and the fast path in front of Django."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.alerts.conftest import circle, fields, info
from tests.wsgi import call
from watchhouse.alerts.models import Alert
from watchhouse.alerts.services import alert_cancel, alert_create, alert_issue, alert_issue_update
from watchhouse.core import pagecache as cache

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("page_cache_on")]

SCRIPT = '<script>alert("x")</script>'


@pytest.fixture
def pio(make_staff: Any) -> Any:
    return make_staff("pio")


@pytest.fixture
def issued(pio: Any, django_capture_on_commit_callbacks: Any) -> Alert:
    with django_capture_on_commit_callbacks(execute=True):
        alert = alert_create(
            actor=pio,
            fields=fields(event="Road closure"),
            infos=[info(headline=f"Closed {SCRIPT}"), info(language="es", headline="Cerrada")],
            areas=[circle()],
        )
        return alert_issue(actor=pio, alert=alert)


def test_repeat_views_come_from_the_cache(client: Client, issued: Alert) -> None:
    first = client.get(issued.get_absolute_url())
    assert first.status_code == 200 and first["ETag"].startswith('W/"')
    assert "private" in first["Cache-Control"] and "max-age=" in first["Cache-Control"]
    assert {"Accept-Language", "Cookie"} <= {v.strip() for v in first["Vary"].split(",")}
    # Changed behind the services' back (no version bump): the cached page is still served.
    Alert.objects.filter(pk=issued.pk).update(note="Sneaky")
    again = client.get(issued.get_absolute_url())
    assert "Sneaky" not in again.content.decode()
    text = again.content.decode()
    assert "<script>alert" not in text and "&lt;script&gt;" in text
    assert cache.CSRF_PLACEHOLDER not in text


def test_update_and_cancel_show_at_once(
    client: Client, pio: Any, issued: Alert, django_capture_on_commit_callbacks: Any
) -> None:
    url = issued.get_absolute_url()
    assert "Closed" in client.get(url).content.decode()
    feed = client.get(reverse("alerts:feed_atom")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        update = alert_issue_update(actor=pio, alert=issued, infos=[info(headline="Reopened")])
    page = client.get(url).content.decode()
    assert update.get_absolute_url() in page and "Reopened" in page
    assert "Reopened" in client.get(reverse("alerts:feed_atom")).content.decode()
    assert "Reopened" not in feed
    with django_capture_on_commit_callbacks(execute=True):
        cancel = alert_cancel(actor=pio, alert=update, note="All clear now")
    page = client.get(url).content.decode()
    assert cancel.get_absolute_url() in page and "Cancelled: Reopened" in page
    assert "Cancelled: Reopened" in client.get(update.get_absolute_url()).content.decode()
    assert "Cancelled" in client.get(reverse("alerts:feed_atom")).content.decode()


def test_languages_are_cached_apart(client: Client, issued: Alert) -> None:
    url = issued.get_absolute_url()
    for _ in range(2):
        english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        spanish = client.get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()
        assert '<html lang="en"' in english and "Cerrada" not in english.split("<h1>")[1][:40]
        assert '<html lang="es"' in spanish and "<h1>Cerrada</h1>" in spanish


def test_conditional_get(client: Client, issued: Alert) -> None:
    feed = client.get(reverse("alerts:feed_atom"))
    assert feed["ETag"].startswith('"') and "public" in feed["Cache-Control"]
    again = client.get(reverse("alerts:feed_atom"), HTTP_IF_NONE_MATCH=feed["ETag"])
    assert again.status_code == 304 and again.content == b""
    page = client.get(issued.get_absolute_url())  # the client now holds the CSRF cookie
    assert client.get(issued.get_absolute_url(), HTTP_IF_NONE_MATCH=page["ETag"]).status_code == 304
    # Another visitor (another CSRF secret) gets the page with its own token.
    other = Client()
    assert other.get(issued.get_absolute_url(), HTTP_IF_NONE_MATCH=page["ETag"]).status_code == 200
    assert client.get(issued.get_absolute_url(), HTTP_IF_NONE_MATCH='"nope"').status_code == 200


def test_language_form_token_works_from_a_cached_page(issued: Alert) -> None:
    visitor = Client(enforce_csrf_checks=True)
    visitor.get(issued.get_absolute_url())
    page = visitor.get(issued.get_absolute_url()).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"', page)
    assert token is not None
    response = visitor.post(
        "/i18n/setlang/",
        {"language": "es", "next": issued.get_absolute_url(), "csrfmiddlewaretoken": token[1]},
    )
    assert response.status_code == 302


def test_staff_never_get_cached_pages(client: Client, make_staff: Any, issued: Alert) -> None:
    url = issued.get_absolute_url()
    client.get(url)
    Alert.objects.filter(pk=issued.pk).update(note="Staff note")
    staff = Client()
    staff.force_login(make_staff("dispatcher"))
    response = staff.get(url)
    assert "Staff note" in response.content.decode()
    assert "ETag" not in response and "public" not in response.get("Cache-Control", "")
    assert "Staff note" not in client.get(url).content.decode()


# --- The fast path in front of Django (PageCacheApp) -----------------------------------------


def test_fast_path_replays_the_stack_headers(front: Any, issued: Alert) -> None:
    url = issued.get_absolute_url()
    status, slow, body = call(front, url)
    assert status.startswith("200") and cache.MARK_HEADER.lower() not in slow
    status, fast, fast_body = call(front, url)
    assert status.startswith("200")
    for name in ("content-security-policy", "x-frame-options", "content-type", "vary"):
        assert fast[name] == slow[name], name
    assert fast["x-request-id"] != slow["x-request-id"]
    assert "set-cookie" in fast and fast["set-cookie"][0].startswith("csrftoken=")
    assert int(fast["content-length"][0]) == len(fast_body)
    strip = re.compile(rb'value="[A-Za-z0-9]{64}"')
    assert strip.sub(b"", fast_body) == strip.sub(b"", body)
    assert b"<script>alert" not in fast_body


def test_fast_path_token_and_conditional_get(front: Any, issued: Alert) -> None:
    url = issued.get_absolute_url()
    call(front, url)
    secret = "a" * 32
    status, headers, body = call(front, url, cookie=f"csrftoken={secret}")
    assert "set-cookie" not in headers
    token = re.search(rb'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"', body)
    assert token is not None
    from django.middleware.csrf import _unmask_cipher_token

    assert _unmask_cipher_token(token[1].decode()) == secret
    etag = headers["etag"][0]
    status, _, body = call(front, url, cookie=f"csrftoken={secret}", if_none_match=etag)
    assert status.startswith("304") and body == b""
    feed = reverse("alerts:feed_atom")
    call(front, feed)
    status, headers, _ = call(front, feed)
    status, _, body = call(front, feed, if_none_match=headers["etag"][0])
    assert status.startswith("304")


def test_fast_path_leaves_staff_and_languages_alone(
    front: Any, make_staff: Any, issued: Alert, django_capture_on_commit_callbacks: Any
) -> None:
    url = issued.get_absolute_url()
    call(front, url)
    call(front, url)
    _, _, spanish = call(front, url, accept_language="es")
    assert b"<h1>Cerrada</h1>" in spanish
    staff = Client()
    staff.force_login(make_staff("dispatcher"))
    session = staff.cookies["sessionid"].value
    Alert.objects.filter(pk=issued.pk).update(note="Staff note")
    _, headers, body = call(front, url, cookie=f"sessionid={session}")
    assert b"Staff note" in body and "etag" not in headers
    _, _, body = call(front, url)
    assert b"Staff note" not in body
    with django_capture_on_commit_callbacks(execute=True):
        cache.pages_changed("alerts")
    _, _, body = call(front, url)
    assert b"Staff note" in body
