"""Demo staff: an all-roles account and a PIO-only one, each with an authenticator."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from watchhouse.accounts.models import User
from watchhouse.accounts.roles import Role
from watchhouse.accounts.services import staff_create, staff_set_roles, totp_device_create
from watchhouse.audit.services import audit_record

DEMO_STAFF = [
    ("demo", "Dana", "Demo", list(Role.values), True),
    ("pio", "Pat", "Press", [Role.PIO.value], False),
]


def load(*, stdout: Any) -> None:
    """Create or refresh the demo staff and print how to sign in (new passwords each run)."""
    stdout.write("Demo staff (sign in at /accounts/login/):")
    for username, first, last, roles, superuser in DEMO_STAFF:
        password = "demo-" + secrets.token_urlsafe(9)
        user = User.objects.filter(username=username).first()
        if user is None:
            user, _ = staff_create(
                actor=None,
                username=username,
                email=f"{username}@police.invalid",
                password=password,
                roles=roles,
                first_name=first,
                last_name=last,
                superuser=superuser,
            )
        else:
            staff_set_roles(actor=None, user=user, roles=roles)
            user.set_password(password)
            with transaction.atomic():
                user.save(update_fields=["password"])
                audit_record(actor=None, action="accounts.demo_password_reset", obj=user)
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = totp_device_create(actor=None, user=user)
        secret = base64.b32encode(device.bin_key).decode("ascii")
        stdout.write(
            f"  {username:<5} password {password}   roles: {', '.join(roles)}\n"
            f"        authenticator secret {secret} (or: .venv/bin/watchhouse totp-code {username})"
        )
