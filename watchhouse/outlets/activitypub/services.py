"""Writes about our own actors: the department actor made on first use, area actors made by
admins, and housekeeping of the replay guard."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from watchhouse.accounts.models import User
from watchhouse.accounts.roles import Role, require_role
from watchhouse.alerts.models import Category
from watchhouse.audit.services import audit_record
from watchhouse.core.crypto import seal
from watchhouse.core.errors import InvalidInputError
from watchhouse.geo.models import Area
from watchhouse.outlets.activitypub.signatures import new_key_pair
from watchhouse.outlets.models import ActorKind, LocalActor, SeenActivity


def department_username() -> str:
    return str(getattr(settings, "WATCHHOUSE_FEDIVERSE_USERNAME", "police") or "police")


def department_actor() -> LocalActor:
    """The department's own actor (no area), created with a fresh RSA-2048 key on first use."""
    username = department_username()
    found = LocalActor.objects.filter(username=username).first()
    if found is not None:
        return found
    private, public_pem = new_key_pair()
    try:
        with transaction.atomic():
            actor = LocalActor.objects.create(
                username=username,
                kind=ActorKind.ORGANIZATION,
                name=str(settings.WATCHHOUSE_AGENCY_NAME),
                summary=_("Official account of %(agency)s.")
                % {"agency": settings.WATCHHOUSE_AGENCY_NAME},
                public_key_pem=public_pem,
                private_key=seal(private),
                alert_categories=[c.value for c in Category],
            )
            audit_record(actor=None, action="outlets.ap_actor_create", obj=actor,
                         data={"username": username})  # fmt: skip
    except IntegrityError:
        # Another request made it at the same moment.
        return LocalActor.objects.get(username=username)
    return actor


def area_actor_create(
    *, actor: User, area: Area, username: str = "", summary: str = "",
    alert_categories: list[str] | None = None,
) -> LocalActor:  # fmt: skip
    """Give ``area`` its own fediverse actor (admins only); it publishes posts tagged with the
    area, and alerts of ``alert_categories`` (none unless given)."""
    require_role(actor, Role.ADMIN, action="create fediverse accounts")
    username = slugify(username or area.slug)[:60]
    if not username:
        raise InvalidInputError(_("The account needs a name."))
    categories = list(alert_categories or [])
    unknown = set(categories) - {c.value for c in Category}
    if unknown:
        raise InvalidInputError(_("Unknown alert categories: %(c)s") % {"c": ", ".join(unknown)})
    department_actor()
    private, public_pem = new_key_pair()
    with transaction.atomic():
        if LocalActor.objects.filter(username=username).exists():
            raise InvalidInputError(_("The account name %(u)s is taken.") % {"u": username})
        local = LocalActor.objects.create(
            username=username,
            kind=ActorKind.ORGANIZATION,
            name=f"{settings.WATCHHOUSE_AGENCY_NAME}: {area.name}"[:200],
            summary=summary,
            area=area,
            public_key_pem=public_pem,
            private_key=seal(private),
            alert_categories=categories,
        )
        audit_record(actor=actor, action="outlets.ap_actor_create", obj=local,
                     data={"username": username, "area": area.pk})  # fmt: skip
    return local


def seen_activity_prune(*, older_than: timedelta = timedelta(days=2)) -> int:
    """Forget replay-guard ids older than ``older_than``: a replay of one that old is refused
    by the signature's date window anyway."""
    deleted, _rows = SeenActivity.objects.filter(
        received_at__lt=timezone.now() - older_than
    ).delete()
    return deleted
