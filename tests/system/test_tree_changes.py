"""The organisation tree changes and the conformity cells follow: a unit created gets its
cells; a unit moved to another committee (treebeard moves by queryset updates, no save
signal) loses the cells of the old committee's obligations and gets the new one's, for its
whole subtree; a unit dissolved owes nothing after its dissolution."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from pbqms.core.context import action_context
from pbqms.orgs import services as org_services
from pbqms.system import engine
from pbqms.system.models import ConformityResult
from pbqms.system.models import ConformityStatus as S
from tests.system.conftest import make_obligation

pytestmark = pytest.mark.django_db


@pytest.fixture
def obligations(tree, templates, requirement):
    a_theme = make_obligation(
        tree.sub_a, templates["theme_day"], requirement, name="A主题党日", frequency="monthly"
    )
    a_group = make_obligation(
        tree.sub_a,
        templates["group_meeting"],
        requirement,
        name="A党小组会",
        frequency="monthly",
        kinds=["group"],
    )
    b_theme = make_obligation(
        tree.sub_b, templates["theme_day"], requirement, name="B主题党日", frequency="quarterly"
    )
    engine.recompute_all()
    return a_theme, a_group, b_theme


def obs_of(org):
    return set(ConformityResult.objects.filter(org=org).values_list("obligation__name", flat=True))


def test_moving_a_unit_moves_its_cells(tree, users, obligations):
    _a_theme, _a_group, b_theme = obligations
    assert obs_of(tree.branch_a1) == {"A主题党日"}
    assert obs_of(tree.group_a1) == {"A党小组会"}
    with action_context(actor=users.system_admin):
        org_services.move_unit(
            actor=users.system_admin, unit=tree.branch_a1, new_parent=tree.sub_b, reason="划转"
        )
    assert obs_of(tree.branch_a1) == {"B主题党日"}
    assert ConformityResult.objects.filter(org=tree.branch_a1, obligation=b_theme).count() == 4
    # the subtree follows: the group no longer owes A's group meetings
    assert obs_of(tree.group_a1) == set()
    # and the result equals a full recomputation
    before = set(ConformityResult.objects.values_list("org_id", "obligation_id", "period_start"))
    engine.recompute_all()
    after = set(ConformityResult.objects.values_list("org_id", "obligation_id", "period_start"))
    assert before == after


def test_creating_a_unit_gives_it_cells(tree, users, obligations):
    with action_context(actor=users.system_admin):
        new = org_services.create_unit(
            actor=users.system_admin,
            parent=tree.sub_b,
            data={"name": "B公司新支部", "kind": "branch", "founded_on": dt.date(2000, 1, 1)},
        )
    assert obs_of(new) == {"B主题党日"}


def test_dissolving_a_unit_marks_later_periods_not_applicable(tree, users, obligations):
    a_theme, *_ = obligations
    year = timezone.localdate().year
    on = dt.date(year, 3, 10)
    unit = tree.branch_a2
    with action_context(actor=users.system_admin):
        org_services.dissolve_unit(actor=users.system_admin, unit=unit, on=on, reason="撤销")
    cells = {
        r.period_start: r.status
        for r in ConformityResult.objects.filter(org=unit, obligation=a_theme)
    }
    assert cells[dt.date(year, 2, 1)] != S.NOT_APPLICABLE
    assert all(cells[dt.date(year, m, 1)] == S.NOT_APPLICABLE for m in range(3, 13))


def test_suspended_moves_wait_for_a_recompute(tree, users, obligations):
    with action_context(actor=users.system_admin), engine.suspended():
        org_services.move_unit(
            actor=users.system_admin, unit=tree.branch_a2, new_parent=tree.sub_b, reason="划转"
        )
    assert obs_of(tree.branch_a2) == {"A主题党日"}  # stale until the nightly recompute
    engine.recompute_all()
    assert obs_of(tree.branch_a2) == {"B主题党日"}
