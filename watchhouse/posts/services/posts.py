"""Writing, reviewing, scheduling, publishing, changing and taking down posts.

Every service checks the actor's roles against :mod:`watchhouse.posts.policy`, runs in one
transaction, writes a :class:`~watchhouse.posts.models.PostRevision` (every save of a post is
a numbered version: a public-records duty) and its audit entry there (ids and counts only),
and enqueues follow-up work (publication at the scheduled minute, missing-person expiry) only
once the transaction has committed. The worker's tasks call :func:`post_publish_due` and
:func:`post_expire_due`, which re-check the post, so a stale or repeated task does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from watchhouse.accounts.roles import require_role
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.core.pagecache import pages_changed
from watchhouse.geo.models import Area
from watchhouse.posts import policy
from watchhouse.posts.models import (
    AppealOutcome,
    MediaAsset,
    MediaKind,
    MediaRole,
    MediaStatus,
    OfficerProfile,
    Post,
    PostKind,
    PostMedia,
    PostRevision,
    Topic,
)
from watchhouse.posts.rendering import render_markdown
from watchhouse.posts.states import PostState, check_transition

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from watchhouse.accounts.models import User

# States in which a post's text may still be changed.
EDITABLE_STATES = frozenset(
    {PostState.DRAFT, PostState.REVIEW, PostState.SCHEDULED, PostState.PUBLISHED}
)
# Which media kinds each attachment role takes.
ROLE_KINDS: dict[str, frozenset[str]] = {
    MediaRole.COVER: frozenset({MediaKind.IMAGE}),
    MediaRole.GALLERY: frozenset({MediaKind.IMAGE, MediaKind.VIDEO}),
    MediaRole.VIDEO: frozenset({MediaKind.VIDEO}),
    MediaRole.AUDIO: frozenset({MediaKind.AUDIO}),
}
# What replaces a resolved appeal's public text: (title, body) by kind and outcome. The
# original stays in the revisions, for staff.
RESOLUTION_NOTICES: dict[tuple[str, str], tuple[StrOrPromise, StrOrPromise]] = {
    (PostKind.MISSING, AppealOutcome.FOUND): (
        gettext_lazy("UPDATE: Found safe"),
        gettext_lazy("UPDATE: Found safe. Thank you for your help."),
    ),
    (PostKind.APPEAL, AppealOutcome.IDENTIFIED): (
        gettext_lazy("UPDATE: Identified"),
        gettext_lazy("UPDATE: The person has been identified. Thank you for your help."),
    ),
    (PostKind.MISSING, AppealOutcome.WITHDRAWN): (
        gettext_lazy("UPDATE: Appeal closed"),
        gettext_lazy("UPDATE: This appeal has been closed. Thank you for your help."),
    ),
    (PostKind.APPEAL, AppealOutcome.WITHDRAWN): (
        gettext_lazy("UPDATE: Appeal closed"),
        gettext_lazy("UPDATE: This appeal has been closed. Thank you for your help."),
    ),
}


class PostRefusedError(InvalidInputError):
    """A post failed its checks; ``problems`` lists every reason and nothing was changed."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(" ".join(problems))


@dataclass(frozen=True)
class Attachment:
    """One media file in a post, in the order given."""

    media_id: int
    role: str = MediaRole.GALLERY


@dataclass(frozen=True)
class PostFields:
    """What a composer sets on a post (the kind-specific fields are ignored by other kinds)."""

    kind: str
    title: str
    summary: str = ""
    body: str = ""
    language: str = "en"
    area_ids: tuple[int, ...] = ()
    topic_ids: tuple[int, ...] = ()
    officer_id: int | None = None
    event_start: datetime | None = None
    event_end: datetime | None = None
    event_location: str = ""
    expires_at: datetime | None = None
    attachments: tuple[Attachment, ...] = ()


def _refuse_if(problems: list[str]) -> None:
    if problems:
        raise PostRefusedError(problems)


def _missing(model: Any, ids: tuple[int, ...]) -> set[int]:
    found = set(model.objects.filter(pk__in=ids).values_list("pk", flat=True))
    return set(ids) - found


