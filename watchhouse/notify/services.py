"""Subscribing and unsubscribing, and turning an issued alert into deliveries and sends.

Residents have no accounts: their services take signed tokens instead of an actor, and audit
entries name the subscription, never an address or number.
"""

from __future__ import annotations

import math
import secrets
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from time import monotonic
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Case, Count, F, Field, Q, Value, When
from django.utils import timezone
from shapely.geometry.base import BaseGeometry

from watchhouse.alerts.models import Alert, AlertCell
from watchhouse.alerts.states import AlertState
from watchhouse.alerts.validation import areas_union
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError
from watchhouse.core.taskqueue import retry_delay_seconds
from watchhouse.geo.distance import EARTH_RADIUS_M
from watchhouse.geo.models import Area
from watchhouse.geo.points import InvalidPointError, point_check
from watchhouse.notify.channels.base import ChannelError, SendResult, url_check
from watchhouse.notify.links import confirm_token_read, manage_token_read
from watchhouse.notify.models import (
    MAX_PLACES,
    MAX_RADIUS_M,
    MIN_RADIUS_M,
    Channel,
    Delivery,
    DeliveryStatus,
    DigestDelivery,
    DigestPeriod,
    Endpoint,
    PlaceKind,
    Subscription,
    SubscriptionPlace,
    SubscriptionStatus,
)
from watchhouse.notify.outbound import channel_sender, outbound_message
from watchhouse.notify.ratelimit import channel_rate, rate_wait
from watchhouse.notify.resolve import commit_without_flush_wait, deliveries_insert
from watchhouse.notify.selectors import chunks, live_endpoints, subscriptions_matching

CATEGORIES = ("alert", "advisory", "community", "traffic", "crime_digest")
# Deliveries handed to one send task.
SEND_BATCH = 200
# Rows per INSERT when writing deliveries.
INSERT_BATCH = 2000
# A delivery to write: (endpoint, subscription, channel, language).
Row = tuple[int, int, str, str]


@dataclass(frozen=True)
class PlaceSpec:
    """A place as a resident chose it."""

    kind: str
    lat: float | None = None
    lon: float | None = None
    radius_m: float | None = None
    area_id: int | None = None
    label: str = ""


@dataclass(frozen=True)
class Choices:
    """What a resident wants to hear about, and when."""

    categories: frozenset[str]
    language: str = "en"
    quiet_start: time | None = None
    quiet_end: time | None = None
    places: tuple[PlaceSpec, ...] = field(default_factory=tuple)
    digest_period: str = DigestPeriod.WEEK


def _max_attempts() -> int:
    return int(getattr(settings, "WATCHHOUSE_NOTIFY_MAX_ATTEMPTS", 5))


def _lease() -> timedelta:
    return timedelta(seconds=max(int(settings.WATCHHOUSE_WORKER_LEASE_SECONDS), 1))


# --- subscriptions -----------------------------------------------------------------------


def _place_build(spec: PlaceSpec) -> SubscriptionPlace:
    place = SubscriptionPlace(kind=spec.kind, label=spec.label.strip()[:200])
    if spec.kind == PlaceKind.POINT:
        try:
            lat, lon = point_check(spec.lat, spec.lon)  # type: ignore[arg-type]
        except InvalidPointError as exc:
            raise InvalidInputError(f"The point is wrong: {exc}") from exc
        radius = float(spec.radius_m or 0)
        if not (math.isfinite(radius) and MIN_RADIUS_M - 0.01 <= radius <= MAX_RADIUS_M + 0.01):
            raise InvalidInputError("The radius must be between 0.25 and 10 miles.")
        place.place(lat, lon)
        place.radius_m = radius
        reach_lat = math.degrees(radius / EARTH_RADIUS_M)
        reach_lon = reach_lat / max(math.cos(math.radians(min(abs(lat) + reach_lat, 89.0))), 1e-6)
        place.min_lat, place.max_lat = lat - reach_lat, lat + reach_lat
        place.min_lon, place.max_lon = lon - reach_lon, lon + reach_lon
    elif spec.kind == PlaceKind.AREA:
        area = Area.objects.filter(pk=int(spec.area_id or 0)).only("id", "name").first()
        if area is None:
            raise InvalidInputError("That area does not exist.")
        place.area = area
        place.label = place.label or area.name
    elif spec.kind == PlaceKind.JURISDICTION:
        place.label = place.label or settings.WATCHHOUSE_AGENCY_NAME
    else:
        raise InvalidInputError(f"Unknown kind of place {spec.kind!r}.")
    return place


