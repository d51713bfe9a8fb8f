"""Who on the staff may track rumors and publish corrections."""

from __future__ import annotations

from watchhouse.accounts.roles import Role

# Open, update and decide rumors, add evidence.
RUMOR_ROLES = (Role.PIO, Role.SUPERVISOR, Role.ADMIN, Role.DISPATCHER)
# Publish the public answer and a correction post (which goes out on every channel).
ANSWER_ROLES = (Role.PIO, Role.SUPERVISOR, Role.ADMIN)
