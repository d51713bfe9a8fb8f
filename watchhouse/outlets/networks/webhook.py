"""A partner's signed webhook: each publication, edit and retraction is one signed event.

The body is JSON::

    {"event": "published" | "updated" | "deleted" | "notice",
     "id": "<the copy's id at the partner>", "version": 1, "sent_at": "<ISO 8601>",
     "item": {"title", "summary", "text", "parts", "link", "hashtags", "language",
              "media": [{"kind", "url", "mime", "alt", "width", "height", "bytes"}]}}

signed exactly as alerts' webhooks are (:func:`watchhouse.notify.channels.webhook.webhook_sign`:
``X-Watchhouse-Timestamp`` and ``X-Watchhouse-Signature: v1=<hex HMAC-SHA256>``), with an
``Idempotency-Key`` that is the same for every attempt at one event. Media travel as their
public addresses on the department's site. Being events, an edit and a retraction are
always possible (``can_edit``/``can_delete`` True).
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from django.conf import settings

from watchhouse.notify.channels.base import AddressError, retry_after_seconds, url_check
from watchhouse.notify.channels.webhook import USER_AGENT, webhook_sign
from watchhouse.outlets.networks.base import (
    CheckResult,
    InboundData,
    OutletError,
    Published,
    Rendered,
)
from watchhouse.outlets.networks.registry import clip, http_call, status_error


def media_address(path: Path) -> str:
    """The public address of a file under MEDIA_ROOT."""
    from watchhouse.posts.public import absolute, media_url

    root = Path(settings.MEDIA_ROOT).resolve()
    return absolute(media_url(str(path.resolve().relative_to(root))))


class WebhookAdapter:
    network: ClassVar[str] = "webhook"
    can_edit: ClassVar[bool] = True
    can_delete: ClassVar[bool] = True

    def __init__(self, *, api_base: str, account: str, credentials: dict[str, Any]) -> None:
        self.url = api_base
        self.partner = account
        self.secret = str(credentials.get("secret", ""))
        self.refreshed_credentials: dict[str, Any] | None = None

    def _send(self, event: str, copy_id: str, payload: dict[str, Any]) -> None:
        try:
            url = url_check(self.url)
        except AddressError as exc:
            raise OutletError(f"Webhook URL refused: {exc}", kind="rejected") from exc
        if not self.secret:
            raise OutletError("The webhook has no signing secret.", kind="auth")
        body = json.dumps(
            {"event": event, "id": copy_id, "sent_at": datetime.now(UTC).isoformat(), **payload},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        version = payload.get("version", "")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": f"{copy_id}:{event}:{version}",
            **webhook_sign(self.secret, body, int(time.time())),
        }
        answer = http_call("POST", url, what="The webhook", data=body, headers=headers)
        if 200 <= answer.status < 300:
            return
        wait = retry_after_seconds(answer.headers.get("Retry-After"))
        raise status_error(
            answer.status,
            f"The webhook answered HTTP {answer.status}: {clip(answer.text, 200)}",
            retry_after=wait,
        )

    @staticmethod
    def _item(rendered: Rendered) -> dict[str, Any]:
        return {
            "title": rendered.title,
            "summary": rendered.summary,
            "text": "\n\n".join(rendered.parts),
            "parts": rendered.parts,
            "link": rendered.link,
            "hashtags": rendered.hashtags,
            "language": rendered.language,
            "media": [
                {
                    "kind": m.kind,
                    "url": media_address(m.path),
                    "mime": m.mime,
                    "alt": m.alt,
                    "width": m.width,
                    "height": m.height,
                    "bytes": m.bytes,
                }
                for m in rendered.media
            ],
        }

    def check(self) -> CheckResult:
        self._send("check", "check", {"version": secrets.token_hex(4)})
        return CheckResult(ok=True, message="The partner accepted a signed test event.")

    def publish(self, rendered: Rendered) -> Published:
        copy_id = f"wh-{secrets.token_hex(8)}"
        self._send("published", copy_id, {"version": 1, "item": self._item(rendered)})
        part = {"id": copy_id, "url": rendered.link, "kind": "post", "version": "1"}
        return Published(copy_id, rendered.link, [part])

    def update(self, parts: list[dict[str, str]], rendered: Rendered) -> Published:
        first = next((p for p in parts if p.get("kind") == "post"), None)
        if first is None:
            raise OutletError("There is no webhook copy to update.", kind="not_found")
        version = int(first.get("version") or 1) + 1
        self._send("updated", first["id"], {"version": version, "item": self._item(rendered)})
        part = {**first, "url": rendered.link, "version": str(version)}
        return Published(first["id"], rendered.link, [part])

    def delete(self, parts: list[dict[str, str]]) -> None:
        first = next((p for p in parts if p.get("kind") == "post"), None)
        if first is None:
            return
        self._send("deleted", first["id"], {"version": int(first.get("version") or 1) + 1})

    def notice(self, parts: list[dict[str, str]], text: str) -> dict[str, str]:
        first = next((p for p in parts if p.get("kind") == "post"), None)
        copy_id = first["id"] if first else f"wh-{secrets.token_hex(8)}"
        self._send("notice", copy_id, {"version": secrets.token_hex(4), "text": text})
        return {"id": f"{copy_id}-notice", "url": "", "kind": "notice"}

    def inbound(self, cursor: str, known_ids: list[str]) -> tuple[list[InboundData], str]:
        """A webhook only sends: nothing comes back this way."""
        return [], cursor
