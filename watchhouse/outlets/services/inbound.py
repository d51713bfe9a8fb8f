"""Collecting replies, comments and mentions from the outlets' networks into one inbox.

Each enabled outlet is collected every few minutes by a chain of tasks that re-enqueues
itself (:func:`inbound_collect_due`). A run claims its outlet by a conditional update of
``inbound_checked_at``, so a second chain (started again by an admin enabling the outlet)
ends at its first run rather than doubling the calls. Items are stored once per
``(network, remote_id)``, as plain text, with the copy, post or alert they answer.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime, timedelta
from typing import Any

import nh3
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from watchhouse.audit.services import audit_record
from watchhouse.outlets.models import InboundItem, InboundKind, Outlet, RemoteCopy
from watchhouse.outlets.networks.base import InboundData, OutletError
from watchhouse.outlets.services.outlets import (
    adapter_close,
    credentials_keep,
    outlet_adapter,
    outlet_expiry_warn,
    outlet_flag_auth,
)

logger = logging.getLogger(__name__)

# How many of an outlet's latest copies are asked about (older threads go quiet).
KNOWN_COPIES = 200


def collect_interval() -> timedelta:
    """Time between two collections of one outlet."""
    return timedelta(seconds=int(getattr(settings, "WATCHHOUSE_OUTLETS_COLLECT_SECONDS", 300)))


def plain_text(value: str, *, limit: int = 20_000) -> str:
    """Remote text reduced to plain text: tags dropped, entities decoded, capped."""
    cleaned = nh3.clean(value or "", tags=set(), clean_content_tags={"script", "style"})
    return html.unescape(cleaned).strip()[:limit]


def _known_parts(outlet: Outlet) -> dict[str, RemoteCopy]:
    copies = RemoteCopy.objects.filter(outlet=outlet).exclude(parts=[]).order_by("-created_at")
    known: dict[str, RemoteCopy] = {}
    for copy in copies[:KNOWN_COPIES]:
        for part in copy.parts or []:
            remote_id = str(part.get("id", "")) if isinstance(part, dict) else ""
            if remote_id:
                known.setdefault(remote_id, copy)
        if copy.remote_id:
            known.setdefault(copy.remote_id, copy)
    return known


def _url(value: str) -> str:
    value = (value or "").strip()
    return value[:500] if value.startswith(("https://", "http://")) else ""


def _item(outlet: Outlet, data: InboundData, known: dict[str, RemoteCopy]) -> InboundItem:
    copy = known.get(data.in_reply_to or "")
    kind = data.kind if data.kind in InboundKind.values else InboundKind.MENTION
    return InboundItem(
        network=outlet.network,
        outlet=outlet,
        remote_id=str(data.remote_id)[:500],
        kind=kind,
        author_name=plain_text(data.author_name, limit=300),
        author_handle=plain_text(data.author_handle, limit=300),
        author_url=_url(data.author_url),
        text=plain_text(data.text),
        url=_url(data.url),
        in_reply_to=str(data.in_reply_to or "")[:500],
        post_id=copy.post_id if copy else None,
        alert_id=copy.alert_id if copy else None,
        copy=copy,
        published_at=data.published_at,
        raw=data.raw if isinstance(data.raw, dict) else {},
    )


def inbound_collect(*, outlet_id: int) -> int:
    """Fetch what came back on one outlet since its cursor and store what is new; the
    number stored. A network's refusal is recorded on the outlet (``auth``: its check is
    marked failed) and the cursor stays, so nothing is skipped."""
    outlet = Outlet.objects.get(pk=outlet_id)
    known = _known_parts(outlet)
    adapter: Any = None
    try:
        adapter = outlet_adapter(outlet)
        items, cursor = adapter.inbound(outlet.inbound_cursor, sorted(known))
    except OutletError as exc:
        logger.warning("Inbound collection from outlet %s refused: %s (%s)", outlet.pk, exc,
                       exc.kind)  # fmt: skip
        if exc.kind == "auth":
            with transaction.atomic():
                outlet_flag_auth(outlet.pk, f"{exc.kind}: {exc}")
        return 0
    finally:
        if adapter is not None:
            credentials_keep(outlet, adapter)
            adapter_close(adapter)
    fresh = [_item(outlet, data, known) for data in items if data.remote_id]
    with transaction.atomic():
        existing = set(
            InboundItem.objects.filter(
                network=outlet.network, remote_id__in=[i.remote_id for i in fresh]
            ).values_list("remote_id", flat=True)
        )
        new, seen = [], set(existing)
        for item in fresh:
            if item.remote_id not in seen:
                seen.add(item.remote_id)
                new.append(item)
        InboundItem.objects.bulk_create(new, ignore_conflicts=True)
        Outlet.objects.filter(pk=outlet.pk).update(
            inbound_cursor=(cursor or outlet.inbound_cursor)[:500],
            inbound_checked_at=timezone.now(),
        )
        if new:
            audit_record(
                actor=None, action="outlets.inbound.collect", obj=outlet,
                data={"new": len(new), "answering": sum(1 for i in new if i.copy_id)},
            )  # fmt: skip
    return len(new)


def _claim_collection(outlet_id: int, now: datetime) -> bool:
    half = collect_interval() / 2
    return bool(
        Outlet.objects.filter(pk=outlet_id, enabled=True)
        .filter(Q(inbound_checked_at__isnull=True) | Q(inbound_checked_at__lte=now - half))
        .update(inbound_checked_at=now)
    )


def inbound_collect_due(*, outlet_id: int, now: datetime | None = None) -> bool:
    """One run of an outlet's periodic chain: collect (when no other chain did lately) and
    warn of an expiring token; True when the chain should go on (the outlet is enabled and
    this run held the claim)."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = _claim_collection(outlet_id, now)
    if not claimed:
        return False
    try:
        inbound_collect(outlet_id=outlet_id)
    except Exception:  # noqa: BLE001 - the chain must go on past one bad answer
        logger.exception("Inbound collection from outlet %s failed", outlet_id)
    try:
        outlet_expiry_warn(outlet_id=outlet_id, now=now)
    except Exception:  # noqa: BLE001 - as above
        logger.exception("Token expiry check of outlet %s failed", outlet_id)
    return True
