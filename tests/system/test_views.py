"""Pages of the quality-system area: scope (a secretary sees only their units' cells;
another unit's cell is 404), roles (403), bad input (errors inline, nothing saved, input
kept), bounded query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from pbqms.system import engine, services
from pbqms.system.models import ConformityException, ConformityResult, Obligation
from pbqms.system.models import ConformityStatus as S
from tests.system.conftest import at, file_record

pytestmark = pytest.mark.django_db
D = dt.date


@pytest.fixture
def board(tree, theme_day, templates):
    today = timezone.localdate()
    year = today.year
    file_record(tree.branch_a1, templates["theme_day"], at(year, 1, 5))
    file_record(tree.branch_b1, templates["theme_day"], at(year, 1, 28))
    engine.recompute_all()
    return year


def cell_url(org, ob, start):
    return reverse("system:cell", args=[org.pk, ob.pk, start.isoformat()])


def test_board_party_admin_sees_every_unit(
    login, users, tree, board, django_assert_max_num_queries
):
    client = login(users.party_admin)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("system:board"), {"view": "table", "year": board})
    assert response.status_code == 200
    html = response.content.decode()
    for unit in (tree.branch_a1, tree.branch_a2, tree.branch_b1):
        assert unit.name in html
    assert 'data-status="met"' in html and 'data-status="late"' in html
    chart = client.get(reverse("system:board"), {"year": board})
    assert 'id="cf-chart-data"' in chart.content.decode()
    assert "<script>" not in chart.content.decode()  # CSP: no inline script


def test_board_secretary_sees_only_own_unit(login, users, tree, board):
    client = login(users.secretary_a1)
    html = client.get(reverse("system:board"), {"view": "table"}).content.decode()
    assert tree.branch_a1.name in html
    assert tree.branch_b1.name not in html and tree.branch_a2.name not in html


def test_board_query_count_does_not_grow(
    login, users, tree, templates, requirement, board, django_assert_max_num_queries
):
    from tests.factories import make_unit

    for i in range(15):
        make_unit(f"新支部{i}", "branch", tree.sub_a)
    client = login(users.party_admin)
    with django_assert_max_num_queries(14):
        assert client.get(reverse("system:board"), {"view": "table"}).status_code == 200


def test_board_one_obligation_links_to_cells(login, users, tree, theme_day, board):
    client = login(users.party_admin)
    html = client.get(
        reverse("system:board"), {"view": "table", "obligation": theme_day.pk, "year": board}
    ).content.decode()
    assert cell_url(tree.branch_a1, theme_day, D(board, 1, 1)) in html


def test_board_bad_input_and_forbidden(login, users, tree, board):
    client = login(users.party_admin)
    response = client.get(reverse("system:board"), {"year": "abc", "obligation": "999999"})
    assert response.status_code == 200  # falls back to this year, errors shown
    assert client.get(reverse("system:board"), {"under": "999999"}).status_code == 404
    assert login(users.system_admin).get(reverse("system:board")).status_code == 403
    assert login(users.nobody).get(reverse("system:board")).status_code == 403


def test_board_under_a_unit(login, users, tree, board):
    client = login(users.party_admin)
    html = client.get(
        reverse("system:board"), {"view": "table", "under": tree.sub_b.pk}
    ).content.decode()
    assert tree.branch_b1.name in html and tree.branch_a1.name not in html
    sec = login(users.secretary_a1)
    assert sec.get(reverse("system:board"), {"under": tree.sub_b.pk}).status_code == 404


def test_unit_board(login, users, tree, theme_day, board, django_assert_max_num_queries):
    client = login(users.secretary_a1)
    with django_assert_max_num_queries(11):
        response = client.get(reverse("system:unit", args=[tree.branch_a1.pk]), {"year": board})
    assert response.status_code == 200
    assert theme_day.name in response.content.decode()
    assert client.get(reverse("system:unit", args=[tree.branch_b1.pk])).status_code == 404


def test_cell_drilldown_shows_records(login, users, tree, theme_day, templates, board):
    client = login(users.secretary_a1)
    response = client.get(cell_url(tree.branch_a1, theme_day, D(board, 1, 1)))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-status="met"' in html and "主题党日" in html
    assert "note-exception" not in html  # secretaries cannot note exceptions
    # another branch's cell: 404
    assert client.get(cell_url(tree.branch_b1, theme_day, D(board, 1, 1))).status_code == 404
    assert client.get(reverse("system:cell", args=[1, 1, "not-a-date"])).status_code == 404


def test_note_exception(login, users, tree, theme_day, board):
    url = cell_url(tree.branch_a2, theme_day, D(board, 2, 1))
    # a secretary may not (403 even by POST)
    sec = login(users.secretary_a1)
    assert (
        sec.post(cell_url(tree.branch_a1, theme_day, D(board, 2, 1)), {"reason": "x"}).status_code
        == 403
    )
    client = login(users.party_admin)
    page = client.get(url).content.decode()
    assert "note-exception" in page
    # bad input: empty reason → inline error, nothing saved
    response = client.post(url, {"reason": "   "})
    assert response.status_code == 200
    assert not ConformityException.objects.exists()
    assert (
        "invalid-feedback" in response.content.decode() or "is-invalid" in response.content.decode()
    )
    response = client.post(url, {"reason": "支部书记调整，经党委同意顺延"})
    assert response.status_code == 302
    cell = ConformityResult.objects.get(
        org=tree.branch_a2, obligation=theme_day, period_start=D(board, 2, 1)
    )
    assert cell.status == S.EXCEPTED
    page = client.get(url).content.decode()
    assert 'data-testid="exception"' in page and "经党委同意顺延" in page
    # a second exception for the same period is refused by the service
    with pytest.raises(ValidationError):
        services.note_exception(
            actor=users.party_admin,
            org=tree.branch_a2,
            obligation=theme_day,
            period_start=D(board, 2, 1),
            reason="again",
        )


def test_due_list(login, users, tree, theme_day, board, django_assert_max_num_queries):
    client = login(users.secretary_a1)
    with django_assert_max_num_queries(11):
        response = client.get(reverse("system:due"))
    assert response.status_code == 200
    html = response.content.decode()
    assert theme_day.name in html and tree.branch_a1.name in html
    assert tree.branch_b1.name not in html
    assert client.get(reverse("system:due"), {"org": tree.branch_b1.pk}).status_code == 404
    items = services.due_this_month(users.secretary_a1)
    assert items and all(i["result"].org_id == tree.branch_a1.pk for i in items)
    assert services.due_this_month(users.secretary_b1)[0]["result"].org_id == tree.branch_b1.pk
    assert login(users.nobody).get(reverse("system:due")).status_code == 403


def test_requirement_library(login, users, requirement, theme_day, django_assert_max_num_queries):
    client = login(users.member_a1)
    with django_assert_max_num_queries(13):
        response = client.get(reverse("system:requirement_list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "主题党日" in html and "ISO9001-9.2" in html
    iso = client.get(reverse("system:requirement_list"), {"source": "iso9001", "q": "内部审核"})
    assert "ISO9001-9.2" in iso.content.decode() and "主题党日" not in iso.content.decode()
    detail = client.get(reverse("system:requirement_detail", args=[requirement.pk]))
    assert detail.status_code == 200
    assert client.get(reverse("system:requirement_detail", args=[999999])).status_code == 404
    assert login(users.system_admin).get(reverse("system:requirement_list")).status_code == 403


def test_obligation_list_and_edit(login, users, tree, templates, requirement, theme_day):
    sec = login(users.secretary_a1)
    listing = sec.get(reverse("system:obligation_list"))
    assert listing.status_code == 200 and theme_day.name in listing.content.decode()
    assert "new-obligation" not in listing.content.decode()
    assert sec.get(reverse("system:obligation_create")).status_code == 403
    assert sec.post(reverse("system:obligation_edit", args=[theme_day.pk]), {}).status_code == 403

    client = login(users.party_admin)
    url = reverse("system:obligation_create")
    assert client.get(url).status_code == 200
    data = {
        "name": "党课（季度）",
        "requirement": requirement.pk,
        "owner": tree.sub_a.pk,
        "applies_to_kinds": ["branch"],
        "activity": templates["party_lecture"].pk,
        "frequency": "custom",
        "interval_months": "",
        "due_offset_days": "",
        "counting": "none",
        "is_active": "on",
    }
    response = client.post(url, data)
    assert response.status_code == 200  # custom without months
    html = response.content.decode()
    assert "党课（季度）" in html  # input kept
    assert not Obligation.objects.filter(name="党课（季度）").exists()
    data["interval_months"] = "3"
    response = client.post(url, data)
    assert response.status_code == 302
    ob = Obligation.objects.get(name="党课（季度）")
    # only A's branches, computed at once
    orgs = set(ConformityResult.objects.filter(obligation=ob).values_list("org_id", flat=True))
    assert orgs == {tree.branch_a1.pk, tree.branch_a2.pk}
    edit = reverse("system:obligation_edit", args=[ob.pk])
    data["applies_to_kinds"] = []
    response = client.post(edit, data)
    assert response.status_code == 200 and "applies_to_kinds" in response.context["form"].errors
    data["orgs"] = [tree.branch_b1.pk]  # outside the owner's tree
    response = client.post(edit, data)
    assert response.status_code == 200 and "orgs" in response.context["form"].errors
    data["orgs"] = [tree.branch_a2.pk]
    assert client.post(edit, data).status_code == 302
    orgs = set(ConformityResult.objects.filter(obligation=ob).values_list("org_id", flat=True))
    assert orgs == {tree.branch_a2.pk}
    assert client.get(reverse("system:obligation_edit", args=[999999])).status_code == 404


def test_menu_items(login, users, board):
    html = login(users.secretary_a1).get(reverse("system:board")).content.decode()
    assert reverse("system:requirement_list") in html
    assert reverse("system:board") in html
