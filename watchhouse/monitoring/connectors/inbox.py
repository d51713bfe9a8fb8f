"""The outlets' inbox: replies and mentions people sent the department, read into the stream.

These already reached the department (addressed to it on the fediverse or on an outlet), so
reading them needs no further terms. The cursor is the id of the last
:class:`~watchhouse.outlets.models.InboundItem` read.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, ClassVar

from watchhouse.monitoring.connectors.base import Batch, Connector
from watchhouse.monitoring.models import SourceKind
from watchhouse.monitoring.posts import PublicPost
from watchhouse.outlets.models import InboundItem

BATCH_ROWS = 500


def inbound_post(item: InboundItem) -> PublicPost:
    return PublicPost(
        source=SourceKind.INBOX,
        remote_id=f"{item.network}:{item.remote_id}"[:500],
        text=item.text,
        posted_at=item.published_at or item.received_at,
        author_handle=item.author_handle,
        author_name=item.author_name,
        url=item.url or item.author_url,
        raw={"inbound_id": item.pk, "kind": item.kind, "network": item.network},
    )


class InboxConnector(Connector):
    kind: ClassVar[str] = SourceKind.INBOX
    terms: ClassVar[str] = (
        "The outlets' inbox: replies and mentions sent to the department's own accounts; "
        "nothing is fetched from any platform."
    )

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        return {}

    def read(self, cursor: str, *, stop: threading.Event) -> Iterator[Batch]:
        last = int(cursor) if cursor.isdigit() else 0
        while not stop.is_set():
            items = list(
                InboundItem.objects.filter(pk__gt=last, deleted_remotely_at__isnull=True).order_by(
                    "pk"
                )[:BATCH_ROWS]
            )
            if not items:
                return
            batch = Batch([], str(items[-1].pk))
            for item in items:
                post = inbound_post(item)
                if not post.text.strip():
                    batch.refuse("malformed")
                elif self.keep(post, batch):
                    batch.posts.append(post)
            last = items[-1].pk
            yield batch
            if len(items) < BATCH_ROWS:
                return
