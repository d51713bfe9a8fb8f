"""Re-encrypting every sealed tip value under the newest key, while the site keeps running.

Readers decrypt with any configured key, so rotation needs no downtime: put the new key first
in ``WATCHHOUSE_ENCRYPTION_KEYS`` (keeping the old ones), run ``watchhouse tips rotate-keys``, check
with ``watchhouse tips check-keys``, then drop the old keys. Each batch of rows is re-sealed in
its own short transaction with the rows locked, so a concurrent write is never lost and no
table is locked for long. Files are never rewritten: only their wrapped data keys change.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import models, transaction

from watchhouse.audit.services import audit_record
from watchhouse.core import crypto
from watchhouse.tips.models import Tip, TipFile, TipMessage

# Every sealed column, per model.
SEALED_FIELDS: tuple[tuple[type[models.Model], tuple[str, ...]], ...] = (
    (Tip, ("content", "contact")),
    (TipMessage, ("body",)),
    (TipFile, ("name", "metadata", "wrapped_key", "preview_key")),
)


class Progress(Protocol):
    """Where progress lines go (a command's stdout)."""

    def write(self, msg: str, /) -> Any: ...


@dataclass
class RotationReport:
    """Values re-encrypted (``changed``) and already under the newest key (``current``), per
    ``<model>.<field>``."""

    changed: Counter[str] = field(default_factory=Counter)
    current: Counter[str] = field(default_factory=Counter)

    @property
    def total_changed(self) -> int:
        return sum(self.changed.values())

    @property
    def total_current(self) -> int:
        return sum(self.current.values())


def _label(model: type[models.Model], name: str) -> str:
    return f"{model.__name__}.{name}"


def _batch_reseal(
    model: type[models.Model], names: tuple[str, ...], ids: list[int], report: RotationReport
) -> None:
    with transaction.atomic():
        rows = list(model._default_manager.select_for_update().filter(pk__in=ids).order_by("pk"))
        changed_rows = []
        for row in rows:
            touched = []
            for name in names:
                token, changed = crypto.reseal(getattr(row, name))
                if changed:
                    setattr(row, name, token)
                    touched.append(name)
                    report.changed[_label(model, name)] += 1
                elif getattr(row, name):
                    report.current[_label(model, name)] += 1
            if touched:
                changed_rows.append(row)
        if changed_rows:
            model._default_manager.bulk_update(changed_rows, list(names))


def keys_rotate(*, batch: int = 500, stdout: Progress | None = None) -> RotationReport:
    """Re-encrypt every sealed tip value under the newest key; return what was done.

    Runs in batches of ``batch`` rows by primary key, each in its own transaction with its rows
    locked; values already under the newest key are left as they are, so an interrupted run
    can simply be run again. One ``tips.keys_rotated`` audit entry records the counts.
    """
    batch = max(1, batch)
    report = RotationReport()
    for model, names in SEALED_FIELDS:
        last = 0
        while True:
            ids = list(
                model._default_manager.filter(pk__gt=last)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                break
            _batch_reseal(model, names, ids, report)
            last = ids[-1]
            if stdout is not None:
                stdout.write(f"{model.__name__}: up to #{last} done\n")
    with transaction.atomic():
        audit_record(
            actor=None,
            action="tips.keys_rotated",
            object_type="tips.key",
            data={"changed": dict(report.changed), "current": dict(report.current)},
        )
    return report


def keys_check() -> dict[str, Any]:
    """How many sealed values are not under the newest key, per ``<model>.<field>``, and in
    all (``total``)."""
    stale: dict[str, Any] = {}
    for model, names in SEALED_FIELDS:
        for name in names:
            count = 0
            tokens = model._default_manager.exclude(**{name: ""}).values_list(name, flat=True)
            for token in tokens.iterator(chunk_size=2000):
                if not crypto.under_newest_key(token):
                    count += 1
            stale[_label(model, name)] = count
    stale["total"] = sum(stale.values())
    return stale