def fields_problems(fields: PostFields) -> list[str]:
    """What is wrong with ``fields`` as they stand (empty when nothing is)."""
    problems: list[str] = []
    if fields.kind not in PostKind.values:
        problems.append(_("Unknown kind of post %(kind)r.") % {"kind": fields.kind})
    if not fields.title.strip():
        problems.append(_("Give the post a title."))
    elif len(fields.title.strip()) > 200:
        problems.append(_("A title is at most 200 characters."))
    if len(fields.summary.strip()) > 300:
        problems.append(_("A summary is at most 300 characters."))
    if len(fields.event_location.strip()) > 300:
        problems.append(_("A place is at most 300 characters."))
    for moment in (fields.event_start, fields.event_end, fields.expires_at):
        if moment is not None and timezone.is_naive(moment):
            problems.append(_("Times need a time zone."))
            break
    else:
        if fields.event_start and fields.event_end and fields.event_end < fields.event_start:
            problems.append(_("An event cannot end before it starts."))
    if _missing(Area, fields.area_ids):
        problems.append(_("One of the areas does not exist."))
    if _missing(Topic, fields.topic_ids):
        problems.append(_("One of the topics does not exist."))
    if fields.officer_id is not None and _missing(OfficerProfile, (fields.officer_id,)):
        problems.append(_("The officer does not exist."))
    media_ids = tuple(a.media_id for a in fields.attachments)
    if len(set(media_ids)) != len(media_ids):
        problems.append(_("A media file is attached twice."))
    kinds = dict(MediaAsset.objects.filter(pk__in=media_ids).values_list("pk", "kind"))
    for attachment in fields.attachments:
        if attachment.media_id not in kinds:
            problems.append(_("One of the media files does not exist."))
        elif attachment.role not in ROLE_KINDS:
            problems.append(_("Unknown media role %(role)r.") % {"role": attachment.role})
        elif kinds[attachment.media_id] not in ROLE_KINDS[attachment.role]:
            problems.append(
                _("A %(kind)s file cannot be the post's %(role)s.")
                % {
                    "kind": MediaKind(kinds[attachment.media_id]).label.lower(),
                    "role": MediaRole(attachment.role).label.lower(),
                }
            )
    return problems


def post_problems(post: Post) -> list[str]:
    """Everything that stops ``post`` from being published as it stands (empty: it can go).

    Every visible image needs alt text and every visible file must be processed; an event
    needs its start, a video post a video and a podcast episode its audio.
    """
    problems: list[str] = []
    if not post.title.strip():
        problems.append(_("Give the post a title."))
    attachments = [
        a for a in post.attachments.select_related("media").order_by("position") if not a.hidden
    ]
    for attachment in attachments:
        media = attachment.media
        name = media.original_name or f"#{media.pk}"
        if media.status == MediaStatus.FAILED:
            problems.append(
                _("%(name)s could not be processed (%(error)s); retry it or remove it.")
                % {"name": name, "error": media.error or _("no reason given")}
            )
        elif media.status != MediaStatus.READY:
            problems.append(
                _("%(name)s is still being processed; wait until it is ready.") % {"name": name}
            )
        if media.kind == MediaKind.IMAGE and not media.alt_text.strip():
            problems.append(
                _("%(name)s needs alt text (what the picture shows, for people who cannot "
                  "see it).") % {"name": name}
            )  # fmt: skip
    roles = {(a.role, a.media.kind) for a in attachments}
    if post.kind == PostKind.MISSING and post.expires_at and post.expires_at <= timezone.now():
        problems.append(_("The take-down time has passed; choose a later one or leave it empty."))
    if post.kind == PostKind.EVENT and post.event_start is None:
        problems.append(_("An event needs its start time."))
    if post.kind == PostKind.VIDEO and (MediaRole.VIDEO, MediaKind.VIDEO) not in roles:
        problems.append(_("A video post needs a video attached as its video."))
    if post.kind == PostKind.PODCAST and (MediaRole.AUDIO, MediaKind.AUDIO) not in roles:
        problems.append(_("A podcast episode needs an audio file attached as its audio."))
    return problems


def _snapshot(post: Post) -> dict[str, Any]:
    """The fields a revision keeps besides title, summary and body."""

    def when(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "kind": post.kind,
        "language": post.language,
        "areas": sorted(post.areas.values_list("pk", flat=True)),
        "topics": sorted(post.topics.values_list("pk", flat=True)),
        "media": [
            [a.media_id, a.role, a.hidden] for a in post.attachments.order_by("position", "pk")
        ],
        "officer": post.officer_id,
        "event_start": when(post.event_start),
        "event_end": when(post.event_end),
        "event_location": post.event_location,
        "expires_at": when(post.expires_at),
        "publish_at": when(post.publish_at),
        "outcome": post.outcome,
        "redacted": post.redacted,
        "retraction_note": post.retraction_note,
    }


