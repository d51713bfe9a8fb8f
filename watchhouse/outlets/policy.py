"""Who may manage outlets, send and take down copies, and read what comes back.

Outlets hold the department's accounts on other networks, so only administrators add,
change, check or switch them. A post's copies follow the post: whoever may change, retract
or archive the post (:func:`watchhouse.posts.policy.publishers`) may retry or take down its
copies; an alert's copies follow the alert's issuers. The inbox of replies and mentions is
read by the people who answer the public.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchhouse.accounts.roles import Role
from watchhouse.alerts.policy import policy_for
from watchhouse.posts import policy as posts_policy

if TYPE_CHECKING:
    from watchhouse.outlets.models import RemoteCopy

# Who adds, changes, checks, enables and disables outlets (they hold the credentials).
MANAGER_ROLES: tuple[Role, ...] = (Role.ADMIN,)
# Who reads the inbox of replies, comments and mentions from every network.
INBOX_ROLES: tuple[Role, ...] = (Role.PIO, Role.SUPERVISOR, Role.ADMIN)
# Who opens the console's outlets section (the list, copies, inbox, fediverse panel).
CONSOLE_ROLES: tuple[Role, ...] = tuple(dict.fromkeys((*INBOX_ROLES, *MANAGER_ROLES)))


def post_copy_roles(kind: str) -> tuple[Role, ...]:
    """Roles that may retry or take down the copies of a post of ``kind``."""
    return posts_policy.publishers(kind)


def alert_copy_roles(category: str) -> tuple[Role, ...]:
    """Roles that may retry the copies of an alert of ``category``."""
    return tuple(dict.fromkeys(policy_for(category).issuers + (Role.ADMIN,)))


def copy_roles(copy: RemoteCopy) -> tuple[Role, ...]:
    """Roles that may act on ``copy``: those who may act on what it is a copy of."""
    if copy.post is not None:
        return post_copy_roles(copy.post.kind)
    assert copy.alert is not None  # noqa: S101 - a copy is of a post or of an alert
    return alert_copy_roles(copy.alert.category)
