"""SECURITY.md item 2: password rules, reuse of the last 5, maximum age."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from pbqms.accounts import services
from pbqms.accounts.models import PasswordHistory, User
from tests.accounts.conftest import events
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def _codes(password: str, user: User) -> set[str]:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        return {e.code for e in exc.error_list}
    return set()


@pytest.fixture
def zhang():
    return make_user("zhangsan")


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("Ab1!defgh", "password_too_short"),  # 9 characters
        ("Ab1!defghij", "password_too_short"),  # 11 characters
        ("abcdefghijkmnop", "password_classes"),  # lower case only
        ("abcdefghij1234", "password_classes"),  # two classes
        ("ABCDEFGHJK-!?#", "password_classes"),  # upper case and other: two classes
        ("My-zhangsan-2026", "password_has_username"),
        ("My-ZHANGSAN-2026", "password_has_username"),  # case does not matter
    ],
)
def test_each_rule_refuses(zhang, password, code):
    assert code in _codes(password, zhang)


def test_common_password_refused(zhang):
    assert "password_too_common" in _codes("password1234", zhang) | _codes("Password1234", zhang)


@pytest.mark.parametrize(
    "password",
    [
        "Quiet-River-2026",  # 4 classes
        "quiet river 2026",  # lower, digits, other (space)
        "QUIETRIVER2026x",  # upper, lower, digits
        "红旗渠Quiet2026",  # CJK characters do not hurt
    ],
)
def test_good_password_passes(zhang, password):
    assert _codes(password, zhang) == set()


def test_exactly_twelve_characters_is_enough(zhang):
    assert _codes("Ab1!efghijkl", zhang) == set()


def test_help_texts_name_the_rules():
    texts = " ".join(password_validation.password_validators_help_texts())
    assert "12" in texts
    assert "5" in texts


def test_reuse_of_each_of_last_five_refused_sixth_allowed():
    passwords = [f"Secret-{word}-2026x" for word in ("one", "two", "three", "four", "five", "six")]
    user = make_user("liuyang", password=passwords[0])
    for new in passwords[1:]:
        services.change_password(user=user, new_password=new)
    user.refresh_from_db()
    assert user.check_password(passwords[-1])
    assert PasswordHistory.objects.filter(user=user).count() == 5
    # the current password and the four before it are the last five
    for old in passwords[1:]:
        assert "password_reused" in _codes(old, user), old
    # the sixth-latest may be used again
    assert "password_reused" not in _codes(passwords[0], user)
    assert _codes(passwords[0], user) == set()


def test_history_kept_on_every_change_and_time_stamped():
    user = make_user("wangwu")
    first_stamp = user.password_changed_at
    assert first_stamp is not None
    services.change_password(user=user, new_password="Another-Pass-2026")
    user.refresh_from_db()
    assert user.password_changed_at >= first_stamp
    assert PasswordHistory.objects.filter(user=user).count() == 1
    assert not user.must_change_password
    assert events("password_change", object_id=str(user.pk)).count() == 1


def test_password_expires_after_max_age(settings):
    user = make_user("oldpass")
    settings.PBQMS_PASSWORD_MAX_AGE_DAYS = 90
    User.objects.filter(pk=user.pk).update(
        password_changed_at=timezone.now() - datetime.timedelta(days=89)
    )
    user.refresh_from_db()
    assert not user.password_expired()
    User.objects.filter(pk=user.pk).update(
        password_changed_at=timezone.now() - datetime.timedelta(days=90)
    )
    user.refresh_from_db()
    assert user.password_expired()
    settings.PBQMS_PASSWORD_MAX_AGE_DAYS = 0
    assert not user.password_expired()


def test_expired_password_forces_change(client, settings):
    user = make_user("expired")
    User.objects.filter(pk=user.pk).update(
        password_changed_at=timezone.now() - datetime.timedelta(days=120)
    )
    client.force_login(User.objects.get(pk=user.pk))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_change")
    page = client.get(reverse("accounts:password_change"))
    assert 'data-testid="password-forced"' in page.content.decode()


# ---------------------------------------------------------------- the change-password page


URL = reverse("accounts:password_change")


def test_change_password_page_success(client):
    user = make_user("changer")
    client.force_login(user)
    response = client.post(
        URL,
        {
            "old_password": PASSWORD,
            "new_password1": "Fresh-Start-2026",
            "new_password2": "Fresh-Start-2026",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Fresh-Start-2026")
    # the session survives its own password change
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"old_password": "wrong", "new_password1": "Fresh-Start-2026"}, "old_password"),
        ({"new_password1": "short1A!", "new_password2": "short1A!"}, "new_password1"),
        ({"new_password1": "Fresh-Start-2026", "new_password2": "Fresh-Start-27"}, "new_password2"),
        ({"new_password1": PASSWORD, "new_password2": PASSWORD}, "new_password1"),  # reuse
    ],
)
def test_change_password_page_errors(client, data, field):
    user = make_user("changer")
    client.force_login(user)
    payload = {"old_password": PASSWORD, "new_password2": data.get("new_password1"), **data}
    response = client.post(URL, payload)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert 'class="invalid-feedback d-block"' in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert not events("password_change").exists()
