"""Other agencies' CAP Atom feeds, read from a loopback HTTP server: import, refusal of
malformed CAP, duplicates, updates and cancels, conditional requests, and relaying an
imported alert to residents in its area."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.alerts.conftest import committed, drain, point, subscribe
from watchhouse.alerts.cap import CapAlert, CapArea, CapInfo, cap_render
from watchhouse.alerts.imports import (
    external_alert_relay,
    external_feed_add,
    external_feed_fetch,
    fetch_external_feed_task,
)
from watchhouse.alerts.models import ExternalAlert, ExternalFeed
from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.notify.models import Delivery

pytestmark = pytest.mark.django_db

SENDER = "alerts@northcounty.example"
# A square around (39.955, -89.355), as (lat, lon).
RING = ((39.95, -89.36), (39.95, -89.35), (39.96, -89.35), (39.96, -89.36), (39.95, -89.36))


def cap_document(
    identifier: str,
    *,
    sent: datetime,
    msg_type: str = "Alert",
    references: tuple[tuple[str, str, datetime], ...] = (),
    headline: str = "Police activity near Mill St: stay inside",
    status: str = "Actual",
) -> bytes:
    message = CapAlert(
        identifier=identifier, sender=SENDER, sent=sent, status=status, msg_type=msg_type,
        references=references,
        infos=(
            CapInfo(
                language="en-US", categories=("Security",), event="Law Enforcement Warning",
                urgency="Immediate", severity="Severe", certainty="Observed",
                headline=headline, description="Officers are searching for a suspect.",
                instruction="Stay indoors.", response_types=("Shelter",),
                expires=sent + timedelta(hours=3),
                areas=(CapArea(area_desc="Mill Street corridor", polygons=(RING,)),),
            ),
        ),
    )  # fmt: skip
    return cap_render(message)


def atom_feed(entries: list[tuple[str, datetime, str, bytes | None]]) -> bytes:
    """An Atom feed; each entry is (id, updated, CAP link, embedded CAP or None)."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        "<id>urn:test:feed</id><title>North County alerts</title>",
        f"<updated>{timezone.now().isoformat(timespec='seconds')}</updated>",
    ]
    for entry_id, updated, link, embedded in entries:
        parts.append(f"<entry><id>{entry_id}</id><title>t</title>")
        parts.append(f"<updated>{updated.isoformat(timespec='seconds')}</updated>")
        parts.append(f'<link rel="alternate" type="application/cap+xml" href="{link}"/>')
        if embedded is not None:
            body = embedded.split(b"?>", 1)[1].decode()
            parts.append(f'<content type="application/cap+xml">{body}</content>')
        parts.append("</entry>")
    parts.append("</feed>")
    return "".join(parts).encode()