def _choices_check(choices: Choices) -> list[SubscriptionPlace]:
    languages = {code for code, _ in settings.LANGUAGES}
    if choices.language not in languages:
        raise InvalidInputError(
            f"Unknown language {choices.language!r}; choose one of {', '.join(sorted(languages))}."
        )
    unknown = set(choices.categories) - set(CATEGORIES)
    if unknown:
        raise InvalidInputError(f"Unknown categories: {', '.join(sorted(unknown))}.")
    if not choices.categories:
        raise InvalidInputError("Choose at least one kind of message.")
    if (choices.quiet_start is None) != (choices.quiet_end is None):
        raise InvalidInputError("Give both ends of the quiet hours, or neither.")
    if choices.digest_period not in DigestPeriod.values:
        raise InvalidInputError(
            f"Unknown digest period {choices.digest_period!r}; choose week or month."
        )
    if not choices.places:
        raise InvalidInputError("Choose at least one place.")
    if len(choices.places) > MAX_PLACES:
        raise InvalidInputError(f"Choose at most {MAX_PLACES} places.")
    return [_place_build(spec) for spec in choices.places]


def _apply_choices(subscription: Subscription, choices: Choices) -> None:
    subscription.language = choices.language
    for category in CATEGORIES:
        setattr(subscription, f"want_{category}", category in choices.categories)
    subscription.quiet_start = choices.quiet_start
    subscription.quiet_end = choices.quiet_end
    subscription.digest_period = choices.digest_period


def email_check(address: str) -> str:
    """The address, trimmed; raises InvalidInputError when it is not an e-mail address."""
    address = address.strip()
    try:
        validate_email(address)
    except ValidationError as exc:
        raise InvalidInputError("That is not an e-mail address.") from exc
    return address


def subscription_create(
    *,
    choices: Choices,
    email: str = "",
    push: dict[str, object] | None = None,
    webhook_url: str = "",
    source: str = "web",
) -> tuple[Subscription, list[Endpoint]]:
    """Store a subscription with its places and endpoints.

    An e-mail address must be confirmed through the link mailed to it (sent after commit);
    a browser push subscription is consent in itself and is live at once; a webhook gets a
    new signing secret (returned in its endpoint's ``keys``).
    """
    places = _choices_check(choices)
    endpoints: list[Endpoint] = []
    now = timezone.now()
    if email:
        endpoints.append(Endpoint(channel=Channel.EMAIL, address=email_check(email)))
    if push:
        address = str(push.get("endpoint", ""))
        keys = push.get("keys")
        if not isinstance(keys, dict) or not keys.get("p256dh") or not keys.get("auth"):
            raise InvalidInputError("The browser's push subscription has no keys.")
        try:
            url_check(address)
        except InvalidInputError as exc:
            raise InvalidInputError(f"The push endpoint is refused: {exc}") from exc
        endpoints.append(
            Endpoint(
                channel=Channel.PUSH,
                address=address,
                keys={"p256dh": str(keys["p256dh"]), "auth": str(keys["auth"])},
                confirmed_at=now,
            )
        )
    if webhook_url:
        try:
            url_check(webhook_url)
        except InvalidInputError as exc:
            raise InvalidInputError(f"The webhook address is refused: {exc}") from exc
        endpoints.append(
            Endpoint(
                channel=Channel.WEBHOOK,
                address=webhook_url,
                keys={"secret": secrets.token_urlsafe(32)},
                confirmed_at=now,
            )
        )
    if not endpoints:
        raise InvalidInputError("Choose how to be told: e-mail, browser notifications or both.")
    with transaction.atomic():
        subscription = Subscription(source=source)
        _apply_choices(subscription, choices)
        if any(e.confirmed_at for e in endpoints):
            subscription.status = SubscriptionStatus.ACTIVE
            subscription.confirmed_at = now
        subscription.save()
        for place in places:
            place.subscription = subscription
        SubscriptionPlace.objects.bulk_create(places)
        for endpoint in endpoints:
            endpoint.subscription = subscription
            endpoint.save()
        audit_record(
            actor=None,
            action="notify.subscribe",
            obj=subscription,
            data={
                "channels": [e.channel for e in endpoints],
                "places": [p.kind for p in places],
                "source": source,
            },
        )
        to_confirm = [e.pk for e in endpoints if e.confirmed_at is None]

        def enqueue() -> None:
            from watchhouse.notify.tasks import send_confirmation_task

            for endpoint_id in to_confirm:
                send_confirmation_task.enqueue(endpoint_id)

        transaction.on_commit(enqueue)
    return subscription, endpoints


