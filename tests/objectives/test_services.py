"""Services of policy and objectives: rights, validation, breakdown, values, computed
indicators (conformity rate from the engine, nonconformity closure rate), attainment and
the year-over-year comparison, copying a policy to the next year, scope."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from pbqms.core import roles
from pbqms.core.locking import StaleObjectError
from pbqms.core.models import ChangeLogEntry
from pbqms.objectives import services
from pbqms.objectives.models import Indicator, IndicatorTarget, Measurement, Policy
from pbqms.system import engine
from pbqms.system.models import ConformityResult
from tests.objectives.conftest import make_plan
from tests.system.conftest import file_record, make_obligation

pytestmark = pytest.mark.django_db
D = Decimal


def test_policy_rights_and_validation(users, tree):
    with pytest.raises(PermissionDenied):
        services.save_policy(
            actor=users.secretary_a1, org=tree.branch_a1, year=2026, title="t", statement="s"
        )
    policy = services.save_policy(
        actor=users.party_admin, org=tree.root, year=2026, title="t", statement="s"
    )
    with pytest.raises(ValidationError) as exc:
        services.save_policy(
            actor=users.party_admin, org=tree.root, year=2026, title="t2", statement="s"
        )
    assert "year" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.save_policy(
            actor=users.party_admin, org=tree.sub_a, year=1999, title="t", statement="s"
        )
    assert "year" in exc.value.message_dict
    assert Policy.objects.count() == 1
    entry = ChangeLogEntry.objects.filter(object_type="objectives.policy").first()
    assert entry.action == "create" and entry.actor_id == users.party_admin.pk
    services.save_policy(
        actor=users.party_admin, org=tree.root, year=2026, title="t3", statement="s",
        policy=policy, version=1,
    )  # fmt: skip
    with pytest.raises(StaleObjectError):
        services.save_policy(
            actor=users.party_admin, org=tree.root, year=2026, title="t4", statement="s",
            policy=policy, version=1,
        )  # fmt: skip


def test_breakdown_rules(users, tree, plan):
    rows = services.breakdown(plan.manual)
    assert [(r.org_id, r.target) for r in rows] == [
        (tree.root.pk, D("90")),
        (tree.sub_a.pk, D("92")),
        (tree.branch_a1.pk, D("95")),
    ]
    # a branch secretary may not set targets
    with pytest.raises(PermissionDenied):
        services.set_targets(
            actor=users.secretary_a1, indicator=plan.manual, targets={tree.branch_a1: "1"}
        )
    # the unit itself gets no share; a bad number is a field error; nothing saved
    with pytest.raises(ValidationError) as exc:
        services.set_targets(
            actor=users.party_admin, indicator=plan.manual,
            targets={tree.root: "1", tree.branch_b1: "abc"},
        )  # fmt: skip
    assert set(exc.value.message_dict) == {f"target_{tree.root.pk}", f"target_{tree.branch_b1.pk}"}
    assert IndicatorTarget.objects.count() == 2
    # empty removes a share
    assert (
        services.set_targets(
            actor=users.party_admin, indicator=plan.manual, targets={tree.branch_a1: None}
        )
        == 1
    )
    assert not IndicatorTarget.objects.filter(org=tree.branch_a1).exists()


def test_subsidiary_committee_cascades_its_share(users, tree, plan):
    from tests.factories import grant, make_user

    sub_admin = make_user("sub_admin")
    grant(sub_admin, roles.Role.PARTY_ADMIN, tree.sub_a)
    services.set_targets(actor=sub_admin, indicator=plan.manual, targets={tree.branch_a2: "93"})
    assert IndicatorTarget.objects.get(org=tree.branch_a2).target == D("93")
    with pytest.raises(PermissionDenied):  # B1 is not below A
        services.set_targets(actor=sub_admin, indicator=plan.manual, targets={tree.sub_b: "1"})


def test_enter_values(users, tree, plan):
    m = services.enter_value(
        actor=users.secretary_a1, indicator=plan.manual, org=tree.branch_a1, value="96.5"
    )
    assert m.value == D("96.50") and m.source == Measurement.Source.MANUAL
    with pytest.raises(PermissionDenied):  # not their unit
        services.enter_value(
            actor=users.secretary_a1, indicator=plan.manual, org=tree.branch_b1, value="1"
        )
    with pytest.raises(ValidationError) as exc:  # B1 has no share
        services.enter_value(
            actor=users.secretary_b1, indicator=plan.manual, org=tree.branch_b1, value="1"
        )
    assert "org" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:  # computed: no entries
        services.enter_value(
            actor=users.secretary_a1, indicator=plan.rate, org=tree.branch_a1, value="1"
        )
    assert "value" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.enter_value(
            actor=users.secretary_a1, indicator=plan.manual, org=tree.branch_a1, value="x"
        )
    with pytest.raises(StaleObjectError):
        services.enter_value(
            actor=users.secretary_a1, indicator=plan.manual, org=tree.branch_a1, value="97",
            version=99,
        )  # fmt: skip
    assert Measurement.objects.get(indicator=plan.manual, org=tree.branch_a1).value == D("96.5")


def test_attained_and_attainment_by_direction(plan):
    ind = plan.manual
    assert ind.attained(D("90"), D("90")) is True
    assert ind.attained(D("89.99"), D("90")) is False
    assert ind.attainment(D("45"), D("90")) == 50.0
    ind.direction = Indicator.Direction.LOWER
    assert ind.attained(D("2"), D("3")) is True
    assert ind.attainment(D("6"), D("3")) == 50.0
    assert ind.attainment(D("0"), D("0")) == 100.0
    assert ind.attained(None, D("1")) is None


def test_conformity_rate_indicator_reads_the_engine(users, tree, plan, templates, requirement):
    """The computed indicator equals the engine's summary rate over the unit's subtree."""
    today = dt.date(2026, 11, 24)
    ob = make_obligation(
        tree.root, templates["theme_day"], requirement, frequency="monthly", due_offset_days=24
    )
    sh = dt.timezone(dt.timedelta(hours=8))
    for month in range(1, 11):  # A1 holds every theme day on time, A2 half of them late
        file_record(tree.branch_a1, templates["theme_day"], dt.datetime(2026, month, 5, tzinfo=sh))
        if month % 2:
            file_record(
                tree.branch_a2, templates["theme_day"], dt.datetime(2026, month, 27, tzinfo=sh)
            )
    engine.recompute_all(today=today)
    services.set_targets(
        actor=users.party_admin,
        indicator=plan.rate,
        targets={tree.sub_a: "95", tree.branch_b1: "90"},
    )
    services.refresh_indicator(plan.rate, today=today)
    values = {m.org_id: m.value for m in plan.rate.measurements.all()}

    def naive(org):
        cells = ConformityResult.objects.filter(
            org__path__startswith=org.path, obligation=ob, due_on__year=2026
        )
        rate = engine.rate(engine.effective_status(c.status, c.due_on, today) for c in cells)
        return D(str(round(rate * 100, 2))).quantize(D("0.01"))

    assert values[tree.sub_a.pk] == naive(tree.sub_a)
    assert values[tree.root.pk] == naive(tree.root)
    assert values[tree.branch_b1.pk] == D("0.00")  # B1 recorded nothing: every month missing
    # A: A1 10 on time, A2 5 late + 5 missing (Jan–Oct; Nov upcoming on the 24th):
    # (10 + ½·5) / 20
    assert values[tree.sub_a.pk] == D("62.50")
    # refreshing again writes nothing
    assert services.refresh_indicator(plan.rate, today=today) == 0


def test_nc_closure_rate(users, tree):
    from pbqms.improvement.models import Nonconformity as NC

    admin = users.party_admin
    policy = services.save_policy(actor=admin, org=tree.root, year=2026, title="t", statement="s")
    objective = services.save_objective(actor=admin, policy=policy, code="M", title="改进")
    for i, status in enumerate(
        [NC.Status.CLOSED, NC.Status.OPEN, NC.Status.CLOSED, NC.Status.CANCELLED]
    ):
        NC.objects.create(
            number=f"NC-{i}", title="x", source_kind=NC.Source.SELF_INSPECTION,
            org=tree.branch_a1 if i < 3 else tree.branch_b1, requirement="r", description="d",
            raised_by=admin, raised_on=dt.date(2026, 3, 1), correction_due=dt.date(2026, 4, 1),
            status=status,
        )  # fmt: skip
    ind = services.save_indicator(
        actor=admin, objective=objective, code="C", name="不符合项关闭率", unit_of_measure="",
        direction="higher", target="90", source="nc_closure_rate",
    )  # fmt: skip
    assert ind.unit_of_measure == "%"
    assert Measurement.objects.get(indicator=ind, org=tree.root).value == D("66.67")


def test_attainment_year_over_year_and_trend(users, tree):
    last = make_plan(users, tree, year=2025)
    this = make_plan(users, tree, year=2026)
    sec = users.secretary_a1
    services.enter_value(actor=sec, indicator=last.manual, org=tree.branch_a1, value="80")
    services.enter_value(actor=sec, indicator=this.manual, org=tree.branch_a1, value="96")
    rows = services.attainment(tree.branch_a1, 2026)
    assert [r.indicator.pk for r in rows] == [this.manual.pk]  # A1 has a share of I1 only
    row = rows[0]
    assert row.target == D("95") and row.value == D("96") and row.attained is True
    assert row.previous == D("80") and row.improved is True
    trend = services.trend(tree.branch_a1, rows, 2026)
    assert trend["years"] == [2025, 2026]
    assert trend["series"][0]["data"] == [84.2, 101.1]


def test_copy_policy_keeps_codes_and_targets(users, tree, plan):
    new = services.copy_policy(actor=users.party_admin, policy=plan.policy, year=2027)
    assert new.title == "2027年党建工作方针目标"
    codes = set(Indicator.objects.filter(objective__policy=new).values_list("code", flat=True))
    assert codes == {"I1", "I2"}
    assert IndicatorTarget.objects.filter(indicator__objective__policy=new).count() == 2
    with pytest.raises(ValidationError):
        services.copy_policy(actor=users.party_admin, policy=plan.policy, year=2027)


def test_scope_units_see_their_committees_policies(users, tree, plan):
    sub_policy = services.save_policy(
        actor=users.party_admin, org=tree.sub_a, year=2026, title="A", statement="s"
    )
    a1 = set(Policy.objects.visible_to(users.secretary_a1, roles.OBJECTIVE_VIEW))
    b1 = set(Policy.objects.visible_to(users.secretary_b1, roles.OBJECTIVE_VIEW))
    assert a1 == {plan.policy, sub_policy}
    assert b1 == {plan.policy}
    assert not Policy.objects.visible_to(users.system_admin, roles.OBJECTIVE_VIEW).exists()
    # values: a unit sees its own only
    services.enter_value(
        actor=users.secretary_a1, indicator=plan.manual, org=tree.branch_a1, value="1"
    )
    assert not Measurement.objects.visible_to(users.secretary_b1, roles.OBJECTIVE_VIEW).exists()


def test_value_reminders(users, tree, plan):
    from pbqms.core import notify  # noqa: F401 (the inbox the reminders go to)
    from pbqms.objectives import reminders

    assert list(reminders.value_reminders(dt.date(2026, 6, 1))) == []
    due = {r.user.pk: r for r in reminders.value_reminders(dt.date(2026, 12, 3))}
    # A1's secretary: A1's share of I1 is missing; B1's secretary: nothing to enter
    assert set(due) == {users.secretary_a1.pk}
    assert "(1 missing)" in due[users.secretary_a1.pk].subject
    services.enter_value(
        actor=users.secretary_a1, indicator=plan.manual, org=tree.branch_a1, value="96"
    )
    assert list(reminders.value_reminders(dt.date(2027, 1, 5))) == []
