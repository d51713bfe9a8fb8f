"""Reading other agencies' CAP Atom feeds, and relaying their alerts to residents.

:func:`external_feed_fetch` reads one feed (conditional GET, time and size limits), fetches
each new entry's CAP document unless the entry embeds it, validates it strictly (a malformed
document is refused and recorded; the rest of the feed is still read), keeps one row per
(sender, identifier), and applies updates and cancellations through ``<references>``.
:func:`external_alert_relay` turns an imported alert into one of this agency's own, issued
through the ordinary alert services so it reaches residents in the affected area.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from watchhouse.accounts.roles import Role, require_role
from watchhouse.alerts.cap import (
    CapAlert,
    CapFeedEntry,
    CapFormatError,
    CapInfo,
    cap_atom_entries,
    cap_parse,
    cap_problems,
    cap_time,
)
from watchhouse.alerts.models import (
    Alert,
    CapCategory,
    Category,
    ExternalAlert,
    ExternalAlertStatus,
    ExternalFeed,
    ResponseType,
)
from watchhouse.alerts.policy import policy_for
from watchhouse.alerts.services import (
    MAX_LIFETIME,
    AlertFields,
    alert_create,
    alert_issue,
    alert_issue_update,
    alert_submit,
)
from watchhouse.alerts.states import AlertState
from watchhouse.alerts.validation import AreaSpec, InfoText, language_names
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError
from watchhouse.notify.channels.sms import sms_count

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

# Categories a relayed alert may be sent as.
RELAY_CATEGORIES = (Category.ALERT, Category.ADVISORY)


class FeedFetchError(InvalidInputError):
    """A feed or a document could not be fetched (network, HTTP status, size)."""


@dataclass
class FeedFetchReport:
    """What reading a feed did."""

    feed: str
    not_modified: bool = False
    entries: int = 0
    new: int = 0
    duplicates: int = 0
    updated: int = 0
    cancelled: int = 0
    refused: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def summary(self) -> str:
        if self.error:
            return f"{self.feed}: not read: {self.error}"
        if self.not_modified:
            return f"{self.feed}: not modified."
        return (
            f"{self.feed}: {self.entries} entries, {self.new} new, {self.duplicates} already "
            f"known, {self.updated} superseded, {self.cancelled} cancelled, "
            f"{len(self.refused)} refused."
        )


def _timeout() -> float:
    return float(getattr(settings, "WATCHHOUSE_CAP_FEED_TIMEOUT_SECONDS", 10))


def _max_bytes() -> int:
    return int(getattr(settings, "WATCHHOUSE_CAP_FEED_MAX_BYTES", 2_000_000))


@dataclass(frozen=True)
class _Fetched:
    status: int
    headers: dict[str, str]
    body: bytes


def _get(url: str, headers: dict[str, str] | None = None) -> _Fetched:
    """GET ``url`` within the time limit, reading at most the size limit."""
    if not url.lower().startswith(("http://", "https://")):
        raise FeedFetchError(f"{url}: only http and https addresses are read.")
    limit = _max_bytes()
    try:
        with requests.get(
            url,
            headers={"User-Agent": "Watchhouse CAP reader", **(headers or {})},
            timeout=_timeout(),
            stream=True,
        ) as response:
            body = b""
            for chunk in response.iter_content(65536):
                body += chunk
                if len(body) > limit:
                    raise FeedFetchError(f"{url}: larger than {limit} bytes; not read.")
            fetched = _Fetched(response.status_code, dict(response.headers), body)
    except requests.RequestException as exc:
        raise FeedFetchError(f"{url}: {exc.__class__.__name__}: {exc}") from exc
    if fetched.status not in (200, 304):
        raise FeedFetchError(f"{url}: HTTP {fetched.status}.")
    return fetched


def _areas_json(alert: CapAlert) -> list[dict[str, Any]]:
    areas = []
    seen: set[str] = set()
    for info in alert.infos:
        for area in info.areas:
            item = {
                "desc": area.area_desc,
                "polygons": [[list(p) for p in ring] for ring in area.polygons],
                "circles": [list(c) for c in area.circles],
            }
            key = json.dumps(item, sort_keys=True)
            if key not in seen:
                seen.add(key)
                areas.append(item)
    return areas


def _expires(alert: CapAlert) -> datetime | None:
    times = [i.expires for i in alert.infos if i.expires is not None]
    return max(times) if times else None


@dataclass(frozen=True)
class _Received:
    entry: CapFeedEntry
    alert: CapAlert
    xml: bytes


def _read_entry(entry: CapFeedEntry) -> _Received:
    """The entry's CAP message, validated; raises CapFormatError or FeedFetchError."""
    xml = entry.embedded_cap
    if xml is None:
        xml = _get(entry.cap_url).body
    alert = cap_parse(xml)
    problems = cap_problems(alert)
    if problems:
        raise CapFormatError("; ".join(problems))
    return _Received(entry=entry, alert=alert, xml=xml)


