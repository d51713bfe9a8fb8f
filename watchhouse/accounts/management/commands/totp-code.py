"""`watchhouse totp-code USER`: the current authenticator code, for development only."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Print a staff member's current TOTP code (refused in production)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **opts: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("Refused: in production codes come only from the member's app.")
        device = TOTPDevice.objects.filter(user__username=username, confirmed=True).first()
        if device is None:
            raise CommandError(f"{username} has no authenticator.")
        code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
        left = device.step - int(time.time() - device.t0) % device.step
        self.stdout.write(f"{code:0{device.digits}d}  (valid for {left} more seconds)")
