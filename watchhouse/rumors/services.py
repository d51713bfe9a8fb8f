"""Everything staff change about rumors: incidents, claims, evidence, verdicts and corrections.

Each service checks the actor's roles (:mod:`watchhouse.rumors.policy`), writes in one
transaction with its audit entry, and retires the cached public rumor pages when what the
public sees changes. A correction is an ordinary post made by the posts services, so it goes
to the timeline, the feeds and every outlet exactly as any other post does.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from watchhouse.accounts.models import User
from watchhouse.accounts.roles import require_role
from watchhouse.audit.services import audit_record
from watchhouse.community.models import Comment
from watchhouse.core.errors import InvalidInputError
from watchhouse.core.pagecache import pages_changed
from watchhouse.outlets.models import InboundItem
from watchhouse.posts import policy as posts_policy
from watchhouse.posts.media.errors import MediaRejectedError
from watchhouse.posts.media.images import DECODE_ERRORS, IMAGE_TYPES, image_open
from watchhouse.posts.media.magic import HEAD_BYTES, image_format, refusal
from watchhouse.posts.models import Post, PostKind, PostState
from watchhouse.posts.services import PostFields, post_create, post_publish
from watchhouse.posts.storage import StoredOriginal, original_rename, original_store, private_path
from watchhouse.rumors.models import EvidenceKind, Incident, Rumor, RumorEvidence, RumorStatus
from watchhouse.rumors.policy import ANSWER_ROLES, RUMOR_ROLES

# Formats a screenshot may be in (what browsers and phones save screenshots as).
SCREENSHOT_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
CLAIM_MAX = 300
WHERE_MAX = 300
URL_MAX = 1000
_LINK = URLValidator(schemes=["http", "https"])


class Upload(Protocol):
    """What a screenshot is read from: a Django ``UploadedFile`` or ``File``."""

    def chunks(self, chunk_size: int | None = None) -> Iterable[bytes]: ...


class EvidenceIntegrityError(InvalidInputError):
    """A stored screenshot no longer matches the SHA-256 recorded when it was received."""


# Checks.


def _clean_claim(claim: str) -> str:
    claim = " ".join(claim.split())
    if not claim:
        raise InvalidInputError(_("Write the claim: what people are saying."))
    if len(claim) > CLAIM_MAX:
        raise InvalidInputError(
            _("A claim is at most %(n)d characters; put the rest in a note.") % {"n": CLAIM_MAX}
        )
    return claim


def _clean_where(where: str) -> str:
    where = " ".join(where.split())
    if len(where) > WHERE_MAX:
        raise InvalidInputError(
            _("Where it was first seen is at most %(n)d characters.") % {"n": WHERE_MAX}
        )
    return where


def _clean_moment(moment: datetime) -> datetime:
    if timezone.is_naive(moment):
        raise InvalidInputError(_("Times need a time zone."))
    if moment > timezone.now() + timedelta(minutes=5):
        raise InvalidInputError(_("A rumor cannot be first seen in the future."))
    return moment


def link_clean(url: str) -> str:
    """``url`` stripped, when it is an http(s) address of at most 1000 characters."""
    url = url.strip()
    if not url:
        raise InvalidInputError(_("Give the link's address."))
    if len(url) > URL_MAX:
        raise InvalidInputError(_("A link is at most %(n)d characters.") % {"n": URL_MAX})
    try:
        _LINK(url)
    except ValidationError:
        raise InvalidInputError(
            _("%(url)s is not a web address; links must start with http:// or https://.")
            % {"url": url[:100]}
        ) from None
    return url


def _is_public(rumor: Rumor) -> bool:
    return (
        rumor.answered_at is not None
        and rumor.status != RumorStatus.UNVERIFIED
        and bool(rumor.what_we_know.strip())
    )


def _locked(rumor: Rumor) -> Rumor:
    return Rumor.objects.select_for_update().get(pk=rumor.pk)


# Incidents.


def incident_create(*, actor: User, name: str) -> Incident:
    """A new incident to group rumors under; its slug is unique (a number is added when the
    name's slug is taken)."""
    require_role(actor, *RUMOR_ROLES, action="create incidents")
    name = " ".join(name.split())
    if not name:
        raise InvalidInputError(_("Name the incident."))
    if len(name) > 150:
        raise InvalidInputError(_("An incident's name is at most 150 characters."))
    base = slugify(name)[:150] or "incident"
    with transaction.atomic():
        slug, n = base, 1
        while Incident.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        incident = Incident.objects.create(name=name, slug=slug)
        audit_record(
            actor=actor, action="rumors.incident_create", obj=incident, data={"slug": slug}
        )
    return incident


# Rumors.


def rumor_open(
    *,
    actor: User,
    claim: str,
    first_seen_at: datetime,
    first_seen_where: str = "",
    incident: Incident | None = None,
    links: Sequence[str] = (),
) -> Rumor:
    """Start tracking a claim, unverified and not public; each link is kept as evidence."""
    require_role(actor, *RUMOR_ROLES, action="track rumors")
    return _create(
        actor=actor,
        claim=claim,
        first_seen_at=first_seen_at,
        first_seen_where=first_seen_where,
        incident=incident,
        links=links,
        source_comment=None,
    )


def _create(
    *,
    actor: User,
    claim: str,
    first_seen_at: datetime,
    first_seen_where: str,
    incident: Incident | None,
    links: Sequence[str],
    source_comment: Comment | None = None,
    source_inbound: InboundItem | None = None,
) -> Rumor:
    claim = _clean_claim(claim)
    where = _clean_where(first_seen_where)
    first_seen_at = _clean_moment(first_seen_at)
    urls = [link_clean(u) for u in links if u.strip()]
    with transaction.atomic():
        now = timezone.now()
        rumor = Rumor.objects.create(
            claim=claim,
            first_seen_at=first_seen_at,
            first_seen_where=where,
            incident=incident,
            source_comment=source_comment,
            source_inbound=source_inbound,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        RumorEvidence.objects.bulk_create(
            RumorEvidence(rumor=rumor, kind=EvidenceKind.LINK, url=u, added_by=actor, added_at=now)
            for u in urls
        )
        action = "rumors.open"
        if source_comment:
            action = "rumors.from_comment"
        elif source_inbound:
            action = "rumors.from_inbound"
        audit_record(
            actor=actor,
            action=action,
            obj=rumor,
            data={
                "incident": incident.pk if incident else None,
                "links": len(urls),
                "comment": source_comment.pk if source_comment else None,
                "inbound": source_inbound.pk if source_inbound else None,
            },
        )
    return rumor


def rumor_update(
    *,
    actor: User,
    rumor: Rumor,
    claim: str,
    first_seen_at: datetime,
    first_seen_where: str,
    incident: Incident | None,
) -> Rumor:
    """Correct what is known about where the claim came from, and its incident; a public
    rumor's page and feeds change at once."""
    require_role(actor, *RUMOR_ROLES, action="change rumors")
    claim = _clean_claim(claim)
    where = _clean_where(first_seen_where)
    first_seen_at = _clean_moment(first_seen_at)
    with transaction.atomic():
        rumor = _locked(rumor)
        if rumor.answered_at is not None and first_seen_at > rumor.answered_at:
            raise InvalidInputError(_("A rumor cannot be first seen after it was answered."))
        changed = [
            name
            for name, old, new in (
                ("claim", rumor.claim, claim),
                ("first_seen_at", rumor.first_seen_at, first_seen_at),
                ("first_seen_where", rumor.first_seen_where, where),
                ("incident", rumor.incident_id, incident.pk if incident else None),
            )
            if old != new
        ]
        rumor.claim, rumor.first_seen_at, rumor.first_seen_where = claim, first_seen_at, where
        rumor.incident = incident
        if changed:
            rumor.updated_at = timezone.now()
        rumor.save()
        audit_record(actor=actor, action="rumors.update", obj=rumor, data={"changed": changed})
        if changed and _is_public(rumor):
            pages_changed("rumors")
    return rumor


def _screenshot_store(file: Upload) -> tuple[StoredOriginal, str]:
    """Stream ``file`` to the private root and check by its content that it is an image;
    return where it is and its MIME type. Nothing stays on disk when it is refused."""
    limit = int(settings.WATCHHOUSE_RUMORS_SCREENSHOT_MAX_BYTES)
    stored = original_store(file.chunks(), max_bytes=limit)
    try:
        if stored.bytes == 0:
            raise MediaRejectedError(_("This file is empty."))
        with stored.path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
        if reason := refusal(head):
            raise MediaRejectedError(reason)
        fmt = image_format(head)
        if fmt not in SCREENSHOT_FORMATS:
            raise MediaRejectedError(
                _(
                    "A screenshot must be a JPEG, PNG, WebP or GIF image; this file is not one "
                    "(the file's name and type are not trusted, only its content). Its largest "
                    "size is %(limit)s."
                )
                % {"limit": filesizeformat(limit)}
            )
        with image_open(stored.path, fmt) as image:
            try:
                image.load()
            except DECODE_ERRORS as exc:
                raise MediaRejectedError(
                    _("This image cannot be read; it may be damaged or incomplete.")
                ) from exc
        mime, extension = IMAGE_TYPES[fmt]
        return original_rename(stored, extension), mime
    except BaseException:
        stored.path.unlink(missing_ok=True)
        raise


def rumor_evidence_add(
    *,
    actor: User,
    rumor: Rumor,
    kind: str,
    url: str = "",
    note: str = "",
    file: Upload | None = None,
) -> RumorEvidence:
    """Keep a link, a note or a screenshot as evidence of the rumor (never public).

    A screenshot is identified by its content (images only; HTML, SVG and anything else are
    refused with the reason), written once under a new random name in the private root, and
    recorded with its size and SHA-256. A refused or failed upload leaves nothing behind.
    """
    require_role(actor, *RUMOR_ROLES, action="add evidence to rumors")
    note = note.strip()
    stored: StoredOriginal | None = None
    mime = ""
    if kind == EvidenceKind.LINK:
        url = link_clean(url)
    elif kind == EvidenceKind.NOTE:
        url = ""
        if not note:
            raise InvalidInputError(_("Write the note."))
    elif kind == EvidenceKind.SCREENSHOT:
        url = link_clean(url) if url.strip() else ""
        if file is None:
            raise InvalidInputError(_("Choose the screenshot to upload."))
        stored, mime = _screenshot_store(file)
    else:
        raise InvalidInputError(_("Unknown kind of evidence %(kind)r.") % {"kind": kind})
    if len(note) > 5000:
        raise InvalidInputError(_("A note is at most 5000 characters."))
    try:
        with transaction.atomic():
            evidence = RumorEvidence.objects.create(
                rumor=rumor,
                kind=kind,
                url=url,
                note=note,
                path=stored.relative if stored else "",
                sha256=stored.sha256 if stored else "",
                size=stored.bytes if stored else None,
                mime=mime,
                added_by=actor,
            )
            audit_record(
                actor=actor,
                action="rumors.evidence_add",
                obj=evidence,
                data={
                    "rumor": rumor.pk,
                    "kind": kind,
                    "sha256": evidence.sha256,
                    "bytes": evidence.size,
                },
            )
    except BaseException:
        if stored is not None:
            stored.path.unlink(missing_ok=True)
        raise
    return evidence


def rumor_evidence_read(*, actor: User, evidence: RumorEvidence) -> bytes:
    """The screenshot's bytes, checked against its SHA-256; the view is audited."""
    require_role(actor, *RUMOR_ROLES, action="view rumor evidence")
    if evidence.kind != EvidenceKind.SCREENSHOT or not evidence.path:
        raise InvalidInputError(_("This evidence has no file."))
    try:
        content = private_path(evidence.path).read_bytes()
    except FileNotFoundError:
        raise EvidenceIntegrityError(_("The screenshot's file is missing.")) from None
    if hashlib.sha256(content).hexdigest() != evidence.sha256:
        raise EvidenceIntegrityError(
            _("The screenshot's file no longer matches the SHA-256 recorded when it arrived.")
        )
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="rumors.evidence_view",
            obj=evidence,
            data={"rumor": evidence.rumor_id, "sha256": evidence.sha256},
        )
    return content


def rumor_decide(
    *, actor: User, rumor: Rumor, status: str, what_we_know: str, statement: str = ""
) -> Rumor:
    """Record the verdict and the public answer.

    A verdict other than unverified with a "what we know" text makes the rumor public; the
    first time that happens is its ``answered_at``, kept through later changes (which show
    as updates).
    """
    require_role(actor, *ANSWER_ROLES, action="decide rumors")
    if status not in RumorStatus.values:
        raise InvalidInputError(_("Unknown verdict %(status)r.") % {"status": status})
    what_we_know = what_we_know.strip()
    statement = statement.strip()
    if status != RumorStatus.UNVERIFIED and not what_we_know:
        raise InvalidInputError(_('Say what is known: the verdict is shown with "what we know".'))
    if len(what_we_know) > 5000 or len(statement) > 10000:
        raise InvalidInputError(_("The answer is too long."))
    with transaction.atomic():
        rumor = _locked(rumor)
        was_public = _is_public(rumor)
        now = timezone.now()
        first_answer = False
        rumor.status, rumor.what_we_know, rumor.statement = status, what_we_know, statement
        rumor.decided_by, rumor.decided_at, rumor.updated_at = actor, now, now
        if status != RumorStatus.UNVERIFIED and what_we_know and rumor.answered_at is None:
            rumor.answered_at = now
            first_answer = True
        rumor.save()
        audit_record(
            actor=actor,
            action="rumors.decide",
            obj=rumor,
            data={"status": status, "public": _is_public(rumor), "first_answer": first_answer},
        )
        if was_public or _is_public(rumor):
            pages_changed("rumors")
    return rumor


def correction_defaults(rumor: Rumor) -> tuple[str, str]:
    """The title and body a correction post gets unless staff change them."""
    verdict = RumorStatus(rumor.status).label
    # The verdict leads, so a headline never repeats a false claim as if it were news.
    title = _("Rumor control: %(verdict)s. %(claim)s") % {"verdict": verdict, "claim": rumor.claim}
    if len(title) > 200:
        title = title[:199].rstrip() + "…"
    body = _("**Claim:** %(claim)s\n\n**Verdict:** %(verdict)s\n\n%(known)s") % {
        "claim": rumor.claim,
        "verdict": verdict,
        "known": rumor.what_we_know,
    }
    if rumor.statement:
        body = f"{body}\n\n{rumor.statement}"
    return title, body


def rumor_publish_correction(
    *, actor: User, rumor: Rumor, title: str | None = None, body: str | None = None
) -> Post:
    """Publish the official correction as an update post and link it to the rumor, in one
    transaction: either both happen or neither does.

    The post is made and published by the posts services (timeline, feeds, outlets); the
    actor must be allowed to publish updates without review.
    """
    require_role(actor, *ANSWER_ROLES, action="publish corrections")
    require_role(actor, *posts_policy.direct_publishers(PostKind.UPDATE), action="publish updates")
    default_title, default_body = correction_defaults(rumor)
    title = (title or "").strip() or default_title
    body = (body or "").strip() or default_body
    with transaction.atomic():
        rumor = _locked(rumor)
        if not _is_public(rumor):
            raise InvalidInputError(
                _('Decide the rumor first: a verdict and "what we know" come before a correction.')
            )
        if (
            rumor.correction_id is not None
            and Post.objects.filter(pk=rumor.correction_id, state=PostState.PUBLISHED).exists()
        ):
            raise InvalidInputError(
                _("This rumor already has a published correction; change that post instead.")
            )
        verdict = RumorStatus(rumor.status).label
        summary = _("%(verdict)s: %(claim)s") % {"verdict": verdict, "claim": rumor.claim}
        fields = PostFields(
            kind=PostKind.UPDATE,
            title=title,
            summary=summary[:299] + "…" if len(summary) > 300 else summary,
            body=body,
        )
        post = post_create(actor=actor, fields=fields)
        post = post_publish(actor=actor, post=post)
        now = timezone.now()
        rumor.correction = post
        rumor.answered_at = rumor.answered_at or now
        rumor.updated_at = now
        rumor.save()
        audit_record(
            actor=actor,
            action="rumors.publish_correction",
            obj=rumor,
            data={"post": post.pk, "status": rumor.status},
        )
        pages_changed("rumors")
    return post


def _comment_place(comment: Comment) -> str:
    if comment.post_id is not None and comment.post is not None:
        title = comment.post.title
    elif comment.discussion is not None:
        title = comment.discussion.title
    else:
        title = ""
    where = _("comment on %(title)s") % {"title": title}
    return where[: WHERE_MAX - 1] + "…" if len(where) > WHERE_MAX else where


_SPACES = re.compile(r"\s+")


def rumor_from_comment(*, actor: User, comment: Comment, incident: Incident | None = None) -> Rumor:
    """Track a community comment's claim as a rumor in one action: the claim is the start of
    the comment, first seen when and where it was posted. A comment is tracked once."""
    require_role(actor, *RUMOR_ROLES, action="track rumors")
    tracked = Rumor.objects.filter(source_comment=comment).first()
    if tracked is not None:
        raise InvalidInputError(
            _("This comment is already tracked as rumor %(n)d.") % {"n": tracked.pk}
        )
    return _create(
        actor=actor,
        claim=_claim_of(comment.body),
        first_seen_at=comment.created_at,
        first_seen_where=_comment_place(comment),
        incident=incident,
        links=(),
        source_comment=comment,
    )


def _claim_of(text: str) -> str:
    text = _SPACES.sub(" ", text).strip()
    if not text:
        raise InvalidInputError(_("There is no text to track."))
    return text if len(text) <= CLAIM_MAX else text[: CLAIM_MAX - 1].rstrip() + "…"


def rumor_from_inbound(
    *, actor: User, item: InboundItem, incident: Incident | None = None
) -> Rumor:
    """Track a reply, comment or mention from another network or the fediverse as a rumor in
    one action: the claim is its text, first seen when and where it was posted, its link kept
    as evidence. An item is tracked once."""
    require_role(actor, *RUMOR_ROLES, action="track rumors")
    tracked = Rumor.objects.filter(source_inbound=item).first()
    if tracked is not None:
        raise InvalidInputError(
            _("This message is already tracked as rumor %(n)d.") % {"n": tracked.pk}
        )
    where = f"{item.get_network_display()}: {item.author_handle or item.author_name}"
    return _create(
        actor=actor,
        claim=_claim_of(item.text),
        first_seen_at=item.published_at or item.received_at,
        first_seen_where=where[:WHERE_MAX],
        incident=incident,
        links=[item.url] if item.url.startswith(("https://", "http://")) else [],
        source_inbound=item,
    )