def endpoint_confirm(*, token: str) -> Endpoint:
    """Confirm the address of a signed confirmation link; its subscription becomes active.

    Raises LinkError for a forged or expired link; confirming twice changes nothing.
    """
    endpoint_id = confirm_token_read(token)
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None:
            raise InvalidInputError("This subscription no longer exists.")
        subscription = Subscription.objects.select_for_update().get(pk=endpoint.subscription_id)
        if endpoint.confirmed_at is not None:
            return endpoint
        if subscription.status == SubscriptionStatus.UNSUBSCRIBED:
            raise InvalidInputError("This subscription was ended; subscribe again.")
        now = timezone.now()
        endpoint.confirmed_at = now
        endpoint.save(update_fields=["confirmed_at"])
        if subscription.status == SubscriptionStatus.PENDING:
            subscription.status = SubscriptionStatus.ACTIVE
            subscription.confirmed_at = now
            subscription.save(update_fields=["status", "confirmed_at"])
        audit_record(
            actor=None, action="notify.confirm", obj=subscription, data={"endpoint": endpoint.pk}
        )
    return endpoint


def _subscription_by_token(token: str) -> Subscription:
    public_id = manage_token_read(token)
    subscription = Subscription.objects.select_for_update().filter(public_id=public_id).first()
    if subscription is None:
        raise InvalidInputError("This subscription no longer exists.")
    return subscription


def subscription_change(*, token: str, choices: Choices) -> Subscription:
    """Replace a subscription's places, categories, language and quiet hours."""
    places = _choices_check(choices)
    with transaction.atomic():
        subscription = _subscription_by_token(token)
        if subscription.status == SubscriptionStatus.UNSUBSCRIBED:
            raise InvalidInputError("This subscription was ended; subscribe again.")
        _apply_choices(subscription, choices)
        subscription.save()
        subscription.places.all().delete()
        for place in places:
            place.subscription = subscription
        SubscriptionPlace.objects.bulk_create(places)
        audit_record(
            actor=None,
            action="notify.change",
            obj=subscription,
            data={"places": [p.kind for p in places], "categories": sorted(choices.categories)},
        )
    return subscription


def subscription_unsubscribe(*, token: str) -> Subscription:
    """End a subscription from its signed link: nothing more is sent to any of its endpoints.

    Doing it again changes nothing (one-click unsubscribe may be retried by mail providers).
    """
    with transaction.atomic():
        subscription = _subscription_by_token(token)
        if subscription.status == SubscriptionStatus.UNSUBSCRIBED:
            return subscription
        now = timezone.now()
        subscription.status = SubscriptionStatus.UNSUBSCRIBED
        subscription.unsubscribed_at = now
        subscription.save(update_fields=["status", "unsubscribed_at"])
        subscription.endpoints.filter(disabled_at__isnull=True).update(
            disabled_at=now, disabled_reason="unsubscribed"
        )
        # Messages not yet sent are not sent.
        Delivery.objects.filter(
            endpoint__in=subscription.endpoints.all(), status=DeliveryStatus.QUEUED
        ).update(status=DeliveryStatus.SKIPPED, error="unsubscribed")
        DigestDelivery.objects.filter(
            subscription=subscription, status=DeliveryStatus.QUEUED
        ).update(status=DeliveryStatus.SKIPPED, error="unsubscribed")
        audit_record(actor=None, action="notify.unsubscribe", obj=subscription)
    return subscription


