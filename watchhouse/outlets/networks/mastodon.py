"""A Mastodon account on an existing server, through Mastodon.py.

The agency keeps an account on a server it does not run (its own fediverse actor is the
ActivityPub part of this app). Posts are statuses (``status_post``; a thread's later parts
reply with ``in_reply_to_id``), media are uploaded first with their alt text
(``media_post`` with ``description``), edits use ``status_update`` (Mastodon 3.5+), deletes
``status_delete``; replies and mentions come from ``notifications(types=["mention"])``.

Mastodon.py is built with ``version_check_mode="none"`` (no version probe at construction),
``ratelimit_method="throw"`` (a worker must not sleep through a rate limit: the copy is
retried when the limit resets) and the connect/read timeouts.
"""

from __future__ import annotations

import html
import time
from datetime import datetime
from typing import Any, ClassVar

import nh3
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from watchhouse.outlets.networks.base import (
    CheckResult,
    InboundData,
    OutletError,
    Published,
    Rendered,
)
from watchhouse.outlets.networks.registry import (
    TIMEOUT,
    ClosingSession,
    clip,
    seconds_until,
    status_error,
)

# The Mastodon version assumed: edits (3.5) and the v2 media endpoint (3.1.4) exist.
MASTODON_VERSION = "4.0.0"
# Longest wait for the server to process an upload before the publication is retried.
PROCESSING_WAIT_S = 120


def plain(html_text: str) -> str:
    """A status's HTML as plain text (paragraphs and line breaks kept as new lines)."""
    text = html_text.replace("</p><p>", "\n\n").replace("<br>", "\n").replace("<br />", "\n")
    return html.unescape(nh3.clean(text, tags=set())).strip()


