"""Residents talking with neighbours and the department: comments on agency posts and in
discussions, discussions of a neighbourhood, the agency's replies, and residents' flags.

Only verified members take part (readers may read everything visible): in a discussion, members
of its neighbourhood; on an agency post, members of one of the post's neighbourhoods, or any
verified resident when the post is for the whole city. A resident posts at most
``WATCHHOUSE_COMMUNITY_POSTS_PER_HOUR`` comments and discussions an hour. Enough flags from
different residents hide an item until a moderator reviews it.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from watchhouse.accounts.models import User
from watchhouse.accounts.roles import require_role
from watchhouse.audit.services import audit_record
from watchhouse.community import text
from watchhouse.community.auth import verified_area_ids
from watchhouse.community.models import (
    Comment,
    Discussion,
    DiscussionKind,
    Flag,
    ModerationAction,
    ModerationDecision,
    ModerationReason,
    Resident,
    Visibility,
)
from watchhouse.community.policy import MODERATOR_ROLES
from watchhouse.community.selectors.conversation import (
    comment_list_for_post as comment_list_for_post,  # the interface other apps call
)
from watchhouse.community.selectors.conversation import flags_since_review
from watchhouse.core import pagecache
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.geo.models import Area
from watchhouse.posts.models import Post
from watchhouse.posts.states import PostState

Item = Comment | Discussion


def public_changed(item: Item) -> None:
    """Retire the cached public pages that show ``item`` once the transaction commits."""
    if isinstance(item, Comment) and item.post_id is not None:
        pagecache.pages_changed("posts")
    else:
        # Discussions (and their comment counts) show on the neighbourhood's area page.
        pagecache.pages_changed("community")


def may_take_part(
    resident: Resident | None, *, post: Post | None = None, discussion: Discussion | None = None
) -> bool:
    """Whether ``resident`` may comment on (and flag in) the post or discussion."""
    mine = set(verified_area_ids(resident))
    if not mine:
        return False
    if discussion is not None:
        return discussion.area_id in mine
    if post is not None:
        areas = {a.pk for a in post.areas.all()}
        return not areas or bool(areas & mine)
    return False


def _not_flooding(resident: Resident) -> None:
    since = timezone.now() - timedelta(hours=1)
    written = (
        Comment.objects.filter(author=resident, created_at__gte=since).count()
        + Discussion.objects.filter(author=resident, created_at__gte=since).count()
    )
    if written >= settings.WATCHHOUSE_COMMUNITY_POSTS_PER_HOUR:
        raise InvalidInputError(
            _(
                "You have posted %(count)d times in the last hour, the most allowed. "
                "Please wait a while before posting again."
            )
            % {"count": written}
        )


def _no_profiling(*values: str, person_description: str = "") -> None:
    found: list[str] = []
    for value in values:
        found += [t for t in text.profiling_terms_found(value) if t not in found]
    for term in text.profiling_terms_found(person_description, describes_person=True):
        if term not in found:
            found.append(term)
    if found:
        raise InvalidInputError(
            _(
                "Please do not describe a person by race or ethnicity (%(terms)s). "
                "Describe what they did, what they wore and which way they went instead: "
                "that is what helps neighbours and officers recognise a situation."
            )
            % {"terms": ", ".join(f"“{t}”" for t in found)}
        )


def _target(
    post: Post | None, discussion: Discussion | None
) -> tuple[Post | None, Discussion | None]:
    if (post is None) == (discussion is None):
        raise InvalidInputError(_("A comment belongs to one post or one discussion."))
    if post is not None and post.state != PostState.PUBLISHED:
        raise InvalidInputError(_("This post no longer takes comments."))
    if discussion is not None and discussion.visibility != Visibility.VISIBLE:
        raise InvalidInputError(_("This discussion is hidden and takes no comments."))
    return post, discussion


def _check_parent(parent: Comment | None, post: Post | None, discussion: Discussion | None) -> None:
    if parent is None:
        return
    same = (post is not None and parent.post_id == post.pk) or (
        discussion is not None and parent.discussion_id == discussion.pk
    )
    if not same:
        raise InvalidInputError(_("The comment replied to is not in this conversation."))
    if parent.visibility != Visibility.VISIBLE:
        raise InvalidInputError(_("The comment replied to is hidden."))


def comment_create(
    *,
    resident: Resident,
    post: Post | None = None,
    discussion: Discussion | None = None,
    body: str,
    parent: Comment | None = None,
) -> Comment:
    """A resident's comment on an agency post or in a discussion, shown at once.

    Raises :class:`NotPermittedError` unless the resident is a verified member where the
    conversation happens, and :class:`InvalidInputError` for empty, oversized or unsafe text,
    a safety concern's comment naming race or ethnicity, or too many posts in the last hour.
    """
    post, discussion = _target(post, discussion)
    if not may_take_part(resident, post=post, discussion=discussion):
        raise NotPermittedError(
            _("Only verified members of this neighbourhood may comment here.")
            if discussion is not None or (post is not None and post.areas.exists())
            else _("Only verified residents may comment.")
        )
    cleaned = text.clean_text(body, limit=text.COMMENT_MAX, label=_("The comment"))
    if discussion is not None and discussion.kind == DiscussionKind.SAFETY:
        _no_profiling(cleaned)
    _check_parent(parent, post, discussion)
    with transaction.atomic():
        Resident.objects.select_for_update().filter(pk=resident.pk).first()
        _not_flooding(resident)
        comment = Comment.objects.create(
            post=post, discussion=discussion, parent=parent, author=resident, body=cleaned
        )
        audit_record(
            actor=None,
            action="community.comment",
            obj=comment,
            data={
                "resident": resident.pk,
                "post": post.pk if post else None,
                "discussion": discussion.pk if discussion else None,
                "parent": parent.pk if parent else None,
            },
        )
        public_changed(comment)
    return comment


def discussion_start(
    *,
    resident: Resident,
    area: Area,
    kind: str,
    title: str,
    body: str,
    behaviour: str = "",
    clothing: str = "",
    person_description: str = "",
) -> Discussion:
    """A discussion a verified member starts in their neighbourhood, shown at once.

    A safety concern that describes a person must first say what the person did and what they
    wore; a safety concern's title, text and description of a person may not name race or
    ethnicity. Refusals raise :class:`InvalidInputError` (nothing is saved);
    :class:`NotPermittedError` for a resident who is not a verified member of ``area``.
    """
    if kind not in DiscussionKind.values:
        raise InvalidInputError(_("Choose what kind of discussion this is."))
    if area.pk not in verified_area_ids(resident):
        raise NotPermittedError(
            _("Only verified members of this neighbourhood may start a discussion here.")
        )
    title = text.clean_text(title, limit=text.TITLE_MAX, label=_("The title"))
    body = text.clean_text(body, limit=text.BODY_MAX, label=_("The text"))
    if kind == DiscussionKind.SAFETY:
        behaviour = text.clean_text(
            behaviour, limit=text.DETAIL_MAX, label=_("What the person did"), required=False
        )
        clothing = text.clean_text(
            clothing, limit=text.DETAIL_MAX, label=_("What the person wore"), required=False
        )
        person_description = text.clean_text(
            person_description,
            limit=text.DETAIL_MAX,
            label=_("The description of the person"),
            required=False,
        )
        if person_description and not (behaviour and clothing):
            raise InvalidInputError(
                _(
                    "Before describing a person, say what they did (their behaviour) and what "
                    "they wore. A description of someone who did nothing wrong is not a safety "
                    "concern."
                )
            )
        _no_profiling(title, body, person_description=person_description)
    else:
        behaviour = clothing = person_description = ""
    with transaction.atomic():
        Resident.objects.select_for_update().filter(pk=resident.pk).first()
        _not_flooding(resident)
        discussion = Discussion.objects.create(
            area=area,
            author=resident,
            kind=kind,
            title=title,
            body=body,
            behaviour=behaviour,
            clothing=clothing,
            person_description=person_description,
        )
        audit_record(
            actor=None,
            action="community.discussion_start",
            obj=discussion,
            data={"resident": resident.pk, "area": area.pk, "kind": kind},
        )
        public_changed(discussion)
    return discussion


def agency_reply(
    *,
    actor: User,
    post: Post | None = None,
    discussion: Discussion | None = None,
    body: str,
    parent: Comment | None = None,
) -> Comment:
    """The department's reply (shown as the department, not as the staff member) on a post or
    in a discussion."""
    require_role(actor, *MODERATOR_ROLES, action="reply as the department")
    post, discussion = _target(post, discussion)
    cleaned = text.clean_text(body, limit=text.COMMENT_MAX, label=_("The reply"))
    _check_parent(parent, post, discussion)
    with transaction.atomic():
        comment = Comment.objects.create(
            post=post, discussion=discussion, parent=parent, staff_author=actor, body=cleaned
        )
        audit_record(
            actor=actor,
            action="community.agency_reply",
            obj=comment,
            data={
                "post": post.pk if post else None,
                "discussion": discussion.pk if discussion else None,
                "parent": parent.pk if parent else None,
            },
        )
        public_changed(comment)
    return comment


def flag(
    *,
    resident: Resident,
    comment: Comment | None = None,
    discussion: Discussion | None = None,
    reason: str,
    note: str = "",
) -> Flag:
    """A resident's flag on a comment or discussion (one per resident and item).

    When ``WATCHHOUSE_COMMUNITY_FLAGS_TO_HIDE`` residents have flagged an item since it was last
    reviewed, it is hidden pending review and an automatic decision is recorded.
    """
    if (comment is None) == (discussion is None):
        raise InvalidInputError(_("Flag one comment or one discussion."))
    if reason not in ModerationReason.values:
        raise InvalidInputError(_("Choose a reason from the moderation policy."))
    note = text.clean_text(note, limit=300, label=_("The note"), required=False)
    item: Item = comment if comment is not None else discussion  # type: ignore[assignment]
    if isinstance(item, Comment):
        if item.by_agency:
            raise InvalidInputError(_("The department's own replies cannot be flagged."))
        where_post = item.post if item.post_id else None
        where_discussion = item.discussion if item.discussion_id else None
    else:
        where_post, where_discussion = None, item
    if not may_take_part(resident, post=where_post, discussion=where_discussion):
        raise NotPermittedError(_("Only verified members of this neighbourhood may flag here."))
    if item.author_id == resident.pk:
        raise InvalidInputError(_("You cannot flag what you wrote yourself."))
    with transaction.atomic():
        locked = type(item).objects.select_for_update().get(pk=item.pk)
        if locked.visibility != Visibility.VISIBLE:
            raise InvalidInputError(_("This is already hidden while moderators review it."))
        try:
            with transaction.atomic():
                made = Flag.objects.create(
                    comment=comment, discussion=discussion, resident=resident, reason=reason,
                    note=note,
                )  # fmt: skip
        except IntegrityError:
            raise InvalidInputError(_("You have already flagged this.")) from None
        locked.flag_count += 1
        hide = flags_since_review(locked) >= settings.WATCHHOUSE_COMMUNITY_FLAGS_TO_HIDE
        if hide:
            locked.visibility = Visibility.PENDING
        locked.save(update_fields=["flag_count", "visibility"])
        audit_record(
            actor=None,
            action="community.flag",
            obj=locked,
            data={"resident": resident.pk, "reason": reason, "flag": made.pk},
        )
        if hide:
            decision = ModerationDecision.objects.create(
                comment=locked if isinstance(locked, Comment) else None,
                discussion=locked if isinstance(locked, Discussion) else None,
                action=ModerationAction.AUTO_HIDE,
                reason=reason,
                note=_("Hidden after %(n)d flags, pending review.") % {"n": locked.flag_count},
            )
            audit_record(
                actor=None,
                action="community.auto_hide",
                obj=locked,
                data={"decision": decision.pk, "flags": locked.flag_count},
            )
            public_changed(locked)
        item.visibility, item.flag_count = locked.visibility, locked.flag_count
    return made
