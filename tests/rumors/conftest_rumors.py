"""Helpers of the rumors suite: rumors in a given state, screenshots, a community comment."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from django.utils import timezone
from PIL import Image

from watchhouse.audit.models import AuditEntry
from watchhouse.community.models import Comment, Resident
from watchhouse.posts.models import Post
from watchhouse.posts.services import PostFields, post_create, post_publish
from watchhouse.rumors.models import Incident, Rumor
from watchhouse.rumors.services import rumor_decide, rumor_open


def png_bytes(size: tuple[int, int] = (40, 30), colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def entries(action: str, obj: Any | None = None) -> list[AuditEntry]:
    """Audit entries of ``action`` (about ``obj`` when given), oldest first."""
    found = AuditEntry.objects.filter(action=action)
    if obj is not None:
        found = found.filter(object_id=str(obj.pk))
    return list(found.order_by("seq"))


def open_rumor(
    actor: Any,
    claim: str = "The bridge on Route 9 has collapsed",
    *,
    minutes_ago: int = 90,
    incident: Incident | None = None,
    links: tuple[str, ...] = (),
) -> Rumor:
    return rumor_open(
        actor=actor,
        claim=claim,
        first_seen_at=timezone.now() - timedelta(minutes=minutes_ago),
        first_seen_where="Neighbourhood group on a social network",
        incident=incident,
        links=list(links),
    )


def answered_rumor(
    actor: Any,
    claim: str = "The bridge on Route 9 has collapsed",
    *,
    status: str = "false",
    what_we_know: str = "The bridge is standing; one lane is closed for repairs.",
    incident: Incident | None = None,
) -> Rumor:
    rumor = open_rumor(actor, claim, incident=incident)
    return rumor_decide(actor=actor, rumor=rumor, status=status, what_we_know=what_we_know)


def published_post(actor: Any, title: str = "Water main repairs on Elm Street") -> Post:
    post = post_create(
        actor=actor, fields=PostFields(kind="update", title=title, body="Crews are on site.")
    )
    return post_publish(actor=actor, post=post)


def resident_comment(post: Post, body: str) -> Comment:
    resident = Resident.objects.create(email="robin@example.org", display_name="Robin")
    return Comment.objects.create(post=post, author=resident, body=body)
