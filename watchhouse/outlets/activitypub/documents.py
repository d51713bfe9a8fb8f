"""The JSON-LD documents our actors publish: actor, objects (Note, Article, Tombstone),
activities, collections, WebFinger and NodeInfo. Pure functions of the database rows, with
every address absolute on ``settings.SITE_URL``."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.urls import reverse

from watchhouse.alerts.models import Alert
from watchhouse.core.crypto import unseal
from watchhouse.geo.models import Area
from watchhouse.outlets.models import LocalActor
from watchhouse.posts import public
from watchhouse.posts.models import Post, PostKind, Topic

AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
CONTEXT: list[Any] = [
    "https://www.w3.org/ns/activitystreams",
    "https://w3id.org/security/v1",
    {"Hashtag": "as:Hashtag", "sensitive": "as:sensitive"},
]
AP_CONTENT_TYPE = "application/activity+json"
# Post kinds published as an Article (long form); the others are Notes.
ARTICLE_KINDS = frozenset({PostKind.ARTICLE, PostKind.STORY})


def site() -> str:
    return str(settings.SITE_URL).rstrip("/")


def domain() -> str:
    """The host (with port when not the default) that names our actors: ``@user@domain``."""
    return urlsplit(site()).netloc


def actor_uri(actor: LocalActor | str) -> str:
    username = actor if isinstance(actor, str) else actor.username
    return f"{site()}/ap/users/{username}"


def key_id(actor: LocalActor) -> str:
    return f"{actor_uri(actor)}#main-key"


def private_key_pem(actor: LocalActor) -> str:
    return unseal(actor.private_key)


def shared_inbox_uri() -> str:
    return f"{site()}/ap/inbox"


def followers_uri(actor: LocalActor) -> str:
    return f"{actor_uri(actor)}/followers"


def post_object_uri(actor: LocalActor, post_id: int) -> str:
    return f"{actor_uri(actor)}/posts/{post_id}"


def alert_object_uri(actor: LocalActor, alert_id: int) -> str:
    return f"{actor_uri(actor)}/alerts/{alert_id}"


_OBJECT_PATH = re.compile(r"^/ap/users/(?P<username>[-\w]+)/(?P<kind>posts|alerts)/(?P<pk>\d+)$")


def parse_object_uri(uri: str) -> tuple[str, str, int] | None:
    """(username, "posts" or "alerts", id) when ``uri`` names one of our objects."""
    if not isinstance(uri, str) or not uri.startswith(site() + "/"):
        return None
    match = _OBJECT_PATH.match(urlsplit(uri).path)
    if match is None:
        return None
    return match["username"], match["kind"], int(match["pk"])


def iso_utc(when: datetime | None) -> str | None:
    """``when`` as ActivityStreams writes dates: UTC, whole seconds, ``Z``."""
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def actor_document(actor: LocalActor) -> dict[str, Any]:
    uri = actor_uri(actor)
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "id": uri,
        "type": actor.kind,
        "preferredUsername": actor.username,
        "name": actor.name,
        "summary": f"<p>{html.escape(actor.summary)}</p>" if actor.summary else "",
        "url": site()
        + (
            reverse("web:area", kwargs={"kind": actor.area.kind, "slug": actor.area.slug})
            if actor.area_id and actor.area is not None
            else "/"
        ),
        "inbox": f"{uri}/inbox",
        "outbox": f"{uri}/outbox",
        "followers": followers_uri(actor),
        "endpoints": {"sharedInbox": shared_inbox_uri()},
        "manuallyApprovesFollowers": False,
        "discoverable": True,
        "published": iso_utc(actor.created_at),
        "publicKey": {"id": key_id(actor), "owner": uri, "publicKeyPem": actor.public_key_pem},
    }
    if actor.icon_id and actor.icon is not None:
        rendition = _largest_image(actor.icon.renditions)
        if rendition:
            document["icon"] = {"type": "Image", "mediaType": rendition[1],
                                "url": public.absolute(public.media_url(rendition[0]))}  # fmt: skip
    return document


def _largest_image(renditions: Any) -> tuple[str, str] | None:
    if not isinstance(renditions, dict):
        return None
    images = [
        r for n, r in renditions.items()
        if isinstance(r, dict) and str(r.get("mime", "")).startswith("image/")
        and isinstance(r.get("path"), str) and n != "poster"
    ]  # fmt: skip
    if not images:
        return None
    best = max(images, key=lambda r: r.get("width") or 0)
    return best["path"], best["mime"]


def hashtag_name(name: str) -> str:
    """``#WestEnd`` from "West End": letters and digits only, words capitalised."""
    words = re.findall(r"\w+", name)
    return "#" + "".join(w[:1].upper() + w[1:] for w in words)


def _hashtag(name: str, params: dict[str, str]) -> dict[str, str]:
    return {"type": "Hashtag", "name": hashtag_name(name),
            "href": public.absolute(reverse("posts:list") + "?" + urlencode(params))}  # fmt: skip


def post_tags(post: Post) -> list[dict[str, str]]:
    topics: list[Topic] = list(post.topics.all())
    areas: list[Area] = list(post.areas.all())
    tags = [_hashtag(t.name, {"topic": t.slug}) for t in topics]
    tags += [_hashtag(a.name, {"area": a.slug}) for a in areas]
    return [t for t in tags if len(t["name"]) > 1]


