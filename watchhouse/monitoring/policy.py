"""Who may do what in monitoring (checked in the services)."""

from __future__ import annotations

from watchhouse.accounts.roles import Role

# Watch rules, sources, landmarks and the review queue.
ANALYST_ROLES = (Role.ANALYST, Role.SUPERVISOR)
# Case workspaces: person-centred work.
INVESTIGATOR_ROLES = (Role.INVESTIGATOR,)
# Case workspaces: who may open one and who may decide on one.
CASE_ROLES = (Role.INVESTIGATOR, Role.SUPERVISOR)
# Opening cases, second-person approvals, overrides on protected activity, lawful assemblies.
SUPERVISOR_ROLES = (Role.SUPERVISOR,)
# Everyone who sees any part of the monitoring console.
CONSOLE_ROLES = (Role.ANALYST, Role.INVESTIGATOR, Role.SUPERVISOR)

# Audit actions, counted month by month on the public transparency page.
ACTION_RULE_CREATE = "monitoring.rule.create"
ACTION_RULE_REFUSE = "monitoring.rule.refuse"
ACTION_RULE_OVERRIDE = "monitoring.rule.override"
ACTION_CASE_REQUEST = "monitoring.case.request"
ACTION_CASE_APPROVE = "monitoring.case.approve"
ACTION_CASE_REFUSE = "monitoring.case.refuse"
ACTION_CASE_VIEW = "monitoring.case.view"
ACTION_CASE_CLOSE = "monitoring.case.close"
ACTION_CASE_PURGE = "monitoring.case.purge"
ACTION_SEARCH = "monitoring.search"  # every person-centred search or collection
ACTION_APPROVAL_REQUEST = "monitoring.approval.request"
ACTION_APPROVAL_APPROVE = "monitoring.approval.approve"
ACTION_APPROVAL_REFUSE = "monitoring.approval.refuse"
ACTION_EXPORT = "monitoring.export"
ACTION_EVIDENCE = "monitoring.evidence.preserve"
ACTION_REVIEW = "monitoring.match.review"
ACTION_REFUSED_INPUT = "monitoring.refused"  # a refused request (protected term, too broad)