class FeedServer:
    """Serves ``documents`` (path → bytes) on 127.0.0.1; the feed at /feed.atom carries an
    ETag and answers 304 to a matching If-None-Match. ``hits`` counts requests per path."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.etag = '"v1"'
        self.hits: Counter[str] = Counter()
        self.status: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits[self.path] += 1
                if self.path in server.status:
                    self.send_response(server.status[self.path])
                    self.end_headers()
                    return
                body = server.documents.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                if self.path == "/feed.atom" and self.headers.get("If-None-Match") == server.etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                if self.path == "/feed.atom":
                    self.send_header("ETag", server.etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    feed_server = FeedServer()
    yield feed_server
    feed_server.close()


@pytest.fixture
def sent() -> datetime:
    return timezone.now().replace(microsecond=0) - timedelta(minutes=30)


@pytest.fixture
def first_version(server: FeedServer, sent: datetime) -> ExternalFeed:
    """The feed holds a linked alert, its copy under another entry, a malformed document and
    an embedded advisory."""
    url = server.url
    alert_a = cap_document("NC-1", sent=sent)
    embedded = cap_document("NC-2", sent=sent, headline="Water main break: avoid Oak St")
    server.documents.update({
        "/cap/nc-1.cap": alert_a,
        "/cap/nc-1-copy.cap": alert_a,
        "/cap/bad.cap": b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>x",
        "/feed.atom": atom_feed([
            ("urn:e:1", sent, f"{url}/cap/nc-1.cap", None),
            ("urn:e:1-copy", sent, f"{url}/cap/nc-1-copy.cap", None),
            ("urn:e:bad", sent, f"{url}/cap/bad.cap", None),
            ("urn:e:2", sent, f"{url}/cap/nc-2.cap", embedded),
        ]),
    })  # fmt: skip
    return external_feed_add(actor=None, url=f"{url}/feed.atom", name="North County", relay=True)


def publish_second_version(server: FeedServer, sent: datetime) -> None:
    """The feed gains an update of NC-1 and a cancellation of NC-2."""
    later = sent + timedelta(minutes=10)
    update = cap_document(
        "NC-3", sent=later, msg_type="Update", references=((SENDER, "NC-1", sent),),
        headline="Police activity widened to the rail yard",
    )  # fmt: skip
    cancel = cap_document(
        "NC-4", sent=later, msg_type="Cancel", references=((SENDER, "NC-2", sent),)
    )
    url = server.url
    server.etag = '"v2"'
    server.documents.update({
        "/cap/nc-3.cap": update,
        "/cap/nc-4.cap": cancel,
        "/feed.atom": atom_feed([
            ("urn:e:3", later, f"{url}/cap/nc-3.cap", None),
            ("urn:e:4", later, f"{url}/cap/nc-4.cap", None),
            ("urn:e:1", sent, f"{url}/cap/nc-1.cap", None),
            ("urn:e:bad", sent, f"{url}/cap/bad.cap", None),
        ]),
    })  # fmt: skip


def test_import_refuses_malformed_cap_and_keeps_one_of_each(
    server: FeedServer, first_version: ExternalFeed
):
    report = external_feed_fetch(feed_id=first_version.pk)
    assert (report.entries, report.new, report.duplicates) == (4, 2, 1)
    (refusal,) = report.refused
    assert refusal.startswith("urn:e:bad:")
    assert "not well-formed" in refusal or "line" in refusal
    assert set(ExternalAlert.objects.values_list("identifier", "status")) == {
        ("NC-1", "active"), ("NC-2", "active")
    }  # fmt: skip
    nc1 = ExternalAlert.objects.get(identifier="NC-1")
    assert nc1.areas[0]["polygons"][0][0] == [39.95, -89.36]
    assert nc1.headline.startswith("Police activity")
    assert server.hits["/cap/nc-2.cap"] == 0  # embedded: not fetched
    entry = AuditEntry.objects.get(action="alerts.external_refuse")
    assert entry.data["entry"] == "urn:e:bad"
    assert AuditEntry.objects.get(action="alerts.external_fetch").data["new"] == 2
    first_version.refresh_from_db()
    assert first_version.etag == '"v1"'
    assert "2 new" in first_version.last_result


def test_conditional_get_update_and_cancel(
    server: FeedServer, first_version: ExternalFeed, sent: datetime
):
    external_feed_fetch(feed_id=first_version.pk)
    again = external_feed_fetch(feed_id=first_version.pk)
    assert again.not_modified
    assert ExternalAlert.objects.count() == 2
    publish_second_version(server, sent)
    report = external_feed_fetch(feed_id=first_version.pk)
    assert (report.new, report.updated, report.cancelled, report.duplicates) == (2, 1, 1, 1)
    assert len(report.refused) == 1  # the malformed document is refused again, not stored
    assert server.hits["/cap/nc-1.cap"] == 1  # a known entry is not fetched twice
    status = dict(ExternalAlert.objects.values_list("identifier", "status"))
    assert status == {"NC-1": "updated", "NC-2": "cancelled", "NC-3": "active",
                      "NC-4": "cancelled"}  # fmt: skip
    assert ExternalAlert.objects.get(identifier="NC-1").replaced_by.identifier == "NC-3"


def test_unreadable_feeds_change_nothing(server: FeedServer):
    server.documents["/feed.atom"] = b"<rss><channel/></rss>"
    feed = external_feed_add(actor=None, url=f"{server.url}/feed.atom", name="Broken")
    report = external_feed_fetch(feed_id=feed.pk)
    assert "not an Atom <feed>" in report.error
    server.status["/feed.atom"] = 500
    assert "HTTP 500" in external_feed_fetch(feed_id=feed.pk).error
    feed.refresh_from_db()
    assert "HTTP 500" in feed.last_result
    assert ExternalAlert.objects.count() == 0
    with pytest.raises(InvalidInputError, match="followed already"):
        external_feed_add(actor=None, url=f"{server.url}/feed.atom", name="Again")
    with pytest.raises(InvalidInputError, match="http or https"):
        external_feed_add(actor=None, url="file:///etc/passwd", name="Local")


def test_task_and_command_read_the_feeds(server: FeedServer, first_version: ExternalFeed):
    fetch_external_feed_task.enqueue(first_version.pk)
    drain()
    assert ExternalAlert.objects.count() == 2
    out, err = StringIO(), StringIO()
    call_command("fetch-cap-feeds", stdout=out, stderr=err)
    assert "North County: not modified." in out.getvalue()
    server.status["/feed.atom"] = 503
    with pytest.raises(CommandError, match="1 feed"):
        call_command("fetch-cap-feeds", stdout=out, stderr=err)
    call_command("fetch-cap-feeds", "--add", "https://weather.example/cap.atom", "--name",
                 "Weather service", stdout=out)  # fmt: skip
    assert ExternalFeed.objects.filter(name="Weather service", relay=False).exists()


def test_relay_sends_to_residents_in_the_area(first_version: ExternalFeed, make_staff, town):
    external_feed_fetch(feed_id=first_version.pk)
    inside = subscribe(point(39.955, -89.355), email="inside@example.org")
    subscribe(point(39.90, -89.30), email="far@example.org")
    dispatcher = make_staff("dispatcher")
    nc1 = ExternalAlert.objects.get(identifier="NC-1")
    with committed():
        alert = external_alert_relay(actor=dispatcher, external_alert_id=nc1.pk)
    drain()
    assert (alert.state, alert.category, alert.msg_type) == ("issued", "advisory", "Alert")
    assert "NC-1" in alert.note and SENDER in alert.note
    assert alert.infos.get().headline.startswith("Police activity")
    assert "Relayed from" in alert.cap_xml
    nc1.refresh_from_db()
    assert nc1.relayed_alert == alert
    assert list(Delivery.objects.filter(alert=alert).values_list("subscription", flat=True)) == [
        inside.pk
    ]
    assert AuditEntry.objects.get(action="alerts.external_relay").data["identifier"] == "NC-1"
    with pytest.raises(InvalidInputError, match="relayed already"):
        external_alert_relay(actor=dispatcher, external_alert_id=nc1.pk)


def test_relay_rules(first_version: ExternalFeed, make_staff, town, server, sent):
    external_feed_fetch(feed_id=first_version.pk)
    nc2 = ExternalAlert.objects.get(identifier="NC-2")
    with pytest.raises(NotPermittedError):
        external_alert_relay(actor=make_staff("analyst"), external_alert_id=nc2.pk)
    dispatcher = make_staff("dispatcher")
    alert = external_alert_relay(actor=dispatcher, external_alert_id=nc2.pk, category="alert")
    assert alert.state == "pending_approval"  # the two-person rule still holds
    with pytest.raises(InvalidInputError, match="Alert or an Advisory"):
        external_alert_relay(actor=dispatcher, external_alert_id=nc2.pk, category="community")
    ExternalFeed.objects.filter(pk=first_version.pk).update(relay=False)
    nc1 = ExternalAlert.objects.get(identifier="NC-1")
    with pytest.raises(InvalidInputError, match="does not allow relaying"):
        external_alert_relay(actor=dispatcher, external_alert_id=nc1.pk)
    ExternalFeed.objects.filter(pk=first_version.pk).update(relay=True)
    ExternalAlert.objects.filter(pk=nc1.pk).update(status="cancelled")
    with pytest.raises(InvalidInputError, match="Only an active message"):
        external_alert_relay(actor=dispatcher, external_alert_id=nc1.pk)


def test_relayed_alert_is_updated_when_its_original_is(
    server: FeedServer, first_version: ExternalFeed, make_staff, town, sent: datetime
):
    external_feed_fetch(feed_id=first_version.pk)
    dispatcher = make_staff("dispatcher")
    nc1 = ExternalAlert.objects.get(identifier="NC-1")
    first = external_alert_relay(actor=dispatcher, external_alert_id=nc1.pk)
    publish_second_version(server, sent)
    external_feed_fetch(feed_id=first_version.pk)
    nc3 = ExternalAlert.objects.get(identifier="NC-3")
    update = external_alert_relay(actor=dispatcher, external_alert_id=nc3.pk)
    assert (update.msg_type, update.references_id) == ("Update", first.pk)
    assert update.infos.get().headline == "Police activity widened to the rail yard"
    first.refresh_from_db()
    assert first.state == "updated"
