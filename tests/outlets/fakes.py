"""Loopback servers that speak the cross-posting networks' documented APIs.

One class per network, each a :class:`~tests.notify.loopback.LoopbackHttpServer` used as a
context manager. Each keeps what it holds (posts, media, comments) so a test can read the
outcome, records every request (``requests``), and can be told to fail its next call
(or its next call to one endpoint) with the network's own error for that case::

    with FacebookGraph() as graph:
        graph.fail_next("rate_limit")          # Graph error code 32 with X-Business-Use-Case-Usage
        graph.fail_next("media_rejected")      # the next photo/video upload: code 324
        outlet = make_outlet("facebook", graph, user=staff)

Failure kinds: ``rate_limit`` (with the network's reset header), ``expired_token``,
``media_rejected`` (applies to the next media upload) and ``server_error``.
"""

# ruff: noqa: S107 - the fakes' own test credentials
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qsl

import regex

from tests.notify.loopback import Answer, LoopbackHttpServer, RecordedRequest, WebhookReceiver
from watchhouse.core.crypto import seal_json

FAILURES = ("rate_limit", "expired_token", "media_rejected", "server_error")


def multipart_fields(request: RecordedRequest) -> dict[str, tuple[bytes, str, str]]:
    """A multipart/form-data body as ``{name: (content, filename, content_type)}``."""
    content_type = request.header("Content-Type")
    if not content_type.startswith("multipart/form-data"):
        return {}
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = message_from_bytes(head + request.body, policy=policy.default)
    fields: dict[str, tuple[bytes, str, str]] = {}
    if not isinstance(message, EmailMessage):  # pragma: no cover - policy.default's class
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str):
            fields[name] = (
                payload if isinstance(payload, bytes) else b"",
                str(part.get_filename() or ""),
                part.get_content_type(),
            )
    return fields


def request_fields(request: RecordedRequest) -> dict[str, str]:
    """Query, urlencoded form, JSON object or multipart text fields, merged."""
    fields = dict(parse_qsl(request.query, keep_blank_values=True))
    content_type = request.header("Content-Type")
    if content_type.startswith("application/x-www-form-urlencoded"):
        fields.update(request.form())
    elif content_type.startswith("application/json") and request.body:
        data = json.loads(request.body)
        if isinstance(data, dict):
            fields.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()})
    elif content_type.startswith("multipart/form-data"):
        for name, (content, filename, _type) in multipart_fields(request).items():
            if not filename:
                fields[name] = content.decode(errors="replace")
    return fields


