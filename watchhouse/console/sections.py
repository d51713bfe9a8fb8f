"""The console's sections, one per domain, each shown to the roles that may use it."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from watchhouse.accounts.roles import Role


@dataclass(frozen=True)
class Section:
    title: str
    url_name: str
    roles: tuple[Role, ...]  # empty: every staff member
    summary: str


SECTIONS = (
    Section(
        str(_("Areas")),
        "console:areas",
        (),
        str(_("The jurisdiction's neighbourhoods, beats, districts and wards.")),
    ),
    Section(
        str(_("Audit log")),
        "console:audit",
        (Role.SUPERVISOR, Role.ADMIN),
        str(_("Every sensitive read and write, hash-chained.")),
    ),
    Section(
        str(_("Staff and roles")),
        "console:staff",
        (Role.ADMIN,),
        str(_("Staff accounts, roles and authenticators.")),
    ),
    Section(
        str(_("My API tokens")),
        "console:tokens",
        (),
        str(_("Tokens for integrations that use the JSON API.")),
    ),
)


def sections_for(user: object) -> list[Section]:
    """The sections ``user`` may open."""
    return [s for s in SECTIONS if not s.roles or user.has_any_role(*s.roles)]  # type: ignore[attr-defined]