def post_attachments(post: Post) -> list[dict[str, Any]]:
    """Public renditions of the post's visible images and videos, each named by its alt text
    (never the originals)."""
    if post.redacted:
        return []
    attachments = []
    for shown in public.post_media(post):
        if shown.video is not None:
            rendition = shown.video
            kind = "Video"
        elif shown.src is not None:
            rendition = shown.src
            kind = "Image"
        else:
            continue
        item: dict[str, Any] = {
            "type": "Document" if kind == "Image" else "Video",
            "mediaType": rendition.mime,
            "url": public.absolute(rendition.url),
            "name": shown.alt,
        }
        if rendition.width and rendition.height:
            item["width"], item["height"] = rendition.width, rendition.height
        attachments.append(item)
    return attachments


def post_object(actor: LocalActor, post: Post) -> dict[str, Any]:
    """The Note or Article of ``post`` as ``actor`` publishes it (needs the post with its
    visible media, areas and topics, as :func:`~watchhouse.posts.public.post_public_get`
    gives it)."""
    shown = public.card(post)
    link = public.absolute(shown.url)
    title = html.escape(shown.title)
    summary = html.escape(shown.summary)
    body = "" if post.redacted else post.body_html
    tags = post_tags(post)
    tag_links = " ".join(
        f'<a href="{html.escape(t["href"])}" class="mention hashtag" rel="tag">'
        f"#<span>{html.escape(t['name'][1:])}</span></a>"
        for t in tags
    )
    article = post.kind in ARTICLE_KINDS
    if article:
        content = body or f"<p>{summary}</p>"
    else:
        parts = [f"<p><strong>{title}</strong></p>"]
        if summary:
            parts.append(f"<p>{summary}</p>")
        parts.append(body)
        parts.append(f'<p><a href="{html.escape(link)}">{html.escape(link)}</a></p>')
        content = "".join(parts)
    if tag_links:
        content += f"<p>{tag_links}</p>"
    document: dict[str, Any] = {
        "id": post_object_uri(actor, post.pk),
        "type": "Article" if article else "Note",
        "attributedTo": actor_uri(actor),
        "content": content,
        "contentMap": {post.language or "en": content},
        "url": link,
        "published": iso_utc(post.published_at),
        "to": [AS_PUBLIC],
        "cc": [followers_uri(actor)],
        "attachment": post_attachments(post),
        "tag": tags,
        "sensitive": False,
    }
    if article:
        document["name"] = shown.title
        document["summary"] = shown.summary or None
    if post.edited_at:
        document["updated"] = iso_utc(post.edited_at)
    return document


def tombstone(
    uri: str, *, former_type: str = "Note", deleted: datetime | None = None
) -> dict[str, Any]:
    return {"id": uri, "type": "Tombstone", "formerType": former_type,
            "deleted": iso_utc(deleted)}  # fmt: skip


def alert_object(actor: LocalActor, alert: Alert) -> dict[str, Any]:
    """The Note of an issued alert: headline, description and the link to its page."""
    info = alert.infos.first()
    headline = info.headline if info else alert.event
    description = info.description if info else ""
    link = public.absolute(alert.get_absolute_url())
    content = f"<p><strong>{html.escape(headline)}</strong></p>"
    if description:
        content += "".join(
            f"<p>{html.escape(p)}</p>" for p in description.split("\n\n") if p.strip()
        )
    content += f'<p><a href="{html.escape(link)}">{html.escape(link)}</a></p>'
    return {
        "id": alert_object_uri(actor, alert.pk),
        "type": "Note",
        "attributedTo": actor_uri(actor),
        "summary": None,
        "content": content,
        "url": link,
        "published": iso_utc(alert.issued_at),
        "to": [AS_PUBLIC],
        "cc": [followers_uri(actor)],
        "attachment": [],
        "tag": [],
        "sensitive": False,
    }


def activity_document(
    *, actor: LocalActor, uri: str, kind: str, obj: dict[str, Any] | str,
    published: datetime, to: list[str] | None = None, cc: list[str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "@context": CONTEXT,
        "id": uri,
        "type": kind,
        "actor": actor_uri(actor),
        "published": iso_utc(published),
        "to": to if to is not None else [AS_PUBLIC],
        "cc": cc if cc is not None else [followers_uri(actor)],
        "object": obj,
    }


def with_context(document: dict[str, Any]) -> dict[str, Any]:
    return {"@context": CONTEXT, **document}


def webfinger_document(actor: LocalActor) -> dict[str, Any]:
    uri = actor_uri(actor)
    return {
        "subject": f"acct:{actor.username}@{domain()}",
        "aliases": [uri],
        "links": [
            {"rel": "self", "type": AP_CONTENT_TYPE, "href": uri},
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html",
             "href": actor_document(actor)["url"]},
        ],
    }  # fmt: skip


def nodeinfo_document(*, users: int, posts: int) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("watchhouse")
    except PackageNotFoundError:
        ours = "0"
    return {
        "version": "2.1",
        "software": {
            "name": "watchhouse",
            "version": ours,
            "homepage": "https://github.com/watchhouse",
        },  # fmt: skip
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": False,
        "usage": {
            "users": {"total": users, "activeMonth": users, "activeHalfyear": users},
            "localPosts": posts,
        },  # fmt: skip
        "metadata": {"nodeName": str(settings.WATCHHOUSE_AGENCY_NAME)},
    }