def bearer(request: RecordedRequest) -> str:
    value = request.header("Authorization")
    return value[7:].strip() if value.lower().startswith("bearer ") else ""


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class FakeNetwork(LoopbackHttpServer):
    """What every fake shares: queued failures and a lock around its state."""

    media_paths: tuple[str, ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self._failures: list[tuple[str, str]] = []
        self._ids = itertools.count(1000)
        self.state_lock = threading.RLock()

    def fail_next(self, kind: str, *, path: str = "") -> None:
        """Answer the next request (whose path contains ``path``, when given; the next media
        upload for ``media_rejected``) with the network's error of ``kind``."""
        if kind not in FAILURES:
            raise ValueError(f"Unknown failure {kind!r}; one of {FAILURES}.")
        with self.state_lock:
            self._failures.append((kind, path))

    def next_id(self) -> str:
        return str(next(self._ids))

    def _take_failure(self, request: RecordedRequest) -> str:
        with self.state_lock:
            for index, (kind, path) in enumerate(self._failures):
                is_media = any(p in request.path for p in self.media_paths) or (
                    "command" in request.query or b'name="command"' in request.body[:2000]
                )
                if kind == "media_rejected" and not (
                    is_media and (not path or path in request.path)
                ):
                    continue
                if path and path not in request.path:
                    continue
                del self._failures[index]
                return kind
        return ""

    def answer(self, request: RecordedRequest) -> Answer:
        failure = self._take_failure(request)
        if failure:
            return self.failure(failure, request)
        return self.serve(request)

    def failure(self, kind: str, request: RecordedRequest) -> Answer:
        raise NotImplementedError

    def serve(self, request: RecordedRequest) -> Answer:
        raise NotImplementedError


# --- Facebook Graph API -------------------------------------------------------------------


class FacebookGraph(FakeNetwork):
    """A Page on the Graph API (``/v21.0/...``): feed posts, unpublished photos attached by
    ``attached_media``, videos, edits, deletes, comments, ``/me`` and ``/debug_token``.

    Graph errors are ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``
    with HTTP 400 (codes 4/17/32/613: rate limits, with ``X-Business-Use-Case-Usage``;
    190: invalid or expired token; 324: the photo was refused) or 500 (code 2, transient).
    """

    version = "v21.0"
    media_paths = ("/photos", "/videos")

    def __init__(
        self, *, page_id: str = "1122334455", token: str = "EAAPageToken", expires_in: int = 0
    ) -> None:
        super().__init__()
        self.page_id = page_id
        self.token = token
        # Seconds until the token expires (0: never, as long-lived Page tokens).
        self.expires_in = expires_in
        self.posts: dict[str, dict[str, Any]] = {}
        self.photos: dict[str, dict[str, Any]] = {}
        self.videos: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}

    @staticmethod
    def error(
        status: int,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        kind: str = "OAuthException",
        **headers: str,
    ) -> Answer:
        body: dict[str, Any] = {
            "message": message,
            "type": kind,
            "code": code,
            "fbtrace_id": "A" + secrets.token_hex(8),
        }
        if subcode is not None:
            body["error_subcode"] = subcode
        if code in (1, 2):
            body["is_transient"] = True
        return Answer.json(status, {"error": body}, **headers)

    def failure(self, kind: str, request: RecordedRequest) -> Answer:
        if kind == "rate_limit":
            usage = {
                self.page_id: [
                    {
                        "type": "pages",
                        "call_count": 100,
                        "total_cputime": 12,
                        "total_time": 14,
                        "estimated_time_to_regain_access": 7,
                    }
                ]
            }
            return self.error(
                400,
                32,
                "(#32) Page request limit reached",
                **{"X-Business-Use-Case-Usage": json.dumps(usage)},
            )
        if kind == "expired_token":
            return self.error(
                400,
                190,
                "Error validating access token: Session has expired on Sunday, "
                "29-Nov-26 10:00:00 PST. The current time is Sunday, 29-Nov-26 11:00:00 PST.",
                subcode=463,
            )
        if kind == "media_rejected":
            return self.error(
                400, 324, "(#324) Missing or invalid image file", kind="GraphMethodException"
            )
        return self.error(
            500, 2, "An unexpected error has occurred. Please retry your request later."
        )

    def comment(self, post_id: str, message: str, *, name: str = "Resident") -> dict[str, Any]:
        """Add a resident's comment to a post (as if someone wrote it on Facebook)."""
        comment = {
            "id": f"{post_id.split('_')[-1]}_{self.next_id()}",
            "message": message,
            "created_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "from": {"id": self.next_id(), "name": name},
            "permalink_url": f"https://www.facebook.com/{post_id}?comment_id={self.next_id()}",
        }
        with self.state_lock:
            self.comments.setdefault(post_id, []).append(comment)
        return comment

    def serve(self, request: RecordedRequest) -> Answer:
        prefix = f"/{self.version}/"
        if not request.path.startswith(prefix):
            return self.error(400, 2500, "Unknown path components", kind="OAuthException")
        fields = request_fields(request)
        token = fields.get("access_token") or bearer(request)
        path = request.path.removeprefix(prefix).strip("/")
        if path == "debug_token":
            return self._debug_token(fields)
        if token != self.token:
            return self.error(400, 190, "Invalid OAuth access token - Cannot parse access token")
        method = request.method
        with self.state_lock:
            if path == "me" and method == "GET":
                return Answer.json(200, {"id": self.page_id, "name": "Example Police Department"})
            if path == f"{self.page_id}/feed" and method == "POST":
                return self._feed(fields)
            if path == f"{self.page_id}/photos" and method == "POST":
                return self._photo(request, fields)
            if path == f"{self.page_id}/videos" and method == "POST":
                return self._video(request, fields)
            if path.endswith("/comments"):
                object_id = path.removesuffix("/comments")
                if method == "GET":
                    return self._comments(object_id, fields)
                if object_id not in self.posts:
                    return self._missing(object_id)
                comment = self.comment(object_id, fields.get("message", ""), name="Page")
                return Answer.json(200, {"id": comment["id"]})
            if path in self.photos and method == "DELETE":
                del self.photos[path]
                return Answer.json(200, {"success": True})
            if path in self.posts or path in self.videos:
                if method == "DELETE":
                    self.posts.pop(path, None)
                    self.videos.pop(path, None)
                    return Answer.json(200, {"success": True})
                if method == "POST":
                    target = self.posts.get(path) or self.videos[path]
                    target["message"] = fields.get(
                        "message", fields.get("description", target.get("message", ""))
                    )
                    target["updated"] = True
                    return Answer.json(200, {"success": True})
                return Answer.json(200, self.posts.get(path) or self.videos[path])
            return self._missing(path)

    def _missing(self, object_id: str) -> Answer:
        return self.error(
            400,
            100,
            f"Unsupported request - method type: get. Object with ID '{object_id}' does not "
            "exist, cannot be loaded due to missing permissions, or does not support this "
            "operation.",
            subcode=33,
            kind="GraphMethodException",
        )

    def _debug_token(self, fields: dict[str, str]) -> Answer:
        valid = fields.get("input_token") == self.token
        expires = int(time.time()) + self.expires_in if self.expires_in else 0
        data = {
            "app_id": "5550001",
            "type": "PAGE",
            "application": "Watchhouse",
            "data_access_expires_at": int(time.time()) + 90 * 86400,
            "expires_at": expires if valid else int(time.time()) - 60,
            "is_valid": valid,
            "profile_id": self.page_id,
            "scopes": ["pages_manage_posts", "pages_read_engagement", "pages_read_user_content"],
        }
        if not valid:
            data["error"] = {"code": 190, "message": "Session has expired", "subcode": 463}
        return Answer.json(200, {"data": data})

    def _feed(self, fields: dict[str, str]) -> Answer:
        if not fields.get("message") and not fields.get("link"):
            return self.error(
                400, 100, "(#100) Missing message or attachment", kind="OAuthException"
            )
        attached = [
            json.loads(v)["media_fbid"]
            for k, v in sorted(fields.items())
            if k.startswith("attached_media")
        ]
        for media_id in attached:
            if media_id not in self.photos:
                return self.error(400, 100, f"(#100) Invalid media_fbid {media_id}")
        post_id = f"{self.page_id}_{self.next_id()}"
        self.posts[post_id] = {
            "id": post_id,
            "message": fields.get("message", ""),
            "link": fields.get("link", ""),
            "attached_media": attached,
            "published": fields.get("published", "true") != "false",
        }
        return Answer.json(200, {"id": post_id})

    def _photo(self, request: RecordedRequest, fields: dict[str, str]) -> Answer:
        files = multipart_fields(request)
        source = files.get("source")
        if source is None or not source[0] or not source[2].startswith("image/"):
            return self.error(400, 324, "(#324) Requires upload file", kind="GraphMethodException")
        photo_id = self.next_id()
        self.photos[photo_id] = {
            "id": photo_id,
            "bytes": len(source[0]),
            "alt": fields.get("alt_text_custom", ""),
            "published": fields.get("published", "true") != "false",
        }
        return Answer.json(200, {"id": photo_id})

    def _video(self, request: RecordedRequest, fields: dict[str, str]) -> Answer:
        source = multipart_fields(request).get("source")
        if source is None or not source[0]:
            return self.error(400, 390, "There was a problem uploading your video file.")
        video_id = self.next_id()
        self.videos[video_id] = {
            "id": video_id,
            "bytes": len(source[0]),
            "message": fields.get("description", ""),
            "title": fields.get("title", ""),
        }
        return Answer.json(200, {"id": video_id})

    def _comments(self, object_id: str, fields: dict[str, str]) -> Answer:
        if object_id not in self.posts and object_id not in self.videos:
            return self._missing(object_id)
        comments = self.comments.get(object_id, [])
        since = int(fields.get("since") or 0)
        if since:
            comments = [
                c
                for c in comments
                if datetime.strptime(c["created_time"], "%Y-%m-%dT%H:%M:%S%z").timestamp() >= since
            ]
        after = fields.get("after", "")
        start = next((i + 1 for i, c in enumerate(comments) if c["id"] == after), 0)
        page = comments[start : start + int(fields.get("limit", "25"))]
        paging: dict[str, Any] = {}
        if page:
            paging = {"cursors": {"before": page[0]["id"], "after": page[-1]["id"]}}
        return Answer.json(200, {"data": page, "paging": paging})


