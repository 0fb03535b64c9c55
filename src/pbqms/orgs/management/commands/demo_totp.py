"""``pbqms demo_totp <username>``: print the current TOTP code of a demo administrator.

Demo mode only: the demo's administrator accounts share a published secret
(``pbqms.orgs.demo_data.TOTP_SECRET_BASE32``), so anyone trying pbqms can pass the two-factor
step without an authenticator app. The command refuses outside demo mode.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from pbqms.accounts.models import User


class Command(BaseCommand):
    help = "Print the current six-digit TOTP code of a demo account (demo mode only)."

    def add_arguments(self, parser):
        parser.add_argument("username", help="admin, secadmin or auditadmin")

    def handle(self, *args, username: str, **options):
        if not settings.DEMO_MODE:
            raise CommandError("demo_totp works only in demo mode (PBQMS_DEMO=1).")
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No account {username!r}. Run `pbqms demo` first.")
        device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-id").first()
        if device is None:
            raise CommandError(f"{username} has no confirmed TOTP device.")
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
        remaining = device.step - int(time.time() - device.t0) % device.step
        self.stdout.write(f"{code:0{device.digits}d}")
        self.stderr.write(
            f"(valid for about {remaining} s more; each code works once per account, so wait for "
            "the next one if it was just used)"
        )
