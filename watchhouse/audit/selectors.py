"""Reading the audit log: listing for supervisors and verifying the chain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from watchhouse.audit.models import AuditChainHead, AuditEntry
from watchhouse.audit.services import GENESIS_HASH, entry_digest


def audit_entry_list(
    *,
    actor: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    text: str = "",
) -> QuerySet[AuditEntry]:
    """Entries, newest first, filtered by any of the given fields."""
    entries = AuditEntry.objects.select_related("actor").order_by("-seq")
    if actor:
        entries = entries.filter(actor_label__iexact=actor)
    if action:
        entries = entries.filter(action__startswith=action)
    if object_type:
        entries = entries.filter(object_type=object_type)
    if object_id:
        entries = entries.filter(object_id=object_id)
    if since:
        entries = entries.filter(created_at__gte=since)
    if until:
        entries = entries.filter(created_at__lt=until)
    if text:
        entries = entries.filter(Q(justification__icontains=text) | Q(action__icontains=text))
    return entries


@dataclass(frozen=True)
class ChainReport:
    """The result of walking the chain: how many entries held, and the first broken one."""

    checked: int
    broken_seq: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def audit_chain_verify() -> ChainReport:
    """Walk every entry in order and name the first that does not chain to its predecessor."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
        if entry.seq != expected_seq:
            return ChainReport(
                checked,
                expected_seq,
                f"entry #{expected_seq} is missing (the next entry is #{entry.seq})",
            )
        if entry.prev_hash != expected_prev:
            return ChainReport(
                checked,
                entry.seq,
                f"entry #{entry.seq} does not point at the hash of entry #{entry.seq - 1}",
            )
        digest = entry_digest(
            seq=entry.seq,
            created_at=entry.created_at,
            actor_id=entry.actor_id,
            actor_label=entry.actor_label,
            action=entry.action,
            object_type=entry.object_type,
            object_id=entry.object_id,
            justification=entry.justification,
            request_id=entry.request_id,
            source_ip=entry.source_ip,
            data=entry.data,
            prev_hash=entry.prev_hash,
        )
        if digest != entry.hash:
            return ChainReport(
                checked,
                entry.seq,
                f"entry #{entry.seq} ({entry.action} by {entry.actor_label}) was altered: "
                "its contents no longer match its hash",
            )
        expected_prev = entry.hash
        expected_seq += 1
        checked += 1
    head = AuditChainHead.objects.filter(pk=1).first()
    head_seq = head.seq if head else 0
    if head_seq != checked or (head and head.hash != expected_prev):
        return ChainReport(
            checked,
            checked + 1 if head_seq > checked else head_seq,
            f"the chain ends at entry #{checked} but its head records #{head_seq}: "
            "entries were removed from the end",
        )
    return ChainReport(checked)