# --- X API v2 -----------------------------------------------------------------------------


class XApi(FakeNetwork):
    """X API v2 with an OAuth 2.0 user-context token: posts (replies for threads, media),
    deletes, media upload (simple, and chunked INIT/APPEND/FINALIZE/STATUS on
    ``/2/media/upload``, alt text via ``/2/media/metadata``), ``/2/users/me``, mentions, and
    ``/2/oauth2/token`` refresh (each refresh token works once, as X's do).

    Errors are problem documents (``title``, ``detail``, ``type``, ``status``): 429 with
    ``x-rate-limit-reset``; 401 for an expired or revoked token; 403 for duplicate content;
    400 for a refused media file; 503 when over capacity.
    """

    media_paths = ("/2/media/upload",)

    def __init__(
        self,
        *,
        user_id: str = "4455667788",
        token: str = "x-access-1",
        refresh: str = "x-refresh-1",
        client_id: str = "x-client",
        client_secret: str = "",
    ) -> None:
        super().__init__()
        self.user_id = user_id
        self.username = "ExamplePD"
        self.token = token
        self.refresh_token = refresh
        self.client_id = client_id
        self.client_secret = client_secret
        self.tweets: dict[str, dict[str, Any]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.mentions: list[dict[str, Any]] = []
        self.authors: dict[str, dict[str, str]] = {}
        self.token_expired = False
        # STATUS answers "in_progress" this many times before "succeeded".
        self.processing_polls = 1

    @staticmethod
    def problem(
        status: int, title: str, detail: str, kind: str = "about:blank", **headers: str
    ) -> Answer:
        return Answer.json(
            status, {"title": title, "detail": detail, "type": kind, "status": status}, **headers
        )

    def rate_limited(self) -> Answer:
        return self.problem(
            429,
            "Too Many Requests",
            "Too Many Requests",
            **{
                "x-rate-limit-limit": "100",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(int(time.time()) + 900),
            },
        )

    def failure(self, kind: str, request: RecordedRequest) -> Answer:
        if kind == "rate_limit":
            return self.rate_limited()
        if kind == "expired_token":
            return self.problem(401, "Unauthorized", "Unauthorized")
        if kind == "media_rejected":
            return Answer.json(
                400,
                {
                    "errors": [{"message": "media type unrecognized.", "parameters": {}}],
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                    "type": "https://api.twitter.com/2/problems/invalid-request",
                },
            )
        return self.problem(503, "Service Unavailable", "Service Unavailable")

    def mention(
        self, text: str, *, in_reply_to: str = "", username: str = "resident"
    ) -> dict[str, Any]:
        """A resident mentions the account (newest last)."""
        tweet_id = str(1_800_000_000_000_000_000 + int(self.next_id()))
        author_id = str(abs(hash(username)) % 10**12)
        tweet: dict[str, Any] = {
            "id": tweet_id,
            "text": text,
            "author_id": author_id,
            "created_at": iso(datetime.now(UTC)),
            "conversation_id": in_reply_to or tweet_id,
            "edit_history_tweet_ids": [tweet_id],
        }
        if in_reply_to:
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": in_reply_to}]
            tweet["in_reply_to_user_id"] = self.user_id
        with self.state_lock:
            self.mentions.append(tweet)
            self.authors[author_id] = {
                "id": author_id,
                "name": username.title(),
                "username": username,
            }
        return tweet

    def serve(self, request: RecordedRequest) -> Answer:
        if request.path == "/2/oauth2/token":
            return self._token(request)
        if bearer(request) != self.token or self.token_expired:
            return self.problem(401, "Unauthorized", "Unauthorized")
        fields = request_fields(request)
        path, method = request.path, request.method
        with self.state_lock:
            if path == "/2/users/me":
                return Answer.json(
                    200,
                    {
                        "data": {
                            "id": self.user_id,
                            "name": "Example Police",
                            "username": self.username,
                        }
                    },
                )
            if path == "/2/tweets" and method == "POST":
                return self._tweet(json.loads(request.body or b"{}"))
            if path.startswith("/2/tweets/") and method == "DELETE":
                tweet_id = path.rsplit("/", 1)[-1]
                if self.tweets.pop(tweet_id, None) is None:
                    return self.problem(
                        404,
                        "Not Found Error",
                        f"Could not find tweet with id: [{tweet_id}].",
                        "https://api.twitter.com/2/problems/resource-not-found",
                    )
                return Answer.json(200, {"data": {"deleted": True}})
            if path == "/2/media/upload":
                return self._upload(request, fields)
            if path == "/2/media/metadata" and method == "POST":
                data = json.loads(request.body or b"{}")
                media = self.media.get(str(data.get("id")))
                if media is None:
                    return self.problem(400, "Invalid Request", "Unknown media id.")
                media["alt"] = data.get("metadata", {}).get("alt_text", {}).get("text", "")
                return Answer.json(
                    200,
                    {"data": {"id": media["id"], "associated_metadata": data.get("metadata", {})}},
                )
            if path == f"/2/users/{self.user_id}/mentions" and method == "GET":
                return self._mentions(fields)
        return self.problem(404, "Not Found Error", "Not found.")

    def _token(self, request: RecordedRequest) -> Answer:
        form = request.form()
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("refresh_token") != self.refresh_token
        ):
            return Answer.json(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "Value passed for the token was invalid.",
                },
            )
        if self.client_secret:
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            if request.header("Authorization") != f"Basic {expected}":
                return Answer.json(
                    401,
                    {
                        "error": "unauthorized_client",
                        "error_description": "Missing valid authorization header",
                    },
                )
        elif form.get("client_id") != self.client_id:
            return Answer.json(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "Missing required parameter [client_id].",
                },
            )
        with self.state_lock:
            self.token = f"x-access-{secrets.token_hex(4)}"
            self.refresh_token = f"x-refresh-{secrets.token_hex(4)}"
            self.token_expired = False
        return Answer.json(
            200,
            {
                "token_type": "bearer",
                "expires_in": 7200,
                "access_token": self.token,
                "scope": "tweet.read tweet.write users.read media.write offline.access",
                "refresh_token": self.refresh_token,
            },
        )

    def _tweet(self, data: dict[str, Any]) -> Answer:
        text = str(data.get("text", ""))
        if any(t["text"] == text for t in self.tweets.values()):
            return self.problem(
                403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."
            )
        reply_to = str(data.get("reply", {}).get("in_reply_to_tweet_id", ""))
        if reply_to and reply_to not in self.tweets:
            return Answer.json(
                400,
                {
                    "errors": [
                        {
                            "message": "The `in_reply_to_tweet_id` query parameter value "
                            f"[{reply_to}] is not valid"
                        }
                    ],
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                    "type": "https://api.twitter.com/2/problems/invalid-request",
                },
            )
        media_ids = [str(m) for m in data.get("media", {}).get("media_ids", [])]
        for media_id in media_ids:
            if self.media.get(media_id, {}).get("state") != "succeeded":
                return self.problem(
                    400, "Invalid Request", f"Your media IDs are invalid: {media_id}."
                )
        tweet_id = str(1_900_000_000_000_000_000 + int(self.next_id()))
        self.tweets[tweet_id] = {
            "id": tweet_id,
            "text": text,
            "reply_to": reply_to,
            "media_ids": media_ids,
        }
        return Answer.json(
            201, {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}}
        )

    def _upload(self, request: RecordedRequest, fields: dict[str, str]) -> Answer:
        command = fields.get("command", "")
        files = multipart_fields(request)
        if request.method == "GET" and command == "STATUS":
            media = self.media.get(fields.get("media_id", ""))
            if media is None:
                return self.problem(400, "Invalid Request", "Unknown media id.")
            if media["polls"] > 0:
                media["polls"] -= 1
                info = {"state": "in_progress", "check_after_secs": 1, "progress_percent": 50}
            else:
                media["state"] = "succeeded"
                info = {"state": "succeeded", "progress_percent": 100}
            return Answer.json(
                200,
                {
                    "data": {
                        "id": media["id"],
                        "media_key": f"7_{media['id']}",
                        "processing_info": info,
                    }
                },
            )
        if request.method != "POST":
            return self.problem(405, "Method Not Allowed", "Method not allowed.")
        if not command:
            upload = files.get("media")
            if upload is None or not upload[0]:
                return self.problem(400, "Invalid Request", "The media field is required.")
            media_id = str(1_700_000_000_000_000_000 + int(self.next_id()))
            self.media[media_id] = {
                "id": media_id,
                "bytes": len(upload[0]),
                "category": fields.get("media_category", ""),
                "state": "succeeded",
                "alt": "",
                "polls": 0,
            }
            return Answer.json(
                200,
                {
                    "data": {
                        "id": media_id,
                        "media_key": f"3_{media_id}",
                        "size": len(upload[0]),
                        "expires_after_secs": 86400,
                    }
                },
            )
        if command == "INIT":
            media_id = str(1_700_000_000_000_000_000 + int(self.next_id()))
            self.media[media_id] = {
                "id": media_id,
                "total": int(fields.get("total_bytes", "0")),
                "chunks": {},
                "type": fields.get("media_type", ""),
                "category": fields.get("media_category", ""),
                "state": "initialized",
                "alt": "",
                "polls": self.processing_polls,
            }
            return Answer.json(
                200,
                {
                    "data": {
                        "id": media_id,
                        "media_key": f"7_{media_id}",
                        "expires_after_secs": 86400,
                    }
                },
            )
        media = self.media.get(fields.get("media_id", ""))
        if media is None:
            return self.problem(400, "Invalid Request", "Unknown media id.")
        if command == "APPEND":
            chunk = files.get("media")
            media["chunks"][int(fields.get("segment_index", "0"))] = chunk[0] if chunk else b""
            return Answer(204)
        if command == "FINALIZE":
            size = sum(len(c) for c in media["chunks"].values())
            if size != media["total"]:
                return self.problem(
                    400, "Invalid Request", f"File size mismatch: {size} != {media['total']}."
                )
            media["bytes"] = size
            media["state"] = "pending" if media["polls"] else "succeeded"
            data: dict[str, Any] = {
                "id": media["id"],
                "media_key": f"7_{media['id']}",
                "size": size,
                "expires_after_secs": 86400,
            }
            if media["polls"]:
                data["processing_info"] = {"state": "pending", "check_after_secs": 1}
            return Answer.json(200, {"data": data})
        return self.problem(400, "Invalid Request", f"Unknown command {command!r}.")

    def _mentions(self, fields: dict[str, str]) -> Answer:
        since = int(fields.get("since_id") or 0)
        found = [t for t in self.mentions if int(t["id"]) > since]
        found.sort(key=lambda t: int(t["id"]), reverse=True)
        found = found[: int(fields.get("max_results", "100"))]
        if not found:
            return Answer.json(200, {"meta": {"result_count": 0}})
        users = [self.authors[a] for a in dict.fromkeys(t["author_id"] for t in found)]
        return Answer.json(
            200,
            {
                "data": found,
                "includes": {"users": users},
                "meta": {
                    "newest_id": found[0]["id"],
                    "oldest_id": found[-1]["id"],
                    "result_count": len(found),
                },
            },
        )


