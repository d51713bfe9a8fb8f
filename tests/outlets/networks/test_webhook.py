"""The signed webhook adapter against a partner's endpoint that verifies every request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.outlets.fakes import PartnerWebhook, make_outlet
from tests.outlets.networks.conftest import image_item, rendered
from watchhouse.notify.channels.webhook import webhook_verify
from watchhouse.outlets.networks.base import OutletError
from watchhouse.outlets.networks.registry import adapter_for
from watchhouse.outlets.networks.webhook import WebhookAdapter


@pytest.fixture
def partner() -> Any:
    with PartnerWebhook() as server:
        yield server


def adapter(partner: PartnerWebhook, secret: str = "") -> WebhookAdapter:
    return WebhookAdapter(
        api_base=f"{partner.url}/hook",
        account="Schools",
        credentials={"secret": secret or partner.secret},
    )


def test_publish_update_delete_are_signed_events(partner: PartnerWebhook, media_root: Path) -> None:
    hook = adapter(partner)
    photo = image_item(media_root, alt="Patrol car")
    published = hook.publish(rendered(["Road works"], media=[photo]))
    updated = hook.update(published.parts, rendered(["Road works, corrected"]))
    hook.delete(updated.parts)
    events = partner.payloads()
    assert [e["event"] for e in events] == ["published", "updated", "deleted"]
    assert {e["id"] for e in events} == {published.remote_id}
    assert [e["version"] for e in events] == [1, 2, 3]
    item = events[0]["item"]
    assert item["text"] == "Road works"
    assert item["link"] == published.remote_url
    assert item["media"] == [
        {
            "kind": "image",
            "url": "https://police.example.org/media/posts/photo.jpg",
            "mime": "image/jpeg",
            "alt": "Patrol car",
            "width": 640,
            "height": 480,
            "bytes": photo.bytes,
        }
    ]
    assert events[1]["item"]["text"] == "Road works, corrected"
    keys = [r.header("Idempotency-Key") for r in partner.accepted]
    assert keys == [
        f"{published.remote_id}:published:1",
        f"{published.remote_id}:updated:2",
        f"{published.remote_id}:deleted:3",
    ]
    for request in partner.accepted:  # the alerts' scheme, verifiable by the partner's code
        webhook_verify(partner.secret, request.body, request.headers)
    assert partner.rejected == []


@pytest.mark.django_db
def test_check_sends_a_signed_test_event(partner: PartnerWebhook) -> None:
    outlet = make_outlet("webhook", partner)
    result = adapter_for(outlet).check()
    assert result.ok
    assert partner.payloads()[0]["event"] == "check"


def test_a_wrong_secret_is_refused_as_auth(partner: PartnerWebhook) -> None:
    with pytest.raises(OutletError) as error:
        adapter(partner, secret="not-the-partners").publish(rendered(["Road works"]))
    assert (error.value.kind, error.value.retryable, error.value.status) == ("auth", False, 401)
    assert partner.accepted == []
    assert "signature does not match" in partner.rejected[0].reason


@pytest.mark.parametrize(
    ("failure", "kind", "retryable", "retry_after"),
    [
        ("rate_limit", "rate_limited", True, 60),
        ("expired_token", "auth", False, None),
        ("media_rejected", "media_rejected", False, None),
        ("server_error", "unavailable", True, 120),
    ],
)
def test_refusals(
    partner: PartnerWebhook, failure: str, kind: str, retryable: bool, retry_after: int | None
) -> None:
    partner.fail_next(failure)
    with pytest.raises(OutletError) as error:
        adapter(partner).publish(rendered(["Road works"]))
    assert (error.value.kind, error.value.retryable, error.value.retry_after) == (
        kind,
        retryable,
        retry_after,
    )


def test_nothing_comes_back_and_refused_urls(partner: PartnerWebhook) -> None:
    assert adapter(partner).inbound("c", ["x"]) == ([], "c")
    bad = WebhookAdapter(api_base="ftp://partner.test/", account="", credentials={"secret": "s"})
    with pytest.raises(OutletError, match="Only http and https"):
        bad.publish(rendered(["Road works"]))
    unsigned = WebhookAdapter(api_base=f"{partner.url}/hook", account="", credentials={})
    with pytest.raises(OutletError) as error:
        unsigned.publish(rendered(["Road works"]))
    assert error.value.kind == "auth"
