"""Residents: signing in by a one-time e-mailed link, joining the neighbourhood of one's
address, and being verified by a code on a postcard or by a member of staff.

A sign-in link's token is never stored, only its SHA-256; a postcard's code is never stored,
only its keyed hash (:func:`watchhouse.core.crypto.lookup_hash`), so neither a database dump
nor a backup signs anyone in or verifies anyone.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from watchhouse.accounts.models import User
from watchhouse.accounts.roles import require_role
from watchhouse.audit.services import audit_record
from watchhouse.community import postcards
from watchhouse.community.models import (
    Membership,
    MembershipStatus,
    PostcardBatch,
    Resident,
    SignInLink,
    VerificationMethod,
)
from watchhouse.community.policy import MEMBERSHIP_ROLES
from watchhouse.core import crypto
from watchhouse.core.errors import InvalidInputError
from watchhouse.geo.models import AreaKind
from watchhouse.geo.selectors import areas_at
from watchhouse.geocode.geocoder import geocode_search
from watchhouse.tips import guard

logger = logging.getLogger(__name__)

# Sign-in links one e-mail address may be sent, and one client may ask for, per window.
SIGNIN_PER_ADDRESS = 5
SIGNIN_PER_CLIENT = 20
SIGNIN_WINDOW_S = 3600
# Wrong postcard codes a membership takes before it is locked (staff print a new card).
POSTCARD_ATTEMPTS = 5
# Postcard codes: no 0/O, 1/I/L, so a code read off a card is typed right.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
DISPLAY_NAME_MAX = 60
ADDRESS_MAX = 200
# A token from secrets.token_urlsafe(32) is 43 characters of the URL-safe alphabet.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SignInLinkError(InvalidInputError):
    """A sign-in link that is unknown, altered, already used or expired."""


class SignInThrottledError(InvalidInputError):
    """Too many sign-in links were asked for, from this client or for this address."""


class DisplayNameNeededError(InvalidInputError):
    """A first sign-in needs the name the resident's neighbours will see."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def email_normalise(email: str) -> str:
    """The address as residents are stored (trimmed, lower case); raises InvalidInputError for
    anything that is not an e-mail address."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInputError(_("Enter a valid e-mail address.")) from None
    return email


def safe_next(next_path: str) -> str:
    """``next_path`` when it is a path on this site (no scheme, no host), else ''."""
    next_path = (next_path or "").strip()
    if (
        not next_path.startswith("/")
        or next_path.startswith(("//", "/\\"))
        or _CONTROL.search(next_path)
        or not url_has_allowed_host_and_scheme(next_path, allowed_hosts=None)
    ):
        return ""
    return next_path[:500]


def display_name_clean(name: str) -> str:
    """A display name as stored: one line of plain text, 1 to 60 characters."""
    name = " ".join(_CONTROL.sub(" ", name or "").split())
    if not name:
        raise DisplayNameNeededError(_("Choose the name your neighbours will see."))
    if len(name) > DISPLAY_NAME_MAX:
        raise InvalidInputError(
            _("A display name has at most %(n)d characters.") % {"n": DISPLAY_NAME_MAX}
        )
    return name


def _signin_url(token: str, next_path: str) -> str:
    url = settings.SITE_URL + reverse("community:sign_in_link", kwargs={"token": token})
    if next_path:
        url += "?next=" + quote(next_path, safe="/")
    return url


def _signin_mail_send(*, email: str, url: str, language: str) -> None:
    """Send the link; a failure is logged, never raised (the answer must not depend on it)."""
    minutes = int(settings.WATCHHOUSE_COMMUNITY_SIGNIN_MINUTES)
    agency = settings.WATCHHOUSE_AGENCY_NAME
    with translation.override(language):
        subject = _("Your sign-in link for %(agency)s") % {"agency": agency}
        body = "\n\n".join(
            [
                _("Open this link to sign in to the %(agency)s community pages:")
                % {"agency": agency},
                url,
                _("The link works once, within %(minutes)d minutes.") % {"minutes": minutes},
                _("If you did not ask to sign in, ignore this message: nothing happens."),
            ]
        )
    try:
        EmailMessage(
            subject=subject, body=body, to=[email], headers={"Auto-Submitted": "auto-generated"}
        ).send()
    except Exception:  # noqa: BLE001 - any mail failure: logged, the visitor's answer is the same
        logger.exception("The sign-in link could not be sent.")


def signin_link_request(
    *, email: str, next_path: str = "", client: str = "", language: str = ""
) -> None:
    """Send a one-time sign-in link to ``email`` after commit, whether or not a resident has
    that address (the answer never tells which).

    Only the SHA-256 of the link's token is stored; the link expires after
    ``WATCHHOUSE_COMMUNITY_SIGNIN_MINUTES`` and brings the resident back to ``next_path``
    when that is a path on this site. Raises :class:`SignInThrottledError` when this client or
    this address asked too often in the last hour, and InvalidInputError for a bad address.
    """
    email = email_normalise(email)
    if client and guard.over_limit(
        "community-signin-client", client, limit=SIGNIN_PER_CLIENT, window_seconds=SIGNIN_WINDOW_S
    ):
        raise SignInThrottledError(
            _("Too many sign-in links were asked for from here. Try again in an hour.")
        )
    if guard.over_limit(
        "community-signin-email", email, limit=SIGNIN_PER_ADDRESS, window_seconds=SIGNIN_WINDOW_S
    ):
        raise SignInThrottledError(
            _(
                "Several sign-in links were sent to this address in the last hour. Use the "
                "newest one, or try again later."
            )
        )
    if client:
        guard.count("community-signin-client", client, window_seconds=SIGNIN_WINDOW_S)
    guard.count("community-signin-email", email, window_seconds=SIGNIN_WINDOW_S)
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    minutes = int(settings.WATCHHOUSE_COMMUNITY_SIGNIN_MINUTES)
    known = Resident.objects.filter(email=email).values_list("language", flat=True).first()
    mail_language = known or language or translation.get_language() or settings.LANGUAGE_CODE
    url = _signin_url(token, safe_next(next_path))
    with transaction.atomic():
        SignInLink.objects.create(
            email=email,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
        transaction.on_commit(
            lambda: _signin_mail_send(email=email, url=url, language=mail_language)
        )


@dataclass(frozen=True)
class SignInLinkState:
    """What the confirm page needs to know about a link, without using it."""

    usable: bool
    new_resident: bool
    problem: str = ""


def _link_problem(link: SignInLink | None) -> str:
    if link is None:
        return _(
            "This sign-in link is not valid. Check that it was copied whole, or ask for a new one."
        )
    if link.used_at is not None:
        return _("This sign-in link has already been used. Ask for a new one.")
    if link.expires_at <= timezone.now():
        return _("This sign-in link has expired. Ask for a new one.")
    return ""


def _link_find(token: str, *, lock: bool = False) -> SignInLink | None:
    if not _TOKEN.fullmatch(token or ""):
        return None
    links = SignInLink.objects.filter(token_hash=token_hash(token))
    if lock:
        links = links.select_for_update()
    return links.first()


def signin_link_state(token: str) -> SignInLinkState:
    """Whether ``token`` may still sign someone in (reading it changes nothing: mail scanners
    open links before people do)."""
    link = _link_find(token)
    problem = _link_problem(link)
    if problem or link is None:
        return SignInLinkState(usable=False, new_resident=False, problem=problem)
    return SignInLinkState(
        usable=True, new_resident=not Resident.objects.filter(email=link.email).exists()
    )


def signin_link_consume(*, token: str, display_name: str = "", language: str = "") -> Resident:
    """Use the link once and return its resident, created on a first sign-in with
    ``display_name`` (required then).

    An unknown, altered, used or expired token raises :class:`SignInLinkError`, a missing
    name on a first sign-in :class:`DisplayNameNeededError`; either way nothing changes.
    """
    now = timezone.now()
    with transaction.atomic():
        link = _link_find(token, lock=True)
        problem = _link_problem(link)
        if problem or link is None:
            raise SignInLinkError(problem)
        resident = Resident.objects.filter(email=link.email).first()
        created = resident is None
        if resident is None:
            resident = Resident.objects.create(
                email=link.email,
                display_name=display_name_clean(display_name),
                language=(language or translation.get_language() or settings.LANGUAGE_CODE)[:10],
                created_at=now,
            )
        # Conditional: of two requests racing with one link, only one signs in.
        if not SignInLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=now):
            raise SignInLinkError(_("This sign-in link has already been used. Ask for a new one."))
        resident.last_sign_in_at = now
        resident.save(update_fields=["last_sign_in_at"])
        audit_record(
            actor=None,
            action="community.sign_in",
            obj=resident,
            data={"new_resident": created, "link": link.pk},
        )
    return resident


# --- membership ----------------------------------------------------------------------------


def membership_request(*, resident: Resident, address: str) -> Membership:
    """Ask to join the neighbourhood ``address`` lies in (found by the geocoder, never chosen
    by the resident); the membership waits for verification with the address sealed.

    Raises InvalidInputError when the address is not found, lies in no neighbourhood, or the
    resident already belongs to (or asked to join) that neighbourhood.
    """
    address = " ".join(_CONTROL.sub(" ", address or "").split())
    if not address:
        raise InvalidInputError(_("Enter your street address."))
    if len(address) > ADDRESS_MAX:
        raise InvalidInputError(_("An address has at most %(n)d characters.") % {"n": ADDRESS_MAX})
    found = geocode_search(address, limit=1)
    if not found:
        raise InvalidInputError(
            _(
                "That address was not found. Write it as on an envelope, with the house "
                "number and street (for example 12 Main Street)."
            )
        )
    place = found[0]
    hoods = areas_at(lat=place.lat, lon=place.lon, kinds=[AreaKind.NEIGHBOURHOOD]).get(
        AreaKind.NEIGHBOURHOOD, []
    )
    if not hoods:
        raise InvalidInputError(
            _("%(address)s is not in any of the neighbourhoods this community covers.")
            % {"address": place.label}
        )
    area = hoods[0]
    existing = (
        Membership.objects.filter(resident=resident, area=area)
        .exclude(status=MembershipStatus.LEFT)
        .first()
    )
    if existing is not None:
        raise InvalidInputError(_already_member(existing))
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                resident=resident,
                area=area,
                address=crypto.seal(address),
                status=MembershipStatus.PENDING,
            )
            audit_record(
                actor=None,
                action="community.membership_request",
                obj=membership,
                data={"resident": resident.pk, "area": area.pk},
            )
    except IntegrityError:  # asked twice at once: the constraint kept one
        raise InvalidInputError(
            _("You have already asked to join %(area)s.") % {"area": area.name}
        ) from None
    return membership


def _already_member(membership: Membership) -> str:
    name = membership.area.name
    if membership.status == MembershipStatus.VERIFIED:
        return _("You are already a verified member of %(area)s.") % {"area": name}
    if membership.status == MembershipStatus.REJECTED:
        return _(
            "Your request to join %(area)s was not accepted. Contact the department if you "
            "think this is a mistake."
        ) % {"area": name}
    return _("You have already asked to join %(area)s; it is waiting for verification.") % {
        "area": name
    }


def code_normalise(code: str) -> str:
    """A postcard code as typed, without spaces or dashes, in capitals."""
    return re.sub(r"[\s-]+", "", code or "").upper()


def membership_verify_code(*, resident: Resident, code: str) -> Membership:
    """Verify the resident's waiting membership whose postcard carries ``code``.

    A wrong code counts against each of the resident's memberships waiting for a postcard
    code; after five wrong codes a membership takes no more (staff print a new postcard or
    approve it). Raises InvalidInputError for a wrong code (the count is kept) or when no
    postcard is waiting.
    """
    typed = code_normalise(code)
    if not typed:
        raise InvalidInputError(_("Enter the code printed on your postcard."))
    now = timezone.now()
    with transaction.atomic():
        waiting = list(
            Membership.objects.select_for_update()
            .filter(resident=resident, status=MembershipStatus.PENDING)
            .exclude(postcard_code_hash="")
            .select_related("area")
            .order_by("id")
        )
        open_ = [m for m in waiting if m.postcard_attempts < POSTCARD_ATTEMPTS]
        if not open_:
            if waiting:
                message = _(
                    "Too many wrong codes were entered. Ask the department for a new postcard "
                    "or to verify you another way."
                )
            else:
                message = _("No postcard is on its way to you, so there is no code to enter yet.")
            raise InvalidInputError(message)
        wanted = crypto.lookup_hash(typed, purpose="postcard") if len(typed) <= 40 else ""
        match = next((m for m in open_ if m.postcard_code_hash == wanted), None)
        if match is not None:
            match.status = MembershipStatus.VERIFIED
            match.method = VerificationMethod.POSTCARD
            match.verified_at = now
            match.verified_by = None
            match.postcard_code_hash = ""
            match.save(
                update_fields=[
                    "status",
                    "method",
                    "verified_at",
                    "verified_by",
                    "postcard_code_hash",
                ]
            )
            audit_record(
                actor=None,
                action="community.membership_verify",
                obj=match,
                data={"method": VerificationMethod.POSTCARD, "area": match.area_id},
            )
            return match
        for membership in open_:
            membership.postcard_attempts += 1
            membership.save(update_fields=["postcard_attempts"])
        audit_record(
            actor=None,
            action="community.postcard_code_wrong",
            object_type="community.resident",
            object_id=resident.pk,
            data={"memberships": {m.pk: m.postcard_attempts for m in open_}},
        )
        left = POSTCARD_ATTEMPTS - max(m.postcard_attempts for m in open_)
    # Outside the transaction: the count of wrong codes is kept.
    if left <= 0:
        raise InvalidInputError(
            _(
                "That code is not right, and it was the last try. Ask the department for a "
                "new postcard or to verify you another way."
            )
        )
    raise InvalidInputError(
        _("That code is not right. Check it on the postcard (%(n)d tries left).") % {"n": left}
    )


def _pending_locked(pk: int) -> Membership:
    membership = (
        Membership.objects.select_for_update()
        .select_related("area", "resident")
        .filter(pk=pk)
        .first()
    )
    if membership is None:
        raise InvalidInputError(_("No such membership."))
    if membership.status != MembershipStatus.PENDING:
        raise InvalidInputError(
            _("%(resident)s in %(area)s is no longer waiting for verification.")
            % {"resident": membership.resident.display_name, "area": membership.area.name}
        )
    return membership


def membership_approve(*, actor: User, membership: Membership) -> Membership:
    """Verify a waiting membership on a member of staff's word."""
    require_role(actor, *MEMBERSHIP_ROLES, action="verify residents")
    with transaction.atomic():
        locked = _pending_locked(membership.pk)
        locked.status = MembershipStatus.VERIFIED
        locked.method = VerificationMethod.STAFF
        locked.verified_at = timezone.now()
        locked.verified_by = actor
        locked.postcard_code_hash = ""
        locked.save(
            update_fields=["status", "method", "verified_at", "verified_by", "postcard_code_hash"]
        )
        audit_record(
            actor=actor,
            action="community.membership_approve",
            obj=locked,
            data={"resident": locked.resident_id, "area": locked.area_id},
        )
    return locked


