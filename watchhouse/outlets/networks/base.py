"""One interface for every network a post is cross-posted to.

An adapter is made for one :class:`~watchhouse.outlets.models.Outlet` with its unsealed
credentials, and speaks that network's documented API. It never touches the database: the
services decide what to do (publish, update, delete, leave a notice), call the adapter, and
record what came back. Every failure is an :class:`OutletError` that says whether trying
again later can help (``retryable``, with ``retry_after`` when the network said how long).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol


class OutletError(Exception):
    """A network refused or could not be reached.

    ``kind`` is one of: ``rate_limited``, ``auth`` (expired or revoked credentials),
    ``media_rejected``, ``too_long``, ``not_found`` (the remote copy is gone), ``unavailable``
    (timeouts, 5xx, connection refused), ``rejected`` (any other refusal).
    """

    def __init__(
        self, message: str, *, kind: str = "rejected", retryable: bool = False,
        retry_after: int | None = None, status: int | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


@dataclass(frozen=True)
class MediaItem:
    """A public copy of a post's image or video (metadata stripped), ready to upload."""

    path: Path
    mime: str
    kind: str  # "image" or "video"
    alt: str
    bytes: int
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Rendered:
    """What one network is given for one post or alert, already fitted to its rules.

    ``parts`` are the texts of the thread in order (one part when it fits); the first part
    carries the media. ``link`` is the canonical page on the department's site.
    """

    parts: list[str]
    link: str
    title: str
    summary: str = ""
    media: list[MediaItem] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    language: str = "en"
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Published:
    """What the network holds for a copy: its first post's id and URL and every part
    (``{"id", "url", "kind"}``, kind "post", "reply", "media" or "notice")."""

    remote_id: str
    remote_url: str
    parts: list[dict[str, str]]


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str
    token_expires_at: datetime | None = None
    # Credentials the network handed back (a refreshed token): the caller seals and keeps them.
    credentials: dict[str, Any] | None = None


@dataclass(frozen=True)
class InboundData:
    """A reply, comment or mention as the network reports it."""

    remote_id: str
    kind: str  # "reply", "mention" or "comment"
    author_name: str
    author_handle: str
    author_url: str
    text: str
    url: str
    in_reply_to: str  # the remote id of what it answers, when the network says
    published_at: datetime | None
    raw: dict[str, Any]


class Adapter(Protocol):
    """A network's API behind the one interface. ``can_edit``/``can_delete`` say what the
    network allows; the services leave a notice where it cannot."""

    network: ClassVar[str]
    can_edit: ClassVar[bool]
    can_delete: ClassVar[bool]

    def check(self) -> CheckResult: ...

    def publish(self, rendered: Rendered) -> Published: ...

    def update(self, parts: list[dict[str, str]], rendered: Rendered) -> Published: ...

    def delete(self, parts: list[dict[str, str]]) -> None: ...

    def notice(self, parts: list[dict[str, str]], text: str) -> dict[str, str]: ...

    def inbound(self, cursor: str, known_ids: list[str]) -> tuple[list[InboundData], str]: ...
