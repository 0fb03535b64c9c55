"""The user's own account page: language preference saved and applied at sign-in; the
TOTP page reachable from the user menu for everyone."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pbqms.accounts.models import User
from tests.accounts.conftest import LOGIN_URL
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

PROFILE = reverse("accounts:profile")


def test_profile_page(client, users, login):
    login(users.member_a1)
    response = client.get(PROFILE)
    assert response.status_code == 200
    body = response.content.decode()
    assert "member_a1" in body
    assert reverse("accounts:otp") in body
    assert reverse("accounts:password_change") in body


def test_profile_needs_login(client, db):
    assert client.get(PROFILE)["Location"].startswith(LOGIN_URL)


def test_language_saved_and_applied(client, users, login):
    login(users.member_a1)
    response = client.post(PROFILE, {"language": "en"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "en"
    assert User.objects.get(pk=users.member_a1.pk).language == "en"
    assert '<html lang="en">' in client.get("/").content.decode()
    # a new browser: signing in applies the saved preference
    client.logout()
    client.cookies.clear()
    response = client.post(LOGIN_URL, {"username": "member_a1", "password": PASSWORD})
    assert response.cookies["django_language"].value == "en"


def test_bad_language_refused(client, users, login):
    login(users.member_a1)
    response = client.post(PROFILE, {"language": "xx"})
    assert response.status_code == 200
    assert "language" in response.context["form"].errors
    assert User.objects.get(pk=users.member_a1.pk).language == "zh-hans"


def test_top_bar_language_switch_saves_preference(client, users, login):
    login(users.secretary_a1)
    response = client.post(reverse("accounts:language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "en"
    assert User.objects.get(pk=users.secretary_a1.pk).language == "en"
    # an unknown language changes nothing
    client.post(reverse("accounts:language"), {"language": "xx", "next": "/"})
    assert User.objects.get(pk=users.secretary_a1.pk).language == "en"


def test_anonymous_language_switch_works(client, db):
    response = client.post(reverse("accounts:language"), {"language": "en", "next": LOGIN_URL})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "en"


def test_user_menu_links(client, users, login):
    login(users.nobody)
    body = client.get("/").content.decode()
    for name in ("accounts:profile", "accounts:password_change", "accounts:otp"):
        assert f'href="{reverse(name)}"' in body
    assert f'action="{reverse("accounts:language")}"' in body