class MastodonAdapter:
    network: ClassVar[str] = "mastodon"
    can_edit: ClassVar[bool] = True
    can_delete: ClassVar[bool] = True

    def __init__(self, *, api_base: str, account: str, credentials: dict[str, Any]) -> None:
        self.base = api_base.rstrip("/")
        self.account = account
        self.refreshed_credentials: dict[str, Any] | None = None
        token = str(credentials.get("access_token", ""))
        if not token:
            raise OutletError("The Mastodon access token is missing.", kind="auth")
        self.api = Mastodon(
            access_token=token,
            api_base_url=self.base,
            request_timeout=TIMEOUT,  # type: ignore[arg-type]
            ratelimit_method="throw",
            # The server's version is taken as given instead of asked: construction makes no
            # request, and Mastodon.py uses the v2 media and 3.5+ edit endpoints.
            mastodon_version=MASTODON_VERSION,
            version_check_mode="created",
            session=ClosingSession(),
            user_agent="Watchhouse",
        )

    def _error(self, exc: MastodonError, what: str, *, media: bool = False) -> OutletError:
        args = exc.args
        status = args[1] if len(args) > 1 and isinstance(args[1], int) else None
        detail = clip(args[3] if len(args) > 3 else args[0] if args else type(exc).__name__)
        message = f"{what}: {f'HTTP {status} ' if status else ''}{detail}"
        if isinstance(exc, MastodonRatelimitError):
            wait = seconds_until(self.api.ratelimit_reset, default=300)
            return OutletError(
                message, kind="rate_limited", retryable=True, retry_after=wait, status=429
            )
        if isinstance(exc, MastodonUnauthorizedError):
            return OutletError(message, kind="auth", status=status)
        if isinstance(exc, MastodonNotFoundError):
            return OutletError(message, kind="not_found", status=status)
        if isinstance(exc, MastodonServerError | MastodonNetworkError):
            return OutletError(message, kind="unavailable", retryable=True, status=status)
        if isinstance(exc, MastodonAPIError) and status is not None:
            if media and status in (413, 422):
                return OutletError(message, kind="media_rejected", status=status)
            return status_error(status, message)
        return OutletError(message, kind="rejected", status=status)

    def _run(self, what: str, action: Any, *, media: bool = False) -> Any:
        try:
            return action()
        except MastodonError as exc:
            raise self._error(exc, what, media=media) from exc

    def check(self) -> CheckResult:
        me = self._run("Mastodon account", self.api.account_verify_credentials)
        return CheckResult(ok=True, message=f"Connected as @{clip(me['acct'], 80)}.")

    def _post(
        self,
        text: str,
        *,
        language: str,
        reply_to: str | None = None,
        media_ids: list[str] | None = None,
    ) -> dict[str, str]:
        status = self._run(
            "Mastodon post",
            lambda: self.api.status_post(
                text,
                in_reply_to_id=reply_to,
                media_ids=media_ids or None,
                visibility="public",
                language=language[:2] or None,
            ),
        )
        return {"id": str(status["id"]), "url": str(status.get("url") or status.get("uri") or "")}

    def _processed(self, attachment: Any) -> Any:
        """Wait for the server to process an upload (a video answers 202 without a URL)."""
        deadline = time.monotonic() + PROCESSING_WAIT_S
        while attachment.get("url") is None:
            if time.monotonic() > deadline:
                raise OutletError(
                    "Mastodon is still processing the upload.",
                    kind="unavailable",
                    retryable=True,
                    retry_after=60,
                )
            attachment = self._run("Mastodon media", lambda a=attachment: self.api.media(a["id"]))
            if attachment.get("url") is None:
                time.sleep(1)
        return attachment

    def publish(self, rendered: Rendered) -> Published:
        media_ids = []
        for item in rendered.media:
            with item.path.open("rb") as stream:
                attachment = self._run(
                    "Mastodon media upload",
                    lambda item=item, stream=stream: self.api.media_post(
                        stream,
                        mime_type=item.mime,
                        description=item.alt or None,
                        file_name=item.path.name,
                    ),
                    media=True,
                )
            media_ids.append(str(self._processed(attachment)["id"]))
        posted: list[dict[str, str]] = []
        try:
            for index, text in enumerate(rendered.parts):
                part = self._post(
                    text,
                    language=rendered.language,
                    reply_to=posted[-1]["id"] if posted else None,
                    media_ids=media_ids if index == 0 else None,
                )
                posted.append({**part, "kind": "post" if index == 0 else "reply"})
        except OutletError:
            # Half a thread would be posted twice on the retry: take it back first.
            for part in reversed(posted):
                try:
                    self._run("Mastodon delete", lambda p=part: self.api.status_delete(p["id"]))
                except OutletError:
                    continue
            raise
        parts = posted + [{"id": m, "url": "", "kind": "media"} for m in media_ids]
        return Published(posted[0]["id"], posted[0]["url"], parts)

    def update(self, parts: list[dict[str, str]], rendered: Rendered) -> Published:
        """Edit each part in place; a longer thread gets more replies, a shorter one loses
        its surplus parts (media stay as they were)."""
        posts = [p for p in parts if p.get("kind") in ("post", "reply")]
        if not posts:
            raise OutletError("There is no Mastodon post to edit.", kind="not_found")
        kept: list[dict[str, str]] = []
        for index, text in enumerate(rendered.parts):
            if index < len(posts):
                part = posts[index]
                self._run(
                    "Mastodon edit",
                    lambda p=part, t=text: self.api.status_update(p["id"], status=t),
                )
                kept.append(part)
            else:
                reply = self._post(text, language=rendered.language, reply_to=kept[-1]["id"])
                kept.append({**reply, "kind": "reply"})
        for surplus in reversed(posts[len(rendered.parts) :]):
            try:
                self._run("Mastodon delete", lambda p=surplus: self.api.status_delete(p["id"]))
            except OutletError as exc:
                if exc.kind != "not_found":
                    raise
        others = [p for p in parts if p.get("kind") not in ("post", "reply")]
        return Published(kept[0]["id"], kept[0]["url"], kept + others)

    def delete(self, parts: list[dict[str, str]]) -> None:
        posts = [p for p in parts if p.get("kind") in ("post", "reply", "notice")]
        gone = 0
        for part in reversed(posts):
            try:
                self._run("Mastodon delete", lambda p=part: self.api.status_delete(p["id"]))
            except OutletError as exc:
                if exc.kind != "not_found":
                    raise
                gone += 1
        if posts and gone == len(posts):
            raise OutletError("The Mastodon post was already gone.", kind="not_found")

    def notice(self, parts: list[dict[str, str]], text: str) -> dict[str, str]:
        first = next((p for p in parts if p.get("kind") == "post"), None)
        if first is None:
            raise OutletError("There is no Mastodon post to answer.", kind="not_found")
        return {**self._post(text, language="en", reply_to=first["id"]), "kind": "notice"}

    def inbound(self, cursor: str, known_ids: list[str]) -> tuple[list[InboundData], str]:
        """Mentions (replies included) after ``cursor`` (a notification id)."""
        since = cursor if cursor.isdigit() else None
        notes = self._run(
            "Mastodon notifications",
            lambda: self.api.notifications(
                types=["mention"],
                since_id=since,
                limit=40,
            ),
        )
        known = set(known_ids)
        found: list[InboundData] = []
        newest = int(cursor) if cursor.isdigit() else 0
        for note in notes or []:
            newest = max(newest, int(note["id"]))
            status = note.get("status")
            if not status:
                continue
            account = note.get("account") or status.get("account") or {}
            replied = str(status.get("in_reply_to_id") or "")
            created = status.get("created_at")
            found.append(
                InboundData(
                    remote_id=str(status["id"]),
                    kind="reply" if replied and replied in known else "mention",
                    author_name=str(account.get("display_name") or account.get("username") or ""),
                    author_handle=f"@{account.get('acct', '')}",
                    author_url=str(account.get("url") or ""),
                    text=plain(str(status.get("content") or "")),
                    url=str(status.get("url") or status.get("uri") or ""),
                    in_reply_to=replied,
                    published_at=created if isinstance(created, datetime) else None,
                    raw={
                        "notification_id": str(note["id"]),
                        "status_id": str(status["id"]),
                        "in_reply_to_id": replied,
                        "acct": str(account.get("acct", "")),
                    },
                )
            )
        return found, str(newest) if newest else cursor
