"""Account writes: password changes, TOTP set-up, unlocks."""

from __future__ import annotations

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from pbqms.accounts.models import User
from pbqms.core.changelog import log_security_event


@transaction.atomic
def change_password(*, user: User, new_password: str) -> None:
    """Set a new (already validated) password; the old hash goes to the history."""
    user.set_password(new_password)
    user.must_change_password = False
    user.save()
    log_security_event("password_change", user=user)


def totp_device(user: User, *, confirmed: bool | None = None) -> TOTPDevice | None:
    qs = TOTPDevice.objects.filter(user=user)
    if confirmed is not None:
        qs = qs.filter(confirmed=confirmed)
    return qs.order_by("-id").first()


@transaction.atomic
def start_totp_setup(user: User) -> TOTPDevice:
    device = totp_device(user, confirmed=False)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="pbqms", confirmed=False)
    return device


@transaction.atomic
def confirm_totp(user: User, device: TOTPDevice, token: str) -> bool:
    if not device.verify_token(token):
        log_security_event("otp_failed", user=user, outcome="failure")
        return False
    TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save()
    log_security_event("otp_setup", user=user)
    return True
