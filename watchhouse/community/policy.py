"""Who on the staff may do what with the community's conversation, members, polls and reports."""

from __future__ import annotations

from watchhouse.accounts.roles import Role

# Moderate comments and discussions, tune the profiling filter, reply as the agency.
MODERATOR_ROLES = (Role.PIO, Role.SUPERVISOR, Role.ADMIN)
# Verify residents' memberships and print postcards.
MEMBERSHIP_ROLES = (Role.PIO, Role.SUPERVISOR, Role.ADMIN)
# Create and close polls.
POLL_ROLES = (Role.PIO, Role.SUPERVISOR, Role.ADMIN)
# Triage community reports and issue Open311 API keys.
REPORT_ROLES = (Role.DISPATCHER, Role.PIO, Role.SUPERVISOR, Role.ADMIN)
# See the community figures page.
FIGURES_ROLES = (Role.PIO, Role.SUPERVISOR, Role.ADMIN)
