"""The crime digest: what was reported near a resident's places in the last week or month.

Residents ask for it in their alert subscription (the "Crime digest" category, weekly or
monthly). ``watchhouse send-crime-digests``, run daily (a daily job in ``WATCHHOUSE_DAILY``,
or cron), queues one e-mail per subscriber for each period that has ended (once: a period
queued again writes nothing) and the worker sends them. The public area pages show the same figures.

Privacy: a digest is built from public locations only (hundred blocks and the points they
snap to). Incidents of withheld categories have no public point: an area's digest counts
them in its totals, as the count tables do, and a point's digest reports them only as a
total for the neighbourhood the point is in.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.http import urlencode
from django.utils.translation import gettext

from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError
from watchhouse.crimemap.categories import Category
from watchhouse.crimemap.models import Incident
from watchhouse.crimemap.normalise import AREA_KINDS
from watchhouse.crimemap.states import IncidentState
from watchhouse.crimemap.stats import poisson_change
from watchhouse.geo.distance import within_radius
from watchhouse.geo.models import Area, AreaKind, Jurisdiction
from watchhouse.geo.selectors import areas_at
from watchhouse.notify.channels.base import OutboundMessage, SendResult
from watchhouse.notify.channels.email import email_send_batch
from watchhouse.notify.links import manage_url, unsubscribe_url
from watchhouse.notify.models import (
    Channel,
    DeliveryStatus,
    DigestDelivery,
    DigestPeriod,
    Endpoint,
    PlaceKind,
    SubscriptionPlace,
    SubscriptionStatus,
)
from watchhouse.notify.outbound import unsubscribe_headers

# Hundred blocks a digest lists, most incidents first.
TOP_BLOCKS = 5
# Digests one send run claims at a time.
CLAIM_BATCH = 50


@dataclass(frozen=True)
class Window:
    """A digest's period: local dates ``first_day`` to ``last_day`` inclusive."""

    period: str
    first_day: date
    last_day: date

    def before(self) -> Window:
        """The period of the same kind just before this one."""
        return digest_window(self.period, self.first_day)


def digest_window(period: str, today: date) -> Window:
    """The last whole week (Monday to Sunday) or calendar month that ended before ``today``."""
    if period == DigestPeriod.WEEK:
        last = today - timedelta(days=today.weekday() + 1)
        return Window(period, last - timedelta(days=6), last)
    if period == DigestPeriod.MONTH:
        last = today.replace(day=1) - timedelta(days=1)
        return Window(period, last.replace(day=1), last)
    raise InvalidInputError(f"Unknown digest period {period!r}; choose week or month.")


@dataclass(frozen=True)
class PlaceDigest:
    """What was reported in one place during a window."""

    label: str
    window: Window
    total: int
    before: int
    change: dict[str, Any]
    by_category: list[tuple[str, int]]
    blocks: list[tuple[str, int]]
    # Incidents of withheld categories: in ``total`` for an area, else the total of the
    # area named by ``withheld_area`` (a point's neighbourhood), not located any finer.
    withheld: int = 0
    withheld_area: str = ""
    link: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def change_percent(self) -> float | None:
        return 100 * (self.total - self.before) / self.before if self.before else None


def _incidents(window: Window) -> QuerySet[Incident]:
    # Naming the jurisdictions (a subquery) lets the database use the (jurisdiction, date)
    # index.
    return Incident.objects.filter(
        jurisdiction_id__in=Jurisdiction.objects.values("pk"),
        state=IncidentState.ACTIVE,
        occurred_date__range=(window.first_day, window.last_day),
    )


def _by_category(rows: QuerySet[Incident]) -> tuple[list[tuple[str, int]], int]:
    """Counts by category label, most first, and how many of the rows are withheld."""
    labels = {str(value): str(label) for value, label in Category.choices}
    counted = list(
        rows.order_by()
        .values("category")
        .annotate(n=Count("id"), held=Count("id", filter=Q(withheld=True)))
    )
    pairs = [(labels.get(row["category"], row["category"]), int(row["n"])) for row in counted]
    held = sum(int(row["held"]) for row in counted)
    return sorted(pairs, key=lambda pair: (-pair[1], pair[0])), held


