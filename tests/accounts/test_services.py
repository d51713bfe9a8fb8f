"""Staff accounts, roles and API tokens: permissions are checked in the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from watchhouse.accounts.models import ApiToken, User
from watchhouse.accounts.roles import Role
from watchhouse.accounts.services import (
    TokenError,
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
    staff_create,
    staff_set_roles,
    totp_device_create,
)
from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import InvalidInputError, NotPermittedError

pytestmark = pytest.mark.django_db
NON_ADMIN_ROLES = [r for r in Role.values if r != Role.ADMIN]


def test_admin_creates_staff_with_roles_and_audit(make_staff):
    admin = make_staff("admin")
    user, password = staff_create(
        actor=admin, username="d.jones", email="dj@police.example", roles=["dispatcher", "pio"]
    )
    assert user.is_staff and user.check_password(password)
    assert user.role_set == {"dispatcher", "pio"}
    entry = AuditEntry.objects.get(action="accounts.staff_create")
    assert entry.actor == admin and entry.object_id == str(user.pk)
    assert entry.data["roles"] == ["dispatcher", "pio"]


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_only_admins_create_staff(make_staff, role):
    """Every role but admin is refused, and nothing is written."""
    actor = make_staff(role)
    with pytest.raises(NotPermittedError, match="Administrator"):
        staff_create(actor=actor, username="x.y", email="", roles=["pio"])
    assert not User.objects.filter(username="x.y").exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_only_admins_change_roles(make_staff, role):
    actor = make_staff(role)
    target = make_staff("pio")
    with pytest.raises(NotPermittedError):
        staff_set_roles(actor=actor, user=target, roles=["admin"])
    assert target.role_set == {"pio"}


def test_inactive_admin_is_refused(make_staff):
    admin = make_staff("admin", is_active=False)
    with pytest.raises(NotPermittedError, match="active staff"):
        staff_create(actor=admin, username="a.b", email="", roles=[])


def test_set_roles_replaces_and_audits(make_staff):
    admin = make_staff("admin")
    member = make_staff("pio", "analyst")
    staff_set_roles(actor=admin, user=member, roles=["investigator", "analyst"])
    member = User.objects.get(pk=member.pk)
    assert member.role_set == {"investigator", "analyst"}
    entry = AuditEntry.objects.get(action="accounts.staff_set_roles")
    assert entry.data == {"before": ["analyst", "pio"], "after": ["analyst", "investigator"]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"roles": ["sheriff"]}, "Unknown role 'sheriff'"),
        ({"password": "short"}, "Password refused"),
        ({"username": "bad name!"}, "User names use"),
    ],
)
def test_bad_input_changes_nothing(make_staff, kwargs, message):
    admin = make_staff("admin")
    before = User.objects.count()
    args = {"username": "ok.name", "email": "", "roles": []} | kwargs
    with pytest.raises(InvalidInputError, match=message):
        staff_create(actor=admin, **args)
    assert User.objects.count() == before
    assert not AuditEntry.objects.filter(action="accounts.staff_create").exists()


def test_duplicate_username_refused(make_staff):
    admin = make_staff("admin", username="chief")
    with pytest.raises(InvalidInputError, match="exists already"):
        staff_create(actor=admin, username="CHIEF", email="", roles=[])


def test_api_token_lifecycle(make_staff):
    """A token works until it is revoked or expires, and says which."""
    member = make_staff("analyst")
    token, raw = api_token_create(actor=member, user=member, name="crime dashboard", days=30)
    assert raw.startswith("wh_") and raw[:10] == token.prefix
    assert raw not in token.key_hash  # only the digest is stored
    assert api_token_authenticate(raw_key=raw) == member
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None

    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(TokenError, match="expired"):
        api_token_authenticate(raw_key=raw)

    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() + timedelta(days=1))
    api_token_revoke(actor=member, token=token)
    with pytest.raises(TokenError, match="revoked"):
        api_token_authenticate(raw_key=raw)
    with pytest.raises(TokenError, match="not known"):
        api_token_authenticate(raw_key="wh_madeup")
    actions = list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))
    assert actions == ["accounts.api_token_create", "accounts.api_token_revoke"]


def test_token_of_deactivated_member_is_refused(make_staff):
    member = make_staff("analyst")
    _, raw = api_token_create(actor=member, user=member, name="x", days=1)
    User.objects.filter(pk=member.pk).update(is_active=False)
    with pytest.raises(TokenError, match="no longer active"):
        api_token_authenticate(raw_key=raw)


def test_members_cannot_issue_tokens_for_others(make_staff):
    member = make_staff("analyst")
    other = make_staff("investigator")
    with pytest.raises(NotPermittedError):
        api_token_create(actor=member, user=other, name="x")
    with pytest.raises(InvalidInputError, match="1 to 366"):
        api_token_create(actor=member, user=member, name="x", days=0)


def test_createstaff_command_prints_password_and_totp_secret(capsys):
    call_command("createstaff", "s.chief", "--role", "supervisor", "--role", "admin")
    out = capsys.readouterr().out
    user = User.objects.get(username="s.chief")
    assert user.role_set == {"supervisor", "admin"}
    assert "password: " in out and "authenticator secret: " in out
    password = out.split("password: ")[1].split()[0]
    assert user.check_password(password)
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1
    with pytest.raises(CommandError, match="exists already"):
        call_command("createstaff", "s.chief")


def test_totp_device_reset_is_admin_only(make_staff):
    member = make_staff("pio")
    other = make_staff("pio")
    totp_device_create(actor=member, user=member)
    with pytest.raises(NotPermittedError):
        totp_device_create(actor=member, user=other)
