"""Configuring the sources the stream reads.

Each source's config is checked by its connector (which also refuses platforms whose terms
forbid collection: such a refusal is audited, and counted on the transparency page). A
fediverse source's accounts and relays are followed, after commit, by the department's own
named actor; those removed from it (or all, when it is switched off) are unfollowed.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from watchhouse.accounts.models import User
from watchhouse.accounts.roles import require_role
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring import policy
from watchhouse.monitoring.connectors.base import forbidden_hosts_in
from watchhouse.monitoring.connectors.registry import connector_class
from watchhouse.monitoring.models import Source, SourceKind

# Audit actions of this module (beside those in policy.py).
ACTION_SOURCE_CREATE = "monitoring.source.create"
ACTION_SOURCE_UPDATE = "monitoring.source.update"


def _validated(*, actor: User, kind: str, name: str, config: dict[str, Any]) -> dict[str, Any]:
    """The config as the connector cleans it; a refusal of a forbidden platform is audited
    in its own transaction before it is raised."""
    try:
        return connector_class(kind).validate_config(dict(config or {}))
    except InvalidInputError as error:
        forbidden = forbidden_hosts_in(config)
        if forbidden:
            with transaction.atomic():
                audit_record(
                    actor=actor, action=policy.ACTION_REFUSED_INPUT,
                    object_type="monitoring.source",
                    data={"what": "source", "kind": kind, "name": name, "platforms": forbidden,
                          "reason": str(error)},
                )  # fmt: skip
        raise


def _follow_after_commit(source_id: int) -> None:
    from watchhouse.monitoring.connectors.fediverse import following_sync

    def sync() -> None:
        following_sync(Source.objects.get(pk=source_id))

    transaction.on_commit(sync)


def source_create(*, actor: User, kind: str, name: str, config: dict[str, Any]) -> Source:
    """Add a source (analysts and supervisors); a fediverse source sends its Follows after
    commit."""
    require_role(actor, *policy.ANALYST_ROLES, action="configure monitoring sources")
    name = name.strip()
    if not name:
        raise InvalidInputError(_("The source needs a name."))
    if kind not in SourceKind.values:
        raise InvalidInputError(_("Unknown kind of source: %(k)s") % {"k": kind})
    cleaned = _validated(actor=actor, kind=kind, name=name, config=config)
    with transaction.atomic():
        if Source.objects.filter(name=name).exists():
            raise InvalidInputError(_("A source named %(n)s exists already.") % {"n": name})
        source = Source.objects.create(kind=kind, name=name[:100], config=cleaned, created_by=actor)
        audit_record(
            actor=actor, action=ACTION_SOURCE_CREATE, obj=source,
            data={"kind": kind, "name": source.name, "config": cleaned,
                  "terms": connector_class(kind).terms},
        )  # fmt: skip
        if kind == SourceKind.FEDIVERSE:
            _follow_after_commit(source.pk)
    return source


def source_update(
    *, actor: User, source_id: int, enabled: bool | None = None,
    config: dict[str, Any] | None = None,
) -> Source:  # fmt: skip
    """Switch a source on or off and/or replace its config; a fediverse source follows what
    was added and unfollows what was removed (everything, when switched off) after commit."""
    require_role(actor, *policy.ANALYST_ROLES, action="configure monitoring sources")
    with transaction.atomic():
        source = Source.objects.select_for_update().filter(pk=source_id).first()
        if source is None:
            raise InvalidInputError(_("There is no such source."))
        before = {"enabled": source.enabled, "config": source.config}
        if config is not None:
            source.config = _validated(
                actor=actor, kind=source.kind, name=source.name, config=config
            )
        if enabled is not None:
            source.enabled = bool(enabled)
        source.save(update_fields=["config", "enabled"])
        audit_record(
            actor=actor, action=ACTION_SOURCE_UPDATE, obj=source,
            data={"before": before, "after": {"enabled": source.enabled, "config": source.config}},
        )  # fmt: skip
        if source.kind == SourceKind.FEDIVERSE:
            _follow_after_commit(source.pk)
    return source
