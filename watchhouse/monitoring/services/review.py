"""An analyst's review of matched posts and stories, and marking lawful assemblies.

Nothing in the queue is acted on automatically: a person passes a post on (ACTIONED) or
dismisses it, and the record says who and when. A supervisor may mark a story a lawful
assembly; from then on its posts are counted and never shown with their authors or text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from watchhouse.accounts.roles import require_role
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring import policy
from watchhouse.monitoring.models import MatchedPost, ReviewState, Story

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

# Audit action of marking (or unmarking) a lawful assembly; policy.py does not name it.
ACTION_STORY_LAWFUL = "monitoring.story.lawful"

_DECIDED = (ReviewState.ACTIONED, ReviewState.DISMISSED)


def _decision(state: str) -> ReviewState:
    if state not in _DECIDED:
        raise InvalidInputError(_("A post is reviewed as passed on or dismissed."))
    return ReviewState(state)


def post_review(*, actor: User, post_id: int, state: str, note: str = "") -> MatchedPost:
    """Record an analyst's decision on a new matched post (passed on or dismissed)."""
    require_role(actor, *policy.ANALYST_ROLES, action="review matched posts")
    decision = _decision(state)
    with transaction.atomic():
        post = MatchedPost.objects.select_for_update().get(pk=post_id)
        if post.review != ReviewState.NEW:
            raise InvalidInputError(_("This post has already been reviewed."))
        post.review = decision
        post.reviewed_by = actor
        post.reviewed_at = timezone.now()
        post.save(update_fields=["review", "reviewed_by", "reviewed_at"])
        audit_record(
            actor=actor, action=policy.ACTION_REVIEW, obj=post, justification=note.strip(),
            data={"state": decision.value, "story": post.story_id},
        )  # fmt: skip
    return post


def story_review(*, actor: User, story_id: int, state: str, note: str = "") -> int:
    """Record one decision for every new post of a story at once; return how many changed."""
    require_role(actor, *policy.ANALYST_ROLES, action="review matched posts")
    decision = _decision(state)
    with transaction.atomic():
        story = Story.objects.select_for_update().get(pk=story_id)
        changed = MatchedPost.objects.filter(story=story, review=ReviewState.NEW).update(
            review=decision, reviewed_by=actor, reviewed_at=timezone.now()
        )
        audit_record(
            actor=actor, action=policy.ACTION_REVIEW, obj=story, justification=note.strip(),
            data={"state": decision.value, "posts": changed},
        )  # fmt: skip
    return changed


def story_mark_lawful_assembly(*, actor: User, story_id: int, lawful: bool = True) -> Story:
    """Mark (or unmark) a story as a lawful assembly: a supervisor's decision, audited.

    While marked, selectors give its posts as counts only, never authors or text.
    """
    require_role(actor, *policy.SUPERVISOR_ROLES, action="mark lawful assemblies")
    with transaction.atomic():
        story = Story.objects.select_for_update().get(pk=story_id)
        if story.lawful_assembly == lawful:
            return story
        story.lawful_assembly = lawful
        story.lawful_assembly_by = actor if lawful else None
        story.save(update_fields=["lawful_assembly", "lawful_assembly_by"])
        audit_record(
            actor=actor, action=ACTION_STORY_LAWFUL, obj=story,
            data={"lawful_assembly": lawful, "posts": story.post_count},
        )  # fmt: skip
    return story