def _record(
    post: Post, *, actor: User | None, by: User, action: str, note: str = "", **data: Any
) -> None:
    """Save ``post`` as its next version: revision and audit entry, in the caller's
    transaction. ``by`` is who the revision names (the worker acts for whoever scheduled)."""
    post.version += 1
    post.save()
    _revise(post, by=by, note=note)
    audit_record(
        actor=actor,
        action=action,
        obj=post,
        data={"version": post.version, "state": post.state, **data},
    )
    # Public pages and feeds show posts: the cached ones are retired on commit.
    pages_changed("posts")
    # Copies on other networks and the fediverse follow a public post's changes.
    if post.state in (PostState.PUBLISHED, PostState.RETRACTED):
        _outlets_follow(post.pk)


def _outlets_follow(post_id: int) -> None:
    def enqueue() -> None:
        from watchhouse.outlets.tasks import sync_post_outlets_task

        sync_post_outlets_task.enqueue(post_id)

    transaction.on_commit(enqueue)


def _revise(post: Post, *, by: User, note: str) -> None:
    PostRevision.objects.create(
        post=post,
        number=post.version,
        state=post.state,
        title=post.title,
        summary=post.summary,
        body=post.body,
        data=_snapshot(post),
        note=note.strip()[:300],
        created_by=by,
    )


def _apply(post: Post, fields: PostFields) -> None:
    post.kind = fields.kind
    post.title = fields.title.strip()
    post.slug = slugify(post.title)[:200] or "post"
    post.summary = fields.summary.strip()
    post.body = fields.body
    post.body_html = render_markdown(fields.body)
    post.language = fields.language or "en"
    post.officer_id = fields.officer_id
    post.event_start = fields.event_start
    post.event_end = fields.event_end
    post.event_location = fields.event_location.strip()
    post.expires_at = fields.expires_at


def _apply_relations(post: Post, fields: PostFields) -> None:
    post.areas.set(fields.area_ids)
    post.topics.set(fields.topic_ids)
    post.attachments.all().delete()
    PostMedia.objects.bulk_create(
        PostMedia(
            post=post,
            media_id=a.media_id,
            role=a.role,
            position=n,
            # A resolved appeal's faces stay off the public page whatever is attached later.
            hidden=post.redacted,
        )
        for n, a in enumerate(fields.attachments)
    )


def _locked(post: Post) -> Post:
    return Post.objects.select_for_update().get(pk=post.pk)


def _require_writer(actor: User | None, kind: str) -> None:
    require_role(actor, *policy.writers(kind), action="write posts of this kind")


def post_create(*, actor: User, fields: PostFields) -> Post:
    """Store a draft post as version 1; raises PostRefusedError listing every problem."""
    if fields.kind in PostKind.values:
        _require_writer(actor, fields.kind)
    _refuse_if(fields_problems(fields))
    with transaction.atomic():
        post = Post(author=actor, state=PostState.DRAFT, version=1)
        _apply(post, fields)
        post.save()
        _apply_relations(post, fields)
        _revise(post, by=actor, note=_("Created"))
        audit_record(
            actor=actor,
            action="posts.create",
            obj=post,
            data={"kind": post.kind, "version": 1, "media": len(fields.attachments)},
        )
    return post


