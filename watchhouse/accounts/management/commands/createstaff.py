"""`watchhouse createstaff`: add a staff member with roles and an authenticator."""

from __future__ import annotations

import base64
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from watchhouse.accounts.roles import Role
from watchhouse.accounts.services import staff_create, totp_device_create
from watchhouse.core.errors import InvalidInputError


class Command(BaseCommand):
    help = "Create a staff member; prints the password (if generated) and the TOTP secret."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--role",
            action="append",
            default=[],
            choices=Role.values,
            help="A role to grant (repeat for several).",
        )
        parser.add_argument("--password", default=None, help="Default: a generated one.")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--superuser", action="store_true", help="May open Django admin.")
        parser.add_argument("--no-totp", action="store_true", help="No authenticator (dev only).")

    def handle(self, *args: Any, **o: Any) -> None:
        try:
            user, password = staff_create(
                actor=None,
                username=o["username"],
                email=o["email"],
                password=o["password"],
                roles=o["role"],
                first_name=o["first_name"],
                last_name=o["last_name"],
                superuser=o["superuser"],
            )
        except InvalidInputError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Staff member {user.username} created with roles: {', '.join(o['role']) or '(none)'}"
        )
        if not o["password"]:
            self.stdout.write(f"  password: {password}")
        if not o["no_totp"]:
            device = totp_device_create(actor=None, user=user)
            secret = base64.b32encode(device.bin_key).decode("ascii")
            self.stdout.write(f"  authenticator secret: {secret}")
            self.stdout.write(f"  authenticator URI:    {device.config_url}")
