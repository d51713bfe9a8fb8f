"""Reads of the outlets app: outlets, the copies of a post or an alert, the inbox, the
fediverse panel and the composer's previews."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from watchhouse.alerts.models import Alert
from watchhouse.outlets.models import (
    ApServer,
    InboundItem,
    LocalActor,
    Network,
    Outlet,
    RemoteCopy,
)
from watchhouse.outlets.services.copies import alert_chain
from watchhouse.outlets.services.outlets import expiring_soon
from watchhouse.posts.models import Post

logger = logging.getLogger(__name__)


def outlet_list() -> QuerySet[Outlet]:
    """Every outlet, by network and name, with how many copies it holds and has failed."""
    return Outlet.objects.annotate(
        copy_count=Count("copies"),
        failed_count=Count("copies", filter=Q(copies__status="failed")),
    ).order_by("network", "name")


def outlet_get(pk: int) -> Outlet:
    return Outlet.objects.get(pk=pk)


def outlets_expiring(now: datetime | None = None) -> QuerySet[Outlet]:
    """Outlets whose token expires within the warning period (or already has): the banner."""
    return Outlet.objects.filter(expiring_soon(now)).order_by("token_expires_at")


def post_copy_list(post: Post) -> QuerySet[RemoteCopy]:
    return (
        RemoteCopy.objects.filter(post=post)
        .select_related("outlet")
        .order_by("outlet__network", "outlet__name")
    )


def alert_copy_list(alert: Alert) -> QuerySet[RemoteCopy]:
    """The copies of ``alert``'s chain (they are kept on its first issued message)."""
    chain = alert_chain(alert)
    root = chain[0] if chain else alert
    return (
        RemoteCopy.objects.filter(alert=root)
        .select_related("outlet")
        .order_by("outlet__network", "outlet__name")
    )


def copy_get(pk: int) -> RemoteCopy:
    return RemoteCopy.objects.select_related("outlet", "post", "alert").get(pk=pk)


def inbound_list(*, network: str = "", post_id: int | None = None) -> QuerySet[InboundItem]:
    """The inbox, newest first, filtered by network and by the post answered."""
    items = InboundItem.objects.select_related("post", "alert", "outlet", "actor")
    if network:
        items = items.filter(network=network)
    if post_id is not None:
        items = items.filter(post_id=post_id)
    return items.order_by("-received_at", "-id")


@dataclass(frozen=True)
class ActorPanel:
    actor: LocalActor
    handle: str
    followers: int


@dataclass(frozen=True)
class FediversePanel:
    actors: list[ActorPanel] = field(default_factory=list)
    servers_given_up: list[ApServer] = field(default_factory=list)
    servers_failing: int = 0


def _domain() -> str:
    try:
        from watchhouse.outlets.activitypub.documents import domain
    except ImportError:
        return urlsplit(str(settings.SITE_URL)).netloc
    return str(domain())


def fediverse_panel() -> FediversePanel:
    """The department's actors with their ``@user@domain`` handles and follower counts, and
    the servers given up as dead."""
    domain = _domain()
    actors = LocalActor.objects.annotate(follower_count=Count("followers")).order_by(
        "area_id", "username"
    )
    return FediversePanel(
        actors=[
            ActorPanel(actor=a, handle=f"@{a.username}@{domain}", followers=a.follower_count)
            for a in actors
        ],
        servers_given_up=list(ApServer.objects.filter(dead_since__isnull=False)[:100]),
        servers_failing=ApServer.objects.filter(
            dead_since__isnull=True, failing_since__isnull=False
        ).count(),
    )


@dataclass(frozen=True)
class NetworkPreview:
    outlet: Outlet
    preview: dict[str, Any] | None
    error: str = ""

    @property
    def parts_counts(self) -> list[tuple[str, int]]:
        if not self.preview:
            return []
        return list(zip(self.preview["parts"], self.preview["counts"], strict=False))


def post_previews(post: Post) -> list[NetworkPreview]:
    """How ``post`` will look on each outlet taking its kind (the composer's panel), those
    switched on first: each thread part with its count against the limit, and the warnings."""
    from watchhouse.outlets.rendering import preview

    previews = []
    outlets = Outlet.objects.exclude(network=Network.ACTIVITYPUB)
    for outlet in outlets.order_by("-enabled", "network", "name"):
        if outlet.post_kinds and post.kind not in outlet.post_kinds:
            continue
        try:
            previews.append(NetworkPreview(outlet, preview(outlet.network, post=post)))
        except Exception as exc:  # noqa: BLE001 - one network's preview must not break the page
            logger.warning("Preview of post %s for %s failed: %r", post.pk, outlet, exc)
            previews.append(NetworkPreview(outlet, None, error=type(exc).__name__))
    return previews