def post_update(*, actor: User, post: Post, fields: PostFields, note: str = "") -> Post:
    """Save changed fields as the post's next version.

    Before publication its writers may change it; a public post only its publishers, with a
    note saying why, and the change sets ``edited_at`` (the public "updated" mark). A public
    post's change must pass the publishing checks too.
    """
    _require_writer(actor, post.kind)
    _refuse_if(fields_problems(fields))
    with transaction.atomic():
        post = _locked(post)
        if post.state not in EDITABLE_STATES:
            raise InvalidInputError(
                _("A %(state)s post cannot be changed.") % {"state": post.get_state_display()}
            )
        if fields.kind != post.kind and post.state != PostState.DRAFT:
            raise InvalidInputError(_("Only a draft can change its kind."))
        _require_writer(actor, fields.kind)
        public = post.state == PostState.PUBLISHED
        if post.state in (PostState.SCHEDULED, PostState.PUBLISHED):
            # What was approved may only be changed by someone who could approve it.
            require_role(actor, *policy.publishers(post.kind), action="change an approved post")
        if public and not note.strip():
            raise InvalidInputError(
                _("Say what changed: a published post's edit needs a note, shown to staff.")
            )
        old_expiry = post.expires_at
        _apply(post, fields)
        if public:
            post.edited_at = timezone.now()
        post.save()
        _apply_relations(post, fields)
        if public:
            _refuse_if(post_problems(post))
        _record(
            post, actor=actor, by=actor, action="posts.update", note=note or _("Changed"),
            public=public, media=len(fields.attachments),
        )  # fmt: skip
        if public and post.kind == PostKind.MISSING and post.expires_at != old_expiry:
            _enqueue_expiry(post)
    return post


def post_submit(*, actor: User, post: Post) -> Post:
    """Send a draft to review."""
    _require_writer(actor, post.kind)
    with transaction.atomic():
        post = _locked(post)
        check_transition(post.state, PostState.REVIEW)
        post.state = PostState.REVIEW
        _record(post, actor=actor, by=actor, action="posts.submit", note=_("Sent to review"))
    return post


def post_return(*, actor: User, post: Post, reason: str) -> Post:
    """Send a post in review back to draft, saying why (the reason is its revision's note)."""
    require_role(actor, *policy.APPROVER_ROLES, action="return posts")
    if not reason.strip():
        raise InvalidInputError(_("Say why the post goes back to its author."))
    with transaction.atomic():
        post = _locked(post)
        check_transition(post.state, PostState.DRAFT)
        if post.state != PostState.REVIEW:
            raise InvalidInputError(_("Only a post in review can be returned."))
        post.state = PostState.DRAFT
        _record(post, actor=actor, by=actor, action="posts.return", note=reason)
    return post


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _check_publish_at(publish_at: datetime) -> datetime:
    if timezone.is_naive(publish_at):
        raise InvalidInputError(_("The publication time needs a time zone."))
    publish_at = _minute(publish_at)
    if publish_at <= timezone.now():
        raise InvalidInputError(
            _("The publication time has passed; choose a minute in the future, or publish now.")
        )
    return publish_at


def _go_public(post: Post, *, now: datetime) -> None:
    """Make ``post`` published at ``now`` (in the caller's transaction); a missing-person
    post gets its default take-down time. The caller saves and enqueues the expiry."""
    check_transition(post.state, PostState.PUBLISHED)
    post.state = PostState.PUBLISHED
    post.publish_at = None
    if post.published_at is None:
        post.published_at = now
    if post.kind == PostKind.MISSING and post.expires_at is None:
        post.expires_at = now + timedelta(days=settings.WATCHHOUSE_POSTS_MISSING_EXPIRY_DAYS)


def _go_scheduled(post: Post, publish_at: datetime) -> None:
    if post.state != PostState.SCHEDULED:
        check_transition(post.state, PostState.SCHEDULED)
    post.state = PostState.SCHEDULED
    post.publish_at = publish_at
    post_id = post.pk

    def enqueue() -> None:
        from watchhouse.posts.tasks import publish_post_task

        publish_post_task.using(run_after=publish_at).enqueue(post_id)

    transaction.on_commit(enqueue)


def _enqueue_expiry(post: Post) -> None:
    if post.kind != PostKind.MISSING or post.expires_at is None:
        return
    post_id, expires_at = post.pk, post.expires_at

    def enqueue() -> None:
        from watchhouse.posts.tasks import expire_post_task

        expire_post_task.using(run_after=expires_at).enqueue(post_id)

    transaction.on_commit(enqueue)


