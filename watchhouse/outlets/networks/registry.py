"""Which adapter speaks for which network, and what each network needs and allows.

:func:`adapter_for` is the one way to get an adapter for an :class:`Outlet`: it unseals the
outlet's credentials and hands them to the network's adapter. :data:`CREDENTIAL_FIELDS`
lists, per network, the secrets the console's form asks for (they are sealed together in
``Outlet.credentials``); the non-secret account (page id, handle, account name) is
``Outlet.account`` and the API root ``Outlet.api_base`` (:data:`DEFAULT_API_BASE` unless the
agency runs its own server).

An adapter may be handed new credentials by its network while it works (X refreshes its
OAuth 2.0 access token). It then sets ``refreshed_credentials`` (the whole new credentials
object, ``None`` when nothing changed) and returns it in ``CheckResult.credentials`` from
:meth:`check`: the caller seals it back into ``Outlet.credentials`` after any call.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from django.utils.translation import gettext_lazy as _

from watchhouse.core.crypto import unseal_json
from watchhouse.outlets.networks.base import Adapter, OutletError

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

    from watchhouse.outlets.models import Outlet

# Every outbound request: connect and read timeouts, in seconds.
TIMEOUT = (5.0, 10.0)
# Largest answer read from a network's API (uploads answers and lists included).
ANSWER_MAX_BYTES = 2 * 1024 * 1024

DEFAULT_API_BASE: dict[str, str] = {
    "facebook": "https://graph.facebook.com",
    "x": "https://api.x.com",
    "bluesky": "https://bsky.social",
    "mastodon": "https://mastodon.social",
    "webhook": "",
}

CREDENTIAL_FIELDS: dict[str, list[tuple[str, _StrPromise]]] = {
    "facebook": [
        ("page_token", _("Page access token")),
        ("app_id", _("App id (to check the token's expiry)")),
        ("app_secret", _("App secret (to check the token's expiry)")),
    ],
    "x": [
        ("access_token", _("OAuth 2.0 user access token")),
        ("refresh_token", _("OAuth 2.0 refresh token")),
        ("client_id", _("OAuth 2.0 client id")),
        ("client_secret", _("OAuth 2.0 client secret (confidential clients only)")),
    ],
    "bluesky": [("app_password", _("App password"))],
    "mastodon": [("access_token", _("Access token"))],
    "webhook": [("secret", _("Signing secret"))],
}

# What Outlet.account holds for each network (a label for the console form).
ACCOUNT_LABELS: dict[str, _StrPromise] = {
    "facebook": _("Page id"),
    "x": _("User id (filled in by the connection check)"),
    "bluesky": _("Handle, e.g. police.example.org"),
    "mastodon": _("Account, e.g. police@mastodon.example"),
    "webhook": _("Partner's name"),
}


@dataclass(frozen=True)
class NetworkLimits:
    """What one network accepts in one post.

    ``counting`` is how the text is measured: ``weighted`` (X's twitter-text weights),
    ``graphemes`` (user-perceived characters) or ``chars`` (code points). ``url_length`` is
    what every http(s) link counts, whatever its length (``None``: its own length).
    ``images`` and ``videos`` are how many of each one post carries; ``mix`` whether images
    and a video can go in the same post.
    """

    text: int
    counting: str
    url_length: int | None
    images: int
    videos: int
    image_bytes: int
    video_bytes: int
    mix: bool = False
    link_card: bool = False
    threads: bool = True


LIMITS: dict[str, NetworkLimits] = {
    # Graph API: a Page post's message is at most 63,206 characters; /photos takes up to
    # 10 MB per photo, a feed post attaches up to 10 (practical limit); video via /videos.
    "facebook": NetworkLimits(
        text=63206,
        counting="chars",
        url_length=None,
        images=10,
        videos=1,
        image_bytes=10_000_000,
        video_bytes=1_000_000_000,
        link_card=True,
        threads=False,
    ),
    # X API v2: 280 weighted characters, every URL counts 23; 4 images (5 MB) or 1 video.
    "x": NetworkLimits(
        text=280,
        counting="weighted",
        url_length=23,
        images=4,
        videos=1,
        image_bytes=5_000_000,
        video_bytes=512_000_000,
    ),
    # app.bsky.feed.post: 300 graphemes; app.bsky.embed.images: 4 images of 1,000,000 bytes.
    "bluesky": NetworkLimits(
        text=300,
        counting="graphemes",
        url_length=None,
        images=4,
        videos=0,
        image_bytes=1_000_000,
        video_bytes=0,
        link_card=True,
    ),
    # Mastodon's defaults: 500 characters (grapheme clusters), URLs count 23; 4 attachments,
    # images up to 16 MB, a video (up to 99 MB) alone.
    "mastodon": NetworkLimits(
        text=500,
        counting="graphemes",
        url_length=23,
        images=4,
        videos=1,
        image_bytes=16_000_000,
        video_bytes=99_000_000,
    ),
    # A partner's webhook gets the whole text and the media's public addresses.
    "webhook": NetworkLimits(
        text=1_000_000,
        counting="chars",
        url_length=None,
        images=20,
        videos=5,
        image_bytes=10**12,
        video_bytes=10**12,
        mix=True,
        threads=False,
    ),
}


def adapter_class(network: str) -> type[Any]:
    """The adapter class of ``network`` (imported here, so the registry loads without them)."""
    if network == "facebook":
        from watchhouse.outlets.networks.facebook import FacebookAdapter

        return FacebookAdapter
    if network == "x":
        from watchhouse.outlets.networks.x import XAdapter

        return XAdapter
    if network == "bluesky":
        from watchhouse.outlets.networks.bluesky import BlueskyAdapter

        return BlueskyAdapter
    if network == "mastodon":
        from watchhouse.outlets.networks.mastodon import MastodonAdapter

        return MastodonAdapter
    if network == "webhook":
        from watchhouse.outlets.networks.webhook import WebhookAdapter

        return WebhookAdapter
    raise OutletError(f"No cross-posting adapter for network {network!r}.", kind="rejected")


def adapter_for(outlet: Outlet) -> Adapter:
    """The adapter for ``outlet``, with its credentials unsealed."""
    credentials = unseal_json(outlet.credentials, default={}) or {}
    if not isinstance(credentials, dict):
        raise OutletError("The outlet's credentials are not an object.", kind="auth")
    cls = adapter_class(outlet.network)
    adapter: Adapter = cls(
        api_base=(outlet.api_base or DEFAULT_API_BASE.get(outlet.network, "")).rstrip("/"),
        account=outlet.account,
        credentials=credentials,
    )
    return adapter


# --- What the adapters share --------------------------------------------------------------


@dataclass(frozen=True)
class HttpAnswer:
    """A network's answer, read up to :data:`ANSWER_MAX_BYTES`."""

    status: int
    data: Any
    headers: Mapping[str, str]
    text: str


class ClosingSession(requests.Session):
    """A session that reads each answer whole and closes its connection: an adapter lives
    for one job, and a pooled connection would outlive it unclosed."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        try:
            response = super().request(*args, **kwargs)
            response.content  # noqa: B018 - read before the connection closes
            return response
        finally:
            self.close()


def http_call(method: str, url: str, *, what: str, **kwargs: Any) -> HttpAnswer:
    """Make one request with the timeouts and read its answer (JSON when it is JSON), at
    most :data:`ANSWER_MAX_BYTES` of it.

    Timeouts and refused connections raise a retryable ``unavailable`` :class:`OutletError`;
    any HTTP status is returned for the adapter to judge. Redirects are not followed.
    """
    with requests.Session() as session:
        return _http_call(session, method, url, what=what, **kwargs)


def _http_call(
    session: requests.Session, method: str, url: str, *, what: str, **kwargs: Any
) -> HttpAnswer:
    try:
        response = session.request(
            method, url, timeout=TIMEOUT, allow_redirects=False, stream=True, **kwargs
        )
    except requests.Timeout as exc:
        raise OutletError(f"{what} timed out.", kind="unavailable", retryable=True) from exc
    except requests.RequestException as exc:
        raise OutletError(
            f"{what} is unreachable: {type(exc).__name__}.", kind="unavailable", retryable=True
        ) from exc
    with response:
        body = b""
        for chunk in response.iter_content(65536):
            body += chunk
            if len(body) > ANSWER_MAX_BYTES:
                raise OutletError(
                    f"{what} answered with more than {ANSWER_MAX_BYTES} bytes.",
                    kind="unavailable",
                    retryable=True,
                    status=response.status_code,
                )
    text = body.decode("utf-8", errors="replace")
    data: Any = None
    if "json" in response.headers.get("Content-Type", "") and body:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
    return HttpAnswer(response.status_code, data, response.headers, text)


def seconds_until(epoch: str | int | float | None, *, default: int | None = None) -> int | None:
    """Seconds from now until the Unix time ``epoch`` (a reset header), at least 1."""
    try:
        moment = float(epoch)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return max(1, math.ceil(moment - time.time()))


def status_error(status: int, message: str, *, retry_after: int | None = None) -> OutletError:
    """The usual meaning of an HTTP status, for answers a network does not explain better."""
    if status == 429:
        return OutletError(
            message, kind="rate_limited", retryable=True, retry_after=retry_after, status=status
        )
    if status in (401, 403):
        return OutletError(message, kind="auth", status=status)
    if status in (404, 410):
        return OutletError(message, kind="not_found", status=status)
    if status == 413:
        return OutletError(message, kind="media_rejected", status=status)
    if status == 408 or status >= 500:
        return OutletError(
            message, kind="unavailable", retryable=True, retry_after=retry_after, status=status
        )
    return OutletError(message, kind="rejected", status=status)


def clip(text: Any, limit: int = 300) -> str:
    """A network's message, short and on one line, for an error or a check result."""
    return " ".join(str(text or "").split())[:limit]
