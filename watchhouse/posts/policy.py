"""Who may write, publish, approve and take down which kind of post.

One small table, so the policy can be read (and changed) in one place. The direct-publish
table can be changed per kind with the ``WATCHHOUSE_POSTS_DIRECT_PUBLISH`` setting (kind →
role names); kinds it leaves out keep the safe defaults below. A post whose author may not
publish it directly goes to review, and a reviewer never approves their own post.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from watchhouse.accounts.roles import Role
from watchhouse.posts.models import PostKind

# Everyone who may write posts of some kind (the console section's roles).
COMPOSER_ROLES: tuple[Role, ...] = (Role.PIO, Role.SUPERVISOR, Role.ADMIN, Role.DISPATCHER)
# Who approves posts sent to review (never their own).
APPROVER_ROLES: tuple[Role, ...] = (Role.SUPERVISOR, Role.ADMIN)
# Who keeps the officer profiles and topics.
PROFILE_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.SUPERVISOR, Role.PIO)

_WRITERS: tuple[Role, ...] = (Role.PIO, Role.SUPERVISOR, Role.ADMIN)
# A dispatcher on shift may write a quick update; it still goes through review.
_EXTRA_WRITERS: dict[str, tuple[Role, ...]] = {PostKind.UPDATE: (Role.DISPATCHER,)}
# Routine, low-risk kinds a PIO may publish alone; appeals, missing persons, articles,
# stories, video and podcasts name or show people and need a supervisor's approval.
_PIO_DIRECT = frozenset({PostKind.UPDATE, PostKind.SAFETY_TIP, PostKind.EVENT})
DEFAULT_DIRECT_PUBLISH: dict[str, tuple[Role, ...]] = {
    kind: (Role.SUPERVISOR, Role.ADMIN, *((Role.PIO,) if kind in _PIO_DIRECT else ()))
    for kind in PostKind.values
}


def writers(kind: str) -> tuple[Role, ...]:
    """Roles that may write and change posts of ``kind`` (before publication)."""
    _known(kind)
    return _WRITERS + _EXTRA_WRITERS.get(kind, ())


def direct_publishers(kind: str) -> tuple[Role, ...]:
    """Roles that may publish or schedule ``kind`` without review (and change, retract or
    archive it once public)."""
    _known(kind)
    configured = getattr(settings, "WATCHHOUSE_POSTS_DIRECT_PUBLISH", None) or {}
    if kind not in configured:
        return DEFAULT_DIRECT_PUBLISH[kind]
    roles = []
    for name in configured[kind]:
        if name not in Role.values:
            raise ImproperlyConfigured(
                f"WATCHHOUSE_POSTS_DIRECT_PUBLISH[{kind!r}] names an unknown role {name!r}."
            )
        roles.append(Role(name))
    return tuple(roles)


def publishers(kind: str) -> tuple[Role, ...]:
    """Roles that may change, retract or archive a public post of ``kind``: its direct
    publishers and the approvers."""
    return tuple(dict.fromkeys(direct_publishers(kind) + APPROVER_ROLES))


def needs_review(kind: str, roles: frozenset[str]) -> bool:
    """True when someone holding ``roles`` must send a ``kind`` post to review."""
    return not roles.intersection(direct_publishers(kind))


def _known(kind: str) -> None:
    if kind not in PostKind.values:
        raise KeyError(f"Unknown post kind {kind!r}.")
