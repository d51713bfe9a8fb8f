"""One schema for a public post, whatever network or file it came from.

Connectors turn what a source sends into :class:`PublicPost`; everything after them (dedupe,
normalisation, places, rules, classifier, stories) reads only this.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class MediaRef:
    """An image or video a post carries: where it is and what its author said it shows."""

    url: str
    kind: str = "image"  # image | video | other
    alt: str = ""


@dataclasses.dataclass(slots=True)
class PublicPost:
    """A public post as Watchhouse sees it.

    ``source`` is the connector kind (``jetstream``, ``fediverse``, ``rss``, ``inbox``,
    ``file``); ``remote_id`` the network's own id (an at:// URI, an ActivityPub object id, a
    feed entry id), unique within the source kind. ``lat``/``lon`` are set only when the post
    itself carries coordinates.
    """

    source: str
    remote_id: str
    text: str
    posted_at: datetime
    author_handle: str = ""
    author_name: str = ""
    url: str = ""
    language: str = ""
    lat: float | None = None
    lon: float | None = None
    media: tuple[MediaRef, ...] = ()
    source_id: int | None = None  # the monitoring.Source row, when there is one
    raw: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> str:
        """A short stable key for exact-duplicate detection across deliveries of one post."""
        return hashlib.blake2b(
            f"{self.source}\x00{self.remote_id}".encode(), digest_size=16
        ).hexdigest()


class MalformedPostError(ValueError):
    """A source sent something that is not a post Watchhouse can read; the message says why."""
