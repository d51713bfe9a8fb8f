"""Demo outlets (run after the posts demo): one outlet per network, the department's own
fediverse actor, real copies of the published demo posts, and a few replies from demo
accounts in the inbox.

Nothing here calls the internet. The four public networks are set up but switched off
(their addresses are the real services, and the demo has no credentials for them); the
partner webhook is switched on and points at a loopback port where nothing listens, so its
copies are really attempted and carry the real error. Loading again changes nothing new: the
outlets are found by name, copies and replies by their unique keys.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from watchhouse.accounts.models import User
from watchhouse.core.crypto import seal_json
from watchhouse.outlets.models import InboundItem, InboundKind, Network, Outlet, RemoteCopy
from watchhouse.outlets.services import copy_sync, post_outlets_sync
from watchhouse.posts.models import Post
from watchhouse.posts.states import PostState

# (network, name, account, api_base, enabled)
DEMO_OUTLETS = [
    (Network.FACEBOOK, "Facebook Page (demo)", "1000000000000", "https://graph.facebook.com",
     False),
    (Network.X, "X account (demo)", "", "https://api.x.com", False),
    (Network.BLUESKY, "Bluesky (demo)", "police.example.org", "https://bsky.social", False),
    (Network.MASTODON, "Mastodon (demo)", "police@mastodon.example", "https://mastodon.example",
     False),
    # Port 9 (discard) on loopback: nothing listens, so sending fails at once, for real.
    (Network.WEBHOOK, "Partner webhook (demo, nothing listens)", "Partner",
     "http://127.0.0.1:9/partner-hook", True),
]  # fmt: skip

DEMO_REPLIES = [
    ("mastodon", "demo-reply-1", InboundKind.REPLY, "Demo resident (demo account)",
     "demo.resident@mastodon.example", "Thanks for the heads-up, will take the bus instead."),
    ("bluesky", "demo-reply-2", InboundKind.MENTION, "Another demo neighbour (demo account)",
     "demo-neighbour.bsky.example", "Is the road open for cyclists? <b>asking for a friend</b>"),
    ("activitypub", "demo-reply-3", InboundKind.REPLY, "Fediverse demo user (demo account)",
     "demo@social.example", "Boosted. Stay safe everyone."),
]  # fmt: skip


def _outlets(admin: User) -> list[Outlet]:
    outlets = []
    for network, name, account, api_base, enabled in DEMO_OUTLETS:
        outlet = Outlet.objects.filter(network=network, name=name).first()
        if outlet is None:
            credentials = {"secret": "demo-partner-secret"} if network == Network.WEBHOOK else {}
            outlet = Outlet.objects.create(
                network=network, name=name, account=account, api_base=api_base,
                enabled=enabled, created_by=admin,
                credentials=seal_json(credentials) if credentials else "",
                alert_categories=["community", "traffic"] if enabled else [],
            )  # fmt: skip
        outlets.append(outlet)
    return outlets


def _department_actor() -> str:
    try:
        from watchhouse.outlets.activitypub.services import department_actor
    except ImportError:
        return ""
    return department_actor().username


def _replies(posts: list[Post]) -> int:
    made = 0
    now = timezone.now()
    for n, (network, remote_id, kind, name, handle, text) in enumerate(DEMO_REPLIES):
        post = posts[n % len(posts)] if posts else None
        _item, created = InboundItem.objects.get_or_create(
            network=network, remote_id=remote_id,
            defaults={
                "kind": kind, "author_name": name, "author_handle": handle,
                # Stored as it would be after collection: plain text.
                "text": text.replace("<b>", "").replace("</b>", ""),
                "post": post, "published_at": now - timedelta(minutes=10 * (n + 1)),
                "raw": {"demo": True},
            },
        )  # fmt: skip
        made += int(created)
    return made


def load(*, stdout: Any) -> None:
    """Create the demo outlets, the department's actor, copies and replies (idempotent)."""
    admin = User.objects.filter(username="demo").first()
    if admin is None:
        stdout.write("Demo outlets: skipped (load the demo staff first).")
        return
    with transaction.atomic():
        outlets = _outlets(admin)
    actor = _department_actor()
    posts = list(Post.objects.filter(state=PostState.PUBLISHED).order_by("published_at")[:3])
    for post in posts:
        post_outlets_sync(post_id=post.pk)
    attempted = 0
    for copy in RemoteCopy.objects.filter(post__in=posts, status="pending", attempts=0):
        copy_sync(copy_id=copy.pk)
        attempted += 1
    replies = _replies(posts)
    on = sum(1 for o in outlets if o.enabled)
    stdout.write(
        f"Demo outlets: {len(outlets)} outlets ({on} switched on, the others need the "
        f"internet), {attempted} copies attempted, {replies} new demo replies"
        + (f", fediverse actor @{actor}" if actor else "")
        + " (see /console/outlets/)."
    )
