"""Processing a tip file in the worker (metadata record, stripped preview)."""

from __future__ import annotations


def tip_file_process(*, file_id: int) -> str:
    raise NotImplementedError