# --- deliveries --------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolveReport:
    """What resolving an alert's recipients found and wrote."""

    subscriptions: int
    quiet: int
    deliveries: int
    created: int
    by_channel: dict[str, int]


def _chain_ids(alert: Alert) -> list[int]:
    ids = []
    earlier = alert.references
    while earlier is not None and earlier.pk not in ids:
        ids.append(earlier.pk)
        earlier = earlier.references
    return ids


def _python_rows(alert: Alert, shape: BaseGeometry, now: datetime) -> tuple[int, int, list[Row]]:
    """Recipients found through Python: (subscriptions, quiet, delivery rows). The portable
    path, for databases :func:`~watchhouse.notify.resolve.deliveries_insert` cannot serve."""
    interior = set(
        AlertCell.objects.filter(alert=alert, interior=True).values_list("cell", flat=True)
    )
    languages, quiet = subscriptions_matching(
        shape, category=alert.category, at=now, interior_cells=interior
    )
    rows = [(e, s, c, languages[s]) for e, s, c in live_endpoints(languages)]
    return len(languages), len(quiet), rows


def _chain_rows(alert: Alert) -> list[Row]:
    """Endpoints the earlier messages of the chain reached that this message has not, and
    that are still enabled."""
    chain = _chain_ids(alert)
    if not chain:
        return []
    earlier = (
        Delivery.objects.filter(alert_id__in=chain, status=DeliveryStatus.SENT)
        .exclude(endpoint_id__in=Delivery.objects.filter(alert=alert).values("endpoint_id"))
        .values_list("endpoint_id", "subscription_id", "channel", "language")
        .distinct()
    )
    rows: dict[int, Row] = {}
    for row in earlier:
        rows.setdefault(row[0], row)
    disabled: set[int] = set()
    for ids in chunks(sorted(rows)):
        disabled |= set(
            Endpoint.objects.filter(pk__in=ids, disabled_at__isnull=False).values_list(
                "pk", flat=True
            )
        )
    return [row for pk, row in rows.items() if pk not in disabled]


def _rows_insert(alert: Alert, rows: list[Row], now: datetime) -> None:
    Delivery.objects.bulk_create(
        (
            Delivery(
                alert_id=alert.pk, endpoint_id=endpoint_id, subscription_id=sub_id,
                channel=channel, language=language, queued_at=now,
            )
            for endpoint_id, sub_id, channel, language in rows
        ),
        batch_size=INSERT_BATCH,
        ignore_conflicts=True,
    )  # fmt: skip