# --- Bluesky (AT Protocol XRPC) -----------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(subject: str, scope: str, lifetime: int) -> str:
    """A JWT as a PDS issues one (the client reads ``exp``; nothing checks the signature)."""
    now = int(time.time())
    header = _b64url(
        json.dumps(
            {"typ": "at+jwt" if scope != "com.atproto.refresh" else "refresh+jwt", "alg": "HS256"}
        ).encode()
    )
    body = {
        "scope": scope,
        "sub": subject,
        "iat": now,
        "exp": now + lifetime,
        "aud": "did:web:pds.test",
    }
    if scope == "com.atproto.refresh":
        body["jti"] = secrets.token_hex(8)
    payload = _b64url(json.dumps(body).encode())
    return f"{header}.{payload}.{_b64url(secrets.token_bytes(32))}"


def cid_for(data: bytes, codec: int = 0x55) -> str:
    """A CIDv1 (base32, sha2-256) of ``data``: raw (0x55) for blobs, dag-cbor (0x71) for records."""
    digest = bytes([0x01, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(digest).decode().lower().rstrip("=")


class BlueskyPds(FakeNetwork):
    """The XRPC endpoints of a PDS the ``atproto`` SDK calls: createSession, getSession,
    refreshSession, describeServer, getProfile, uploadBlob (1,000,000 bytes at most),
    createRecord, deleteRecord, listNotifications.

    Errors are ``{"error", "message"}``: 429 ``RateLimitExceeded`` with ``ratelimit-reset``;
    400 ``ExpiredToken``; 401 ``AuthenticationRequired`` for a wrong app password; 400
    ``BlobTooLarge`` for a refused image; 500 ``InternalServerError``.
    """

    media_paths = ("com.atproto.repo.uploadBlob",)
    blob_limit = 1_000_000

    def __init__(
        self, *, handle: str = "police.example.test", password: str = "abcd-efgh-ijkl-mnop"
    ) -> None:
        super().__init__()
        self.handle = handle
        self.did = "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]
        self.password = password
        self.records: dict[str, dict[str, Any]] = {}
        self.blobs: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.access_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.sessions_created = 0

    @staticmethod
    def xrpc_error(status: int, error: str, message: str, **headers: str) -> Answer:
        return Answer.json(status, {"error": error, "message": message}, **headers)

    def failure(self, kind: str, request: RecordedRequest) -> Answer:
        if kind == "rate_limit":
            return self.xrpc_error(
                429,
                "RateLimitExceeded",
                "Rate Limit Exceeded",
                **{
                    "ratelimit-limit": "5000",
                    "ratelimit-remaining": "0",
                    "ratelimit-reset": str(int(time.time()) + 300),
                    "ratelimit-policy": "5000;w=3600",
                },
            )
        if kind == "expired_token":
            return self.xrpc_error(400, "ExpiredToken", "Token has expired")
        if kind == "media_rejected":
            return self.xrpc_error(
                400,
                "BlobTooLarge",
                "This file is too large. It is 1.2MB but the maximum size is 976.56KB.",
            )
        return self.xrpc_error(500, "InternalServerError", "Internal Server Error")

    def expire_sessions(self) -> None:
        """Every access token issued so far now answers ExpiredToken."""
        with self.state_lock:
            self.access_tokens.clear()

    def notify(
        self, reason: str, text: str, *, parent_uri: str = "", handle: str = "resident.bsky.social"
    ) -> dict[str, Any]:
        """A reply to or a mention of the account, as listNotifications will report it."""
        author_did = "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]
        rkey = f"3l{secrets.token_hex(6)}"
        uri = f"at://{author_did}/app.bsky.feed.post/{rkey}"
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": iso(datetime.now(UTC)),
            "langs": ["en"],
        }
        if parent_uri:
            parent = self.records.get(parent_uri, {})
            ref = {"uri": parent_uri, "cid": parent.get("cid", cid_for(parent_uri.encode(), 0x71))}
            root = parent.get("record", {}).get("reply", {}).get("root", ref)
            record["reply"] = {"root": root, "parent": ref}
        item = {
            "uri": uri,
            "cid": cid_for(json.dumps(record).encode(), 0x71),
            "author": {
                "did": author_did,
                "handle": handle,
                "displayName": handle.split(".")[0].title(),
                "labels": [],
                "createdAt": iso(datetime.now(UTC) - timedelta(days=30)),
            },
            "reason": reason,
            "record": record,
            "isRead": False,
            "indexedAt": iso(datetime.now(UTC)),
            "labels": [],
        }
        if parent_uri:
            item["reasonSubject"] = parent_uri
        with self.state_lock:
            self.notifications.append(item)
        return item

    def _session(self, status: str = "") -> dict[str, Any]:
        access = _jwt(self.did, "com.atproto.appPass", 7200)
        refresh = _jwt(self.did, "com.atproto.refresh", 90 * 86400)
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        return {
            "did": self.did,
            "handle": self.handle,
            "accessJwt": access,
            "refreshJwt": refresh,
            "didDoc": {
                "@context": ["https://www.w3.org/ns/did/v1"],
                "id": self.did,
                "alsoKnownAs": [f"at://{self.handle}"],
                "service": [
                    {
                        "id": "#atproto_pds",
                        "type": "AtprotoPersonalDataServer",
                        "serviceEndpoint": self.url,
                    }
                ],
            },
            "email": "pio@police.example",
            "emailConfirmed": True,
            "active": True,
        }

    def serve(self, request: RecordedRequest) -> Answer:
        if not request.path.startswith("/xrpc/"):
            return Answer(404, b"Not Found")
        nsid = request.path.removeprefix("/xrpc/")
        with self.state_lock:
            if nsid == "com.atproto.server.describeServer":
                return Answer.json(
                    200,
                    {
                        "did": "did:web:pds.test",
                        "availableUserDomains": [".test"],
                        "inviteCodeRequired": True,
                    },
                )
            if nsid == "com.atproto.server.createSession":
                data = json.loads(request.body or b"{}")
                if (
                    data.get("identifier") not in (self.handle, self.did)
                    or data.get("password") != self.password
                ):
                    return self.xrpc_error(
                        401, "AuthenticationRequired", "Invalid identifier or password"
                    )
                self.sessions_created += 1
                return Answer.json(200, self._session())
            if nsid == "com.atproto.server.refreshSession":
                token = bearer(request)
                if token not in self.refresh_tokens:
                    return self.xrpc_error(400, "ExpiredToken", "Token has been revoked")
                self.refresh_tokens.discard(token)
                return Answer.json(200, self._session())
            token = bearer(request)
            if token not in self.access_tokens:
                if token.count(".") == 2:
                    return self.xrpc_error(400, "ExpiredToken", "Token has expired")
                return self.xrpc_error(401, "AuthenticationRequired", "Authentication Required")
            fields = dict(parse_qsl(request.query))
            if nsid == "com.atproto.server.getSession":
                return Answer.json(200, {"did": self.did, "handle": self.handle, "active": True})
            if nsid == "app.bsky.actor.getProfile":
                return Answer.json(
                    200,
                    {
                        "did": self.did,
                        "handle": self.handle,
                        "displayName": "Example Police",
                        "followersCount": 10,
                        "followsCount": 1,
                        "postsCount": len(self.records),
                        "labels": [],
                        "createdAt": iso(datetime.now(UTC) - timedelta(days=400)),
                    },
                )
            if nsid == "com.atproto.repo.uploadBlob":
                if len(request.body) > self.blob_limit:
                    return self.xrpc_error(
                        400,
                        "BlobTooLarge",
                        f"This file is too large. It is {len(request.body)} bytes but the maximum "
                        f"size is {self.blob_limit} bytes.",
                    )
                cid = cid_for(request.body)
                mime = request.header("Content-Type") or "application/octet-stream"
                self.blobs[cid] = {"bytes": len(request.body), "mime": mime}
                return Answer.json(
                    200,
                    {
                        "blob": {
                            "$type": "blob",
                            "ref": {"$link": cid},
                            "mimeType": mime,
                            "size": len(request.body),
                        }
                    },
                )
            if nsid == "com.atproto.repo.createRecord":
                return self._create(json.loads(request.body or b"{}"))
            if nsid == "com.atproto.repo.deleteRecord":
                data = json.loads(request.body or b"{}")
                uri = f"at://{data.get('repo')}/{data.get('collection')}/{data.get('rkey')}"
                self.records.pop(uri, None)  # deleting what is gone succeeds, as on a PDS
                return Answer.json(
                    200, {"commit": {"cid": cid_for(uri.encode(), 0x71), "rev": self.next_id()}}
                )
            if nsid == "app.bsky.notification.listNotifications":
                return self._notifications(fields)
        return self.xrpc_error(501, "MethodNotImplemented", f"Method Not Implemented: {nsid}")

    def _create(self, data: dict[str, Any]) -> Answer:
        if data.get("repo") not in (self.did, self.handle):
            return self.xrpc_error(400, "InvalidRequest", "Could not find repo")
        record = data.get("record") or {}
        text = str(record.get("text", ""))
        graphemes = len(regex.findall(r"\X", text))
        if graphemes > 300:
            return self.xrpc_error(
                400,
                "InvalidRequest",
                "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 "
                f"graphemes ({graphemes})",
            )
        for image in (record.get("embed") or {}).get("images", []):
            if image.get("image", {}).get("ref", {}).get("$link") not in self.blobs:
                return self.xrpc_error(400, "InvalidRequest", "Could not find blob")
        rkey = data.get("rkey") or f"3l{secrets.token_hex(6)}"
        uri = f"at://{self.did}/{data.get('collection')}/{rkey}"
        cid = cid_for(json.dumps(record, sort_keys=True).encode(), 0x71)
        self.records[uri] = {"uri": uri, "cid": cid, "record": record}
        return Answer.json(
            200,
            {
                "uri": uri,
                "cid": cid,
                "commit": {"cid": cid, "rev": self.next_id()},
                "validationStatus": "valid",
            },
        )

    def _notifications(self, fields: dict[str, str]) -> Answer:
        # Newest first, paged with an opaque cursor (here: the index to continue from).
        ordered = list(reversed(self.notifications))
        start = int(fields.get("cursor") or 0)
        limit = int(fields.get("limit") or 50)
        page = ordered[start : start + limit]
        answer: dict[str, Any] = {"notifications": page, "seenAt": iso(datetime.now(UTC))}
        if start + limit < len(ordered):
            answer["cursor"] = str(start + limit)
        return Answer.json(200, answer)


# --- Mastodon -----------------------------------------------------------------------------


class MastodonServer(FakeNetwork):
    """A Mastodon server's REST API as Mastodon.py calls it: verify_credentials, instance,
    statuses (post, edit with PUT, delete), media (v2, with description), notifications.

    Errors are ``{"error": ...}``: 429 with ``X-RateLimit-Reset`` (ISO 8601); 401 "The access
    token expired" / "is invalid"; 422 for refused media; 503 when the server is down.
    """

    media_paths = ("/api/v2/media", "/api/v1/media")

    def __init__(self, *, token: str = "masto-token", username: str = "examplepd") -> None:
        super().__init__()
        self.token = token
        self.username = username
        self.host = f"127.0.0.1:{self.port}"
        self.statuses: dict[str, dict[str, Any]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.deleted: list[str] = []

    def failure(self, kind: str, request: RecordedRequest) -> Answer:
        if kind == "rate_limit":
            reset = datetime.now(UTC) + timedelta(minutes=5)
            return Answer.json(
                429,
                {"error": "Too many requests"},
                **{
                    "X-RateLimit-Limit": "300",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                },
            )
        if kind == "expired_token":
            return Answer.json(401, {"error": "The access token expired"})
        if kind == "media_rejected":
            return Answer.json(
                422, {"error": "Validation failed: File content type is invalid, File is invalid"}
            )
        return Answer.json(503, {"error": "Service Unavailable"})

    def account(self, username: str | None = None) -> dict[str, Any]:
        username = username or self.username
        return {
            "id": str(abs(hash(username)) % 10**9),
            "username": username,
            "acct": username,
            "display_name": username.title(),
            "locked": False,
            "bot": False,
            "discoverable": True,
            "group": False,
            "created_at": iso(datetime.now(UTC) - timedelta(days=300)),
            "note": "",
            "url": f"http://{self.host}/@{username}",
            "uri": f"http://{self.host}/users/{username}",
            "avatar": "",
            "avatar_static": "",
            "header": "",
            "header_static": "",
            "followers_count": 3,
            "following_count": 0,
            "statuses_count": len(self.statuses),
            "last_status_at": None,
            "emojis": [],
            "fields": [],
        }

    def status(
        self,
        text: str,
        *,
        status_id: str = "",
        in_reply_to_id: str | None = None,
        media: list[dict[str, Any]] | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        status_id = status_id or str(110_000_000_000_000_000 + int(self.next_id()))
        owner = self.account(username)
        return {
            "id": status_id,
            "uri": f"http://{self.host}/users/{owner['username']}/statuses/{status_id}",
            "url": f"http://{self.host}/@{owner['username']}/{status_id}",
            "created_at": iso(datetime.now(UTC)),
            "account": owner,
            "content": f"<p>{text}</p>",
            "visibility": "public",
            "sensitive": False,
            "spoiler_text": "",
            "media_attachments": media or [],
            "application": None,
            "mentions": [],
            "tags": [],
            "emojis": [],
            "reblogs_count": 0,
            "favourites_count": 0,
            "replies_count": 0,
            "in_reply_to_id": in_reply_to_id,
            "in_reply_to_account_id": self.account()["id"] if in_reply_to_id else None,
            "reblog": None,
            "poll": None,
            "card": None,
            "language": "en",
            "text": text,
            "edited_at": None,
        }

    def mention(
        self, text: str, *, in_reply_to_id: str | None = None, username: str = "resident"
    ) -> dict[str, Any]:
        """A resident's reply or mention, as a ``mention`` notification."""
        status = self.status(
            f"@{self.username} {text}", in_reply_to_id=in_reply_to_id, username=username
        )
        notification = {
            "id": str(len(self.notifications) + 1),
            "type": "mention",
            "created_at": status["created_at"],
            "account": status["account"],
            "status": status,
        }
        with self.state_lock:
            self.notifications.append(notification)
        return notification

    def serve(self, request: RecordedRequest) -> Answer:
        path, method = request.path.rstrip("/"), request.method
        if path in ("/api/v1/instance", "/api/v2/instance"):
            return Answer.json(
                200,
                {
                    "uri": self.host,
                    "domain": self.host,
                    "title": "Loopback",
                    "version": "4.3.2",
                    "description": "",
                    "email": "",
                    "urls": {},
                    "stats": {},
                    "languages": ["en"],
                    "contact_account": None,
                    "rules": [],
                    "api_versions": {"mastodon": 2},
                },
            )
        if bearer(request) != self.token:
            return Answer.json(401, {"error": "The access token is invalid"})
        fields = request_fields(request)
        with self.state_lock:
            if path == "/api/v1/accounts/verify_credentials":
                return Answer.json(
                    200,
                    {
                        **self.account(),
                        "source": {
                            "privacy": "public",
                            "sensitive": False,
                            "language": "en",
                            "note": "",
                            "fields": [],
                        },
                    },
                )
            if path == "/api/v2/media" and method == "POST":
                upload = multipart_fields(request).get("file")
                if (
                    upload is None
                    or not upload[0]
                    or not upload[2].startswith(("image/", "video/"))
                ):
                    return Answer.json(
                        422, {"error": "Validation failed: File content type is invalid"}
                    )
                media_id = self.next_id()
                kind = "image" if upload[2].startswith("image/") else "video"
                attachment = {
                    "id": media_id,
                    "type": kind,
                    "url": f"http://{self.host}/media/{media_id}",
                    "preview_url": f"http://{self.host}/media/{media_id}/small",
                    "remote_url": None,
                    "text_url": None,
                    "meta": {},
                    "description": fields.get("description") or None,
                    "blurhash": None,
                }
                self.media[media_id] = {**attachment, "bytes": len(upload[0])}
                if kind == "video":
                    # Videos are processed after the upload: 202, no URL until done.
                    return Answer.json(202, {**attachment, "url": None})
                return Answer.json(200, attachment)
            if path.startswith("/api/v1/media/") and method == "GET":
                media = self.media.get(path.rsplit("/", 1)[-1])
                if media is None:
                    return Answer.json(404, {"error": "Record not found"})
                return Answer.json(200, {k: v for k, v in media.items() if k != "bytes"})
            if path == "/api/v1/statuses" and method == "POST":
                return self._post(request, fields)
            if path.startswith("/api/v1/statuses/"):
                status_id = path.rsplit("/", 1)[-1]
                if status_id not in self.statuses:
                    return Answer.json(404, {"error": "Record not found"})
                if method == "DELETE":
                    self.deleted.append(status_id)
                    return Answer.json(200, self.statuses.pop(status_id))
                if method == "PUT":
                    status = self.statuses[status_id]
                    text = fields.get("status", status["text"])
                    status.update(
                        text=text, content=f"<p>{text}</p>", edited_at=iso(datetime.now(UTC))
                    )
                    return Answer.json(200, status)
                return Answer.json(200, self.statuses[status_id])
            if path == "/api/v1/notifications" and method == "GET":
                return self._notifications(request)
        return Answer.json(404, {"error": "Record not found"})

    def _post(self, request: RecordedRequest, fields: dict[str, str]) -> Answer:
        data = (
            json.loads(request.body)
            if request.header("Content-Type").startswith("application/json")
            else None
        )
        text = str((data or {}).get("status", fields.get("status", "")))
        media_ids = (data or {}).get("media_ids") or [
            v for k, v in parse_qsl(request.body.decode(errors="replace")) if k == "media_ids[]"
        ]
        reply_to = (data or {}).get("in_reply_to_id") or fields.get("in_reply_to_id") or None
        if not text and not media_ids:
            return Answer.json(422, {"error": "Validation failed: Text can't be blank"})
        if reply_to and str(reply_to) not in self.statuses:
            return Answer.json(404, {"error": "Record not found"})
        media = [self.media[str(m)] for m in media_ids if str(m) in self.media]
        if len(media) != len(media_ids):
            return Answer.json(422, {"error": "Validation failed: Media attachments are invalid"})
        status = self.status(
            text,
            in_reply_to_id=str(reply_to) if reply_to else None,
            media=[{k: v for k, v in m.items() if k != "bytes"} for m in media],
        )
        self.statuses[status["id"]] = status
        return Answer.json(200, status)

    def _notifications(self, request: RecordedRequest) -> Answer:
        params = parse_qsl(request.query)
        types = [v for k, v in params if k in ("types[]", "types")]
        since = int(dict(params).get("since_id") or 0)
        found = [
            n
            for n in reversed(self.notifications)
            if int(n["id"]) > since and (not types or n["type"] in types)
        ]
        return Answer.json(200, found[: int(dict(params).get("limit") or 40)])


# --- Signed webhook -----------------------------------------------------------------------


class PartnerWebhook(WebhookReceiver):
    """A partner's endpoint that verifies each request's signature (see ``WebhookReceiver``),
    and can be told to fail its next request: 429 with ``Retry-After`` (rate_limit), 401
    (expired_token: the partner no longer knows our secret), 413 (media_rejected) or 503."""

    def __init__(self, secret: str = "partner-shared-secret") -> None:
        super().__init__(secret)
        self._failures: list[str] = []

    def fail_next(self, kind: str, *, path: str = "") -> None:
        if kind not in FAILURES:
            raise ValueError(f"Unknown failure {kind!r}; one of {FAILURES}.")
        with self.lock:
            self._failures.append(kind)

    def answer(self, request: RecordedRequest) -> Answer:
        with self.lock:
            kind = self._failures.pop(0) if self._failures else ""
        if kind == "rate_limit":
            return Answer(429, b"Slow down", {"Retry-After": "60"})
        if kind == "expired_token":
            return Answer(401, b"Unknown signing key", {"Content-Type": "text/plain"})
        if kind == "media_rejected":
            return Answer(413, b"Payload too large", {"Content-Type": "text/plain"})
        if kind == "server_error":
            return Answer(503, b"Service unavailable", {"Retry-After": "120"})
        return super().answer(request)


# --- Outlets pointing at them -------------------------------------------------------------


def credentials_for(network: str, server: Any) -> tuple[str, dict[str, str]]:
    """The account and credentials that ``server`` accepts."""
    if network == "facebook":
        return server.page_id, {
            "page_token": server.token,
            "app_id": "5550001",
            "app_secret": "app-secret",
        }
    if network == "x":
        creds = {
            "access_token": server.token,
            "refresh_token": server.refresh_token,
            "client_id": server.client_id,
        }
        if server.client_secret:
            creds["client_secret"] = server.client_secret
        return server.user_id, creds
    if network == "bluesky":
        return server.handle, {"app_password": server.password}
    if network == "mastodon":
        return f"{server.username}@{server.host}", {"access_token": server.token}
    if network == "webhook":
        return "Partner", {"secret": server.secret}
    raise ValueError(network)


def make_outlet(
    network: str, server: Any, *, user: Any = None, name: str = "", **fields: Any
) -> Any:
    """An enabled Outlet on ``network`` whose API is ``server``, with sealed credentials."""
    from tests.factories import StaffFactory
    from watchhouse.outlets.models import Outlet

    account, credentials = credentials_for(network, server)
    api_base = f"{server.url}/hook" if network == "webhook" else server.url
    return Outlet.objects.create(
        network=network,
        name=name or f"{network} {secrets.token_hex(3)}",
        api_base=api_base,
        account=fields.pop("account", account),
        credentials=seal_json(fields.pop("credentials", credentials)),
        created_by=user or StaffFactory(),
        **fields,
    )