def _refuse(report: FeedFetchReport, feed: ExternalFeed, entry: CapFeedEntry, error: str) -> None:
    report.refused.append(f"{entry.entry_id}: {error}")
    audit_record(
        actor=None,
        action="alerts.external_refuse",
        obj=feed,
        data={"entry": entry.entry_id, "url": entry.cap_url, "error": error[:1000]},
    )


def _store(feed: ExternalFeed, item: _Received, report: FeedFetchReport, now: datetime) -> None:
    alert = item.alert
    if ExternalAlert.objects.filter(sender=alert.sender, identifier=alert.identifier).exists():
        report.duplicates += 1
        return
    first = alert.infos[0] if alert.infos else None
    expires = _expires(alert)
    stored = ExternalAlert.objects.create(
        feed=feed,
        entry_id=item.entry.entry_id[:500],
        entry_updated=item.entry.updated,
        sender=alert.sender[:200],
        identifier=alert.identifier[:200],
        sent=alert.sent,
        msg_type=alert.msg_type,
        cap_status=alert.status,
        references=" ".join(f"{s},{i},{cap_time(t)}" for s, i, t in alert.references),
        event=(first.event if first else "")[:200],
        headline=(first.headline if first else "")[:500],
        expires=expires,
        areas=_areas_json(alert),
        cap_xml=item.xml.decode("utf-8", errors="replace"),
        status=(
            ExternalAlertStatus.EXPIRED
            if expires is not None and expires <= now
            else ExternalAlertStatus.ACTIVE
        ),
    )
    report.new += 1
    if alert.msg_type not in ("Update", "Cancel"):
        return
    target = (
        ExternalAlertStatus.CANCELLED if alert.msg_type == "Cancel" else ExternalAlertStatus.UPDATED
    )
    for sender, identifier, _sent in alert.references:
        earlier = (
            ExternalAlert.objects.select_for_update()
            .filter(sender=sender, identifier=identifier)
            .first()
        )
        if earlier is None or earlier.status == ExternalAlertStatus.CANCELLED:
            continue
        earlier.status = target
        earlier.replaced_by = stored
        earlier.save(update_fields=["status", "replaced_by", "updated_at"])
        if target == ExternalAlertStatus.CANCELLED:
            report.cancelled += 1
        else:
            report.updated += 1
    if alert.msg_type == "Cancel":
        # A cancellation ends the message itself too: there is nothing left to relay.
        stored.status = ExternalAlertStatus.CANCELLED
        stored.save(update_fields=["status", "updated_at"])


def _known(feed: ExternalFeed, entry: CapFeedEntry) -> bool:
    """True when this entry, at this version, was read before (no need to fetch it)."""
    return ExternalAlert.objects.filter(
        feed=feed, entry_id=entry.entry_id[:500], entry_updated__gte=entry.updated
    ).exists()


def external_feed_add(
    *, actor: User | None, url: str, name: str, relay: bool = False
) -> ExternalFeed:
    """Follow another agency's CAP Atom feed (administrators; ``actor=None``: the command
    line). The feed is read on the next scheduled fetch."""
    if actor is not None:
        require_role(actor, Role.ADMIN, action="add external alert feeds")
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")) or len(url) > 500:
        raise InvalidInputError("A feed address is an http or https URL of 500 characters at most.")
    if not name.strip():
        raise InvalidInputError("Give the feed a name, for example 'NWS St. Louis'.")
    if ExternalFeed.objects.filter(url=url).exists():
        raise InvalidInputError("That feed is followed already.")
    with transaction.atomic():
        feed = ExternalFeed.objects.create(url=url, name=name.strip()[:200], relay=relay)
        audit_record(
            actor=actor, action="alerts.external_feed_add", obj=feed,
            data={"url": url, "relay": relay},
        )  # fmt: skip
    return feed


