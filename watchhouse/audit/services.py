"""Writing to the audit log. Every service that changes or reads something sensitive calls
:func:`audit_record` inside its own transaction."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db import models, transaction
from django.utils import timezone

from watchhouse.audit.models import AuditChainHead, AuditEntry
from watchhouse.core.context import current_request

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

GENESIS_HASH = "0" * 64


class AuditOutsideTransactionError(RuntimeError):
    """An audit entry must be written in the same transaction as the change it records."""


def entry_digest(
    *,
    seq: int,
    created_at: datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    justification: str,
    request_id: str,
    source_ip: str | None,
    data: Any,
    prev_hash: str,
) -> str:
    """Return the SHA-256 (hex) that chains an entry to its predecessor."""
    canonical = json.dumps(
        [
            seq,
            created_at.astimezone(UTC).isoformat(timespec="microseconds"),
            actor_id,
            actor_label,
            action,
            object_type,
            object_id,
            justification,
            request_id,
            source_ip,
            data,
            prev_hash,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def audit_record(
    *,
    actor: User | None,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    justification: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the chain, in the caller's transaction.

    Writers queue on the chain head row, so the chain never forks however many write at once.
    """
    if not transaction.get_connection().in_atomic_block:
        raise AuditOutsideTransactionError(
            f"audit_record({action!r}) must run inside the transaction of the change it records."
        )
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    ctx = current_request()
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        head = AuditChainHead.objects.create(pk=1, seq=0, hash=GENESIS_HASH)
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    # Microsecond precision survives every database's round trip, so the digest re-computes.
    created_at = timezone.now().astimezone(UTC)
    payload = json.loads(json.dumps(data or {}, default=str))
    fields: dict[str, Any] = {
        "seq": head.seq + 1,
        "created_at": created_at,
        "actor_id": actor.pk if actor is not None else None,
        "actor_label": actor.get_username() if actor is not None else "system",
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "justification": justification,
        "request_id": ctx.request_id,
        "source_ip": ctx.source_ip,
        "data": payload,
        "prev_hash": head.hash,
    }
    digest = entry_digest(**fields)
    entry = AuditEntry.objects.create(hash=digest, **fields)
    AuditChainHead.objects.filter(pk=1).update(seq=entry.seq, hash=digest)
    return entry
