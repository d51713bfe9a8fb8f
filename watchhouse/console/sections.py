"""The console's sections, one per domain, each shown to the roles that may use it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from watchhouse.accounts.roles import Role
from watchhouse.alerts.policy import COMPOSER_ROLES

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class Section:
    title: StrOrPromise
    url_name: str
    roles: tuple[Role, ...]  # empty: every staff member
    summary: StrOrPromise


SECTIONS = (
    Section(
        _("Alerts"),
        "console:alerts",
        COMPOSER_ROLES,
        _("Write, approve, issue, update and cancel alerts; delivery reports."),
    ),
    Section(
        _("Posts"),
        "console:posts",
        (*COMPOSER_ROLES, Role.ADMIN),
        _("Write, review, schedule and publish posts; the media library."),
    ),
    Section(
        _("Tips"),
        "console:tips",
        (Role.INVESTIGATOR,),
        _("Tips from the public: triage, dialogue with tipsters, evidence and rewards."),
    ),
    Section(
        _("Officers"),
        "console:officers",
        (Role.ADMIN, Role.SUPERVISOR, Role.PIO),
        _("Officer profiles for the 'meet your officers' page; topics."),
    ),
    Section(
        _("Areas"),
        "console:areas",
        (),
        _("The jurisdiction's neighbourhoods, beats, districts and wards."),
    ),
    Section(_("Crime data"), "crimemap:console", (), _("Import formats and import reports.")),
    Section(
        _("Audit log"),
        "console:audit",
        (Role.SUPERVISOR, Role.ADMIN),
        _("Every sensitive read and write, hash-chained."),
    ),
    Section(
        _("Staff and roles"),
        "console:staff",
        (Role.ADMIN,),
        _("Staff accounts, roles and authenticators."),
    ),
    Section(
        _("My API tokens"),
        "console:tokens",
        (),
        _("Tokens for integrations that use the JSON API."),
    ),
)


def sections_for(user: object) -> list[Section]:
    """The sections ``user`` may open."""
    return [s for s in SECTIONS if not s.roles or user.has_any_role(*s.roles)]  # type: ignore[attr-defined]