def external_feed_fetch(*, feed_id: int, now: datetime | None = None) -> FeedFetchReport:
    """Read one external feed and import its new messages (the system acts).

    Network failures and a feed that is not a CAP Atom feed are recorded on the feed and in the
    report, and change no alert; a malformed or invalid CAP document is refused (recorded in
    the audit log) while the other entries are imported. Messages are kept once per (sender,
    identifier); an Update or Cancel marks the messages it references superseded or
    cancelled.
    """
    now = now or timezone.now()
    feed = ExternalFeed.objects.get(pk=feed_id)
    report = FeedFetchReport(feed=feed.name)
    headers = {}
    if feed.etag:
        headers["If-None-Match"] = feed.etag
    if feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    received: list[_Received] = []
    failures: list[tuple[CapFeedEntry, str]] = []
    response = _Fetched(0, {}, b"")
    try:
        response = _get(feed.url, headers)
        if response.status == 304:
            report.not_modified = True
        else:
            entries = cap_atom_entries(response.body)
            report.entries = len(entries)
            for entry in entries:
                if _known(feed, entry):
                    report.duplicates += 1
                    continue
                try:
                    received.append(_read_entry(entry))
                except (CapFormatError, FeedFetchError) as exc:
                    failures.append((entry, str(exc)))
    except (CapFormatError, FeedFetchError) as exc:
        report.error = str(exc)
    with transaction.atomic():
        feed = ExternalFeed.objects.select_for_update().get(pk=feed_id)
        for entry, error in failures:
            _refuse(report, feed, entry, error)
        # Oldest first, so an update finds the message it updates.
        for item in sorted(received, key=lambda r: r.alert.sent):
            _store(feed, item, report, now)
        ExternalAlert.objects.filter(
            feed=feed, status=ExternalAlertStatus.ACTIVE, expires__lte=now
        ).update(status=ExternalAlertStatus.EXPIRED, updated_at=now)
        feed.last_fetched = now
        feed.last_result = report.summary[:500]
        if not report.error and not report.not_modified:
            feed.etag = response.headers.get("ETag", "")[:300]
            feed.last_modified = response.headers.get("Last-Modified", "")[:100]
        feed.save()
        audit_record(
            actor=None,
            action="alerts.external_fetch",
            obj=feed,
            data={
                "new": report.new, "duplicates": report.duplicates, "updated": report.updated,
                "cancelled": report.cancelled, "refused": len(report.refused),
                "not_modified": report.not_modified, "error": report.error,
            },
        )  # fmt: skip
    return report


@task()
def fetch_external_feed_task(feed_id: int) -> str:
    """Read one external CAP feed (safe to repeat: known messages are not stored twice)."""
    return external_feed_fetch(feed_id=feed_id).summary


def external_feeds_fetch_enqueue() -> int:
    """Queue a read of every active external feed; how many were queued."""
    ids = list(ExternalFeed.objects.filter(active=True).values_list("pk", flat=True))
    for feed_id in ids:
        fetch_external_feed_task.enqueue(feed_id)
    return len(ids)


# --- relaying ----------------------------------------------------------------------------


def _sms_text(headline: str) -> str:
    """The headline, shortened until it fits one text message."""
    text = headline.strip()
    while len(text) > 3 and sms_count(text).segments > 1:
        text = text[:-4].rstrip() + "..."
    return text


def _relay_infos(alert: CapAlert) -> list[InfoText]:
    names = language_names()
    by_language: dict[str, CapInfo] = {}
    for info in alert.infos:
        code = info.language.split("-", 1)[0].lower()
        if code in names and code not in by_language:
            by_language[code] = info
    if not by_language and alert.infos:
        by_language[settings.LANGUAGE_CODE.split("-", 1)[0]] = alert.infos[0]
    return [
        InfoText(
            language=code,
            headline=(info.headline or info.event)[:160],
            description=info.description or info.headline or info.event,
            instruction=info.instruction,
            sms_text=_sms_text((info.headline or info.event)[:160]),
        )
        for code, info in by_language.items()
    ]


def _relay_areas(stored: ExternalAlert) -> list[AreaSpec]:
    specs = []
    for area in stored.areas:
        for ring in area.get("polygons", []):
            polygon = {"type": "Polygon", "coordinates": [[[lon, lat] for lat, lon in ring]]}
            specs.append(
                AreaSpec(description=area.get("desc", "")[:200],
                         polygon_geojson=json.dumps(polygon))
            )  # fmt: skip
        for lat, lon, radius_km in area.get("circles", []):
            specs.append(
                AreaSpec(description=area.get("desc", "")[:200], circle_lat=lat,
                         circle_lon=lon, circle_radius_m=radius_km * 1000)
            )  # fmt: skip
    return specs


