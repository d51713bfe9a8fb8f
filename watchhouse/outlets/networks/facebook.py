"""A Facebook Page through the Graph API (pinned to :data:`GRAPH_VERSION`).

A post is ``POST /{page-id}/feed`` with ``message`` and ``link`` (Facebook makes the link
card); photos are uploaded first, unpublished (``POST /{page-id}/photos`` with
``published=false`` and their alt text), then attached with ``attached_media``; a video is
its own post (``POST /{page-id}/videos``). Edits are ``POST /{post-id}`` (a video's
description), deletes ``DELETE /{object-id}``, comments ``GET /{post-id}/comments``. The
connection check reads ``/me`` and the token's expiry from ``/debug_token``.

Graph errors say what went wrong by ``error.code``: 4, 17, 32 and 613 are rate limits
(the wait is in ``X-Business-Use-Case-Usage``/``X-App-Usage``), 190 an expired or revoked
token, 10 and 200–299 missing permissions, 100 an invalid parameter (subcode 33: the object
is gone), 324/352/390/6000 a refused photo or video, 1 and 2 transient trouble.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

from watchhouse.outlets.networks.base import (
    CheckResult,
    InboundData,
    MediaItem,
    OutletError,
    Published,
    Rendered,
)
from watchhouse.outlets.networks.registry import HttpAnswer, clip, http_call, status_error

GRAPH_VERSION = "v21.0"
RATE_LIMIT_CODES = {4, 17, 32, 613, 80001}
AUTH_CODES = {102, 190, 10} | set(range(200, 300))
MEDIA_CODES = {324, 352, 361, 381, 382, 390, 6000, 6001}
TRANSIENT_CODES = {1, 2}
# Comments asked about per collection: the newest copies' posts.
INBOUND_POSTS = 50


def _wait_from_usage(headers: Any) -> int | None:
    """Seconds until access is regained, from Graph's usage headers (given in minutes)."""
    waits: list[int] = []
    for name in ("X-Business-Use-Case-Usage", "X-Page-Usage", "X-App-Usage"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            usage = json.loads(raw)
        except ValueError:
            continue
        entries = [e for v in usage.values() for e in v] if isinstance(usage, dict) else []
        if isinstance(usage, dict) and "estimated_time_to_regain_access" in usage:
            entries.append(usage)
        for entry in entries:
            minutes = entry.get("estimated_time_to_regain_access") if isinstance(entry, dict) else 0
            if isinstance(minutes, int | float) and minutes > 0:
                waits.append(int(minutes * 60))
    return max(waits) if waits else None


def graph_error(answer: HttpAnswer, what: str) -> OutletError:
    """The :class:`OutletError` for a Graph API error answer."""
    error = answer.data.get("error") if isinstance(answer.data, dict) else None
    if not isinstance(error, dict):
        return status_error(answer.status, f"{what}: HTTP {answer.status} {clip(answer.text)}")
    code, subcode = error.get("code"), error.get("error_subcode")
    message = f"{what}: Graph error {code}: {clip(error.get('message'))}"
    if code in RATE_LIMIT_CODES:
        return OutletError(
            message,
            kind="rate_limited",
            retryable=True,
            retry_after=_wait_from_usage(answer.headers) or 3600,
            status=answer.status,
        )
    if code in AUTH_CODES:
        return OutletError(message, kind="auth", status=answer.status)
    if code in MEDIA_CODES:
        return OutletError(message, kind="media_rejected", status=answer.status)
    if code == 100 and subcode == 33:
        return OutletError(message, kind="not_found", status=answer.status)
    if code in TRANSIENT_CODES or error.get("is_transient") or answer.status >= 500:
        return OutletError(message, kind="unavailable", retryable=True, status=answer.status)
    return OutletError(message, kind="rejected", status=answer.status)


class FacebookAdapter:
    network: ClassVar[str] = "facebook"
    can_edit: ClassVar[bool] = True
    can_delete: ClassVar[bool] = True

    def __init__(self, *, api_base: str, account: str, credentials: dict[str, Any]) -> None:
        self.base = f"{api_base.rstrip('/')}/{GRAPH_VERSION}"
        self.page_id = account.strip()
        self.token = str(credentials.get("page_token", ""))
        self.app_id = str(credentials.get("app_id", ""))
        self.app_secret = str(credentials.get("app_secret", ""))
        self.refreshed_credentials: dict[str, Any] | None = None

    # The token goes in the Authorization header, never in a URL that could be logged.
    def _call(self, method: str, path: str, *, what: str, token: str = "", **kwargs: Any) -> Any:
        if not self.token:
            raise OutletError("The Page access token is missing.", kind="auth")
        headers = {"Authorization": f"Bearer {token or self.token}"}
        answer = http_call(
            method,
            f"{self.base}/{path.lstrip('/')}",
            what=what,
            headers=headers,
            **kwargs,
        )
        if answer.status >= 300 or (isinstance(answer.data, dict) and "error" in answer.data):
            raise graph_error(answer, what)
        return answer.data if answer.data is not None else {}

    def check(self) -> CheckResult:
        me = self._call("GET", "me", what="Facebook /me", params={"fields": "id,name"})
        if self.page_id and str(me.get("id")) != self.page_id:
            return CheckResult(
                ok=False,
                message=f"The token is for {clip(me.get('name'), 80)} ({me.get('id')}), "
                f"not Page {self.page_id}.",
            )
        app_token = f"{self.app_id}|{self.app_secret}" if self.app_id and self.app_secret else ""
        debug = self._call(
            "GET",
            "debug_token",
            what="Facebook /debug_token",
            token=app_token,
            params={"input_token": self.token},
        ).get("data", {})
        if not debug.get("is_valid", False):
            return CheckResult(ok=False, message="Facebook says the Page token is not valid.")
        expires = int(debug.get("expires_at") or 0)
        expires_at = datetime.fromtimestamp(expires, UTC) if expires else None
        return CheckResult(
            ok=True,
            message=f"Connected to the Page {clip(me.get('name'), 80)}.",
            token_expires_at=expires_at,
        )

    def _open(self, item: MediaItem) -> Any:
        return item.path.open("rb")

    def _post_url(self, post_id: str) -> str:
        page, _sep, suffix = post_id.partition("_")
        return f"https://www.facebook.com/{page}/posts/{suffix}" if suffix else ""

    def publish(self, rendered: Rendered) -> Published:
        message = rendered.parts[0] if rendered.parts else ""
        videos = [m for m in rendered.media if m.kind == "video"]
        if videos:
            video = videos[0]
            with self._open(video) as stream:
                data = self._call(
                    "POST",
                    f"{self.page_id}/videos",
                    what="Facebook video upload",
                    data={"description": f"{message}\n\n{rendered.link}", "title": rendered.title},
                    files={"source": (video.path.name, stream, video.mime)},
                )
            video_id = str(data["id"])
            url = f"https://www.facebook.com/{self.page_id}/videos/{video_id}"
            return Published(
                video_id, url, [{"id": video_id, "url": url, "kind": "post", "type": "video"}]
            )
        photos: list[str] = []
        try:
            for image in (m for m in rendered.media if m.kind == "image"):
                with self._open(image) as stream:
                    form = {"published": "false", "alt_text_custom": image.alt}
                    data = self._call(
                        "POST",
                        f"{self.page_id}/photos",
                        what="Facebook photo upload",
                        data=form,
                        files={"source": (image.path.name, stream, image.mime)},
                    )
                photos.append(str(data["id"]))
            form = {"message": message}
            if photos:
                # A post with photos shows them, not a link card: the link goes in the text.
                form["message"] = f"{message}\n\n{rendered.link}"
                for index, photo_id in enumerate(photos):
                    form[f"attached_media[{index}]"] = json.dumps({"media_fbid": photo_id})
            else:
                form["link"] = rendered.link
            post = self._call("POST", f"{self.page_id}/feed", what="Facebook post", data=form)
        except OutletError:
            self._forget(photos)
            raise
        post_id = str(post["id"])
        url = self._post_url(post_id)
        parts = [{"id": post_id, "url": url, "kind": "post"}]
        parts += [{"id": p, "url": "", "kind": "media"} for p in photos]
        return Published(post_id, url, parts)

    def _forget(self, object_ids: list[str]) -> None:
        """Delete unpublished photos of a post that failed (they would linger unseen)."""
        for object_id in object_ids:
            try:
                self._call("DELETE", object_id, what="Facebook photo cleanup")
            except OutletError:
                continue

    def update(self, parts: list[dict[str, str]], rendered: Rendered) -> Published:
        post = next((p for p in parts if p.get("kind") == "post"), None)
        if post is None:
            raise OutletError("There is no Facebook post to edit.", kind="not_found")
        message = rendered.parts[0] if rendered.parts else ""
        if post.get("type") == "video":
            form = {"description": f"{message}\n\n{rendered.link}"}
        elif any(p.get("kind") == "media" for p in parts):
            form = {"message": f"{message}\n\n{rendered.link}"}
        else:
            form = {"message": message}
        self._call("POST", post["id"], what="Facebook edit", data=form)
        return Published(post["id"], post.get("url", ""), parts)

    def delete(self, parts: list[dict[str, str]]) -> None:
        gone = 0
        for part in parts:
            if part.get("kind") == "notice":
                continue
            try:
                self._call("DELETE", part["id"], what="Facebook delete")
            except OutletError as exc:
                if exc.kind != "not_found":
                    raise
                gone += 1
        if gone and gone == len([p for p in parts if p.get("kind") != "notice"]):
            raise OutletError("The Facebook post was already gone.", kind="not_found")

    def notice(self, parts: list[dict[str, str]], text: str) -> dict[str, str]:
        post = next((p for p in parts if p.get("kind") == "post"), None)
        if post is None:
            raise OutletError("There is no Facebook post to comment on.", kind="not_found")
        data = self._call(
            "POST", f"{post['id']}/comments", what="Facebook comment", data={"message": text}
        )
        return {"id": str(data["id"]), "url": "", "kind": "notice"}

    def inbound(self, cursor: str, known_ids: list[str]) -> tuple[list[InboundData], str]:
        """Comments on the Page's posts among ``known_ids`` since ``cursor`` (a Unix time)."""
        since = int(cursor) if cursor.isdigit() else 0
        newest = since
        found: list[InboundData] = []
        posts = [i for i in known_ids if "_" in i and i.split("_", 1)[0] == self.page_id]
        for post_id in posts[-INBOUND_POSTS:]:
            params = {
                "fields": "id,message,created_time,from,permalink_url",
                "limit": "100",
                "order": "chronological",
                "filter": "stream",
            }
            if since:
                params["since"] = str(since)
            try:
                data = self._call(
                    "GET", f"{post_id}/comments", what="Facebook comments", params=params
                )
            except OutletError as exc:
                if exc.kind == "not_found":
                    continue
                raise
            for comment in data.get("data", []) if isinstance(data, dict) else []:
                item = self._comment(comment, post_id)
                if item is None:
                    continue
                found.append(item)
                if item.published_at:
                    newest = max(newest, int(item.published_at.timestamp()))
        return found, str(newest) if newest else cursor

    @staticmethod
    def _comment(comment: Any, post_id: str) -> InboundData | None:
        if not isinstance(comment, dict) or not comment.get("id"):
            return None
        author: dict[str, Any] = comment["from"] if isinstance(comment.get("from"), dict) else {}
        published = None
        try:
            published = datetime.strptime(str(comment.get("created_time")), "%Y-%m-%dT%H:%M:%S%z")
        except ValueError:
            published = None
        return InboundData(
            remote_id=str(comment["id"]),
            kind="comment",
            author_name=str(author.get("name", "")),
            author_handle=str(author.get("id", "")),
            author_url="",
            text=str(comment.get("message", "")),
            url=str(comment.get("permalink_url", "")),
            in_reply_to=post_id,
            published_at=published,
            raw=comment,
        )
