"""Org scope: ``visible_to`` and ``has_perm`` for subtree and single-unit grants, validity
dates, several grants, and the "outside scope is 404" lookup."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404
from django.utils import timezone

from pbqms.core import roles, scope
from pbqms.core.roles import Role
from pbqms.core.scope import get_visible_or_404
from pbqms.orgs.models import Organization, Person, RoleAssignment
from tests.factories import grant, make_person, make_user


def visible_codes(user, perm=roles.ORG_VIEW) -> set[str]:
    return set(Organization.objects.visible_to(user, perm).values_list("code", flat=True))


def test_subtree_grant_covers_the_unit_and_everything_below(tree):
    user = make_user("sub")
    grant(user, Role.BRANCH_SECRETARY, tree.sub_a, subtree=True)
    assert visible_codes(user) == {"A", "A1", "A1G1", "A2"}
    assert scope.has_perm(user, roles.PERSON_ADD, tree.group_a1)
    assert not scope.has_perm(user, roles.PERSON_ADD, tree.branch_b1)
    assert not scope.has_perm(user, roles.PERSON_ADD, tree.root)


def test_single_unit_grant_covers_only_that_unit(tree):
    user = make_user("single")
    grant(user, Role.BRANCH_SECRETARY, tree.branch_a1, subtree=False)
    assert visible_codes(user) == {"A1"}
    assert scope.has_perm(user, roles.PERSON_ADD, tree.branch_a1)
    assert not scope.has_perm(user, roles.PERSON_ADD, tree.group_a1)


def test_grants_add_up_and_nested_subtrees_change_nothing(tree):
    user = make_user("many")
    grant(user, Role.MEMBER, tree.branch_b1, subtree=False)
    grant(user, Role.MEMBER, tree.sub_a, subtree=True)
    grant(user, Role.EXTERNAL_EXPERT, tree.branch_a1, subtree=True)  # inside sub_a
    assert visible_codes(user) == {"A", "A1", "A1G1", "A2", "B1"}


def test_permissions_follow_the_role(tree):
    user = make_user("member_only")
    grant(user, Role.MEMBER, tree.branch_a1)
    assert visible_codes(user) == {"A1", "A1G1"}
    assert visible_codes(user, roles.PERSON_VIEW) == set()
    assert not scope.has_perm(user, roles.ORG_CHANGE)
    assert scope.has_perm(user, roles.ORG_VIEW)
    assert scope.roles_of(user) == {Role.MEMBER}


def test_expired_and_future_assignments_grant_nothing(tree):
    today = timezone.localdate()
    day = datetime.timedelta(days=1)
    expired, future, current = make_user("expired"), make_user("future"), make_user("current")
    RoleAssignment.objects.create(
        user=expired, role=Role.PARTY_ADMIN, org=tree.root, valid_to=today - day
    )
    RoleAssignment.objects.create(
        user=future, role=Role.PARTY_ADMIN, org=tree.root, valid_from=today + day
    )
    RoleAssignment.objects.create(
        user=current,
        role=Role.PARTY_ADMIN,
        org=tree.root,
        valid_from=today - day,
        valid_to=today,  # the last day still counts
    )
    for user in (expired, future):
        assert visible_codes(user) == set()
        assert not scope.has_perm(user, roles.ORG_VIEW)
        assert scope.roles_of(user) == set()
    assert "ROOT" in visible_codes(current)


def test_people_scope_and_own_record(tree, users):
    a1 = make_person(tree.branch_a1, "甲一")
    b1 = make_person(tree.branch_b1, "乙一")
    visible = set(Person.objects.visible_to(users.secretary_a1, roles.PERSON_VIEW))
    assert a1 in visible
    assert b1 not in visible
    # a member sees their own person record, nobody else's
    own = Person.objects.get(user=users.member_a1)
    assert list(Person.objects.visible_to(users.member_a1, roles.PERSON_VIEW)) == [own]


def test_no_user_or_inactive_user_sees_nothing(tree, users):
    assert visible_codes(AnonymousUser()) == set()
    users.party_admin.is_active = False
    users.party_admin.save()
    scope.clear_cache(users.party_admin)
    assert visible_codes(users.party_admin) == set()


def test_grants_are_cached_until_cleared(tree):
    user = make_user("cached")
    assert visible_codes(user) == set()
    RoleAssignment.objects.create(user=user, role=Role.MEMBER, org=tree.branch_b1)
    assert visible_codes(user) == set()  # cached on the user object
    scope.clear_cache(user)
    assert visible_codes(user) == {"B1"}


def test_get_visible_or_404(tree, users):
    qs = Organization.objects.all()
    unit = get_visible_or_404(qs, users.secretary_a1, roles.ORG_VIEW, pk=tree.branch_a1.pk)
    assert unit == tree.branch_a1
    for bad in (tree.branch_b1.pk, 999999, "abc", None):
        with pytest.raises(Http404):
            get_visible_or_404(qs, users.secretary_a1, roles.ORG_VIEW, pk=bad)


def test_visible_to_is_one_query(tree, users, django_assert_num_queries):
    scope.clear_cache(users.party_admin)
    with django_assert_num_queries(2):  # the grants, then the units
        list(Organization.objects.visible_to(users.party_admin))
    with django_assert_num_queries(2):  # grants cached; the user's own record, then people
        list(Person.objects.visible_to(users.party_admin))
    with django_assert_num_queries(1):  # both cached on the user for the request
        list(Person.objects.visible_to(users.party_admin))


def test_own_record_clause_only_when_it_widens_the_scope(tree, users):
    """A member without PERSON_VIEW sees exactly their own record; a secretary whose own
    record lies inside their branch gets the plain subtree filter (no OR on user_id)."""
    member = users.member_a1
    assert list(Person.objects.visible_to(member).values_list("user_id", flat=True)) == [member.pk]
    secretary = users.secretary_a1
    make_person(tree.branch_a1, "书记本人", user=secretary)
    scope.clear_cache(secretary)
    sql = str(Person.objects.visible_to(secretary).query)
    assert "user_id" not in sql.split("WHERE", 1)[1]
    # moved outside the granted branch, the own record is still visible
    Person.objects.filter(user=secretary).update(org=tree.branch_b1)
    scope.clear_cache(secretary)
    names = set(Person.objects.visible_to(secretary).values_list("name", flat=True))
    assert "书记本人" in names