def _choice(value: str, choices: Any, default: str) -> str:
    return value if value in choices.values else default


def external_alert_relay(
    *, actor: User, external_alert_id: int, category: str = Category.ADVISORY
) -> Alert:
    """Make an imported message this agency's own and send it to residents in its area.

    The new alert (CAP msgType Alert, category Advisory or Alert as staff choose) carries the
    original's texts, areas and expiry, and names the original in its CAP note. An Advisory is
    issued at once; an Alert goes to a second person for approval, as policy requires. An
    update of a message that was relayed and is still current is issued as an update (CAP
    Update) of the relayed alert instead. Only active, actual messages of a feed that allows
    relaying can be relayed, and only once.
    """
    if category not in RELAY_CATEGORIES:
        raise InvalidInputError("Relay as an Alert or an Advisory.")
    require_role(actor, *policy_for(category).issuers, action="relay alerts of this category")
    stored = ExternalAlert.objects.select_related("feed").get(pk=external_alert_id)
    if not stored.feed.relay:
        raise InvalidInputError(f"The feed {stored.feed.name!r} does not allow relaying.")
    if stored.relayed_alert_id is not None:
        raise InvalidInputError("This message was relayed already.")
    if stored.status != ExternalAlertStatus.ACTIVE or stored.msg_type == "Cancel":
        raise InvalidInputError(
            f"Only an active message can be relayed; this one is {stored.get_status_display()}."
        )
    if stored.cap_status != "Actual":
        raise InvalidInputError(f"This is a {stored.cap_status} message, not an actual alert.")
    cap = cap_parse(stored.cap_xml.encode("utf-8"))
    first = cap.infos[0] if cap.infos else None
    if first is None:
        raise InvalidInputError("The message has no text to relay.")
    now = timezone.now()
    expires = stored.expires or now + timedelta(hours=4)
    if expires > now + MAX_LIFETIME:
        expires = now + MAX_LIFETIME
    areas = _relay_areas(stored)
    if not areas:
        raise InvalidInputError(
            "The message gives no polygon or circle; compose an alert and draw its area."
        )
    fields = AlertFields(
        category=category,
        event=first.event[:120],
        urgency=first.urgency,
        severity=first.severity,
        certainty=first.certainty,
        expires=expires,
        cap_category=_choice(
            first.categories[0] if first.categories else "", CapCategory, CapCategory.OTHER
        ),
        response_type=_choice(
            first.response_types[0] if first.response_types else "", ResponseType, ""
        ),
        web=first.web[:500] if first.web.startswith(("http://", "https://")) else "",
        contact=first.contact[:200],
    )
    with transaction.atomic():
        stored = ExternalAlert.objects.select_for_update().get(pk=stored.pk)
        if stored.relayed_alert_id is not None:
            raise InvalidInputError("This message was relayed already.")
        earlier = (
            ExternalAlert.objects.filter(replaced_by=stored, relayed_alert__state=AlertState.ISSUED)
            .select_related("relayed_alert")
            .first()
        )
        if earlier is not None and earlier.relayed_alert is not None:
            # The original was relayed: residents get this as an update of what they were told.
            update = alert_issue_update(
                actor=actor, alert=earlier.relayed_alert, infos=_relay_infos(cap), areas=areas
            )
            stored.relayed_alert = update
            stored.save(update_fields=["relayed_alert", "updated_at"])
            audit_record(
                actor=actor,
                action="alerts.external_relay",
                obj=update,
                data={"sender": stored.sender, "identifier": stored.identifier,
                      "feed": stored.feed_id, "updates": earlier.relayed_alert.pk},
            )  # fmt: skip
            return update
        alert = alert_create(actor=actor, fields=fields, infos=_relay_infos(cap), areas=areas)
        alert.note = f"Relayed from {stored.sender} message {stored.identifier}."[:500]
        alert.save(update_fields=["note", "updated_at"])
        stored.relayed_alert = alert
        stored.save(update_fields=["relayed_alert", "updated_at"])
        audit_record(
            actor=actor,
            action="alerts.external_relay",
            obj=alert,
            data={"sender": stored.sender, "identifier": stored.identifier,
                  "feed": stored.feed_id, "category": category},
        )  # fmt: skip
        if policy_for(category).needs_approval:
            return alert_submit(actor=actor, alert=alert)
        return alert_issue(actor=actor, alert=alert)
