"""Officer profiles and topics: who the public meets, and what posts are about."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from watchhouse.accounts.roles import require_role
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError
from watchhouse.core.pagecache import pages_changed
from watchhouse.geo.models import Area
from watchhouse.posts import policy
from watchhouse.posts.models import MediaAsset, MediaKind, OfficerProfile, Topic
from watchhouse.posts.rendering import render_markdown

if TYPE_CHECKING:
    from watchhouse.accounts.models import User


@dataclass(frozen=True)
class OfficerFields:
    """What the officers page shows of one officer."""

    name: str
    title: str
    badge: str = ""
    bio: str = ""
    achievements: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    area_ids: tuple[int, ...] = ()
    photo_id: int | None = None
    position: int = 0
    active: bool = True
    user_id: int | None = None


def officer_problems(fields: OfficerFields) -> list[str]:
    """What is wrong with ``fields`` (empty when nothing is)."""
    problems = []
    if not fields.name.strip() or len(fields.name.strip()) > 200:
        problems.append(_("Give the officer's name (at most 200 characters)."))
    if not fields.title.strip() or len(fields.title.strip()) > 200:
        problems.append(_("Give the officer's rank and role (at most 200 characters)."))
    if len(fields.badge) > 50 or len(fields.contact_phone) > 40:
        problems.append(_("The badge or phone number is too long."))
    if fields.contact_email and "@" not in fields.contact_email:
        problems.append(_("The e-mail address is not valid."))
    found = set(Area.objects.filter(pk__in=fields.area_ids).values_list("pk", flat=True))
    if found != set(fields.area_ids):
        problems.append(_("One of the areas does not exist."))
    if (
        fields.photo_id is not None
        and not MediaAsset.objects.filter(pk=fields.photo_id, kind=MediaKind.IMAGE).exists()
    ):
        problems.append(_("The photo must be an uploaded image."))
    return problems


def _unique_slug(model: Any, text: str, *, exclude: int | None = None) -> str:
    base = slugify(text)[:190] or "item"
    slug, n = base, 1
    while model.objects.filter(slug=slug).exclude(pk=exclude).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _apply(officer: OfficerProfile, fields: OfficerFields) -> None:
    officer.name = fields.name.strip()
    officer.title = fields.title.strip()
    officer.badge = fields.badge.strip()
    officer.bio = fields.bio
    officer.bio_html = render_markdown(fields.bio)
    officer.achievements = fields.achievements
    officer.achievements_html = render_markdown(fields.achievements)
    officer.contact_email = fields.contact_email.strip()
    officer.contact_phone = fields.contact_phone.strip()
    officer.photo_id = fields.photo_id
    officer.position = fields.position
    officer.active = fields.active
    officer.user_id = fields.user_id


def _refuse_if(problems: list[str]) -> None:
    if problems:
        raise InvalidInputError(" ".join(problems))


def officer_create(*, actor: User | None, fields: OfficerFields) -> OfficerProfile:
    """Add an officer profile (bio and achievements rendered to safe HTML).

    ``actor`` None is the system (the demo loader) acting.
    """
    if actor is not None:
        require_role(actor, *policy.PROFILE_ROLES, action="keep officer profiles")
    _refuse_if(officer_problems(fields))
    with transaction.atomic():
        officer = OfficerProfile(slug=_unique_slug(OfficerProfile, fields.name))
        _apply(officer, fields)
        officer.save()
        officer.areas.set(fields.area_ids)
        audit_record(
            actor=actor,
            action="posts.officer_create",
            obj=officer,
            data={"areas": len(fields.area_ids)},
        )
        pages_changed("posts")
    return officer


def officer_update(
    *, actor: User | None, officer: OfficerProfile, fields: OfficerFields
) -> OfficerProfile:
    """Change an officer profile; its address (slug) stays as it was."""
    if actor is not None:
        require_role(actor, *policy.PROFILE_ROLES, action="keep officer profiles")
    _refuse_if(officer_problems(fields))
    with transaction.atomic():
        officer = OfficerProfile.objects.select_for_update().get(pk=officer.pk)
        _apply(officer, fields)
        officer.save()
        officer.areas.set(fields.area_ids)
        audit_record(
            actor=actor,
            action="posts.officer_update",
            obj=officer,
            data={"areas": len(fields.area_ids)},
        )
        pages_changed("posts")
    return officer


def topic_create(*, actor: User | None, name: str) -> Topic:
    """Add a topic; a name already taken (in any letter case) is refused."""
    if actor is not None:
        require_role(actor, *policy.PROFILE_ROLES, action="add topics")
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise InvalidInputError(_("A topic needs a name of at most 100 characters."))
    if Topic.objects.filter(name__iexact=name).exists():
        raise InvalidInputError(_("There is already a topic called %(name)s.") % {"name": name})
    with transaction.atomic():
        topic = Topic.objects.create(name=name, slug=_unique_slug(Topic, name))
        audit_record(actor=actor, action="posts.topic_create", obj=topic)
        pages_changed("posts")
    return topic
