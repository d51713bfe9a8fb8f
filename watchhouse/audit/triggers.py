"""Database triggers that refuse UPDATE, DELETE and TRUNCATE on audit entries.

The hash chain detects tampering after the fact; the triggers stop casual changes before it.
Test databases are flushed between tests, so the suite installs them only where it tests them
(``WATCHHOUSE_AUDIT_TRIGGERS`` is off under test).
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

SQLITE = [
    """CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_auditentry
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
    """CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_auditentry
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_entry_no_update",
    "DROP TRIGGER IF EXISTS audit_entry_no_delete",
]
POSTGRESQL = [
    """CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit entries are append-only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER audit_entry_no_change BEFORE UPDATE OR DELETE ON audit_auditentry
       FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()""",
    """CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_auditentry
       FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_entry_no_change ON audit_auditentry",
    "DROP TRIGGER IF EXISTS audit_entry_no_truncate ON audit_auditentry",
    "DROP FUNCTION IF EXISTS audit_entry_append_only()",
]
STATEMENTS = {"sqlite": (SQLITE, SQLITE_REVERSE), "postgresql": (POSTGRESQL, POSTGRESQL_REVERSE)}


def install(connection: BaseDatabaseWrapper) -> None:
    """Create the triggers on ``connection`` (nothing on other database vendors)."""
    forward, _ = STATEMENTS.get(connection.vendor, ([], []))
    with connection.cursor() as cursor:
        for sql in forward:
            cursor.execute(sql)


def remove(connection: BaseDatabaseWrapper) -> None:
    """Drop the triggers from ``connection``."""
    _, reverse = STATEMENTS.get(connection.vendor, ([], []))
    with connection.cursor() as cursor:
        for sql in reverse:
            cursor.execute(sql)