def membership_reject(*, actor: User, membership: Membership, reason: str) -> Membership:
    """Refuse a waiting membership, with the reason recorded."""
    require_role(actor, *MEMBERSHIP_ROLES, action="verify residents")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInputError(_("Give the reason for not verifying this resident."))
    with transaction.atomic():
        locked = _pending_locked(membership.pk)
        locked.status = MembershipStatus.REJECTED
        locked.verified_by = actor
        locked.postcard_code_hash = ""
        locked.save(update_fields=["status", "verified_by", "postcard_code_hash"])
        audit_record(
            actor=actor,
            action="community.membership_reject",
            obj=locked,
            justification=reason,
            data={"resident": locked.resident_id, "area": locked.area_id},
        )
    return locked


@dataclass(frozen=True)
class QueueRow:
    """A waiting membership as the console shows it, the address unsealed."""

    membership: Membership
    address: str
    locked: bool


def membership_queue_read(*, actor: User, memberships: list[Membership]) -> list[QueueRow]:
    """The memberships with their addresses unsealed for ``actor``; the read is audited."""
    require_role(actor, *MEMBERSHIP_ROLES, action="see residents' addresses")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="community.members_view",
            object_type="community.membership",
            data={"memberships": [m.pk for m in memberships]},
        )
    return [
        QueueRow(m, _unsealed(m), m.postcard_attempts >= POSTCARD_ATTEMPTS) for m in memberships
    ]


