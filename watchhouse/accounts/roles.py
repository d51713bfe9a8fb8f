"""Staff roles and the permission check every service uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from watchhouse.core.errors import NotPermittedError

if TYPE_CHECKING:
    from watchhouse.accounts.models import User


class Role(models.TextChoices):
    """What a staff member does; a member may hold several."""

    ADMIN = "admin", _("Administrator")
    SUPERVISOR = "supervisor", _("Supervisor")
    PIO = "pio", _("Public information officer")
    DISPATCHER = "dispatcher", _("Dispatcher")
    ANALYST = "analyst", _("Analyst")
    INVESTIGATOR = "investigator", _("Investigator")


def second_factor_ok(user: object) -> bool:
    """True when MFA is not required, or this session confirmed an authenticator code."""
    if not settings.WATCHHOUSE_MFA_REQUIRED:
        return True
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


def require_role(actor: User | None, *roles: Role, action: str = "do this") -> None:
    """Raise :class:`NotPermittedError` unless ``actor`` is active staff with one of ``roles``."""
    if actor is None or not actor.is_active or not actor.is_staff:
        raise NotPermittedError(f"Only active staff may {action}.")
    if not actor.has_any_role(*roles):
        names = ", ".join(str(Role(r).label) for r in roles)
        raise NotPermittedError(f"You need one of these roles to {action}: {names}.")
