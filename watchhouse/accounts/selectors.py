"""Reading staff accounts."""

from __future__ import annotations

from django.db.models import QuerySet

from watchhouse.accounts.models import User


def staff_list() -> QuerySet[User]:
    """Staff members with their roles loaded."""
    return (
        User.objects.filter(is_staff=True).prefetch_related("role_assignments").order_by("username")
    )
