"""Who may do what with tips.

Reading a tip (its text, contact details, dialogue or files) needs the investigator role and a
session confirmed with the second factor; every read is audited. Supervisors may approve and
pay rewards, which never shows them who the tipster is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchhouse.accounts.roles import Role, require_role, second_factor_ok
from watchhouse.core.errors import NotPermittedError

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

# Roles that work tips.
TIP_ROLES = (Role.INVESTIGATOR,)
# Roles that approve and pay rewards.
REWARD_ROLES = (Role.SUPERVISOR, Role.INVESTIGATOR)


def require_investigator(actor: User | None, *, action: str = "work tips") -> None:
    """Raise :class:`NotPermittedError` unless ``actor`` is an investigator in a session
    confirmed with the second factor."""
    require_role(actor, *TIP_ROLES, action=action)
    if not second_factor_ok(actor):
        raise NotPermittedError(
            f"Confirm your authenticator code before you {action}: tips are read only in "
            "sessions signed in with the second factor."
        )
