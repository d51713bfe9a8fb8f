"""The audit chain: append-only, hash-linked, verified by `watchhouse audit verify`."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from watchhouse.audit import triggers
from watchhouse.audit.models import AppendOnlyError, AuditEntry
from watchhouse.audit.selectors import audit_chain_verify
from watchhouse.audit.services import AuditOutsideTransactionError, audit_record

pytestmark = pytest.mark.django_db


def _write(n: int, actor=None) -> list[AuditEntry]:
    entries = []
    for i in range(n):
        with transaction.atomic():
            entries.append(
                audit_record(
                    actor=actor,
                    action="test.write",
                    object_type="thing",
                    object_id=i,
                    justification=f"reason {i}",
                    data={"n": i, "f": 0.1},
                )
            )
    return entries


def test_entries_chain_and_verify(make_staff):
    """Each entry points at the previous entry's hash, and the chain verifies."""
    actor = make_staff("supervisor")
    entries = _write(5, actor)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == "0" * 64
    for before, after in zip(entries, entries[1:], strict=False):
        assert after.prev_hash == before.hash
    report = audit_chain_verify()
    assert report.ok and report.checked == 5


@pytest.mark.django_db(transaction=True)
def test_record_refuses_outside_a_transaction():
    """An audit entry cannot be written apart from the change it records."""
    with pytest.raises(AuditOutsideTransactionError):
        audit_record(actor=None, action="test.write")
    assert AuditEntry.objects.count() == 0


def test_orm_refuses_update_and_delete():
    """No code path through the ORM changes or removes an entry."""
    entry = _write(1)[0]
    entry.action = "changed"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="changed")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.write"


def _table() -> str:
    return connection.ops.quote_name(AuditEntry._meta.db_table)


def test_tampered_row_is_named_by_verify(capsys):
    """Editing a row in the database behind the application's back is caught, and the
    command names the first broken entry and exits non-zero."""
    _write(6)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table()} SET justification = %s WHERE seq = %s", ["nothing to see", 4]
        )
    report = audit_chain_verify()
    assert not report.ok
    assert report.broken_seq == 4
    assert report.checked == 3
    with pytest.raises(CommandError, match=r"BROKEN at entry #4"):
        call_command("audit", "verify")


def test_removed_row_and_truncated_tail_are_caught():
    """Deleting an entry in the middle, or the newest ones, breaks the chain."""
    _write(5)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_table()} WHERE seq = 5")
    report = audit_chain_verify()
    assert not report.ok and "removed from the end" in report.reason
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_table()} WHERE seq = 2")
    report = audit_chain_verify()
    assert report.broken_seq == 2 and "missing" in report.reason


def test_verify_command_reports_intact_chain(capsys):
    _write(3)
    call_command("audit", "verify")
    assert "3 entries verified" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_database_triggers_refuse_changes():
    """With the production triggers installed, the database itself refuses UPDATE and DELETE."""
    triggers.install(connection)
    try:
        _write(2)
        for sql in (
            f"UPDATE {_table()} SET action = 'x' WHERE seq = 1",
            f"DELETE FROM {_table()} WHERE seq = 1",
        ):
            with (
                pytest.raises(Exception, match="append-only"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(sql)
        assert audit_chain_verify().ok
    finally:
        triggers.remove(connection)