def post_approve(*, actor: User, post: Post, publish_at: datetime | None = None) -> Post:
    """Approve a post in review: publish it now, or at ``publish_at`` (to the minute).

    The approver holds an approver role and is not the post's author.
    """
    require_role(actor, *policy.APPROVER_ROLES, action="approve posts")
    when = _check_publish_at(publish_at) if publish_at is not None else None
    with transaction.atomic():
        post = _locked(post)
        if post.author_id == actor.pk:
            raise NotPermittedError(_("A second person must approve: you wrote this post."))
        if post.state != PostState.REVIEW:
            check_transition(post.state, PostState.PUBLISHED)
            raise InvalidInputError(_("Only a post in review can be approved."))
        _refuse_if(post_problems(post))
        post.approved_by = actor
        if when is None:
            _go_public(post, now=timezone.now())
            _record(post, actor=actor, by=actor, action="posts.approve", note=_("Approved"))
            _enqueue_expiry(post)
        else:
            _go_scheduled(post, when)
            _record(
                post, actor=actor, by=actor, action="posts.approve",
                note=_("Approved for %(when)s") % {"when": _local(when)},
            )  # fmt: skip
    return post


def _require_direct(actor: User, post: Post) -> None:
    if policy.needs_review(post.kind, actor.role_set):
        raise NotPermittedError(
            _("Your roles may not publish a %(kind)s directly: send it to review.")
            % {"kind": PostKind(post.kind).label.lower()}
        )


def post_publish(*, actor: User, post: Post) -> Post:
    """Publish a draft now, where policy lets the actor publish its kind without review."""
    _require_writer(actor, post.kind)
    _require_direct(actor, post)
    with transaction.atomic():
        post = _locked(post)
        if post.state == PostState.REVIEW:
            raise InvalidInputError(_("This post is in review: approve it, or return it."))
        check_transition(post.state, PostState.PUBLISHED)
        _refuse_if(post_problems(post))
        _go_public(post, now=timezone.now())
        _record(post, actor=actor, by=actor, action="posts.publish", note=_("Published"))
        _enqueue_expiry(post)
    return post


def post_schedule(*, actor: User, post: Post, publish_at: datetime) -> Post:
    """Have the worker publish a draft (or move a scheduled post) at ``publish_at``, to the
    minute; the time must be in the future. A task enqueued for an earlier time finds the
    post not yet due and does nothing."""
    _require_writer(actor, post.kind)
    _require_direct(actor, post)
    when = _check_publish_at(publish_at)
    with transaction.atomic():
        post = _locked(post)
        if post.state == PostState.REVIEW:
            raise InvalidInputError(_("This post is in review: approve it, or return it."))
        _refuse_if(post_problems(post))
        _go_scheduled(post, when)
        _record(
            post, actor=actor, by=actor, action="posts.schedule",
            note=_("Scheduled for %(when)s") % {"when": _local(when)},
        )  # fmt: skip
    return post


def post_unschedule(*, actor: User, post: Post) -> Post:
    """Take a scheduled post back to draft; its pending task then finds nothing to do."""
    _require_writer(actor, post.kind)
    with transaction.atomic():
        post = _locked(post)
        if post.state != PostState.SCHEDULED:
            check_transition(post.state, PostState.SCHEDULED)
            raise InvalidInputError(_("Only a scheduled post can be unscheduled."))
        check_transition(post.state, PostState.DRAFT)
        post.state = PostState.DRAFT
        post.publish_at = None
        post.approved_by = None
        _record(post, actor=actor, by=actor, action="posts.unschedule", note=_("Unscheduled"))
    return post


def post_publish_due(*, post_id: int, now: datetime | None = None) -> bool:
    """Publish a scheduled post whose minute has come (the worker acts); True when it did.

    A post that is no longer scheduled, or was moved to a later minute, is left alone. One
    that no longer passes the publishing checks goes back to draft, with the reasons as its
    revision's note, rather than going out broken.
    """
    now = now or timezone.now()
    with transaction.atomic():
        post = Post.objects.select_for_update().filter(pk=post_id).first()
        if post is None or post.state != PostState.SCHEDULED:
            return False
        if post.publish_at is None or post.publish_at > now:
            return False
        by = post.approved_by or post.author
        problems = post_problems(post)
        if problems:
            post.state = PostState.DRAFT
            post.publish_at = None
            _record(
                post, actor=None, by=by, action="posts.schedule_failed",
                note=" ".join(problems), problems=len(problems),
            )  # fmt: skip
            return False
        _go_public(post, now=now)
        _record(
            post, actor=None, by=by, action="posts.publish_scheduled",
            note=_("Published at the scheduled time"),
        )  # fmt: skip
        _enqueue_expiry(post)
    return True


