"""The console's sections, one per domain, each shown to the roles that may use it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from watchhouse.accounts.roles import Role
from watchhouse.alerts.policy import COMPOSER_ROLES
from watchhouse.community.policy import FIGURES_ROLES as COMMUNITY_FIGURES_ROLES
from watchhouse.community.policy import MEMBERSHIP_ROLES
from watchhouse.community.policy import MODERATOR_ROLES as COMMUNITY_MODERATOR_ROLES
from watchhouse.community.policy import POLL_ROLES as COMMUNITY_POLL_ROLES
from watchhouse.community.policy import REPORT_ROLES as COMMUNITY_REPORT_ROLES
from watchhouse.monitoring.policy import CASE_ROLES
from watchhouse.monitoring.policy import CONSOLE_ROLES as MONITORING_ROLES
from watchhouse.outlets.policy import CONSOLE_ROLES as OUTLET_ROLES
from watchhouse.rumors.policy import RUMOR_ROLES

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
        _("Residents"),
        "console:community_members",
        MEMBERSHIP_ROLES,
        _("Verify residents who joined a neighbourhood: postcards with codes, approvals."),
    ),
    Section(
        _("Rumor control"),
        "console:rumors",
        RUMOR_ROLES,
        _("Track rumors with their evidence, answer them in public, publish corrections."),
    ),
    Section(
        _("Outlets"),
        "console:outlets",
        OUTLET_ROLES,
        _("Cross-posting to other networks, copies of posts and alerts, the inbox, the fediverse."),
    ),
    Section(
        _("Monitoring"),
        "console:monitoring",
        MONITORING_ROLES,
        _(
            "Public posts about emergencies: the live review queue with the reason for each match, "
            "stories, watch rules, sources, landmarks and approvals."
        ),
    ),
    Section(
        _("Investigation cases"),
        "console:monitoring_cases",
        CASE_ROLES,
        _(
            "Case workspaces behind the purpose gate: named accounts' public posts on a timeline "
            "and a map, witness searches, preserved evidence, dissemination log."
        ),
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
    Section(
        _("Community moderation"),
        "console:community_moderation",
        COMMUNITY_MODERATOR_ROLES,
        _("Residents' comments and discussions: flags, hide, restore, replies, profiling filter."),
    ),
    Section(
        _("Polls"),
        "console:community_polls",
        COMMUNITY_POLL_ROLES,
        _("Polls for a neighbourhood or the whole city: create, close, results, CSV."),
    ),
    Section(
        _("Community reports"),
        "console:community_reports",
        COMMUNITY_REPORT_ROLES,
        _("Non-emergency reports (web form and Open311): triage, status updates, API keys."),
    ),
    Section(
        _("Community figures"),
        "console:community_figures",
        COMMUNITY_FIGURES_ROLES,
        _("Views, comments, flags, moderation, reply times, rumors and reports."),
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
