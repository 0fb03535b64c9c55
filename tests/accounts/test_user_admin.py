"""User accounts page (系统管理员 only): list, create, edit, deactivate/reactivate, reset."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse

from pbqms.accounts.models import User
from pbqms.core.models import ChangeLogEntry
from pbqms.core.roles import Role
from tests.accounts.conftest import LOGIN_URL, events, t
from tests.factories import PASSWORD, grant, make_person, make_user

pytestmark = pytest.mark.django_db

LIST = reverse("accounts:user_list")
CREATE = reverse("accounts:user_create")
GOOD = "Brand-New-Pass-2026"


def _create_data(**overrides):
    data = {
        "username": "zhaoliu",
        "display_name": "赵六",
        "language": "zh-hans",
        "password": GOOD,
        "password2": GOOD,
    }
    data.update(overrides)
    return data


# ---------------------------------------------------------------- who may


@pytest.mark.parametrize(
    "who", ["security_admin", "audit_admin", "party_admin", "secretary_a1", "nobody"]
)
def test_other_roles_are_refused(client, users, login, who):
    login(getattr(users, who))
    assert client.get(LIST).status_code == 403
    assert client.get(CREATE).status_code == 403
    response = client.post(CREATE, _create_data())
    assert response.status_code == 403
    assert not User.objects.filter(username="zhaoliu").exists()
    target = users.member_a1
    assert client.get(reverse("accounts:user_edit", args=[target.pk])).status_code == 403
    assert (
        client.post(
            reverse("accounts:user_reset_password", args=[target.pk]),
            {"password": GOOD, "password2": GOOD},
        ).status_code
        == 403
    )
    assert (
        client.post(
            reverse("accounts:user_set_active", args=[target.pk]), {"active": "0", "reason": "x"}
        ).status_code
        == 403
    )
    target.refresh_from_db()
    assert target.is_active


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


def test_menu_shows_user_accounts_to_system_admin_only(client, users, login):
    login(users.system_admin)
    assert f'href="{LIST}"' in client.get("/").content.decode()
    client.logout()
    login(users.security_admin)
    assert f'href="{LIST}"' not in client.get("/").content.decode()


# ---------------------------------------------------------------- list


def test_list_shows_accounts_with_roles_and_status(client, users, login):
    User.objects.filter(pk=users.expert.pk).update(is_active=False)
    login(users.system_admin)
    response = client.get(LIST)
    assert response.status_code == 200
    body = response.content.decode()
    for user in (users.party_admin, users.secretary_a1, users.member_a1, users.expert):
        assert user.username in body
    assert t("Branch secretary") in body
    assert response.context["page"].paginator.count == User.objects.count()


def test_superusers_are_not_listed_or_editable(client, users, login):
    root = User.objects.create_superuser("root", password=PASSWORD)
    login(users.system_admin)
    assert "root" not in [u.username for u in client.get(LIST).context["page"].object_list]
    assert client.get(reverse("accounts:user_edit", args=[root.pk])).status_code == 404
    assert (
        client.post(
            reverse("accounts:user_reset_password", args=[root.pk]),
            {"password": GOOD, "password2": GOOD},
        ).status_code
        == 404
    )


def test_list_search_and_status_filter(client, users, login):
    make_user("mustchange", must_change_password=True)
    login(users.system_admin)
    found = client.get(LIST, {"q": "sec_"}).context["page"].object_list
    assert {u.username for u in found} == {"sec_a1", "sec_b1"}
    # a person's name finds their account
    found = client.get(LIST, {"q": "党员甲"}).context["page"].object_list
    assert [u.username for u in found] == ["member_a1"]
    found = client.get(LIST, {"status": "must_change"}).context["page"].object_list
    assert [u.username for u in found] == ["mustchange"]


def test_list_htmx_returns_only_the_table(client, users, login):
    login(users.system_admin)
    response = client.get(LIST, {"q": "sec"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'data-testid="user-table"' in body
    assert "<html" not in body
    assert "HX-Request" in response["Vary"]


def test_list_paginates(client, users, login):
    for n in range(30):
        make_user(f"bulk{n:02d}")
    login(users.system_admin)
    page1 = client.get(LIST, {"q": "bulk"}).context["page"]
    assert page1.paginator.count == 30
    assert len(page1.object_list) == 25
    page2 = client.get(LIST, {"q": "bulk", "page": 2}).context["page"]
    assert len(page2.object_list) == 5


@pytest.mark.parametrize("extra", [10, 60])
def test_list_query_count_is_bounded(
    client, users, login, tree, django_assert_max_num_queries, extra
):
    for n in range(extra):
        user = make_user(f"many{n:03d}")
        grant(user, Role.MEMBER, tree.branch_a1)
        make_person(tree.branch_a1, f"人员{n}", user=user)
    login(users.system_admin)
    with django_assert_max_num_queries(12):
        response = client.get(LIST, {"per_page": 50})
    assert response.status_code == 200


# ---------------------------------------------------------------- create


def test_create_account(client, users, login):
    login(users.system_admin)
    response = client.post(CREATE, _create_data(is_superuser="on", is_staff="on"))
    assert response.status_code == 302
    user = User.objects.get(username="zhaoliu")
    assert response["Location"] == reverse("accounts:user_edit", args=[user.pk])
    assert user.display_name == "赵六"
    assert user.must_change_password
    assert not user.is_superuser and not user.is_staff
    assert user.check_password(GOOD)
    entry = ChangeLogEntry.objects.get(
        object_type="accounts.user", object_id=str(user.pk), action="create"
    )
    assert entry.actor_id == users.system_admin.pk
    assert entry.changes["password"] == [None, "******"]
    # the new user must change the password at first sign-in
    client.post(reverse("accounts:logout"))
    client.post(LOGIN_URL, {"username": "zhaoliu", "password": GOOD})
    assert client.get("/")["Location"] == reverse("accounts:password_change")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password": "short", "password2": "short"}, "password"),
        ({"password": "zhaoliu-Pass-2026", "password2": "zhaoliu-Pass-2026"}, "password"),
        ({"password2": "Brand-New-Pass-2027"}, "password2"),
        ({"username": ""}, "username"),
        ({"username": "bad name!"}, "username"),
        ({"username": "SEC_A1"}, "username"),  # taken (case-insensitive)
        ({"language": "fr"}, "language"),
    ],
)
def test_create_bad_input_keeps_input_and_saves_nothing(client, users, login, overrides, field):
    login(users.system_admin)
    before = User.objects.count()
    response = client.post(CREATE, _create_data(**overrides))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert User.objects.count() == before
    body = response.content.decode()
    assert "is-invalid" in body
    assert "赵六" in body  # what the user typed is still there
    assert GOOD not in body  # passwords are never echoed back


def test_create_links_a_person_in_scope(client, users, login, tree):
    person = make_person(tree.branch_b1, "钱七")
    login(users.system_admin)
    response = client.post(CREATE, _create_data(person=person.pk))
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.user.username == "zhaoliu"


def test_create_refuses_person_outside_scope(client, users, login, tree):
    limited = make_user("sys_a")
    grant(limited, Role.SYSTEM_ADMIN, tree.sub_a)
    outside = make_person(tree.branch_b1, "钱七")
    login(limited)
    response = client.post(CREATE, _create_data(person=outside.pk))
    assert response.status_code == 200
    assert "person" in response.context["form"].errors
    assert not User.objects.filter(username="zhaoliu").exists()


def test_create_refuses_person_with_account(client, users, login, tree):
    login(users.system_admin)
    taken = users.member_a1.person
    response = client.post(CREATE, _create_data(person=taken.pk))
    assert response.status_code == 200
    assert "person" in response.context["form"].errors
    assert not User.objects.filter(username="zhaoliu").exists()


def test_person_search_options(client, users, login, tree):
    make_person(tree.branch_b1, "钱七")
    limited = make_user("sys_a")
    grant(limited, Role.SYSTEM_ADMIN, tree.sub_a)
    make_person(tree.branch_a2, "钱八")
    login(limited)
    url = reverse("accounts:person_options")
    body = client.get(url, {"person_q": "钱"}).content.decode()
    assert "钱八" in body
    assert "钱七" not in body  # outside the scope
    client.logout()
    login(users.party_admin)
    assert client.get(url, {"person_q": "钱"}).status_code == 403


# ---------------------------------------------------------------- edit, deactivate, reset


def test_edit_account(client, users, login, tree):
    person = make_person(tree.branch_a2, "孙九")
    target = users.expert
    login(users.system_admin)
    url = reverse("accounts:user_edit", args=[target.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'data-testid="object-history"' in page.content.decode()  # the account's history
    response = client.post(url, {"display_name": "专家孙", "language": "en", "person": person.pk})
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.display_name == "专家孙"
    assert target.language == "en"
    person.refresh_from_db()
    assert person.user_id == target.pk
    # unlink again
    client.post(url, {"display_name": "专家孙", "language": "en", "person": ""})
    person.refresh_from_db()
    assert person.user_id is None


def test_edit_bad_input(client, users, login):
    login(users.system_admin)
    url = reverse("accounts:user_edit", args=[users.expert.pk])
    response = client.post(url, {"display_name": "新名字", "language": "xx"})
    assert response.status_code == 200
    assert "language" in response.context["form"].errors
    assert "新名字" in response.content.decode()
    users.expert.refresh_from_db()
    assert users.expert.display_name == "expert"


def test_deactivate_needs_reason_then_ends_sessions(client, users, login):
    from django.test import Client

    victim_client = Client()
    victim_client.force_login(users.secretary_a1)
    assert victim_client.get("/").status_code == 200
    login(users.system_admin)
    url = reverse("accounts:user_set_active", args=[users.secretary_a1.pk])
    refused = client.post(url, {"active": "0", "reason": ""})
    assert refused.status_code == 200
    assert "reason" in refused.context["reason_form"].errors
    users.secretary_a1.refresh_from_db()
    assert users.secretary_a1.is_active
    done = client.post(url, {"active": "0", "reason": "已调离"})
    assert done.status_code == 302
    users.secretary_a1.refresh_from_db()
    assert not users.secretary_a1.is_active
    entry = ChangeLogEntry.objects.filter(
        object_type="accounts.user", object_id=str(users.secretary_a1.pk), action="update"
    ).latest("id")
    assert entry.changes["is_active"] == [True, False]
    assert entry.reason == "已调离"
    assert entry.actor_id == users.system_admin.pk
    # the deactivated user's open session is gone server-side, nor can they sign in
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=victim_client.session.session_key).exists()
    assert victim_client.get("/").status_code == 302
    response = victim_client.post(LOGIN_URL, {"username": "sec_a1", "password": PASSWORD})
    assert response.status_code == 200
    # reactivate
    assert client.post(url, {"active": "1"}).status_code == 302
    users.secretary_a1.refresh_from_db()
    assert users.secretary_a1.is_active


def test_cannot_deactivate_own_account(client, users, login):
    login(users.system_admin)
    url = reverse("accounts:user_set_active", args=[users.system_admin.pk])
    response = client.post(url, {"active": "0", "reason": "test"})
    assert response.status_code == 200
    users.system_admin.refresh_from_db()
    assert users.system_admin.is_active


def test_reset_password(client, users, login):
    from django.test import Client

    victim_client = Client()
    victim_client.force_login(users.member_a1)
    login(users.system_admin)
    url = reverse("accounts:user_reset_password", args=[users.member_a1.pk])
    response = client.post(url, {"password": GOOD, "password2": GOOD})
    assert response.status_code == 302
    member = User.objects.get(pk=users.member_a1.pk)
    assert member.check_password(GOOD)
    assert member.must_change_password
    entry = events("password_change", object_id=str(member.pk)).get()
    assert entry.actor_id == users.system_admin.pk
    assert entry.changes == {"reset": True}
    # the user's other sessions end (the session hash changed)
    assert victim_client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"password": "weak", "password2": "weak"}, "password"),
        ({"password": GOOD, "password2": GOOD + "x"}, "password2"),
        ({"password": PASSWORD, "password2": PASSWORD}, "password"),  # the current one
    ],
)
def test_reset_password_bad_input(client, users, login, data, field):
    login(users.system_admin)
    url = reverse("accounts:user_reset_password", args=[users.member_a1.pk])
    response = client.post(url, data)
    assert response.status_code == 200
    assert field in response.context["reset_form"].errors
    member = User.objects.get(pk=users.member_a1.pk)
    assert member.check_password(PASSWORD)
    assert not member.must_change_password


def test_cannot_reset_own_password_here(client, users, login):
    login(users.system_admin)
    url = reverse("accounts:user_reset_password", args=[users.system_admin.pk])
    response = client.post(url, {"password": GOOD, "password2": GOOD})
    assert response.status_code == 200
    assert not User.objects.get(pk=users.system_admin.pk).check_password(GOOD)


def test_unknown_user_is_404(client, users, login):
    login(users.system_admin)
    assert client.get(reverse("accounts:user_edit", args=[999999])).status_code == 404


def test_sessions_of_deactivated_user_are_deleted_others_kept(client, users, login):
    """Deactivation deletes the user's open sessions server-side; other users' stay."""
    from django.test import Client

    other = Client()
    other.force_login(users.auditor)
    key = other.session.session_key
    bystander = Client()
    bystander.force_login(users.member_a1)
    bystander_key = bystander.session.session_key
    login(users.system_admin)
    client.post(
        reverse("accounts:user_set_active", args=[users.auditor.pk]),
        {"active": "0", "reason": "离职"},
    )
    assert not Session.objects.filter(session_key=key).exists()
    assert Session.objects.filter(session_key=bystander_key).exists()
    assert other.get("/").status_code == 302


def test_person_outside_scope_stays_linked(client, users, login, tree):
    """A system administrator limited to A公司 edits an account that holds a role in A公司 but
    is linked to a person in B公司: the link is shown, not offered, and kept."""
    from pbqms.accounts import services

    limited = make_user("sys_a")
    grant(limited, Role.SYSTEM_ADMIN, tree.sub_a)
    target = make_user("b_person_account")
    grant(target, Role.INTERNAL_AUDITOR, tree.sub_a)
    person = make_person(tree.branch_b1, "周十", user=target)
    login(limited)
    url = reverse("accounts:user_edit", args=[target.pk])
    page = client.get(url)
    assert page.context["person_locked"]
    assert "person" not in page.context["form"].fields
    assert "周十" in page.content.decode()
    response = client.post(url, {"display_name": "周十账号", "language": "zh-hans", "person": ""})
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.user_id == target.pk
    target.refresh_from_db()
    assert target.display_name == "周十账号"
    # the service refuses to unlink it too
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.update_user(actor=limited, user=target, display_name="x", person=None)
    person.refresh_from_db()
    assert person.user_id == target.pk


def test_limited_system_admin_sees_and_manages_only_accounts_of_their_units(
    client, users, login, tree
):
    """SECURITY.md item 7: a system administrator of A公司 lists and edits the accounts of
    A公司's people and role holders; B公司's accounts and unattached ones are not found."""
    limited = make_user("sys_a")
    grant(limited, Role.SYSTEM_ADMIN, tree.sub_a)
    a_person_account = make_user("a_person")
    make_person(tree.branch_a2, "A二支部党员", user=a_person_account)
    unattached = make_user("floating")
    login(limited)
    listing = client.get(reverse("accounts:user_list")).content.decode()
    for visible in ("sec_a1", "member_a1", "auditor", "a_person"):
        assert visible in listing, visible
    for hidden in ("sec_b1", "floating", "party_admin"):
        assert f">{hidden}<" not in listing, hidden
    for other in (users.secretary_b1, unattached):
        assert client.get(reverse("accounts:user_edit", args=[other.pk])).status_code == 404
        response = client.post(
            reverse("accounts:user_set_active", args=[other.pk]), {"active": "0", "reason": "x"}
        )
        assert response.status_code == 404
        other.refresh_from_db()
        assert other.is_active
    assert client.get(reverse("accounts:user_edit", args=[a_person_account.pk])).status_code == 200
    # the whole-tree system administrator sees the unattached account too
    login(users.system_admin)
    assert "floating" in client.get(reverse("accounts:user_list")).content.decode()


def test_unit_admin_cannot_take_over_an_account_with_wider_roles(client, users, login, tree):
    """An account with a role in A公司 and another on the whole tree shows in A's list, but
    A's system administrator can neither reset its password nor deactivate nor edit it."""
    from django.core.exceptions import PermissionDenied

    from pbqms.accounts import services

    limited = make_user("sys_a")
    grant(limited, Role.SYSTEM_ADMIN, tree.sub_a)
    wide = users.party_admin
    grant(wide, Role.INTERNAL_AUDITOR, tree.sub_a)
    login(limited)
    assert "party_admin" in client.get(reverse("accounts:user_list")).content.decode()
    response = client.post(
        reverse("accounts:user_set_active", args=[wide.pk]), {"active": "0", "reason": "x"}
    )
    assert response.status_code == 403
    wide.refresh_from_db()
    assert wide.is_active
    with pytest.raises(PermissionDenied):
        services.reset_password(actor=limited, user=wide, password=GOOD)
    with pytest.raises(PermissionDenied):
        services.update_user(actor=limited, user=wide, display_name="taken over")
    # an account wholly inside A is managed as before
    services.reset_password(actor=limited, user=users.secretary_a1, password=GOOD)
