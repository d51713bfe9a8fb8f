"""Staff accounts, roles, TOTP devices and API tokens. ``actor=None`` means the command line."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from watchhouse.accounts.models import ApiToken, RoleAssignment, User
from watchhouse.accounts.roles import Role, require_role
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError, WatchhouseError

TOKEN_PREFIX = "wh_"  # noqa: S105 - a public marker, not a secret


class TokenError(WatchhouseError):
    """An API token was not accepted; the message says why."""


def _check_admin(actor: User | None, action: str) -> None:
    if actor is not None:
        require_role(actor, Role.ADMIN, action=action)


def _clean_roles(roles: Iterable[str]) -> list[Role]:
    cleaned = []
    for role in roles:
        if role not in Role.values:
            raise InvalidInputError(f"Unknown role {role!r}; roles are: {', '.join(Role.values)}.")
        cleaned.append(Role(role))
    return sorted(set(cleaned))


def staff_create(
    *,
    actor: User | None,
    username: str,
    email: str,
    password: str | None = None,
    roles: Iterable[str] = (),
    first_name: str = "",
    last_name: str = "",
    superuser: bool = False,
) -> tuple[User, str]:
    """Create an active staff member with roles; return it and its (possibly generated) password."""
    _check_admin(actor, "create staff accounts")
    role_list = _clean_roles(roles)
    if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise InvalidInputError("User names use letters, digits, dots, dashes and underscores.")
    if User.objects.filter(username__iexact=username).exists():
        raise InvalidInputError(f"A staff member called {username!r} exists already.")
    password = password or secrets.token_urlsafe(15)
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        is_staff=True,
        is_superuser=superuser,
    )
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInputError("Password refused: " + " ".join(exc.messages)) from exc
    user.set_password(password)
    with transaction.atomic():
        user.save()
        RoleAssignment.objects.bulk_create(
            RoleAssignment(user=user, role=role, granted_by=actor) for role in role_list
        )
        audit_record(
            actor=actor,
            action="accounts.staff_create",
            obj=user,
            data={"username": username, "roles": list(role_list), "superuser": superuser},
        )
    return user, password


def staff_set_roles(*, actor: User | None, user: User, roles: Iterable[str]) -> list[Role]:
    """Replace the roles ``user`` holds."""
    _check_admin(actor, "change staff roles")
    role_list = _clean_roles(roles)
    with transaction.atomic():
        before = sorted(user.role_assignments.values_list("role", flat=True))
        user.role_assignments.exclude(role__in=role_list).delete()
        for role in role_list:
            RoleAssignment.objects.get_or_create(
                user=user, role=role, defaults={"granted_by": actor}
            )
        audit_record(
            actor=actor,
            action="accounts.staff_set_roles",
            obj=user,
            data={"before": before, "after": list(role_list)},
        )
    user.__dict__.pop("role_set", None)
    return role_list


def totp_device_create(*, actor: User | None, user: User) -> TOTPDevice:
    """Give ``user`` a new confirmed TOTP device, replacing any they had."""
    if actor is not None and actor.pk != user.pk:
        require_role(actor, Role.ADMIN, action="reset another member's authenticator")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
        audit_record(actor=actor, action="accounts.totp_device_create", obj=user)
    return device


def _digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def api_token_create(
    *, actor: User | None, user: User, name: str, days: int = 90
) -> tuple[ApiToken, str]:
    """Issue a token for ``user``; the raw key is returned once and never stored."""
    if actor is not None and actor.pk != user.pk:
        require_role(actor, Role.ADMIN, action="issue tokens for another member")
    if not 1 <= days <= 366:
        raise InvalidInputError("A token lives from 1 to 366 days.")
    if not name.strip():
        raise InvalidInputError("Give the token a name that says which integration uses it.")
    raw_key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name.strip(),
            prefix=raw_key[:10],
            key_hash=_digest(raw_key),
            expires_at=timezone.now() + timedelta(days=days),
        )
        audit_record(
            actor=actor,
            action="accounts.api_token_create",
            obj=token,
            data={"user": user.username, "name": token.name, "expires_at": token.expires_at},
        )
    return token, raw_key


def api_token_revoke(*, actor: User | None, token: ApiToken) -> None:
    """Stop ``token`` from working, at once."""
    if actor is not None and actor.pk != token.user_id:
        require_role(actor, Role.ADMIN, action="revoke another member's token")
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        audit_record(actor=actor, action="accounts.api_token_revoke", obj=token)


def api_token_authenticate(*, raw_key: str) -> User:
    """Return the active staff member a token belongs to, or say why it is refused."""
    token = (
        ApiToken.objects.select_related("user").filter(key_hash=_digest(raw_key)).first()
        if raw_key.startswith(TOKEN_PREFIX)
        else None
    )
    if token is None:
        raise TokenError("The API token is not known.")
    now = timezone.now()
    if token.revoked_at is not None:
        raise TokenError("The API token was revoked.")
    if token.expires_at <= now:
        raise TokenError(f"The API token expired on {token.expires_at:%Y-%m-%d %H:%M} UTC.")
    if not token.user.is_active or not token.user.is_staff:
        raise TokenError("The API token's owner is no longer active staff.")
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def login_record(*, user: User, succeeded: bool, step: str) -> None:
    """Record a staff sign-in step (password or second factor) in the audit log."""
    with transaction.atomic():
        audit_record(
            actor=user,
            action="accounts.login" if succeeded else "accounts.login_failed",
            obj=user,
            data={"step": step},
        )