def post_retract(*, actor: User, post: Post, reason: str) -> Post:
    """Retract a published post: its page stays, with ``reason`` as the public retraction
    notice, and it leaves the timeline and feeds."""
    require_role(actor, *policy.publishers(post.kind), action="retract posts of this kind")
    if not reason.strip():
        raise InvalidInputError(_("A retraction needs a notice saying why."))
    with transaction.atomic():
        post = _locked(post)
        check_transition(post.state, PostState.RETRACTED)
        post.state = PostState.RETRACTED
        post.retracted_at = timezone.now()
        post.retraction_note = reason.strip()
        _record(post, actor=actor, by=actor, action="posts.retract", note=reason)
    return post


def post_archive(*, actor: User, post: Post) -> Post:
    """Archive a published or retracted post: it leaves the timeline; its page stays."""
    require_role(actor, *policy.publishers(post.kind), action="archive posts of this kind")
    with transaction.atomic():
        post = _locked(post)
        check_transition(post.state, PostState.ARCHIVED)
        post.state = PostState.ARCHIVED
        post.archived_at = timezone.now()
        _record(post, actor=actor, by=actor, action="posts.archive", note=_("Archived"))
    return post


def _resolve(post: Post, *, outcome: str, now: datetime) -> None:
    """Close an appeal in the caller's transaction: outcome, hidden media, neutral text."""
    title, body = RESOLUTION_NOTICES.get(
        (post.kind, outcome),
        RESOLUTION_NOTICES[(post.kind, AppealOutcome.WITHDRAWN)],
    )
    with translation.override(post.language or "en"):
        title_text, body_text = str(title), str(body)
    post.outcome = outcome
    post.outcome_at = now
    post.redacted = True
    post.title = title_text
    post.slug = slugify(title_text)[:200] or "post"
    post.summary = body_text[:300]
    post.body = body_text
    post.body_html = render_markdown(body_text)
    post.edited_at = now
    post.attachments.update(hidden=True)


def _check_resolvable(post: Post, outcome: str) -> None:
    if post.kind not in (PostKind.APPEAL, PostKind.MISSING):
        raise InvalidInputError(_("Only an appeal or a missing-person post can be resolved."))
    if post.outcome:
        raise InvalidInputError(_("This appeal is already resolved."))
    if (post.kind, outcome) not in RESOLUTION_NOTICES:
        raise InvalidInputError(
            _("A %(kind)s cannot end as %(outcome)s.")
            % {
                "kind": PostKind(post.kind).label.lower(),
                "outcome": (
                    AppealOutcome(outcome).label.lower()
                    if outcome in AppealOutcome.values
                    else outcome
                ),
            }
        )
    if post.state != PostState.PUBLISHED:
        raise InvalidInputError(_("Only a published appeal can be resolved."))


def appeal_resolve(*, actor: User, post: Post, outcome: str) -> Post:
    """Close a published appeal or missing-person post with ``outcome``.

    Its media leave the public page and its title, summary and body are replaced by a
    neutral notice; the original text stays in the revisions for staff.
    """
    require_role(actor, *policy.publishers(post.kind), action="resolve appeals")
    with transaction.atomic():
        post = _locked(post)
        _check_resolvable(post, outcome)
        _resolve(post, outcome=outcome, now=timezone.now())
        _record(
            post, actor=actor, by=actor, action="posts.resolve",
            note=_("Resolved: %(outcome)s") % {"outcome": AppealOutcome(outcome).label},
            outcome=outcome,
        )  # fmt: skip
    return post


def post_expire_due(*, post_id: int, now: datetime | None = None) -> bool:
    """Close a missing-person post whose expiry has come, as withdrawn (the worker acts);
    True when it did. A resolved, unpublished or later-expiring post is left alone."""
    now = now or timezone.now()
    with transaction.atomic():
        post = Post.objects.select_for_update().filter(pk=post_id).first()
        if post is None or post.kind != PostKind.MISSING or post.outcome:
            return False
        if post.state != PostState.PUBLISHED:
            return False
        if post.expires_at is None or post.expires_at > now:
            return False
        _resolve(post, outcome=AppealOutcome.WITHDRAWN, now=now)
        _record(
            post, actor=None, by=post.approved_by or post.author, action="posts.expire",
            note=_("Taken down at its expiry time"), outcome=AppealOutcome.WITHDRAWN,
        )  # fmt: skip
    return True


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")