def _blocks(rows: QuerySet[Incident]) -> list[tuple[str, int]]:
    counted = (
        rows.filter(withheld=False, block__isnull=False)
        .order_by()
        .values("block__name")
        .annotate(n=Count("id"))
        .order_by("-n", "block__name")[:TOP_BLOCKS]
    )
    return [(row["block__name"], int(row["n"])) for row in counted]


def _map_link(window: Window, area: Area | None = None) -> str:
    query = {"from": window.first_day.isoformat(), "to": window.last_day.isoformat()}
    if area is not None and area.kind in AREA_KINDS:
        return f"{settings.SITE_URL}{reverse('crime:area', args=[area.pk])}?{urlencode(query)}"
    return f"{settings.SITE_URL}{reverse('crime:map')}?{urlencode(query)}"


def _area_rows(window: Window, area: Area) -> QuerySet[Incident]:
    rows = _incidents(window)
    if area.kind in AREA_KINDS:
        return rows.filter(**{f"{area.kind}_id": area.pk})
    # Incidents are not filed by areas of this kind: those with a public point inside it.
    west, south, east, north = area.shape.bounds
    candidates = rows.filter(
        withheld=False, public_lat__range=(south, north), public_lon__range=(west, east)
    ).values_list("pk", "public_lat", "public_lon")
    inside = [
        pk
        for pk, lat, lon in candidates
        if lat is not None and lon is not None and area.covers_point(lat, lon)
    ]
    return rows.filter(pk__in=inside)


def area_digest(window: Window, area: Area | None = None) -> PlaceDigest:
    """The digest of an area, or of every incident when ``area`` is None."""
    if area is None:
        current, earlier = _incidents(window), _incidents(window.before())
        label = settings.WATCHHOUSE_AGENCY_NAME
    else:
        current, earlier = _area_rows(window, area), _area_rows(window.before(), area)
        label = area.name
    by_category, withheld = _by_category(current)
    total, before = sum(n for _label, n in by_category), earlier.count()
    notes = []
    if area is not None and area.kind not in AREA_KINDS:
        notes.append(gettext("Only incidents with a public point inside the area are counted."))
    return PlaceDigest(
        label=label, window=window, total=total, before=before,
        change=poisson_change(before, total), by_category=by_category,
        blocks=_blocks(current), withheld=withheld, link=_map_link(window, area), notes=notes,
    )  # fmt: skip


def _centre(place: SubscriptionPlace) -> tuple[float, float]:
    if place.lat is None or place.lon is None:
        raise InvalidInputError(f"The point place {place.pk} has no point.")
    return place.lat, place.lon


def _near(rows: QuerySet[Incident], place: SubscriptionPlace) -> QuerySet[Incident]:
    """The public incidents whose public point is within the place's radius."""
    lat, lon = _centre(place)
    candidates = list(
        rows.filter(
            withheld=False,
            public_lat__range=(place.min_lat, place.max_lat),
            public_lon__range=(place.min_lon, place.max_lon),
        ).values_list("pk", "public_lat", "public_lon")
    )
    if not candidates:
        return rows.none()
    ids, lats, lons = (np.array(column) for column in zip(*candidates, strict=True))
    mask = within_radius(lats, lons, lat=lat, lon=lon, radius_m=place.radius_m or 0)
    return rows.filter(pk__in=ids[mask].tolist())


def point_digest(window: Window, place: SubscriptionPlace) -> PlaceDigest:
    """The digest of a point and its radius: public incidents whose public point (a hundred
    block's, or an offset point) is within the radius, and the withheld incidents of the
    point's neighbourhood as one number."""
    lat, lon = _centre(place)
    current = _near(_incidents(window), place)
    by_category, _held = _by_category(current)
    total, before = (
        sum(n for _label, n in by_category),
        _near(_incidents(window.before()), place).count(),
    )
    miles = (place.radius_m or 0) / 1609.344
    label = place.label or f"{lat:.4f}, {lon:.4f}"
    withheld, withheld_area = 0, ""
    hoods = areas_at(lat=lat, lon=lon, kinds=[AreaKind.NEIGHBOURHOOD])
    if hoods.get(AreaKind.NEIGHBOURHOOD):
        hood = hoods[AreaKind.NEIGHBOURHOOD][0]
        withheld_area = hood.name
        withheld = _incidents(window).filter(withheld=True, neighbourhood_id=hood.pk).count()
    return PlaceDigest(
        label=gettext("%(miles)s miles around %(place)s")
        % {"miles": number_format(round(miles, 2)), "place": label},
        window=window, total=total, before=before, change=poisson_change(before, total),
        by_category=by_category, blocks=_blocks(current), withheld=withheld,
        withheld_area=withheld_area, link=_map_link(window),
    )  # fmt: skip


