"""Signed links in messages: confirm an e-mail address, manage or leave a subscription.

Each purpose has its own salt, so a link made for one purpose never works for another, and
each has a lifetime; a forged, altered or expired link raises :class:`LinkError`.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from watchhouse.core.errors import InvalidInputError

CONFIRM_SALT = "watchhouse.notify.confirm"
MANAGE_SALT = "watchhouse.notify.manage"
# How long a confirmation link works.
CONFIRM_MAX_AGE = timedelta(days=7)
# How long the manage/unsubscribe link in a message works (long: old messages must still
# let people leave).
MANAGE_MAX_AGE = timedelta(days=400)


class LinkError(InvalidInputError):
    """A signed link is forged, altered, meant for something else, or expired."""


def _signer(salt: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=salt)


def confirm_token(endpoint_id: int) -> str:
    """The token of the link that confirms one endpoint (an e-mail address)."""
    return _signer(CONFIRM_SALT).sign(str(endpoint_id))


def manage_token(public_id: object) -> str:
    """The token of the link that shows, changes or ends one subscription."""
    return _signer(MANAGE_SALT).sign(str(public_id))


def _read(token: str, salt: str, max_age: timedelta) -> str:
    try:
        return _signer(salt).unsign(token, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise LinkError("This link has expired; subscribe again or ask for a new link.") from exc
    except signing.BadSignature as exc:
        raise LinkError("This link is not valid: it was changed or not made by us.") from exc


def confirm_token_read(token: str) -> int:
    """The endpoint id of a confirmation token; raises LinkError."""
    value = _read(token, CONFIRM_SALT, CONFIRM_MAX_AGE)
    if not value.isdigit():
        raise LinkError("This link is not valid.")
    return int(value)


def manage_token_read(token: str) -> str:
    """The subscription's public id of a manage token; raises LinkError."""
    return _read(token, MANAGE_SALT, MANAGE_MAX_AGE)


def confirm_url(endpoint_id: int) -> str:
    """Absolute address of an endpoint's confirmation page."""
    path = reverse("notify:confirm", kwargs={"token": confirm_token(endpoint_id)})
    return f"{settings.SITE_URL}{path}"


def manage_url(public_id: object) -> str:
    """Absolute address of a subscription's manage page."""
    path = reverse("notify:manage", kwargs={"token": manage_token(public_id)})
    return f"{settings.SITE_URL}{path}"


def unsubscribe_url(public_id: object) -> str:
    """Absolute address of one-click unsubscribe (RFC 8058: POST without a form works)."""
    path = reverse("notify:unsubscribe", kwargs={"token": manage_token(public_id)})
    return f"{settings.SITE_URL}{path}"
