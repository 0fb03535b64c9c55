"""SECURITY.md item 5: TOTP set-up (QR code and key) and verification with real codes."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.accounts.conftest import events, t
from tests.factories import make_user

pytestmark = pytest.mark.django_db

OTP = reverse("accounts:otp")


def code_for(device: TOTPDevice, offset_steps: int = 0) -> str:
    """The code the user's authenticator app shows now (or ``offset_steps`` later),
    computed from the device's key like the app does."""
    value = totp(
        device.bin_key,
        step=device.step,
        t0=device.t0 - offset_steps * device.step,
        digits=device.digits,
        drift=0,
    )
    return f"{value:0{device.digits}d}"


def unthrottle(device: TOTPDevice) -> None:
    """Move django-otp's failure time stamp into the past (it delays retries after a
    wrong code by 1, 2, 4 … seconds)."""
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - datetime.timedelta(hours=1)
    )


def test_admin_sets_up_totp_and_gets_in(client, users):
    admin = users.system_admin
    client.force_login(admin)
    assert client.get("/")["Location"] == OTP
    page = client.get(OTP)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-testid="otp-qr"' in body
    assert "data:image/svg+xml;base64," in body
    assert t("Your role requires two-factor authentication. Set it up now:") in body
    device = TOTPDevice.objects.get(user=admin)
    assert not device.confirmed
    assert page.context["secret"] in body
    # a wrong code is refused and logged
    wrong = client.post(OTP, {"token": "000000" if code_for(device) != "000000" else "111111"})
    assert wrong.status_code == 200
    assert wrong.context["form"].errors["token"]
    assert events("otp_failed", actor=admin).count() == 1
    assert client.get("/").status_code == 302
    # an immediate retry is throttled, with a clear message
    throttled = client.post(OTP, {"token": code_for(device)})
    assert throttled.context["form"].errors["token"]
    assert throttled.context["wait"] >= 1
    device.refresh_from_db()
    assert not device.confirmed
    unthrottle(device)
    # the real code from the key confirms the device and verifies the session
    response = client.post(OTP, {"token": code_for(device)})
    assert response.status_code == 302
    assert response["Location"] == reverse("core:home")
    device.refresh_from_db()
    assert device.confirmed
    assert events("otp_setup", actor=admin).count() == 1
    assert client.get("/").status_code == 200


def test_admin_with_device_verifies_at_each_sign_in(client, users):
    admin = users.security_admin
    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    client.force_login(admin)
    page = client.get(OTP)
    assert page.status_code == 200
    assert not page.context["setup"]
    assert 'data-testid="otp-qr"' not in page.content.decode()
    bad = client.post(OTP, {"token": "12345a"})
    assert bad.status_code == 200
    assert "token" in bad.context["form"].errors
    wrong = client.post(OTP, {"token": code_for(device, offset_steps=10)})
    assert wrong.status_code == 200
    assert events("otp_failed", actor=admin).count() == 1
    unthrottle(device)
    ok = client.post(OTP + "?next=/accounts/security/", {"token": code_for(device)})
    assert ok.status_code == 302
    assert ok["Location"] == "/accounts/security/"
    assert client.get("/").status_code == 200
    assert events("login", actor=admin).filter(changes__factor="totp").count() == 1


def test_code_cannot_be_replayed(client, users):
    admin = users.audit_admin
    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    code = code_for(device)
    client.force_login(admin)
    assert client.post(OTP, {"token": code}).status_code == 302
    client.logout()
    client.force_login(admin)
    replay = client.post(OTP, {"token": code})
    assert replay.status_code == 200
    assert client.get("/").status_code == 302


def test_non_admin_may_enable_totp_from_user_menu(client, users):
    member = users.member_a1
    client.force_login(member)
    home = client.get("/")
    assert home.status_code == 200
    assert f'href="{OTP}"' in home.content.decode()
    page = client.get(OTP)
    assert page.context["setup"]
    assert t("Protect your account with a second factor:") in page.content.decode()
    device = TOTPDevice.objects.get(user=member)
    first = code_for(device)
    assert client.post(OTP, {"token": first}).status_code == 302
    # once enrolled, the second factor is asked at every sign-in
    client.logout()
    client.force_login(member)
    assert client.get("/")["Location"] == OTP
    device.refresh_from_db()
    # the code just used cannot serve again; the next one (within the tolerance) can
    assert client.post(OTP, {"token": first}).status_code == 200
    unthrottle(device)
    assert client.post(OTP, {"token": code_for(device, offset_steps=1)}).status_code == 302
    assert client.get("/").status_code == 200


def test_verified_user_sees_status_and_can_move_to_new_phone(client, users, login):
    admin = users.system_admin
    login(admin)  # verified session with a confirmed device
    old = TOTPDevice.objects.get(user=admin)
    page = client.get(OTP)
    assert page.status_code == 200
    assert 'data-testid="otp-status"' in page.content.decode()
    setup = client.get(OTP + "?setup=1")
    assert setup.context["setup"] and setup.context["replacing"]
    new = TOTPDevice.objects.get(user=admin, confirmed=False)
    assert client.post(OTP + "?setup=1", {"token": code_for(new)}).status_code == 302
    assert list(TOTPDevice.objects.filter(user=admin)) == [new]
    new.refresh_from_db()
    assert new.confirmed
    assert not TOTPDevice.objects.filter(pk=old.pk).exists()


def test_otp_page_needs_sign_in(client, db):
    response = client.get(OTP)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_secret_is_shown_only_during_setup(client, db):
    user = make_user("phoneless")
    client.force_login(user)
    page = client.get(OTP)
    assert page.context["secret"]
