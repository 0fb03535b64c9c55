"""Raising an improvement nonconformity from a gap of the conformity board: who may
(committee: source "conformity gap"; the unit's own secretary: self-inspection), which
cells (missing or late, not met, not excepted), bad input, scope, the link back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from pbqms.improvement.models import Nonconformity
from pbqms.system import engine, services
from pbqms.system.models import ConformityResult
from tests.system.conftest import at, file_record

pytestmark = pytest.mark.django_db
D = dt.date


@pytest.fixture
def board(tree, theme_day, templates):
    year = timezone.localdate().year
    file_record(tree.branch_a1, templates["theme_day"], at(year, 1, 5))
    file_record(tree.branch_b1, templates["theme_day"], at(year, 1, 28))
    engine.recompute_all()
    return year


def urls(org, ob, start):
    args = [org.pk, ob.pk, start.isoformat()]
    return reverse("system:cell", args=args), reverse("system:cell_raise", args=args)


def good(**kw):
    data = {
        "title": "A2 未按期开展主题党日",
        "description": "二月无主题党日记录。",
        "severity": "minor",
        "correction_due": (timezone.localdate() + dt.timedelta(days=20)).isoformat(),
    }
    data.update(kw)
    return data


def test_committee_raises_from_a_missing_cell(login, users, tree, theme_day, board):
    cell_url, raise_url = urls(tree.branch_a2, theme_day, D(board, 2, 1))
    client = login(users.party_admin)
    page = client.get(cell_url).content.decode()
    assert 'data-testid="raise-form"' in page and tree.branch_a2.name in page
    # bad input: error inline, nothing saved, input kept
    response = client.post(raise_url, good(title="", description="保留的描述"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "invalid-feedback" in html and "保留的描述" in html
    assert not Nonconformity.objects.exists()
    response = client.post(raise_url, good(correction_due="2000-01-01"))
    assert response.status_code == 200 and not Nonconformity.objects.exists()
    # valid
    response = client.post(raise_url, good())
    assert response.status_code == 302 and response.url == cell_url
    nc = Nonconformity.objects.get()
    result = ConformityResult.objects.get(
        org=tree.branch_a2, obligation=theme_day, period_start=D(board, 2, 1)
    )
    assert nc.source_kind == Nonconformity.Source.CONFORMITY_GAP
    assert nc.source == result and nc.org == tree.branch_a2
    assert nc.requirement_object == theme_day.requirement
    page = client.get(cell_url).content.decode()
    assert 'data-testid="cell-nonconformities"' in page and nc.number in page
    assert services.nonconformities_for(users.party_admin, result) == [nc]


def test_secretary_raises_from_own_gap_as_self_inspection(login, users, tree, theme_day, board):
    _cell, raise_url = urls(tree.branch_a1, theme_day, D(board, 2, 1))
    client = login(users.secretary_a1)
    assert client.post(raise_url, good()).status_code == 302
    assert Nonconformity.objects.get().source_kind == Nonconformity.Source.SELF_INSPECTION
    # another branch's cell: 404, nothing saved
    _cell, other = urls(tree.branch_b1, theme_day, D(board, 2, 1))
    assert client.post(other, good()).status_code == 404
    assert Nonconformity.objects.count() == 1


def test_member_may_not_raise(login, users, tree, theme_day, board):
    cell_url, raise_url = urls(tree.branch_a1, theme_day, D(board, 2, 1))
    client = login(users.member_a1)
    assert client.post(raise_url, good()).status_code in (403, 404)
    assert not Nonconformity.objects.exists()
    get = client.get(cell_url)
    assert get.status_code != 200 or "raise-form" not in get.content.decode()


def test_met_and_excepted_cells_are_refused(login, users, tree, theme_day, board):
    client = login(users.party_admin)
    met_cell, met_raise = urls(tree.branch_a1, theme_day, D(board, 1, 1))
    assert "raise-form" not in client.get(met_cell).content.decode()
    response = client.post(met_raise, good())
    assert response.status_code == 200 and not Nonconformity.objects.exists()
    # a justified exception: the gap is shown as excepted and cannot be raised
    services.note_exception(
        actor=users.party_admin,
        org=tree.branch_a2,
        obligation=theme_day,
        period_start=D(board, 3, 1),
        reason="经党委同意顺延",
    )
    exc_cell, exc_raise = urls(tree.branch_a2, theme_day, D(board, 3, 1))
    assert "raise-form" not in client.get(exc_cell).content.decode()
    response = client.post(exc_raise, good())
    assert response.status_code == 200 and not Nonconformity.objects.exists()
    assert "invalid-feedback" in response.content.decode()
    # GET on the raise URL is not allowed
    assert client.get(exc_raise).status_code == 405


def test_cell_query_count_does_not_grow_with_nonconformities(
    login, users, tree, theme_day, board, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cell_url, raise_url = urls(tree.branch_a2, theme_day, D(board, 2, 1))
    client = login(users.party_admin)
    client.post(raise_url, good())
    with CaptureQueriesContext(connection) as one:
        client.get(cell_url)
    for i in range(3):
        client.post(raise_url, good(title=f"第{i}次"))
    with CaptureQueriesContext(connection) as four:
        client.get(cell_url)
    assert Nonconformity.objects.count() == 4
    assert len(four) == len(one)
