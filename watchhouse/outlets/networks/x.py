"""An X account through the X API v2 with an OAuth 2.0 user-context token.

Posts are ``POST /2/tweets`` (a thread's later parts reply to the one before with
``reply.in_reply_to_tweet_id``; the first carries ``media.media_ids``). Images are uploaded
with ``POST /2/media/upload`` (``media_category=tweet_image``) and their alt text set with
``POST /2/media/metadata``; a video goes in chunks (``command=INIT``, ``APPEND``,
``FINALIZE``, then ``STATUS`` until processed). Deletes are ``DELETE /2/tweets/:id``; X has
no edit in its API, so an edit is left as a reply (``can_edit`` False). Mentions come from
``GET /2/users/:id/mentions`` with a ``since_id`` cursor.

User access tokens last two hours. On a 401 the adapter spends the refresh token once
(``POST /2/oauth2/token``, ``grant_type=refresh_token``); X rotates the refresh token too, so
the new pair is kept in ``refreshed_credentials`` for the caller to seal back.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from watchhouse.outlets.networks.base import (
    CheckResult,
    InboundData,
    MediaItem,
    OutletError,
    Published,
    Rendered,
)
from watchhouse.outlets.networks.registry import (
    HttpAnswer,
    clip,
    http_call,
    seconds_until,
    status_error,
)

CHUNK_BYTES = 4 * 1024 * 1024
# Longest wait for X to process a video before the publication is retried later.
PROCESSING_WAIT_S = 120


def x_error(answer: HttpAnswer, what: str, *, media: bool = False) -> OutletError:
    """The :class:`OutletError` for an X API error answer (a problem document)."""
    data = answer.data if isinstance(answer.data, dict) else {}
    detail = data.get("detail") or data.get("title") or data.get("error_description")
    errors = data.get("errors") if isinstance(data.get("errors"), list) else []
    if errors and isinstance(errors[0], dict):
        detail = f"{detail or ''} {errors[0].get('message', '')}".strip()
    message = f"{what}: HTTP {answer.status} {clip(detail or answer.text)}"
    if answer.status == 429:
        reset = seconds_until(answer.headers.get("x-rate-limit-reset"), default=900)
        return OutletError(
            message, kind="rate_limited", retryable=True, retry_after=reset, status=429
        )
    if media and answer.status in (400, 413, 415):
        return OutletError(message, kind="media_rejected", status=answer.status)
    if answer.status == 403 and "duplicate" in message.lower():
        return OutletError(message, kind="rejected", status=403)
    return status_error(answer.status, message)


class XAdapter:
    network: ClassVar[str] = "x"
    can_edit: ClassVar[bool] = False
    can_delete: ClassVar[bool] = True

    def __init__(self, *, api_base: str, account: str, credentials: dict[str, Any]) -> None:
        self.base = api_base.rstrip("/")
        self.user_id = account.strip()
        self.credentials = dict(credentials)
        self.refreshed_credentials: dict[str, Any] | None = None

    # --- Calls ---------------------------------------------------------------------------

    def _refresh(self) -> None:
        refresh = str(self.credentials.get("refresh_token", ""))
        client_id = str(self.credentials.get("client_id", ""))
        if not refresh or not client_id:
            raise OutletError(
                "The X access token expired and there is no refresh token.", kind="auth", status=401
            )
        form = {"grant_type": "refresh_token", "refresh_token": refresh}
        auth = None
        secret = str(self.credentials.get("client_secret", ""))
        if secret:
            auth = (client_id, secret)  # confidential clients authenticate with Basic auth
        else:
            form["client_id"] = client_id
        answer = http_call(
            "POST",
            f"{self.base}/2/oauth2/token",
            what="X token refresh",
            data=form,
            auth=auth,
        )
        data = answer.data if isinstance(answer.data, dict) else {}
        if answer.status != 200 or not data.get("access_token"):
            error = x_error(answer, "X token refresh")
            if error.kind in ("rate_limited", "unavailable"):
                raise error
            raise OutletError(
                f"{error} The account must be connected again.", kind="auth", status=answer.status
            )
        expires = datetime.now(UTC) + timedelta(seconds=int(data.get("expires_in") or 7200))
        self.credentials.update(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token", refresh),
            expires_at=expires.isoformat(),
        )
        self.refreshed_credentials = dict(self.credentials)

    def _call(
        self, method: str, path: str, *, what: str, ok: tuple[int, ...] = (200, 201), **kwargs: Any
    ) -> Any:
        extra = kwargs.pop("headers", {})
        for attempt in (1, 2):
            token = str(self.credentials.get("access_token", ""))
            headers = {"Authorization": f"Bearer {token}", **extra}
            for _name, upload in (kwargs.get("files") or {}).items():
                if hasattr(upload[1], "seek"):
                    upload[1].seek(0)  # a retry after a refresh sends the whole file again
            answer = http_call(method, f"{self.base}{path}", what=what, headers=headers, **kwargs)
            if answer.status == 401 and attempt == 1:
                self._refresh()
                continue
            if answer.status not in ok and not 200 <= answer.status < 300:
                raise x_error(answer, what, media=path.startswith("/2/media/"))
            return answer.data if answer.data is not None else {}
        raise OutletError(f"{what}: X refused the refreshed token.", kind="auth", status=401)

    def _me(self) -> dict[str, Any]:
        data = self._call("GET", "/2/users/me", what="X /2/users/me").get("data") or {}
        if data.get("id"):
            self.user_id = self.user_id or str(data["id"])
        return data

    # --- Media ---------------------------------------------------------------------------

    def _upload(self, item: MediaItem) -> str:
        if item.kind == "video":
            media_id = self._upload_chunked(item)
        else:
            with item.path.open("rb") as stream:
                data = self._call(
                    "POST",
                    "/2/media/upload",
                    what="X media upload",
                    data={"media_category": "tweet_image", "media_type": item.mime},
                    files={"media": (item.path.name, stream, item.mime)},
                )
            media_id = str(data["data"]["id"])
        if item.alt:
            self._call(
                "POST",
                "/2/media/metadata",
                what="X alt text",
                json={
                    "id": media_id,
                    "metadata": {"alt_text": {"text": item.alt[:1000]}},
                },
            )
        return media_id

    def _upload_chunked(self, item: MediaItem) -> str:
        what = "X video upload"
        init = self._call(
            "POST",
            "/2/media/upload",
            what=what,
            data={
                "command": "INIT",
                "media_type": item.mime,
                "total_bytes": str(item.bytes),
                "media_category": "tweet_video",
            },
        )
        media_id = str(init["data"]["id"])
        with item.path.open("rb") as stream:
            for index, chunk in enumerate(iter(lambda: stream.read(CHUNK_BYTES), b"")):
                self._call(
                    "POST",
                    "/2/media/upload",
                    what=what,
                    ok=(200, 204),
                    data={"command": "APPEND", "media_id": media_id, "segment_index": str(index)},
                    files={"media": ("chunk", chunk, "application/octet-stream")},
                )
        final = self._call(
            "POST", "/2/media/upload", what=what, data={"command": "FINALIZE", "media_id": media_id}
        )
        info = (final.get("data") or {}).get("processing_info")
        deadline = time.monotonic() + PROCESSING_WAIT_S
        while isinstance(info, dict) and info.get("state") in ("pending", "in_progress"):
            if time.monotonic() > deadline:
                raise OutletError(
                    "X is still processing the video.",
                    kind="unavailable",
                    retryable=True,
                    retry_after=60,
                )
            time.sleep(min(max(int(info.get("check_after_secs") or 1), 0), 10))
            status = self._call(
                "GET",
                "/2/media/upload",
                what=what,
                params={"command": "STATUS", "media_id": media_id},
            )
            info = (status.get("data") or {}).get("processing_info")
        if isinstance(info, dict) and info.get("state") == "failed":
            error: dict[str, Any] = info["error"] if isinstance(info.get("error"), dict) else {}
            raise OutletError(
                f"X could not process the video: {clip(error.get('message'))}",
                kind="media_rejected",
            )
        return media_id

    # --- Posts ---------------------------------------------------------------------------

    @staticmethod
    def _url(tweet_id: str) -> str:
        return f"https://x.com/i/web/status/{tweet_id}"

    def _tweet(self, text: str, *, reply_to: str = "", media_ids: list[str] | None = None) -> str:
        body: dict[str, Any] = {"text": text}
        if reply_to:
            body["reply"] = {"in_reply_to_tweet_id": reply_to}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        data = self._call("POST", "/2/tweets", what="X post", json=body)
        return str(data["data"]["id"])

    def publish(self, rendered: Rendered) -> Published:
        media_ids = [self._upload(item) for item in rendered.media]
        posted: list[dict[str, str]] = []
        try:
            for index, text in enumerate(rendered.parts):
                tweet_id = self._tweet(
                    text,
                    reply_to=posted[-1]["id"] if posted else "",
                    media_ids=media_ids if index == 0 else None,
                )
                posted.append(
                    {
                        "id": tweet_id,
                        "url": self._url(tweet_id),
                        "kind": "post" if index == 0 else "reply",
                    }
                )
        except OutletError:
            # Half a thread would be posted twice on the retry: take it back first.
            self._take_back(posted)
            raise
        parts = posted + [{"id": m, "url": "", "kind": "media"} for m in media_ids]
        return Published(posted[0]["id"], posted[0]["url"], parts)

    def _take_back(self, posted: list[dict[str, str]]) -> None:
        for part in reversed(posted):
            try:
                self._call("DELETE", f"/2/tweets/{part['id']}", what="X delete")
            except OutletError:
                continue

    def update(self, parts: list[dict[str, str]], rendered: Rendered) -> Published:
        raise OutletError("X posts cannot be edited through the API.", kind="rejected")

    def delete(self, parts: list[dict[str, str]]) -> None:
        posts = [p for p in parts if p.get("kind") in ("post", "reply", "notice")]
        gone = 0
        for part in reversed(posts):
            try:
                self._call("DELETE", f"/2/tweets/{part['id']}", what="X delete")
            except OutletError as exc:
                if exc.kind != "not_found":
                    raise
                gone += 1
        if posts and gone == len(posts):
            raise OutletError("The X post was already gone.", kind="not_found")

    def notice(self, parts: list[dict[str, str]], text: str) -> dict[str, str]:
        first = next((p for p in parts if p.get("kind") == "post"), None)
        if first is None:
            raise OutletError("There is no X post to answer.", kind="not_found")
        tweet_id = self._tweet(text, reply_to=first["id"])
        return {"id": tweet_id, "url": self._url(tweet_id), "kind": "notice"}

    def check(self) -> CheckResult:
        me = self._me()
        expires = self.credentials.get("expires_at")
        expires_at = None
        if isinstance(expires, str) and not self.credentials.get("refresh_token"):
            # Without a refresh token the access token's end is the outlet's end.
            try:
                expires_at = datetime.fromisoformat(expires)
            except ValueError:
                expires_at = None
        return CheckResult(
            ok=True,
            message=f"Connected as @{clip(me.get('username'), 60)} (id {me.get('id')}).",
            token_expires_at=expires_at,
            credentials=self.refreshed_credentials,
        )

    def inbound(self, cursor: str, known_ids: list[str]) -> tuple[list[InboundData], str]:
        """Mentions (replies to our posts included) newer than ``cursor`` (a post id)."""
        if not self.user_id:
            self._me()
        params = {
            "max_results": "100",
            "tweet.fields": "created_at,author_id,conversation_id,referenced_tweets",
            "expansions": "author_id",
            "user.fields": "username,name",
        }
        if cursor.isdigit():
            params["since_id"] = cursor
        data = self._call(
            "GET", f"/2/users/{self.user_id}/mentions", what="X mentions", params=params
        )
        users = {
            str(u.get("id")): u
            for u in (data.get("includes") or {}).get("users", [])
            if isinstance(u, dict)
        }
        known = set(known_ids)
        found: list[InboundData] = []
        for tweet in data.get("data") or []:
            if not isinstance(tweet, dict) or not tweet.get("id"):
                continue
            replied = next(
                (
                    str(r.get("id"))
                    for r in tweet.get("referenced_tweets") or []
                    if isinstance(r, dict) and r.get("type") == "replied_to"
                ),
                "",
            )
            author = users.get(str(tweet.get("author_id")), {})
            username = str(author.get("username", ""))
            published = None
            try:
                published = datetime.fromisoformat(str(tweet.get("created_at")))
            except ValueError:
                published = None
            found.append(
                InboundData(
                    remote_id=str(tweet["id"]),
                    kind="reply" if replied and replied in known else "mention",
                    author_name=str(author.get("name", "")),
                    author_handle=f"@{username}" if username else "",
                    author_url=f"https://x.com/{username}" if username else "",
                    text=str(tweet.get("text", "")),
                    url=self._url(str(tweet["id"])),
                    in_reply_to=replied,
                    published_at=published,
                    raw=tweet,
                )
            )
        newest = str((data.get("meta") or {}).get("newest_id") or "")
        return found, newest or cursor
