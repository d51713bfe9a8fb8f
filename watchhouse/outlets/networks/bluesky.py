"""A Bluesky account (any AT Protocol PDS) through the ``atproto`` SDK.

The adapter logs in with the account's handle and an app password
(``com.atproto.server.createSession``), or resumes the session it kept last time (the
SDK's session string, sealed with the credentials: PDSes limit how often a password may be
used). A post is an ``app.bsky.feed.post`` record whose links and hashtags are facets with
UTF-8 byte offsets (the SDK's ``TextBuilder``); the first part of a thread carries the
images (uploaded blobs, with alt text and aspect ratio) or else a link card
(``app.bsky.embed.external``); later parts reply to the one before, all under the first
(root and parent references). Records cannot be edited here (``can_edit`` False): an edit
is left as a reply. Deletes remove the records; replies and mentions come from
``app.bsky.notification.listNotifications``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import httpx
import regex  # type: ignore[import-untyped]
from atproto import Client, client_utils, models  # type: ignore[import-untyped]
from atproto_client.exceptions import (  # type: ignore[import-untyped]
    AtProtocolError,
    BadRequestError,
    InvokeTimeoutError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.request import Request  # type: ignore[import-untyped]

from watchhouse.outlets.networks.base import (
    CheckResult,
    InboundData,
    OutletError,
    Published,
    Rendered,
)
from watchhouse.outlets.networks.registry import TIMEOUT, clip, seconds_until, status_error

# Links and hashtags in a part's text, in order (hashtags as rendering makes them).
FACET_RE = regex.compile(
    r"(?P<url>https?://[^\s<>\"]*[^\s<>\".,;:!?)\]\'])|(?<![\w#])(?P<tag>#[A-Za-z][A-Za-z0-9]*)"
)
MEDIA_ERRORS = {"BlobTooLarge", "InvalidMimeType", "PayloadTooLarge"}
NOTIFICATION_PAGES = 5


def _error_name(exc: RequestErrorBase) -> tuple[str, str]:
    content = exc.response.content if exc.response is not None else None
    error = getattr(content, "error", None) or (
        content.get("error") if isinstance(content, dict) else None
    )
    message = getattr(content, "message", None) or (
        content.get("message") if isinstance(content, dict) else None
    )
    return str(error or ""), clip(message or "")


def bluesky_error(exc: AtProtocolError, what: str, *, media: bool = False) -> OutletError:
    """The :class:`OutletError` for an XRPC error raised by the SDK."""
    if isinstance(exc, InvokeTimeoutError):
        return OutletError(f"{what} timed out.", kind="unavailable", retryable=True)
    if not isinstance(exc, RequestErrorBase) or exc.response is None:
        return OutletError(
            f"{what} failed: {type(exc).__name__}.", kind="unavailable", retryable=True
        )
    status = exc.response.status_code
    error, message = _error_name(exc)
    text = f"{what}: HTTP {status} {error} {message}".strip()
    if isinstance(exc, RateLimitExceededError) or status == 429:
        reset = exc.response.headers.get("ratelimit-reset")
        return OutletError(
            text,
            kind="rate_limited",
            retryable=True,
            retry_after=seconds_until(reset, default=300),
            status=status,
        )
    if error in ("ExpiredToken", "InvalidToken", "AuthenticationRequired", "AccountTakedown"):
        return OutletError(text, kind="auth", status=status)
    if isinstance(exc, UnauthorizedError):
        return OutletError(text, kind="auth", status=status)
    if error in MEDIA_ERRORS or (media and status in (400, 413)):
        return OutletError(text, kind="media_rejected", status=status)
    if error in ("RecordNotFound", "NotFound"):
        return OutletError(text, kind="not_found", status=status)
    if error in ("InvalidRequest", "InvalidRecord") and (
        "too big" in message or "too long" in message
    ):
        return OutletError(text, kind="too_long", status=status)
    if isinstance(exc, BadRequestError):
        return OutletError(text, kind="rejected", status=status)
    return status_error(status, text)


def rich_text(text: str) -> client_utils.TextBuilder:
    """``text`` with its links and hashtags as facets."""
    builder = client_utils.TextBuilder()
    position = 0
    for match in FACET_RE.finditer(text):
        if match.start() > position:
            builder.text(text[position : match.start()])
        if match.group("url"):
            builder.link(match.group("url"), match.group("url"))
        else:
            builder.tag(match.group("tag"), match.group("tag")[1:])
        position = match.end()
    if position < len(text):
        builder.text(text[position:])
    return builder


class _Request(Request):
    """The SDK's transport, handing raw bodies (blob uploads) to httpx as ``content``: the
    SDK passes them as ``data``, which httpx deprecates."""

    def post(self, *args: Any, **kwargs: Any) -> Any:
        if isinstance(kwargs.get("data"), bytes):
            kwargs["content"] = kwargs.pop("data")
        return super().post(*args, **kwargs)


class BlueskyAdapter:
    network: ClassVar[str] = "bluesky"
    can_edit: ClassVar[bool] = False
    can_delete: ClassVar[bool] = True

    def __init__(self, *, api_base: str, account: str, credentials: dict[str, Any]) -> None:
        self.base = api_base.rstrip("/")
        self.handle = account.strip().lstrip("@")
        self.credentials = dict(credentials)
        self.refreshed_credentials: dict[str, Any] | None = None
        self.did = ""
        self._client: Client | None = None

    # --- Session -------------------------------------------------------------------------

    def _new_client(self) -> Client:
        connect, read = TIMEOUT
        # No idle connections kept: the adapter lives for one job and is never closed.
        request = _Request(
            timeout=httpx.Timeout(read, connect=connect),
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        client = Client(base_url=self.base, request=request)
        client.on_session_change(self._session_changed)
        return client

    def _session_changed(self, event: Any, session: Any) -> None:
        self.did = str(session.did)
        exported = session.export()
        if exported != self.credentials.get("session"):
            self.credentials["session"] = exported
            self.refreshed_credentials = dict(self.credentials)

    def _login(self, *, fresh: bool = False) -> Client:
        if self._client is not None and not fresh:
            return self._client
        saved = str(self.credentials.get("session", ""))
        if saved and not fresh:
            client = self._new_client()
            try:
                client.login(session_string=saved, fetch_bsky_profile=False)
                client.com.atproto.server.get_session()
                self._client = client
                return client
            except (AtProtocolError, ValueError):
                pass  # an expired or revoked session: log in with the app password
        password = str(self.credentials.get("app_password", ""))
        if not self.handle or not password:
            raise OutletError("The Bluesky handle or app password is missing.", kind="auth")
        client = self._new_client()
        try:
            client.login(self.handle, password, fetch_bsky_profile=False)
        except AtProtocolError as exc:
            raise bluesky_error(exc, "Bluesky login") from exc
        self._client = client
        return client

    def _run(self, what: str, action: Any, *, media: bool = False) -> Any:
        """Run ``action(client)``; an expired session is replaced once by a fresh login."""
        client = self._login()
        try:
            return action(client)
        except AtProtocolError as exc:
            error = bluesky_error(exc, what, media=media)
            if error.kind != "auth":
                raise error from exc
        client = self._login(fresh=True)
        try:
            return action(client)
        except AtProtocolError as exc:
            raise bluesky_error(exc, what, media=media) from exc

    # --- Posts ---------------------------------------------------------------------------

    def _url(self, uri: str) -> str:
        rkey = uri.rsplit("/", 1)[-1]
        return f"https://bsky.app/profile/{self.handle or self.did}/post/{rkey}"

    def _embed(self, rendered: Rendered) -> Any:
        images = [m for m in rendered.media if m.kind == "image"][:4]
        if not images:
            external = models.AppBskyEmbedExternal.External(
                uri=rendered.link,
                title=rendered.title[:300],
                description=rendered.summary[:1000],
            )
            return models.AppBskyEmbedExternal.Main(external=external)
        embedded = []
        for item in images:
            data = item.path.read_bytes()
            upload = self._run(
                "Bluesky image upload",
                lambda c, data=data, mime=item.mime: c.com.atproto.repo.upload_blob(
                    data, headers={"Content-Type": mime}
                ),
                media=True,
            )
            ratio = None
            if item.width and item.height:
                ratio = models.AppBskyEmbedDefs.AspectRatio(width=item.width, height=item.height)
            embedded.append(
                models.AppBskyEmbedImages.Image(alt=item.alt, image=upload.blob, aspect_ratio=ratio)
            )
        return models.AppBskyEmbedImages.Main(images=embedded)

    def _post(
        self,
        text: str,
        *,
        language: str,
        embed: Any = None,
        root: dict[str, str] | None = None,
        parent: dict[str, str] | None = None,
    ) -> dict[str, str]:
        reply = None
        if root and parent:
            reply = models.AppBskyFeedPost.ReplyRef(
                root=models.ComAtprotoRepoStrongRef.Main(uri=root["id"], cid=root["cid"]),
                parent=models.ComAtprotoRepoStrongRef.Main(uri=parent["id"], cid=parent["cid"]),
            )
        builder = rich_text(text)
        response = self._run(
            "Bluesky post",
            lambda c: c.send_post(
                builder,
                profile_identify=self.did,
                reply_to=reply,
                embed=embed,
                langs=[language[:2] or "en"],
            ),
        )
        return {"id": str(response.uri), "cid": str(response.cid), "url": self._url(response.uri)}

    def publish(self, rendered: Rendered) -> Published:
        self._login()
        embed = self._embed(rendered)
        posted: list[dict[str, str]] = []
        try:
            for index, text in enumerate(rendered.parts):
                part = self._post(
                    text,
                    language=rendered.language,
                    embed=embed if index == 0 else None,
                    root=posted[0] if posted else None,
                    parent=posted[-1] if posted else None,
                )
                posted.append({**part, "kind": "post" if index == 0 else "reply"})
        except OutletError:
            # Half a thread would be posted twice on the retry: take it back first.
            for part in reversed(posted):
                try:
                    self._delete_one(part["id"])
                except OutletError:
                    continue
            raise
        return Published(posted[0]["id"], posted[0]["url"], posted)

    def update(self, parts: list[dict[str, str]], rendered: Rendered) -> Published:
        raise OutletError("Bluesky posts cannot be edited.", kind="rejected")

    def _delete_one(self, uri: str) -> None:
        self._run("Bluesky delete", lambda c: c.delete_post(uri))

    def delete(self, parts: list[dict[str, str]]) -> None:
        for part in reversed([p for p in parts if str(p.get("id", "")).startswith("at://")]):
            self._delete_one(part["id"])

    def notice(self, parts: list[dict[str, str]], text: str) -> dict[str, str]:
        first = next((p for p in parts if p.get("kind") == "post" and p.get("cid")), None)
        if first is None:
            raise OutletError("There is no Bluesky post to answer.", kind="not_found")
        self._login()
        part = self._post(text, language="en", root=first, parent=first)
        return {**part, "kind": "notice"}

    def check(self) -> CheckResult:
        session = self._run("Bluesky session", lambda c: c.com.atproto.server.get_session())
        return CheckResult(
            ok=True,
            message=f"Connected as @{clip(session.handle, 80)} ({session.did}).",
            credentials=self.refreshed_credentials,
        )

    # --- Inbound -------------------------------------------------------------------------

    def inbound(self, cursor: str, known_ids: list[str]) -> tuple[list[InboundData], str]:
        """Replies and mentions indexed after ``cursor`` (an ``indexedAt`` time)."""
        known = set(known_ids)
        found: list[InboundData] = []
        newest = cursor
        page_cursor: str | None = None
        for _page in range(NOTIFICATION_PAGES):
            params: dict[str, Any] = {"limit": 50}
            if page_cursor:
                params["cursor"] = page_cursor
            answer = self._run(
                "Bluesky notifications",
                lambda c, p=params: c.app.bsky.notification.list_notifications(params=p),
            )
            older = False
            for item in answer.notifications:
                indexed = str(item.indexed_at)
                if cursor and indexed <= cursor:
                    older = True
                    continue
                newest = max(newest, indexed)
                if item.reason not in ("reply", "mention"):
                    continue
                found.append(self._inbound_item(item, known))
            page_cursor = answer.cursor
            if older or not page_cursor:
                break
        return found, newest

    @staticmethod
    def _inbound_item(item: Any, known: set[str]) -> InboundData:
        record = item.record
        reply = getattr(record, "reply", None)
        parent = str(reply.parent.uri) if reply is not None else ""
        published = None
        try:
            published = datetime.fromisoformat(
                str(getattr(record, "created_at", "")).replace("Z", "+00:00")
            )
        except ValueError:
            published = None
        handle = str(item.author.handle)
        rkey = str(item.uri).rsplit("/", 1)[-1]
        return InboundData(
            remote_id=str(item.uri),
            kind="reply" if item.reason == "reply" and parent in known else "mention",
            author_name=str(item.author.display_name or ""),
            author_handle=f"@{handle}",
            author_url=f"https://bsky.app/profile/{handle}",
            text=str(getattr(record, "text", "")),
            url=f"https://bsky.app/profile/{handle}/post/{rkey}",
            in_reply_to=parent,
            published_at=published,
            raw=item.model_dump(mode="json", by_alias=True) if hasattr(item, "model_dump") else {},
        )