def place_digest(window: Window, place: SubscriptionPlace) -> PlaceDigest:
    """The digest of one of a subscription's places."""
    if place.kind == PlaceKind.POINT:
        return point_digest(window, place)
    if place.kind == PlaceKind.AREA and place.area is not None:
        return area_digest(window, place.area)
    return area_digest(window, None)


def area_page_digests(area: Area, today: date | None = None) -> list[PlaceDigest]:
    """The area's digests of the last whole week and month, as its public pages show them."""
    day = today or timezone.localdate()
    return [area_digest(digest_window(period, day), area) for period in DigestPeriod.values]


# --- e-mail ------------------------------------------------------------------------------


def _window_text(window: Window) -> str:
    return f"{window.first_day:%Y-%m-%d} – {window.last_day:%Y-%m-%d}"


def digest_message(delivery: DigestDelivery, digests: list[PlaceDigest]) -> OutboundMessage:
    """The e-mail of one digest delivery, in its subscriber's language."""
    window = Window(delivery.period, delivery.first_day, delivery.last_day)
    public_id = delivery.subscription.public_id
    with translation.override(delivery.subscription.language):
        subject = gettext("Crime digest, %(dates)s") % {"dates": _window_text(window)}
        text = render_to_string(
            "crimemap/digest_email.txt",
            {
                "agency": settings.WATCHHOUSE_AGENCY_NAME,
                "dates": _window_text(window),
                "period": window.period,
                "digests": digests,
                "methods": f"{settings.SITE_URL}{reverse('crime:methods')}#digest",
                "manage": manage_url(public_id),
            },
        )
    return OutboundMessage(
        channel=Channel.EMAIL, address=delivery.endpoint.address, subject=subject, text=text,
        headers=unsubscribe_headers(unsubscribe_url(public_id)),
        idempotency_key=delivery.idempotency_key,
    )  # fmt: skip


# --- queueing and sending ----------------------------------------------------------------


def _max_attempts() -> int:
    return int(getattr(settings, "WATCHHOUSE_NOTIFY_MAX_ATTEMPTS", 5))


def _lease() -> timedelta:
    return timedelta(seconds=max(int(settings.WATCHHOUSE_WORKER_LEASE_SECONDS), 1))


def digests_queue(*, period: str, today: date | None = None) -> tuple[Window, int]:
    """Write one queued digest for the last whole ``period`` before ``today`` to each live
    e-mail endpoint of an active subscription that wants it weekly or monthly as ``period``
    says; endpoints that have one for that period already get none. Returns the window and
    how many were written."""
    window = digest_window(period, today or timezone.localdate())
    now = timezone.now()
    with transaction.atomic():
        endpoints = Endpoint.objects.filter(
            channel=Channel.EMAIL, confirmed_at__isnull=False, disabled_at__isnull=True,
            subscription__status=SubscriptionStatus.ACTIVE,
            subscription__want_crime_digest=True, subscription__digest_period=period,
        ).exclude(
            digests__period=period, digests__first_day=window.first_day
        ).values_list("pk", "subscription_id")  # fmt: skip
        rows = [
            DigestDelivery(
                endpoint_id=endpoint_id,
                subscription_id=subscription_id,
                period=period,
                first_day=window.first_day,
                last_day=window.last_day,
                queued_at=now,
            )  # fmt: skip
            for endpoint_id, subscription_id in endpoints
        ]
        # A run at the same moment may write some of them first: those are left as they are.
        DigestDelivery.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
        if rows:
            audit_record(
                actor=None, action="notify.digests_queue", object_type="notify.digestdelivery",
                object_id=f"{period}:{window.first_day}",
                data={"period": period, "first_day": window.first_day.isoformat(),
                      "last_day": window.last_day.isoformat(), "queued": len(rows)},
            )  # fmt: skip
    return window, len(rows)


