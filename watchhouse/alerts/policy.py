"""Who may issue which category of alert, and which need a second person's approval.

One small table, so the policy can be read (and changed) in one place. Updates and
cancellations of an alert that has already gone out need no second approval: they only ever
correct or end what was approved, and an all-clear must not wait for a second person.
"""

from __future__ import annotations

from dataclasses import dataclass

from watchhouse.accounts.roles import Role
from watchhouse.alerts.models import Category


@dataclass(frozen=True)
class IssuePolicy:
    """Roles that may write and issue a category, and roles that approve it (none: no approval)."""

    issuers: tuple[Role, ...]
    approvers: tuple[Role, ...] = ()

    @property
    def needs_approval(self) -> bool:
        return bool(self.approvers)


POLICY: dict[str, IssuePolicy] = {
    Category.ALERT: IssuePolicy(
        issuers=(Role.DISPATCHER, Role.SUPERVISOR), approvers=(Role.SUPERVISOR,)
    ),
    Category.ADVISORY: IssuePolicy(issuers=(Role.DISPATCHER, Role.PIO, Role.SUPERVISOR)),
    Category.COMMUNITY: IssuePolicy(issuers=(Role.DISPATCHER, Role.PIO, Role.SUPERVISOR)),
    Category.TRAFFIC: IssuePolicy(issuers=(Role.DISPATCHER, Role.PIO, Role.SUPERVISOR)),
}

# Everyone who may write at least one category (the console section's roles).
COMPOSER_ROLES: tuple[Role, ...] = tuple(
    sorted({role for rule in POLICY.values() for role in rule.issuers})
)


def policy_for(category: str) -> IssuePolicy:
    """The rule of ``category``; raises KeyError for an unknown category."""
    return POLICY[category]