def deliveries_create(*, alert_id: int) -> ResolveReport:
    """Write one queued delivery per recipient endpoint of an issued alert, then (after
    commit) hand them to the send tasks in batches per channel.

    Recipients are the subscriptions the alert's area reaches that want its category, outside
    their quiet hours unless it is an Alert, plus, for an update or cancellation, everyone
    the earlier messages of the chain went to. Running it again writes nothing new (one
    row per endpoint and alert) and only re-hands unsent deliveries.
    The rows are written by one statement inside the database where it can
    (:mod:`watchhouse.notify.resolve`), through Python elsewhere, with the same result.
    """
    alert = Alert.objects.select_related("references").get(pk=alert_id)
    if alert.state not in (AlertState.ISSUED, AlertState.UPDATED, AlertState.CANCELLED):
        return ResolveReport(0, 0, 0, 0, {})
    shape = areas_union(list(alert.areas.all()))
    now = timezone.now()
    # Only a transaction of its own may skip waiting for the WAL flush (see the function).
    outermost = not transaction.get_connection().in_atomic_block
    with transaction.atomic():
        if outermost:
            commit_without_flush_wait()
        before = Delivery.objects.filter(alert=alert).count()
        # A transaction of its own has written nothing the resolve reads, so a second
        # session may read the recipients while this one writes them.
        inserted = deliveries_insert(
            shape, alert_id=alert.pk, category=alert.category, at=now, queued_at=now,
            parallel=outermost,
        )  # fmt: skip
        if inserted is None:
            subscriptions, quiet, rows = _python_rows(alert, shape, now)
            _rows_insert(alert, rows, now)
        else:
            subscriptions, quiet = inserted.subscriptions, inserted.quiet
        chain = _chain_rows(alert)
        _rows_insert(alert, chain, now)
        Alert.objects.filter(pk=alert.pk).update(recipients_resolved_at=now)
        if before == 0 and not chain and inserted is not None and inserted.by_channel is not None:
            # Every row of the alert is one the resolve counted as it wrote it.
            by_channel = inserted.by_channel
        else:
            by_channel = dict(
                Delivery.objects.filter(alert=alert)
                .values_list("channel")
                .annotate(n=Count("id"))
                .order_by("channel")
                .values_list("channel", "n")
            )
        total = sum(by_channel.values())
        report = ResolveReport(
            subscriptions=subscriptions, quiet=quiet, deliveries=total,
            created=total - before, by_channel=by_channel,
        )  # fmt: skip
        audit_record(
            actor=None,
            action="notify.deliveries_create",
            obj=alert,
            data={"subscriptions": report.subscriptions, "quiet": report.quiet,
                  "created": report.created, "by_channel": report.by_channel},
        )  # fmt: skip

        def enqueue() -> None:
            # Listed after commit, so the transaction that writes the rows is no longer
            # than it must be; every queued row of the alert is handed on, as on a rerun.
            from watchhouse.notify.tasks import send_deliveries_task

            for channel in Channel.values:
                ids = list(
                    Delivery.objects.filter(
                        alert=alert, channel=channel, status=DeliveryStatus.QUEUED
                    )
                    .values_list("pk", flat=True)
                    .order_by("pk")
                )
                for i in range(0, len(ids), SEND_BATCH):
                    send_deliveries_task.enqueue(ids[i : i + SEND_BATCH])

        transaction.on_commit(enqueue)
    return report