def _due() -> Q:
    """Digests that may be sent now: queued, or left sending by a worker whose lease passed."""
    stale = timezone.now() - _lease()
    return Q(status=DeliveryStatus.QUEUED) | Q(status=DeliveryStatus.SENDING, claimed_at__lt=stale)


def digests_due() -> list[int]:
    """The ids of the digests that may be sent now, oldest first."""
    return list(DigestDelivery.objects.filter(_due()).order_by("pk").values_list("pk", flat=True))


@dataclass
class DigestReport:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retrying: int = 0


def _claim(ids: Iterable[int], token: str) -> list[DigestDelivery]:
    """Take the claimable digests among ``ids`` for this run (one conditional UPDATE stamps
    them with the run's token; a row another run took carries that run's token instead)."""
    DigestDelivery.objects.filter(_due(), pk__in=list(ids)).update(
        status=DeliveryStatus.SENDING, claimed_at=timezone.now(), attempts=F("attempts") + 1,
        provider_id=token,
    )  # fmt: skip
    return list(
        DigestDelivery.objects.filter(status=DeliveryStatus.SENDING, provider_id=token)
        .select_related("endpoint", "subscription")
        .prefetch_related("subscription__places__area")
        .order_by("pk")
    )


def _record(delivery: DigestDelivery, result: SendResult, token: str, report: DigestReport) -> None:
    mine = DigestDelivery.objects.filter(pk=delivery.pk, provider_id=token)
    now = timezone.now()
    if result.ok:
        mine.update(status=DeliveryStatus.SENT, sent_at=now, provider_id=result.provider_id,
                    error="")  # fmt: skip
        report.sent += 1
    elif result.retryable and delivery.attempts < _max_attempts():
        mine.update(status=DeliveryStatus.QUEUED, provider_id="", claimed_at=None,
                    error=result.error[:500])  # fmt: skip
        report.retrying += 1
    else:
        mine.update(status=DeliveryStatus.FAILED, provider_id="", error=result.error[:500])
        report.failed += 1


def digests_send(*, ids: list[int]) -> DigestReport:
    """Send the due digests among ``ids``, each at most once per claim.

    A digest whose endpoint was disabled or whose subscription ended since it was queued is
    skipped. A retryable failure (mail server down, SMTP 4xx) queues the row again, a
    permanent one marks it failed with the reason; the Message-ID stays the same on a retry.
    """
    report = DigestReport()
    token = f"claim:{uuid.uuid4().hex}"
    remaining = list(ids)
    cache: dict[tuple[Any, ...], PlaceDigest] = {}
    while remaining:
        batch, remaining = remaining[:CLAIM_BATCH], remaining[CLAIM_BATCH:]
        claimed = _claim(batch, token)
        live: list[DigestDelivery] = []
        for delivery in claimed:
            if not delivery.endpoint.is_live or (
                delivery.subscription.status != SubscriptionStatus.ACTIVE
            ):
                DigestDelivery.objects.filter(pk=delivery.pk, provider_id=token).update(
                    status=DeliveryStatus.SKIPPED, provider_id="", error="unsubscribed"
                )
                report.skipped += 1
            else:
                live.append(delivery)
        messages = [digest_message(d, _digests(d, cache)) for d in live]
        for delivery, result in zip(live, email_send_batch(messages), strict=True):
            _record(delivery, result, token, report)
    return report


def _digests(
    delivery: DigestDelivery, cache: dict[tuple[Any, ...], PlaceDigest]
) -> list[PlaceDigest]:
    """The digests of a delivery's places; areas shared by subscribers are computed once."""
    window = Window(delivery.period, delivery.first_day, delivery.last_day)
    found = []
    with translation.override(delivery.subscription.language):
        for place in delivery.subscription.places.all():
            key: tuple[Any, ...] = (
                (place.pk,) if place.kind == PlaceKind.POINT else (place.kind, place.area_id)
            )
            key += (window, delivery.subscription.language)
            if key not in cache:
                cache[key] = place_digest(window, place)
            found.append(cache[key])
    return found
