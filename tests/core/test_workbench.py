"""The workbench (工作台): cards and task lists per role, bounded queries."""

from __future__ import annotations

import datetime

from django.urls import reverse

from pbqms.improvement.models import Nonconformity
from tests.factories import make_person


def _page(client):
    response = client.get(reverse("core:home"))
    assert response.status_code == 200
    return response


def test_secretary_sees_unit_and_people_cards(client, users, login):
    login(users.secretary_a1)
    cards = {c["icon"]: c["count"] for c in _page(client).context["cards"]}
    assert cards["sitemap"] == 2  # branch A1 and its party group
    assert cards["users"] == 1  # the member of A1; nobody from A2 or B


def test_audit_admin_has_no_domain_cards(client, users, login):
    login(users.audit_admin)
    response = _page(client)
    assert response.context["cards"] == []
    assert response.context["due_items"] == []


def test_member_sees_no_people_card(client, users, login):
    login(users.member_a1)
    labels = [c["icon"] for c in _page(client).context["cards"]]
    assert "users" not in labels


def test_query_count_does_not_grow_with_people(
    client, tree, users, login, django_assert_max_num_queries
):
    login(users.party_admin)
    _page(client)  # warm caches (content types, sessions)
    with django_assert_max_num_queries(30) as small:
        _page(client)
    for i in range(60):
        make_person(tree.branch_a2, f"人员{i}", birth_date=datetime.date(1980, 1, 1))
    with django_assert_max_num_queries(len(small.captured_queries)):
        _page(client)


def test_open_nonconformity_counts_are_scoped(client, users, login):
    login(users.secretary_b1)
    counts = {c["icon"]: c["count"] for c in _page(client).context["cards"]}
    assert (
        counts.get("alert-triangle", 0)
        == Nonconformity.objects.visible_to(users.secretary_b1, "improvement.view_nonconformity")
        .open()
        .count()
    )
