"""The engine against the database: full recomputation, incremental updates through the
records service (submit, amend), obligation and org-tree changes, exceptions, quorum, and
a hypothesis check that incremental results equal a naive full recomputation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pbqms.core.context import action_context
from pbqms.orgs import services as org_services
from pbqms.records import services as record_services
from pbqms.records.models import Record
from pbqms.system import engine
from pbqms.system.models import ConformityException, ConformityResult
from pbqms.system.models import ConformityStatus as S
from tests.system.conftest import TODAY, at, cells, file_record, make_obligation

D = dt.date
pytestmark = pytest.mark.django_db


def status_of(org, ob, month, year=2026):
    return ConformityResult.objects.get(
        org=org, obligation=ob, period_start=D(year, month, 1)
    ).status


def test_full_recomputation(tree, theme_day, templates):
    a1, a2, b1 = tree.branch_a1, tree.branch_a2, tree.branch_b1
    file_record(a1, templates["theme_day"], at(2026, 3, 10))  # on time
    file_record(a2, templates["theme_day"], at(2026, 3, 28))  # late
    file_record(b1, templates["theme_day"], at(2026, 3, 5), status=Record.Status.DRAFT)
    stats = engine.recompute_all(today=TODAY)
    # 3 branches × 12 months; committees and the group are not branches
    assert stats.cells == 36 and stats.written == 36
    assert status_of(a1, theme_day, 3) == S.MET
    assert status_of(a2, theme_day, 3) == S.LATE
    assert status_of(b1, theme_day, 3) == S.MISSING  # a draft does not count
    assert status_of(a1, theme_day, 12) == S.UPCOMING
    assert status_of(a1, theme_day, 11) == S.UPCOMING  # due 25 November, today the 24th
    assert not ConformityResult.objects.filter(org=tree.group_a1).exists()
    # a second run writes nothing
    again = engine.recompute_all(today=TODAY)
    assert again.written == 0 and again.deleted == 0


def test_shanghai_calendar_decides_the_month(tree, theme_day, templates):
    # 31 March 23:30 in Shanghai is 15:30 UTC on 31 March; 1 April 00:30 is 31 March UTC
    late_march = file_record(tree.branch_a1, templates["theme_day"], at(2026, 3, 31, 23, 30))
    april = file_record(tree.branch_a2, templates["theme_day"], at(2026, 4, 1, 0, 30))
    engine.recompute_all(today=TODAY)
    assert status_of(tree.branch_a1, theme_day, 3) == S.LATE
    assert cells(tree.branch_a1)[(tree.branch_a1.pk, theme_day.pk, D(2026, 3, 1))].record_ids == [
        late_march.pk
    ]
    assert status_of(tree.branch_a2, theme_day, 3) == S.MISSING
    assert status_of(tree.branch_a2, theme_day, 4) == S.MET
    assert (
        april.pk
        in ConformityResult.objects.get(org=tree.branch_a2, period_start=D(2026, 4, 1)).record_ids
    )


def test_submitting_and_amending_through_the_records_service(
    tree, users, theme_day, templates, committee
):
    """The real path: the records service sends ``record_submitted`` on submit and on
    amendment; the cells follow."""
    engine.recompute_all()
    now = timezone.localtime()
    month_start = D(now.year, now.month, 1)
    tpl = templates["theme_day"]
    data = {f["name"]: _value(f) for f in tpl.fields if f.get("required")}
    with action_context(actor=users.secretary_a1):
        record = record_services.create_record(
            actor=users.secretary_a1,
            org=tree.branch_a1,
            template=tpl,
            title="主题党日",
            occurred_at=at(now.year, now.month, 1, 9),
            data=data,
            attendance=[{"person": p.pk, "present": True} for p in committee],
        )
    key = {"org": tree.branch_a1, "obligation": theme_day, "period_start": month_start}
    assert ConformityResult.objects.get(**key).record_ids == []  # a draft does not count
    with action_context(actor=users.secretary_a1):
        record_services.submit_record(record, actor=users.secretary_a1)
    cell = ConformityResult.objects.get(**key)
    assert cell.status == S.MET and cell.record_ids == [record.pk]
    # amended to the previous month: this month is open again, the previous one met
    previous = (month_start - dt.timedelta(days=1)).replace(day=2)
    with action_context(actor=users.secretary_a1):
        record_services.amend_record(
            record,
            actor=users.secretary_a1,
            reason="日期填错",
            occurred_at=at(previous.year, previous.month, previous.day, 9),
        )
    assert ConformityResult.objects.get(**key).record_ids == []
    if previous.year == now.year:
        moved = ConformityResult.objects.get(
            org=tree.branch_a1, obligation=theme_day, period_start=previous.replace(day=1)
        )
        assert moved.status == S.MET and moved.record_ids == [record.pk]


def _value(spec):
    kind = spec.get("type")
    if kind == "number":
        return 1
    if kind == "choice":
        return (spec.get("choices") or ["x"])[0]
    if kind == "date":
        return "2026-01-01"
    if kind == "datetime":
        return "2026-01-01T10:00"
    if kind == "people":
        return []
    return "内容"


def test_amendment_moving_the_date_updates_both_periods(tree, theme_day, templates):
    record = file_record(tree.branch_a1, templates["theme_day"], at(2026, 3, 10))
    engine.recompute_all(today=TODAY)
    assert status_of(tree.branch_a1, theme_day, 3) == S.MET
    Record.objects.filter(pk=record.pk).update(occurred_at=at(2026, 4, 2))
    record.refresh_from_db()
    stats = engine.update_for_record(record, today=TODAY)
    assert stats.written == 2
    assert status_of(tree.branch_a1, theme_day, 3) == S.MISSING
    assert status_of(tree.branch_a1, theme_day, 4) == S.MET


def test_update_for_record_touches_only_its_cells(tree, theme_day, templates):
    engine.recompute_all(today=TODAY)
    before = {k: (c.status, c.computed_at) for k, c in cells().items()}
    record = file_record(tree.branch_b1, templates["theme_day"], at(2026, 6, 3))
    stats = engine.update_for_record(record, today=TODAY)
    assert stats.cells == 1 and stats.written == 1
    after = {k: (c.status, c.computed_at) for k, c in cells().items()}
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {(tree.branch_b1.pk, theme_day.pk, D(2026, 6, 1))}


def test_record_of_another_template_or_unit_kind_is_ignored(tree, theme_day, templates):
    record = file_record(tree.branch_a1, templates["party_lecture"], at(2026, 3, 3))
    assert engine.update_for_record(record, today=TODAY).cells == 0
    group_record = file_record(tree.group_a1, templates["theme_day"], at(2026, 3, 3))
    assert engine.update_for_record(group_record, today=TODAY).cells == 0


def test_obligation_changes_recompute_it(tree, theme_day, templates):
    engine.recompute_all(today=TODAY)
    assert len(cells(obligation=theme_day)) == 36
    theme_day.applies_to_kinds = []
    theme_day.save()  # signal: recompute that obligation
    assert cells(obligation=theme_day) == {}
    theme_day.orgs.set([tree.branch_b1])
    assert {k[0] for k in cells(obligation=theme_day)} == {tree.branch_b1.pk}
    theme_day.frequency = "quarterly"
    theme_day.save()
    assert len(cells(obligation=theme_day)) == 4
    theme_day.is_active = False
    theme_day.save()
    assert cells(obligation=theme_day) == {}


def test_org_tree_changes_recompute_the_unit(tree, users, theme_day):
    engine.recompute_all()
    year = dt.date.today().year
    with action_context(actor=users.party_admin):
        new = org_services.create_unit(
            actor=users.party_admin,
            parent=tree.sub_a,
            data={"name": "新支部", "kind": "branch", "founded_on": D(year, 6, 20)},
        )
    result = cells(new)
    assert len(result) == 12
    assert result[(new.pk, theme_day.pk, D(year, 6, 1))].status == S.NOT_APPLICABLE
    assert result[(new.pk, theme_day.pk, D(year, 7, 1))].status != S.NOT_APPLICABLE


def test_dissolved_unit_owes_nothing_after_dissolution(tree, theme_day):
    engine.recompute_all(today=TODAY)
    tree.branch_b1.dissolved_on = D(2026, 5, 10)
    tree.branch_b1.save()
    result = cells(tree.branch_b1)
    assert result[(tree.branch_b1.pk, theme_day.pk, D(2026, 4, 1))].status == S.MISSING
    for month in range(5, 13):
        assert (
            result[(tree.branch_b1.pk, theme_day.pk, D(2026, month, 1))].status == S.NOT_APPLICABLE
        )


def test_justified_exception(tree, users, theme_day):
    engine.recompute_all(today=TODAY)
    ConformityException.objects.create(
        org=tree.branch_a1,
        obligation=theme_day,
        period_start=D(2026, 2, 1),
        period_end=D(2026, 2, 28),
        reason="春节放假",
        created_by=users.party_admin,
    )
    assert status_of(tree.branch_a1, theme_day, 2) == S.EXCEPTED
    engine.recompute_all(today=TODAY)
    assert status_of(tree.branch_a1, theme_day, 2) == S.EXCEPTED


def test_quorum_flags_a_meeting_without_majority(tree, templates, requirement, committee):
    ob = make_obligation(tree.root, templates["committee_meeting"], requirement, counting="quorum")
    secretary, organisation, publicity, m1, _m2 = committee
    tpl = templates["committee_meeting"]
    ok = file_record(
        tree.branch_a1, tpl, at(2026, 3, 5), attendance=[(secretary, True), (organisation, True)]
    )
    bad = file_record(
        tree.branch_a1,
        tpl,
        at(2026, 4, 5),
        attendance=[(secretary, True), (organisation, False), (publicity, False), (m1, True)],
    )
    engine.recompute_all(today=TODAY)
    march = ConformityResult.objects.get(
        org=tree.branch_a1, obligation=ob, period_start=D(2026, 3, 1)
    )
    april = ConformityResult.objects.get(
        org=tree.branch_a1, obligation=ob, period_start=D(2026, 4, 1)
    )
    assert march.status == S.MET and march.record_ids == [ok.pk]
    assert april.status == S.MISSING and april.flagged_ids == [bad.pk] and april.record_ids == []
    # A2 has no committee at all: its meetings are flagged
    lone = file_record(tree.branch_a2, tpl, at(2026, 3, 5))
    engine.update_for_record(lone, today=TODAY)
    a2 = ConformityResult.objects.get(org=tree.branch_a2, obligation=ob, period_start=D(2026, 3, 1))
    assert a2.flagged_ids == [lone.pk]


def test_attendance_ratio(tree, templates, requirement, committee):
    ob = make_obligation(
        tree.root,
        templates["member_meeting"],
        requirement,
        frequency="quarterly",
        counting="attendance",
        min_attendance_ratio="0.80",
    )
    tpl = templates["member_meeting"]
    rows = [(p, i < 4) for i, p in enumerate(committee)]  # 4 of 5 present
    ok = file_record(tree.branch_a1, tpl, at(2026, 2, 5), attendance=rows)
    rows = [(p, i < 3) for i, p in enumerate(committee)]  # 3 of 5
    bad = file_record(tree.branch_a1, tpl, at(2026, 5, 5), attendance=rows)
    engine.recompute_all(today=TODAY)
    q1 = ConformityResult.objects.get(org=tree.branch_a1, obligation=ob, period_start=D(2026, 1, 1))
    q2 = ConformityResult.objects.get(org=tree.branch_a1, obligation=ob, period_start=D(2026, 4, 1))
    assert q1.record_ids == [ok.pk] and q2.flagged_ids == [bad.pk]


# ---------------------------------------------------------------- incremental = naive

record_plans = st.lists(
    st.tuples(
        st.sampled_from(["a1", "a2", "b1"]),
        st.dates(min_value=D(2026, 1, 1), max_value=D(2026, 11, 24)),
        st.booleans(),  # submitted?
    ),
    max_size=12,
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(record_plans)
def test_incremental_equals_naive_recomputation(tree, templates, requirement, plan):
    ConformityResult.objects.all().delete()
    Record.objects.all().delete()
    obs = [
        make_obligation(tree.root, templates["theme_day"], requirement, due_offset_days=9),
        make_obligation(
            tree.root, templates["theme_day"], requirement, frequency="quarterly", name="q"
        ),
    ]
    try:
        engine.recompute_all(today=TODAY)
        units = {"a1": tree.branch_a1, "a2": tree.branch_a2, "b1": tree.branch_b1}
        for key, day, submitted in plan:
            status = Record.Status.SUBMITTED if submitted else Record.Status.DRAFT
            record = file_record(
                units[key], templates["theme_day"], at(day.year, day.month, day.day), status=status
            )
            if submitted:
                engine.update_for_record(record, today=TODAY)
        incremental = {k: (c.status, c.record_ids, c.due_on) for k, c in cells().items()}
        ConformityResult.objects.all().delete()
        engine.recompute_all(today=TODAY)
        naive = {k: (c.status, c.record_ids, c.due_on) for k, c in cells().items()}
        assert incremental == naive
    finally:
        for ob in obs:
            ob.results.all().delete()
        Record.objects.all().delete()
        with engine.suspended():
            for ob in obs:
                ob.delete()
