"""The lifecycle of a post, as an explicit transition table.

draft → in review → scheduled → published → retracted or archived. An edit after publication
keeps the post published and sets :attr:`~watchhouse.posts.models.Post.edited_at` (the public
"updated" mark); it is not a state of its own.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from watchhouse.core.errors import IllegalTransitionError


class PostState(models.TextChoices):
    """Where a post is in its life."""

    DRAFT = "draft", _("Draft")
    REVIEW = "review", _("In review")
    SCHEDULED = "scheduled", _("Scheduled")
    PUBLISHED = "published", _("Published")
    RETRACTED = "retracted", _("Retracted")
    ARCHIVED = "archived", _("Archived")


TRANSITIONS: dict[str, frozenset[str]] = {
    # A draft goes to review, or straight to scheduled/published where policy lets its author.
    PostState.DRAFT: frozenset({PostState.REVIEW, PostState.SCHEDULED, PostState.PUBLISHED}),
    # A reviewer approves (scheduled or published) or returns it to its author.
    PostState.REVIEW: frozenset({PostState.DRAFT, PostState.SCHEDULED, PostState.PUBLISHED}),
    # The worker publishes it at its time; it can be taken back to draft before then.
    PostState.SCHEDULED: frozenset({PostState.PUBLISHED, PostState.DRAFT}),
    PostState.PUBLISHED: frozenset({PostState.RETRACTED, PostState.ARCHIVED}),
    # A retracted page stays up with its notice; it may still be archived later.
    PostState.RETRACTED: frozenset({PostState.ARCHIVED}),
    PostState.ARCHIVED: frozenset(),
}

# States whose page the public can open (a retracted post shows its retraction notice).
PUBLIC_STATES = frozenset({PostState.PUBLISHED, PostState.RETRACTED, PostState.ARCHIVED})
# States listed in the timeline and feeds.
LISTED_STATES = frozenset({PostState.PUBLISHED})


def check_transition(current: str, new: str) -> None:
    """Raise :class:`IllegalTransitionError` unless ``current → new`` is allowed."""
    if new not in TRANSITIONS[current]:
        raise IllegalTransitionError(
            f"A post cannot go from {PostState(current).label} to {PostState(new).label}."
        )
