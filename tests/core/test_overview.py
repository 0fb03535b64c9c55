"""体系概况: cards by role, scope, bounded queries, odd input."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import make_unit

pytestmark = pytest.mark.django_db
URL = reverse("core:overview")


def _cards(response) -> set[str]:
    import re

    return set(re.findall(r'data-card="([a-z0-9-]+)"', response.content.decode()))


def test_party_admin_sees_the_whole_system(login, users, tree):
    response = login(users.party_admin).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="overview-pdca"' in html
    assert {"files", "repeat", "checklist", "alert-triangle"} <= _cards(response)
    assert tree.root.name in html


def test_member_sees_only_what_their_roles_allow(login, users, tree):
    response = login(users.member_a1).get(URL)
    assert response.status_code == 200
    assert "alert-triangle" not in _cards(response)  # members do not see nonconformities


def test_no_role_gets_an_empty_page(login, users):
    response = login(users.nobody).get(URL)
    assert response.status_code == 200
    assert 'data-testid="overview-empty"' in response.content.decode()


def test_secretary_sees_their_branch_not_the_group(login, users, tree):
    response = login(users.secretary_a1).get(URL)
    assert response.status_code == 200
    title = response.content.decode().split("<title>")[1].split("</title>")[0]
    html = response.content.decode()
    assert tree.branch_a1.name in html and tree.root.name not in html, title


def test_odd_year_is_ignored(login, users):
    client = login(users.party_admin)
    for odd in ("²", "1" * 30, "1999", "abc"):
        assert client.get(URL, {"year": odd}).status_code == 200


def test_query_count_does_not_grow(login, users, tree):
    client = login(users.party_admin)
    with CaptureQueriesContext(connection) as small:
        client.get(URL)
    for i in range(15):
        make_unit(f"新支部{i}", "branch", tree.sub_a)
    with CaptureQueriesContext(connection) as big:
        client.get(URL)
    assert len(big) == len(small)