@dataclass
class SendReport:
    """What one send run did; ``retry`` maps delay seconds to deliveries to try again."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retry: dict[int, list[int]] = field(default_factory=dict)


# Deliveries one conditional UPDATE claims at most (fewer when a rate limit makes sending
# them take longer than a quarter of the worker lease).
CLAIM_BATCH = 50
# Results of messages already sent wait at most this long to be written (and never across a
# wait for the rate limit), so a worker that dies leaves few sent rows unrecorded.
RECORD_INTERVAL_S = 0.05
# A claimed delivery: the row, its attempts counting this one, and how its send went.
Outcome = tuple[Delivery, int, SendResult]


def _due(now: datetime) -> Q:
    """Deliveries that may be claimed now: queued and due, or left sending by a worker whose
    lease has passed."""
    return Q(status=DeliveryStatus.QUEUED) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    ) | Q(status=DeliveryStatus.SENDING, claimed_at__lt=now - _lease())


def _claim(ids: list[int], token: str, now: datetime) -> dict[int, int]:
    """Take the claimable deliveries among ``ids`` for this worker; their attempts by id.

    One conditional UPDATE marks them sending with this run's claim token (held in
    ``provider_id`` until the result replaces it) and a plain SELECT reads back which rows
    carry the token: portable, without RETURNING, and a row another worker took in between
    carries that worker's token, so it is never sent twice.
    """
    if not ids:
        return {}
    Delivery.objects.filter(_due(now), pk__in=ids).update(
        status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1,
        provider_id=token,
    )  # fmt: skip
    return dict(
        Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.SENDING, provider_id=token)
        .order_by()
        .values_list("pk", "attempts")
    )


def _release(claimed: dict[int, int], token: str) -> None:
    """Hand back claimed deliveries that were not sent: queued again, as they were."""
    if claimed:
        Delivery.objects.filter(
            pk__in=list(claimed), status=DeliveryStatus.SENDING, provider_id=token
        ).update(
            status=DeliveryStatus.QUEUED, attempts=F("attempts") - 1, provider_id="",
            claimed_at=None,
        )  # fmt: skip
        claimed.clear()


def _per_row(field_name: str, values: dict[int, object]) -> object:
    """The new value of one column for each row, as one expression (a CASE on the id when
    the rows differ)."""
    output = Delivery._meta.get_field(field_name)
    assert isinstance(output, Field)  # noqa: S101 - a plain column, for the type checker
    distinct = set(values.values())
    if len(distinct) == 1:
        return Value(distinct.pop(), output_field=output)
    whens = [When(pk=pk, then=Value(value, output_field=output)) for pk, value in values.items()]
    return Case(*whens, output_field=output)


def _record(outcomes: list[Outcome], token: str, report: SendReport) -> None:
    """Write the results of sent messages with one UPDATE, only on rows this run still holds
    (a row whose lease passed and that another worker took keeps that worker's result)."""
    if not outcomes:
        return
    now = timezone.now()
    columns: dict[str, dict[int, object]] = {
        name: {} for name in ("status", "sent_at", "provider_id", "error", "next_attempt_at")
    }
    gone: list[tuple[int, str]] = []
    for delivery, attempts, result in outcomes:
        pk = delivery.pk
        if result.ok:
            row: tuple[object, ...] = (DeliveryStatus.SENT, now, result.provider_id[:200], "", None)
            report.sent += 1
        elif result.retryable and attempts < _max_attempts():
            delay = result.retry_after or retry_delay_seconds(attempts)
            row = (DeliveryStatus.QUEUED, None, "", result.error[:500],
                   now + timedelta(seconds=delay))  # fmt: skip
            report.retry.setdefault(delay, []).append(pk)
        else:
            row = (DeliveryStatus.FAILED, None, "", result.error[:500], None)
            report.failed += 1
            if result.gone:
                gone.append((delivery.endpoint_id, result.error))
        for name, value in zip(columns, row, strict=True):
            columns[name][pk] = value
    Delivery.objects.filter(
        pk__in=[d.pk for d, _, _ in outcomes], status=DeliveryStatus.SENDING, provider_id=token
    ).update(**{name: _per_row(name, values) for name, values in columns.items()})
    for endpoint_id, error in gone:
        Endpoint.objects.filter(pk=endpoint_id, disabled_at__isnull=True).update(
            disabled_at=now, disabled_reason=f"gone: {error}"[:200]
        )
    outcomes.clear()


def _claim_size(channel: str) -> int:
    rate = channel_rate(channel)
    if rate <= 0:
        return CLAIM_BATCH
    return max(1, min(CLAIM_BATCH, int(rate * _lease().total_seconds() / 4)))


def _skip_disabled(deliveries: list[Delivery], report: SendReport) -> list[Delivery]:
    """Mark deliveries to disabled endpoints or unsubscribed residents skipped; the rest."""
    live = []
    for delivery in deliveries:
        if delivery.endpoint.disabled_at is None and (
            delivery.subscription.status != SubscriptionStatus.UNSUBSCRIBED
        ):
            live.append(delivery)
            continue
        Delivery.objects.filter(
            pk=delivery.pk, status=delivery.status, attempts=delivery.attempts
        ).update(status=DeliveryStatus.SKIPPED, error="endpoint disabled")
        report.skipped += 1
    return live


def _send_group(
    channel: str, alert: Alert, deliveries: list[Delivery], token: str, report: SendReport
) -> None:
    """Send one alert's deliveries on one channel: claimed a few dozen at a time, results
    written in bulk."""
    size = _claim_size(channel)
    limited = channel_rate(channel) > 0
    # A claim is used up well within the lease, so no other worker can take it over while
    # this one still sends from it.
    hold_s = _lease().total_seconds() / 2
    parts: dict[str, Any] = {}
    with channel_sender(channel, alert=alert) as send:
        outcomes: list[Outcome] = []
        claimed: dict[int, int] = {}
        start = 0
        try:
            while start < len(deliveries):
                chunk = deliveries[start : start + size]
                # The results of the last chunk and the claim of the next: one commit.
                with transaction.atomic():
                    _record(outcomes, token, report)
                    claimed = _claim([d.pk for d in chunk], token, timezone.now())
                claimed_at = written_at = monotonic()
                done = 0
                for delivery in chunk:
                    if done and monotonic() - claimed_at > hold_s:
                        break
                    done += 1
                    attempts = claimed.pop(delivery.pk, None)
                    if attempts is None:
                        continue
                    # Written before any wait for the rate limit, and at least every
                    # RECORD_INTERVAL_S: a dead worker leaves few sent rows unrecorded (they
                    # go again, under the same idempotency key, after the lease).
                    if outcomes and (limited or monotonic() - written_at >= RECORD_INTERVAL_S):
                        _record(outcomes, token, report)
                        written_at = monotonic()
                    rate_wait(channel)
                    message = outbound_message(
                        delivery, delivery.endpoint, alert, delivery.subscription.public_id,
                        parts=parts,
                    )  # fmt: skip
                    try:
                        result = send(message)
                    except ChannelError as exc:
                        result = SendResult(ok=False, error=f"Channel not usable: {exc}")
                    outcomes.append((delivery, attempts, result))
                # Rows claimed but not reached in time go back, and are claimed afresh.
                _release(claimed, token)
                start += done
        finally:
            _record(outcomes, token, report)
            _release(claimed, token)


def deliveries_send(*, delivery_ids: list[int]) -> SendReport:
    """Send the given deliveries that are due, each at most once.

    Rows are claimed (queued → sending) a few dozen at a time by one conditional update that
    stamps them with this run's claim token before any of their messages goes out, and the
    results are written back in bulk, only on rows that still carry the token, so a second
    run, or a second worker, never sends a row that is sent or being sent. Results are
    written at least every RECORD_INTERVAL_S and before any wait for a rate limit. A row left
    "sending" by a worker that died is taken again once the worker lease has passed; it
    carries the same idempotency key (Message-ID, push Topic, Idempotency-Key header) so
    receivers can recognise the repeat.
    """
    report = SendReport()
    now = timezone.now()
    due = (
        Delivery.objects.filter(_due(now), pk__in=delivery_ids)
        .select_related("endpoint", "subscription")
        .order_by("alert_id", "channel", "pk")
    )
    groups: dict[tuple[int, str], list[Delivery]] = defaultdict(list)
    for delivery in due:
        groups[(delivery.alert_id, delivery.channel)].append(delivery)
    token = f"claim:{uuid.uuid4().hex}"
    for (alert_id, channel), deliveries in groups.items():
        alert = (
            Alert.objects.select_related("references").prefetch_related("infos").get(pk=alert_id)
        )
        _send_group(channel, alert, _skip_disabled(deliveries, report), token, report)
    # Rows another worker held when this run began were not due here. If that worker died,
    # its lease runs out after that moment (perhaps during this run, too late for it) and
    # nothing else would hand them on: look again once it has.
    held = list(
        Delivery.objects.filter(
            pk__in=delivery_ids, status=DeliveryStatus.SENDING, claimed_at__gte=now - _lease(),
        )
        .exclude(provider_id=token)
        .values_list("pk", flat=True)
    )  # fmt: skip
    if held:
        report.retry.setdefault(int(_lease().total_seconds()) + 1, []).extend(held)

    def enqueue_retries() -> None:
        from watchhouse.notify.tasks import send_deliveries_task

        for delay, ids in report.retry.items():
            send_deliveries_task.using(run_after=timezone.now() + timedelta(seconds=delay)).enqueue(
                ids
            )

    transaction.on_commit(enqueue_retries)
    return report


def confirmation_send(*, endpoint_id: int) -> SendResult | None:
    """Mail the confirmation link of an unconfirmed e-mail endpoint (None: nothing to do)."""
    from django.utils import translation
    from django.utils.translation import gettext

    from watchhouse.notify.channels.base import OutboundMessage
    from watchhouse.notify.channels.email import email_send_batch
    from watchhouse.notify.links import confirm_url

    endpoint = Endpoint.objects.select_related("subscription").filter(pk=endpoint_id).first()
    if endpoint is None or endpoint.confirmed_at is not None or endpoint.disabled_at is not None:
        return None
    if endpoint.channel != Channel.EMAIL:
        return None
    with translation.override(endpoint.subscription.language):
        subject = gettext("Confirm your alert subscription")
        text = "\n".join(
            [
                gettext("Someone, we hope you, asked for alerts from %(agency)s at this address.")
                % {"agency": settings.WATCHHOUSE_AGENCY_NAME},
                "",
                gettext("To start receiving them, open this link within 7 days:"),
                confirm_url(endpoint.pk),
                "",
                gettext("If it was not you, ignore this message: nothing will be sent."),
            ]
        )
    message = OutboundMessage(
        channel="email", address=endpoint.address, subject=subject, text=text,
        idempotency_key=f"confirm.{endpoint.pk}",
    )  # fmt: skip
    return email_send_batch([message])[0]


# --- SMS keywords ------------------------------------------------------------------------


def _sms_replies() -> dict[str, str]:
    agency = settings.WATCHHOUSE_AGENCY_NAME
    return {
        "STOP": f"{agency}: you are unsubscribed and will get no more texts. Reply START to "
        "subscribe again.",
        "START": f"{agency}: texts are on again. Reply HELP for help, STOP to end.",
        "HELP": f"{agency} alerts. Reply with a neighbourhood name or ALL to subscribe, STOP "
        "to end, START to resume. Msg&data rates may apply. Emergency: call 911.",
    }


def sms_inbound_handle(*, from_number: str, body: str) -> str:
    """Act on a text a resident sent to the agency number; return the reply to send.

    STOP ends every text subscription of the number and START resumes them, as carriers
    require; HELP explains; a neighbourhood name (or ALL) subscribes the number to it, the
    text itself being the opt-in.
    """
    from watchhouse.notify.channels.sms import sms_keyword

    replies = _sms_replies()
    keyword = sms_keyword(body)
    number = from_number.strip()
    if not number:
        raise InvalidInputError("The inbound text has no sender number.")
    now = timezone.now()
    if keyword == "HELP":
        return replies["HELP"]
    with transaction.atomic():
        endpoints = Endpoint.objects.select_for_update().filter(channel=Channel.SMS, address=number)
        if keyword == "STOP":
            changed = endpoints.filter(disabled_at__isnull=True).update(
                disabled_at=now, disabled_reason="STOP"
            )
            audit_record(actor=None, action="notify.sms_stop", data={"endpoints": changed})
            return replies["STOP"]
        if keyword == "START":
            changed = endpoints.filter(disabled_reason="STOP").update(
                disabled_at=None, disabled_reason=""
            )
            audit_record(actor=None, action="notify.sms_start", data={"endpoints": changed})
            return replies["START"]
        wanted = " ".join(body.split()).strip()
        place: PlaceSpec | None = None
        if wanted.upper() in {"ALL", "TODOS"}:
            place = PlaceSpec(kind=PlaceKind.JURISDICTION)
        else:
            area = (
                Area.objects.filter(name__iexact=wanted).order_by("kind", "id").first()
                or Area.objects.filter(code__iexact=wanted).order_by("kind", "id").first()
            )
            if area is not None:
                place = PlaceSpec(kind=PlaceKind.AREA, area_id=area.pk)
        if place is None:
            return replies["HELP"]
        places = _choices_check(
            Choices(categories=frozenset({"alert", "advisory"}), places=(place,))
        )
        subscription = Subscription.objects.create(
            source="sms", status=SubscriptionStatus.ACTIVE, confirmed_at=now,
            want_alert=True, want_advisory=True,
        )  # fmt: skip
        for built in places:
            built.subscription = subscription
        SubscriptionPlace.objects.bulk_create(places)
        Endpoint.objects.create(
            subscription=subscription, channel=Channel.SMS, address=number, confirmed_at=now
        )
        audit_record(
            actor=None, action="notify.subscribe", obj=subscription,
            data={"channels": ["sms"], "places": [place.kind], "source": "sms"},
        )  # fmt: skip
        label = places[0].label
    return (
        f"{settings.WATCHHOUSE_AGENCY_NAME}: you will get alerts for {label}. "
        "Reply STOP to end, HELP for help."
    )
