"""The outlets' inbox as a source: replies and mentions (InboundItem rows) since the cursor
become posts; items deleted by their authors are passed over."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.monitoring.connectors.conftest import source_row
from watchhouse.monitoring.connectors.inbox import InboxConnector
from watchhouse.monitoring.models import SourceKind
from watchhouse.outlets.models import InboundItem, InboundKind, Network

pytestmark = pytest.mark.django_db


def _item(remote_id: str, text: str, **extra: Any) -> InboundItem:
    return InboundItem.objects.create(
        network=Network.ACTIVITYPUB, remote_id=remote_id, kind=InboundKind.MENTION,
        author_handle="ann@social.example", author_name="Ann", text=text,
        url=f"https://social.example/@ann/{remote_id}", **extra,
    )  # fmt: skip


def test_inbound_items_since_the_cursor(analyst: Any) -> None:
    """Each new reply or mention is read once, as a post of the inbox source."""
    source = source_row(SourceKind.INBOX, {}, analyst)
    first = _item("1", "@police there is smoke on Elm St",
                  published_at=datetime(2026, 11, 29, 8, tzinfo=UTC))  # fmt: skip
    _item("2", "deleted later", deleted_remotely_at=datetime(2026, 11, 29, 9, tzinfo=UTC))
    last = _item("3", "@police thanks")
    connector = InboxConnector(source)
    [batch] = list(connector.read("", stop=threading.Event()))
    assert [p.text for p in batch.posts] == ["@police there is smoke on Elm St", "@police thanks"]
    post = batch.posts[0]
    assert post.source == "inbox" and post.remote_id == "activitypub:1"
    assert post.author_handle == "ann@social.example" and post.author_name == "Ann"
    assert post.posted_at == first.published_at
    assert post.url == "https://social.example/@ann/1"
    assert batch.cursor == str(last.pk)
    assert list(connector.read(batch.cursor, stop=threading.Event())) == []
    _item("4", "another")
    [again] = list(connector.read(batch.cursor, stop=threading.Event()))
    assert [p.text for p in again.posts] == ["another"]
