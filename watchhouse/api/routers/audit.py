"""The audit log, for supervisors' tools."""

from datetime import datetime

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from watchhouse.accounts.roles import Role, require_role
from watchhouse.audit.models import AuditEntry
from watchhouse.audit.selectors import audit_chain_verify, audit_entry_list

router = Router(tags=["audit"])


class AuditEntryOut(Schema):
    seq: int
    created_at: datetime
    actor_label: str
    action: str
    object_type: str
    object_id: str
    justification: str
    request_id: str
    source_ip: str | None
    data: dict
    prev_hash: str
    hash: str


class AuditFilter(Schema):
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    since: datetime | None = None
    until: datetime | None = None


class ChainOut(Schema):
    ok: bool
    checked: int
    broken_seq: int | None
    reason: str


@router.get("/entries", response=list[AuditEntryOut], summary="Audit entries, newest first")
@paginate(LimitOffsetPagination)
def entries(request: HttpRequest, filters: Query[AuditFilter]) -> list[AuditEntry]:
    require_role(request.auth, Role.SUPERVISOR, Role.ADMIN, action="read the audit log")  # type: ignore[attr-defined]
    return audit_entry_list(**filters.dict())  # type: ignore[return-value]


@router.post("/verify", response=ChainOut, summary="Walk the hash chain")
def verify(request: HttpRequest) -> ChainOut:
    require_role(request.auth, Role.SUPERVISOR, Role.ADMIN, action="verify the audit log")  # type: ignore[attr-defined]
    report = audit_chain_verify()
    return ChainOut(
        ok=report.ok, checked=report.checked, broken_seq=report.broken_seq, reason=report.reason
    )
