"""Service rules of work plans: cascading, completion with records of the same unit,
overdue, scope."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from pbqms.core.changelog import verify_chain
from pbqms.core.models import ChangeLogEntry
from pbqms.orgs.models import Organization
from pbqms.plans import services
from pbqms.plans.models import Task, TaskEvidence, WorkPlan
from pbqms.records.models import Record
from tests.plans.conftest import YEAR, days, in_year, make_plan, make_record

K = Organization.Kind


def test_publish_cascades_to_every_branch_of_the_kind(branch_plan, tree):
    tasks = Task.objects.filter(item__plan=branch_plan)
    by_item = {}
    for t in tasks:
        by_item.setdefault(t.title, set()).add(t.org_id)
    assert by_item["每月召开支委会"] == {tree.branch_a1.pk, tree.branch_a2.pk, tree.branch_b1.pk}
    assert by_item["总支年度述职"] == {tree.sub_b.pk}
    branch_plan.refresh_from_db()
    assert branch_plan.status == WorkPlan.Status.PUBLISHED
    assert branch_plan.published_at is not None
    # each task carries its item's due date
    item = branch_plan.items.get(title="每月召开支委会")
    assert set(tasks.filter(item=item).values_list("due_on", flat=True)) == {item.due_on}


def test_cascade_skips_dissolved_units_and_sub_committee_scope(users, tree):
    Organization.objects.filter(pk=tree.branch_a2.pk).update(dissolved_on=days(-1))
    plan = make_plan(
        users.party_admin, tree.sub_a, items=[{"target_kinds": [K.BRANCH]}], publish=True
    )
    orgs = set(Task.objects.filter(item__plan=plan).values_list("org_id", flat=True))
    assert orgs == {tree.branch_a1.pk}  # not A2 (dissolved), not B1 (another subtree)


def test_item_without_targets_is_the_plans_own_unit(users, tree):
    plan = make_plan(users.secretary_a1, tree.branch_a1, items=[{}], publish=True)
    assert list(Task.objects.filter(item__plan=plan).values_list("org_id", flat=True)) == [
        tree.branch_a1.pk
    ]


def test_item_rules(users, tree):
    plan = make_plan(users.party_admin, tree.sub_a)
    with pytest.raises(ValidationError) as exc:
        services.add_item(plan, actor=users.party_admin, title="", due_on=in_year(3))
    assert "title" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.add_item(
            plan, actor=users.party_admin, title="x", due_on=in_year(3).replace(year=YEAR + 1)
        )
    assert "due_on" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:  # B1 is not below A公司党委
        services.add_item(
            plan,
            actor=users.party_admin,
            title="x",
            due_on=in_year(3),
            target_orgs=[tree.branch_b1],
        )
    assert "target_orgs" in exc.value.message_dict
    assert plan.items.count() == 0


def test_publish_needs_items_and_is_once(users, tree):
    plan = make_plan(users.party_admin, tree.sub_a)
    with pytest.raises(ValidationError):
        services.publish_plan(plan, actor=users.party_admin)
    services.add_item(plan, actor=users.party_admin, title="x", due_on=in_year(6))
    services.publish_plan(plan, actor=users.party_admin)
    with pytest.raises(ValidationError):
        services.publish_plan(plan, actor=users.party_admin)
    with pytest.raises(ValidationError):  # a published plan's items are fixed
        services.add_item(plan, actor=users.party_admin, title="y", due_on=in_year(6))
    assert Task.objects.filter(item__plan=plan).count() == 1


def test_one_plan_per_unit_and_year(users, tree):
    make_plan(users.party_admin, tree.sub_a)
    with pytest.raises(ValidationError) as exc:
        make_plan(users.party_admin, tree.sub_a)
    assert "year" in exc.value.message_dict


def test_secretary_cannot_plan_for_another_branch(users, tree):
    with pytest.raises(Http404):
        services.create_plan(actor=users.secretary_a1, org=tree.branch_b1, year=YEAR, title="x")
    with pytest.raises(PermissionDenied):  # visible (org view) but no plan grant: member
        services.create_plan(actor=users.member_a1, org=tree.branch_a1, year=YEAR, title="x")


def _task(plan, org):
    return Task.objects.get(item__plan=plan, org=org, item__title="每月召开支委会")


def test_completion_requires_records(branch_plan, users, tree):
    task = _task(branch_plan, tree.branch_a1)
    with pytest.raises(ValidationError) as exc:
        services.complete_task(task, actor=users.secretary_a1, records=[])
    assert "records" in exc.value.message_dict
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN


def test_completion_requires_submitted_records_of_the_same_unit(branch_plan, users, tree, template):
    task = _task(branch_plan, tree.branch_a1)
    other_unit = make_record(tree.branch_a2, template)
    draft = make_record(tree.branch_a1, template, status=Record.Status.DRAFT)
    for bad in (other_unit, draft):
        with pytest.raises(ValidationError) as exc:
            services.complete_task(task, actor=users.party_admin, records=[bad])
        assert "records" in exc.value.message_dict
    # a secretary cannot even name another branch's record
    b1_record = make_record(tree.branch_b1, template)
    with pytest.raises(ValidationError):
        services.complete_task(task, actor=users.secretary_a1, records=[b1_record])
    assert not TaskEvidence.objects.exists()


def test_completion_requires_the_items_template(branch_plan, users, tree, other_template):
    task = _task(branch_plan, tree.branch_a1)
    lecture = make_record(tree.branch_a1, other_template)
    with pytest.raises(ValidationError) as exc:
        services.complete_task(task, actor=users.secretary_a1, records=[lecture])
    assert "template" in str(exc.value.message_dict["records"])


def test_complete_and_reopen(branch_plan, users, tree, template):
    task = _task(branch_plan, tree.branch_a1)
    record = make_record(tree.branch_a1, template)
    services.complete_task(task, actor=users.secretary_a1, records=[record.pk], note="已召开")
    task.refresh_from_db()
    assert task.status == Task.Status.DONE
    assert task.completed_by == users.secretary_a1
    assert list(task.records.all()) == [record]
    entry = ChangeLogEntry.objects.filter(
        object_type="plans.task", object_id=str(task.pk), action="update"
    ).latest("id")
    assert "status" in entry.changes
    assert ChangeLogEntry.objects.filter(object_type="plans.taskevidence").exists()
    assert verify_chain().ok
    with pytest.raises(ValidationError):
        services.reopen_task(task, actor=users.secretary_a1, reason="")
    services.reopen_task(task, actor=users.secretary_a1, reason="记录不完整")
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN and task.completed_on is None


def test_secretary_cannot_complete_another_branchs_task(branch_plan, users, tree, template):
    task = _task(branch_plan, tree.branch_b1)
    record = make_record(tree.branch_b1, template)
    with pytest.raises(Http404):
        services.complete_task(task, actor=users.secretary_a1, records=[record])


def test_overdue_queryset(users, tree):
    plan = make_plan(users.secretary_a1, tree.branch_a1, year=YEAR - 1, items=[{}], publish=True)
    task = Task.objects.get(item__plan=plan)
    assert list(Task.objects.overdue()) == [task]
    assert task.is_overdue() and task.due_state() == "overdue"
    assert not Task.objects.overdue(today=task.due_on).exists()
    Task.objects.filter(pk=task.pk).update(status=Task.Status.DONE)
    assert not Task.objects.overdue().exists()


def test_secretary_sees_only_own_branch_tasks(branch_plan, users, tree):
    visible = set(services.visible_tasks(users.secretary_a1).values_list("org_id", flat=True))
    assert visible == {tree.branch_a1.pk}
    assert not services.visible_plans(users.secretary_b1).exists()
    assert services.visible_tasks(users.member_a1).count() == 0


def test_completion_by_unit(branch_plan, users, tree, template):
    task = _task(branch_plan, tree.branch_a1)
    services.complete_task(
        task, actor=users.secretary_a1, records=[make_record(tree.branch_a1, template)]
    )
    rows = {r["org_id"]: r for r in services.completion_by_unit(users.party_admin, branch_plan)}
    assert rows[tree.branch_a1.pk]["percent"] == 100
    assert rows[tree.branch_a2.pk]["percent"] == 0
    assert services.summarise(rows.values())["done"] == 1
    # a secretary sees their own row only
    own = services.completion_by_unit(users.secretary_a1, branch_plan)
    assert [r["org_id"] for r in own] == [tree.branch_a1.pk]


def test_item_refuses_an_obligation_no_longer_in_force(users, tree, template):
    from pbqms.system.models import Requirement
    from tests.system.conftest import make_obligation

    requirement = Requirement.objects.create(code="T-1", title="测试要求")
    old = make_obligation(tree.root, template, requirement, is_active=False)
    plan = make_plan(users.party_admin, tree.sub_a)
    with pytest.raises(ValidationError) as exc:
        services.add_item(
            plan, actor=users.party_admin, title="x", due_on=in_year(3), obligation=old
        )
    assert "obligation" in exc.value.message_dict
    assert not plan.items.exists()
