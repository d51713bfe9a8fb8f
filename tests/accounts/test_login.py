"""Staff sign-in: password, then authenticator code; lock-out; role-gated console pages."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_otp.oath import totp

from tests.factories import PASSWORD
from watchhouse.accounts.services import totp_device_create
from watchhouse.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def current_code(device) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def password_step(client, username, password=PASSWORD):
    return client.post(reverse("accounts:login"), {"username": username, "password": password})


def test_password_then_totp_signs_in(client, make_staff):
    user = make_staff("pio")
    device = totp_device_create(actor=None, user=user)
    response = password_step(client, user.username)
    assert response.status_code == 302 and response.url == reverse("accounts:verify")
    # The password alone does not open the console.
    assert client.get(reverse("console:home")).status_code == 302
    response = client.post(reverse("accounts:verify"), {"token": current_code(device)})
    assert response.status_code == 302 and response.url == reverse("console:home")
    page = client.get(reverse("console:home"))
    assert page.status_code == 200
    assert "Public information officer" in page.content.decode()
    assert AuditEntry.objects.filter(action="accounts.login", actor=user).exists()


def test_wrong_totp_is_refused_and_audited(client, make_staff):
    user = make_staff("pio")
    device = totp_device_create(actor=None, user=user)
    password_step(client, user.username)
    wrong = f"{(int(current_code(device)) + 1) % 1000000:06d}"
    response = client.post(reverse("accounts:verify"), {"token": wrong})
    assert response.status_code == 400
    assert "That code is not right" in response.content.decode()
    assert client.get(reverse("console:home")).status_code == 302
    assert AuditEntry.objects.filter(action="accounts.login_failed", actor=user).count() == 1


def test_repeated_wrong_codes_are_throttled(client, make_staff):
    """After wrong codes even the right code waits (django-otp's throttling)."""
    user = make_staff("pio")
    device = totp_device_create(actor=None, user=user)
    password_step(client, user.username)
    for _ in range(3):
        client.post(reverse("accounts:verify"), {"token": "000000"})
    response = client.post(reverse("accounts:verify"), {"token": current_code(device)})
    assert "Too many wrong codes" in response.content.decode()
    assert client.get(reverse("console:home")).status_code == 302


def test_wrong_passwords_lock_out(client, make_staff):
    """Five wrong passwords lock the user name from that address, even for the right one."""
    user = make_staff("pio")
    for _ in range(5):
        response = password_step(client, user.username, "wrong password")
        assert response.status_code in (400, 429)
    response = password_step(client, user.username)
    assert response.status_code == 429
    assert "Sign-in locked" in response.content.decode()


def test_mfa_required_refuses_members_without_authenticator(client, make_staff, settings):
    settings.WATCHHOUSE_MFA_REQUIRED = True
    user = make_staff("pio")
    response = password_step(client, user.username)
    assert response.status_code == 400
    assert "authenticator app" in response.content.decode()
    assert client.get(reverse("console:home")).status_code == 302


def test_console_requires_second_factor_when_mfa_required(client, make_staff, settings):
    settings.WATCHHOUSE_MFA_REQUIRED = True
    user = make_staff("supervisor")
    client.force_login(user)  # a session without a verified device
    assert client.get(reverse("console:audit")).status_code == 302


@pytest.mark.parametrize(
    ("role", "url_name", "status"),
    [
        ("pio", "console:audit", 403),
        ("dispatcher", "console:audit", 403),
        ("analyst", "console:staff", 403),
        ("supervisor", "console:audit", 200),
        ("admin", "console:staff", 200),
        ("supervisor", "console:staff", 403),
        ("investigator", "console:tokens", 200),
    ],
)
def test_console_pages_by_role(client, make_staff, role, url_name, status):
    client.force_login(make_staff(role))
    response = client.get(reverse(url_name))
    assert response.status_code == status
    if status == 403:
        assert "Not for your role" in response.content.decode()


def test_django_admin_is_for_superusers_only(client, make_staff):
    client.force_login(make_staff("admin"))
    assert client.get("/django-admin/").status_code == 302
    client.force_login(make_staff("admin", is_superuser=True))
    assert client.get("/django-admin/").status_code == 200


def test_next_url_is_kept_but_not_offsite(client, make_staff):
    user = make_staff("supervisor")
    device = totp_device_create(actor=None, user=user)
    client.post(
        reverse("accounts:login") + "?next=https://evil.example/",
        {"username": user.username, "password": PASSWORD, "next": "https://evil.example/"},
    )
    response = client.post(reverse("accounts:verify"), {"token": current_code(device)})
    assert response.url == reverse("console:home")