def _unsealed(membership: Membership) -> str:
    try:
        return membership.read_address()
    except crypto.SealError:
        return _("(the address cannot be unsealed with the current keys)")


def postcard_code_new() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def postcard_batch_create(
    *, actor: User, memberships: list[Membership]
) -> tuple[PostcardBatch, bytes]:
    """Issue a new code to each waiting membership and return the batch with its PDF (one
    6x4 inch postcard a page), made now and never again: only the codes' keyed hashes are
    kept, so printing again issues new codes (and the old cards stop working).
    """
    require_role(actor, *MEMBERSHIP_ROLES, action="print postcards")
    if not memberships:
        raise InvalidInputError(_("Choose the memberships to print postcards for."))
    verify_url = settings.SITE_URL + reverse("community:verify")
    cards: list[postcards.Postcard] = []
    with transaction.atomic():
        now = timezone.now()
        batch = PostcardBatch.objects.create(created_by=actor, created_at=now, printed_at=now)
        for membership in sorted(memberships, key=lambda m: m.pk):
            locked = _pending_locked(membership.pk)
            code = postcard_code_new()
            locked.postcard_code_hash = crypto.lookup_hash(code, purpose="postcard")
            locked.postcard_batch = batch
            locked.postcard_attempts = 0
            locked.save(update_fields=["postcard_code_hash", "postcard_batch", "postcard_attempts"])
            cards.append(
                postcards.Postcard(
                    name=locked.resident.display_name,
                    address=locked.read_address(),
                    area=locked.area.name,
                    code=code,
                    verify_url=verify_url,
                )
            )
        audit_record(
            actor=actor,
            action="community.postcard_batch_create",
            obj=batch,
            data={"memberships": [m.pk for m in sorted(memberships, key=lambda m: m.pk)]},
        )
        pdf = postcards.postcards_pdf(cards, agency=settings.WATCHHOUSE_AGENCY_NAME)
    return batch, pdf
