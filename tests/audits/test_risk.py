"""Risk-based programme: the score's ordering properties and the ranking pages."""

from __future__ import annotations

import dataclasses
import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pbqms.audits import risk
from pbqms.audits.models import Audit
from pbqms.core.context import action_context
from pbqms.improvement.models import Nonconformity
from pbqms.system.models import ConformityResult, ConformityStatus
from tests.audits.conftest import make_audit

TODAY = datetime.date(2026, 6, 15)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

facts_st = st.builds(
    lambda due, missing, late, open_ncs, major, repeats, last: risk.Facts(
        org_id=1,
        due=due,
        missing=min(missing, due),
        late=min(late, due - min(missing, due)),
        open_ncs=open_ncs,
        open_major=min(major, open_ncs),
        repeats=repeats,
        last_audit=last,
    ),
    st.integers(0, 60),
    st.integers(0, 60),
    st.integers(0, 60),
    st.integers(0, 20),
    st.integers(0, 20),
    st.integers(0, 10),
    st.one_of(st.none(), st.dates(datetime.date(2015, 1, 1), TODAY)),
)


@PROPERTY
@given(facts_st)
def test_score_is_the_sum_of_bounded_contributions(f):
    r = risk.score(f, TODAY)
    assert set(r.contributions) == set(risk.FACTORS)
    assert r.score == pytest.approx(sum(r.contributions.values()), abs=0.11)
    caps = {
        "conformity": risk.W_CONFORMITY,
        "open": risk.W_OPEN,
        "repeat": risk.W_REPEAT,
        "since": risk.W_SINCE,
    }
    for name, points in r.contributions.items():
        assert 0 <= points <= caps[name]
    assert 0 <= r.score <= 100
    # every factor is explained, with its points
    lines = risk.explain(r)
    assert len(lines) == 4
    for line, name in zip(lines, risk.FACTORS, strict=True):
        assert f"+{risk.fmt_points(r.contributions[name])}" in line


@PROPERTY
@given(facts_st, st.sampled_from(["missing", "open_ncs", "open_major", "repeats", "older"]))
def test_more_risk_never_lowers_the_score(f, factor):
    if factor == "missing":
        # one more due obligation, missed
        worse = dataclasses.replace(f, due=f.due + 1, missing=f.missing + 1)
    elif factor == "open_ncs":
        worse = dataclasses.replace(f, open_ncs=f.open_ncs + 1)
    elif factor == "open_major":
        worse = dataclasses.replace(f, open_ncs=f.open_ncs + 1, open_major=f.open_major + 1)
    elif factor == "repeats":
        worse = dataclasses.replace(f, repeats=f.repeats + 1)
    else:
        older = None if f.last_audit is None else f.last_audit - datetime.timedelta(days=40)
        worse = dataclasses.replace(f, last_audit=older)
    assert risk.score(worse, TODAY).score >= risk.score(f, TODAY).score


@PROPERTY
@given(st.lists(facts_st, min_size=0, max_size=30))
def test_order_is_by_score_and_total(facts):
    ranked = risk.order(
        [risk.score(dataclasses.replace(f, org_id=i), TODAY) for i, f in enumerate(facts)]
    )
    assert len(ranked) == len(facts)
    scores = [r.score for r in ranked]
    assert scores == sorted(scores, reverse=True)
    assert sorted(r.facts.org_id for r in ranked) == list(range(len(facts)))


def test_never_audited_counts_full_and_recent_audit_little():
    never = risk.score(risk.Facts(1), TODAY)
    recent = risk.score(risk.Facts(2, last_audit=TODAY - datetime.timedelta(days=20)), TODAY)
    assert never.contributions["since"] == risk.W_SINCE
    assert recent.contributions["since"] == 0


# --- loading the facts ---------------------------------------------------------------


def _nc(org, user, n, **extra):
    with action_context(source="test"):
        return Nonconformity.objects.create(
            number=f"NC-T-{n}",
            title="不符合",
            source_kind="self_inspection",
            org=org,
            requirement="要求",
            description="事实",
            raised_by=user,
            correction_due=timezone.localdate() + datetime.timedelta(days=30),
            **extra,
        )


def _cells(org, obligation, statuses):
    today = timezone.localdate()
    for i, status in enumerate(statuses):
        due = today - datetime.timedelta(days=20 * (i + 1))
        ConformityResult.objects.create(
            org=org,
            obligation=obligation,
            period_start=due - datetime.timedelta(days=10),
            period_end=due,
            due_on=due,
            status=status,
            computed_at=timezone.now(),
        )


@pytest.fixture
def obligation(tree, db):
    from pbqms.records.models import RecordTemplate
    from pbqms.records.services import ensure_builtin_templates
    from pbqms.system.builtin import ensure_builtin_requirements
    from pbqms.system.models import Requirement
    from tests.system.conftest import make_obligation

    ensure_builtin_templates()
    ensure_builtin_requirements()
    return make_obligation(
        tree.root,
        RecordTemplate.objects.get(code="theme_day"),
        Requirement.objects.get(code="DJ-ZTDR"),
        frequency="monthly",
    )


