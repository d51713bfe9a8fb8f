"""The one interface every source of public posts implements.

A connector reads one :class:`~watchhouse.monitoring.models.Source` and yields
:class:`Batch` es of :class:`~watchhouse.monitoring.posts.PublicPost`. What it cannot read is
counted in ``Batch.refused`` under a reason ("malformed", "giant"), never raised out of
:meth:`Connector.read`: one bad event must not stop a stream.

Each connector names in ``terms`` the platform terms or protocol it follows and why reading
is allowed there. There is deliberately no generic "scrape" connector (guardrail 4): only open
protocols, feeds published for reading, and official APIs.
"""

from __future__ import annotations

import abc
import dataclasses
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring.posts import PublicPost

if TYPE_CHECKING:
    from watchhouse.monitoring.models import Source

# Platforms whose terms forbid automated collection or surveillance use of their pages
# (Facebook, Instagram, X/Twitter, TikTok, LinkedIn). No connector reads from them, even
# through a feed address a third party generates from their pages.
FORBIDDEN_HOSTS = (
    "facebook.com",
    "fb.com",
    "instagram.com",
    "x.com",
    "twitter.com",
    "tiktok.com",
    "linkedin.com",
)


@dataclasses.dataclass(slots=True)
class Batch:
    """Posts read together, the cursor to resume after them, and what was refused (by
    reason)."""

    posts: list[PublicPost]
    cursor: str
    refused: dict[str, int] = dataclasses.field(default_factory=dict)

    def refuse(self, reason: str, count: int = 1) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + count


def text_of(value: Any) -> str:
    """``value`` when it is a string, else ""."""
    return value if isinstance(value, str) else ""


def max_post_chars() -> int:
    return int(settings.WATCHHOUSE_MONITORING_MAX_POST_CHARS)


def host_forbidden(url: str) -> str:
    """The forbidden platform ``url`` points at, or ""."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    for forbidden in FORBIDDEN_HOSTS:
        if host == forbidden or host.endswith("." + forbidden):
            return forbidden
    return ""


def check_http_url(url: Any, *, field: str) -> str:
    """``url`` when it is an absolute http(s) URL of a platform that allows reading it;
    raise :class:`InvalidInputError` otherwise."""
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise InvalidInputError(_("%(field)s must be an http(s) address.") % {"field": field})
    if not urlsplit(url).hostname:
        raise InvalidInputError(_("%(field)s has no host.") % {"field": field})
    forbidden = host_forbidden(url)
    if forbidden:
        raise InvalidInputError(
            _(
                "%(host)s forbids automated collection in its terms; Watchhouse does not read "
                "from it."
            )
            % {"host": forbidden}
        )
    return url


def string_list(value: Any, *, field: str, limit: int = 1000) -> list[str]:
    """A list of non-empty strings (a single string is one item); raise otherwise."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInputError(_("%(field)s must be a list of text.") % {"field": field})
    items = [v.strip() for v in value if v.strip()]
    if len(items) > limit:
        raise InvalidInputError(
            _("%(field)s may hold at most %(n)s items.") % {"field": field, "n": limit}
        )
    return list(dict.fromkeys(items))


class Connector(abc.ABC):
    """Reads one source. Subclasses set ``kind`` (a ``SourceKind`` value) and ``terms``."""

    kind: ClassVar[str]
    terms: ClassVar[str]
    # A streaming source's read() runs until stopped; a pull source's returns and is read
    # again every WATCHHOUSE_MONITORING_POLL_SECONDS.
    streaming: ClassVar[bool] = False

    def __init__(self, source: Source) -> None:
        self.source = source
        self.config = self.validate_config(dict(source.config or {}))

    @abc.abstractmethod
    def read(self, cursor: str, *, stop: threading.Event) -> Iterator[Batch]:
        """Yield batches from ``cursor`` on. Streaming sources run until ``stop`` is set;
        pull sources return when what is waiting has been read. Never raises for bad items."""

    @classmethod
    @abc.abstractmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The config cleaned, or :class:`InvalidInputError` saying what is wrong."""

    def keep(self, post: PublicPost, batch: Batch) -> bool:
        """Whether ``post`` may go on (a giant post is counted and dropped); tags it with the
        source."""
        if len(post.text) > max_post_chars():
            batch.refuse("giant")
            return False
        post.source_id = self.source.pk
        return True


def forbidden_hosts_in(config: Any) -> list[str]:
    """The forbidden platforms any address in ``config`` points at."""
    if isinstance(config, str):
        found = host_forbidden(config) if "://" in config else ""
        return [found] if found else []
    if isinstance(config, dict):
        config = list(config.values())
    if isinstance(config, list):
        return sorted({h for item in config for h in forbidden_hosts_in(item)})
    return []
