"""Reading alerts for the public pages, feeds and the console."""

from __future__ import annotations

from datetime import timedelta

import shapely
from django.db.models import Prefetch, QuerySet
from django.utils import timezone, translation
from shapely.geometry.base import BaseGeometry

from watchhouse.alerts.models import Alert, AlertInfo
from watchhouse.alerts.states import SENT_STATES, AlertState


def alert_public_list() -> QuerySet[Alert]:
    """Messages that have gone out, newest first, texts loaded."""
    return (
        Alert.objects.filter(state__in=SENT_STATES)
        .select_related("references")
        .prefetch_related(Prefetch("infos", queryset=AlertInfo.objects.order_by("id")))
        .order_by("-issued_at", "-pk")
    )


def alert_current_list() -> QuerySet[Alert]:
    """Messages in force now: issued, not superseded, not expired."""
    return alert_public_list().filter(state=AlertState.ISSUED, expires__gt=timezone.now())


def alert_public_for_area(
    geometry: BaseGeometry, *, days: int = 30, limit: int = 10
) -> list[Alert]:
    """Messages that went out in the last ``days`` and whose target touches ``geometry`` (an
    area of the jurisdiction), newest first, at most ``limit``; texts and areas loaded."""
    since = timezone.now() - timedelta(days=days)
    shapely.prepare(geometry)
    found = []
    for alert in alert_public_list().filter(issued_at__gte=since).prefetch_related("areas"):
        if any(geometry.intersects(a.shapely_geometry) for a in alert.areas.all()):
            found.append(alert)
            if len(found) == limit:
                break
    return found


def alert_public_get(pk: int) -> Alert:
    """A message that has gone out, with its texts and areas; raises Alert.DoesNotExist."""
    return (
        Alert.objects.filter(state__in=SENT_STATES)
        .select_related("references")
        .prefetch_related("infos", "areas")
        .get(pk=pk)
    )


def alert_chain(alert: Alert) -> list[Alert]:
    """Every message of ``alert``'s chain, first to last (the alert, its updates, its cancel)."""
    root = alert.root
    chain = [root]
    current = root
    while True:
        following = (
            Alert.objects.filter(references=current, state__in=SENT_STATES)
            .prefetch_related("infos")
            .order_by("issued_at", "pk")
            .first()
        )
        if following is None or following in chain:
            return chain
        chain.append(following)
        current = following


def alert_console_list() -> QuerySet[Alert]:
    """Every message, newest first, with authors and texts, for the console."""
    return (
        Alert.objects.select_related("created_by", "approved_by", "references")
        .prefetch_related("infos")
        .order_by("-created_at", "-pk")
    )


def info_for_language(alert: Alert, language: str | None = None) -> AlertInfo | None:
    """The alert's texts in ``language`` (default: the active one), else its first."""
    language = language or translation.get_language() or "en"
    infos = list(alert.infos.all())
    for candidate in infos:
        if candidate.language == language or candidate.language == language.split("-")[0]:
            return candidate
    return infos[0] if infos else None