def test_rank_units_loads_each_factor(tree, users, team, programme, obligation):
    S = ConformityStatus
    _cells(tree.branch_a1, obligation, [S.MISSING, S.MISSING, S.MET, S.LATE])
    _cells(tree.branch_b1, obligation, [S.MET, S.MET])
    first = _nc(tree.branch_a2, users.auditor, 1, status="closed")
    _nc(tree.branch_a2, users.auditor, 2, repeat_of=first, severity="major")
    done = make_audit(programme, [tree.sub_b], status=Audit.Status.CLOSED)
    done.end_date = timezone.localdate() - datetime.timedelta(days=60)
    done.save()
    _cells(tree.group_a1, obligation, [S.MISSING])
    ranked = {r.org.pk: r for r in risk.rank_units(programme)}
    assert programme.org_id not in ranked
    # the party group is not ranked on its own: its gap counts for its branch
    assert tree.group_a1.pk not in ranked
    a1 = ranked[tree.branch_a1.pk]
    assert (a1.facts.due, a1.facts.missing, a1.facts.late) == (5, 3, 1)
    assert a1.contributions["conformity"] == pytest.approx(risk.W_CONFORMITY * 3.5 / 5, abs=0.1)
    a2 = ranked[tree.branch_a2.pk]
    assert (a2.facts.open_ncs, a2.facts.open_major, a2.facts.repeats) == (1, 1, 1)
    assert a2.contributions["open"] == 10 and a2.contributions["repeat"] == 10
    # B1 sits under the audited B general branch: its last audit is B's
    b1 = ranked[tree.branch_b1.pk]
    assert b1.facts.last_audit == done.end_date
    assert b1.contributions["since"] < risk.W_SINCE
    assert ranked[tree.sub_b.pk].planned
    order = list(ranked)
    assert order.index(tree.branch_a1.pk) < order.index(tree.branch_b1.pk)


def test_scope_units_limit_the_ranking(tree, programme):
    programme.scope_units.set([tree.sub_b])
    ids = {r.org.pk for r in risk.rank_units(programme)}
    assert ids == {tree.sub_b.pk, tree.branch_b1.pk}


# --- pages ----------------------------------------------------------------------------


def test_risk_page_and_detail_section(login, users, programme, tree):
    c = login(users.party_admin)
    r = c.get(reverse("audits:programme_detail", args=[programme.pk]))
    assert r.status_code == 200
    assert r.context["show_risk"] and r.context["risk_rows"]
    body = r.content.decode()
    assert 'data-testid="risk-section"' in body
    r = c.get(reverse("audits:programme_risk", args=[programme.pk]))
    assert r.status_code == 200
    assert [row["r"].org.pk for row in r.context["rows"]]
    # plan an audit from the ranking: the unit is preselected
    r = c.get(reverse("audits:audit_create", args=[programme.pk]) + f"?unit={tree.branch_a1.pk}")
    assert list(r.context["form"].initial["audited_units"]) == [tree.branch_a1]


def test_programme_form_shows_the_ranking_while_drafting(login, users, tree):
    r = login(users.party_admin).get(reverse("audits:programme_create") + f"?org={tree.root.pk}")
    assert r.status_code == 200 and r.context["show_risk"]
    ids = {row["r"].org.pk for row in r.context["risk_rows"]}
    assert tree.root.pk not in ids and tree.group_a1.pk not in ids
    assert 'data-testid="risk-section"' in r.content.decode()


def test_risk_page_forbidden_and_scoped(login, users, programme):
    url = reverse("audits:programme_risk", args=[programme.pk])
    assert login(users.secretary_a1).get(url).status_code == 404
    assert login(users.auditor).get(url).status_code in (403, 404)
    r = login(users.auditor).get(reverse("audits:programme_detail", args=[programme.pk]))
    assert r.status_code in (200, 404)
    if r.status_code == 200:
        assert not r.context.get("show_risk")


def test_risk_page_query_count(
    login, users, programme, tree, obligation, django_assert_max_num_queries
):
    from tests.factories import make_unit

    c = login(users.party_admin)
    url = reverse("audits:programme_risk", args=[programme.pk])
    c.get(url)
    with django_assert_max_num_queries(30) as small:
        c.get(url)
    for i in range(15):
        unit = make_unit(f"新支部{i}", "branch", tree.sub_a, code=f"N{i}")
        _cells(unit, obligation, [ConformityStatus.MISSING])
        _nc(unit, users.auditor, 100 + i)
    with django_assert_max_num_queries(len(small.captured_queries)):
        r = c.get(url)
    assert r.status_code == 200


def test_plan_from_ranking(login, users, programme, tree, obligation):
    from pbqms.audits import services

    _cells(tree.branch_b1, obligation, [ConformityStatus.MISSING] * 3)
    make_audit(programme, [tree.branch_a2])
    ranked = [r.org.pk for r in risk.rank_units(programme) if not r.planned]
    url = reverse("audits:programme_risk", args=[programme.pk])
    c = login(users.party_admin)
    # bad input: field errors, nothing created
    r = c.post(url, {"count": "0", "first_month": "13"})
    assert r.status_code == 200 and {"count", "first_month"} <= set(r.context["plan_form"].errors)
    assert programme.audits.count() == 1
    r = c.post(url, {"count": "3", "first_month": "10"})
    assert r.status_code == 302
    new = list(programme.audits.exclude(audited_units=tree.branch_a2).order_by("pk"))
    assert [a.audited_units.get().pk for a in new] == ranked[:3]
    months = [a.planned_month for a in new]
    assert months == sorted(months) and months[0] == 10 and months[-1] <= 12
    # the units are planned now: the next ones come next
    again = services.plan_from_ranking(
        actor=users.party_admin, programme=programme, count=1, first_month=1
    )
    assert [a.audited_units.get().pk for a in again] == ranked[3:4]
    # a secretary may not
    assert login(users.secretary_a1).post(url, {"count": "1", "first_month": "1"}).status_code in (
        403,
        404,
    )
