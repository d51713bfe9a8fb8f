"""SMS and e-mail tips."""

from __future__ import annotations


def tip_message_deliver(*, message_id: int) -> str:
    raise NotImplementedError
