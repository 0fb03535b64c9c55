"""The ``plans.tasks`` reminder: the unit's secretary hears of tasks due within a week or
overdue, once a week; other branches' secretaries and the committee do not."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from pbqms.core import reminders
from pbqms.core.models import Notification
from pbqms.orgs.models import Organization
from pbqms.plans.reminders import task_reminders
from tests.factories import make_unit
from tests.plans.conftest import TODAY, YEAR, days, make_plan

K = Organization.Kind


def test_secretary_reminded_of_overdue_and_due_soon(users, tree):
    make_plan(users.secretary_a1, tree.branch_a1, year=YEAR - 1, items=[{}], publish=True)
    items = list(task_reminders(TODAY))
    assert [r.user for r in items] == [users.secretary_a1]
    assert "overdue" in items[0].subject and items[0].url.endswith("?overdue=1")


def test_not_due_yet_means_no_reminder(users, tree):
    far = days(30)
    if far.year != YEAR:  # late December: nothing due 30 days ahead within the plan year
        return
    make_plan(users.secretary_a1, tree.branch_a1, items=[{"due_on": far}], publish=True)
    assert list(task_reminders(TODAY)) == []


def test_run_delivers_once_a_week(users, tree):
    make_plan(users.secretary_a1, tree.branch_a1, year=YEAR - 1, items=[{}], publish=True)
    assert reminders.run(TODAY, ["plans.tasks"]) == {"plans.tasks": 1}
    assert reminders.run(TODAY, ["plans.tasks"]) == {"plans.tasks": 0}
    assert (
        Notification.objects.filter(recipient=users.secretary_a1, kind="plans.tasks").count() == 1
    )
    assert not Notification.objects.filter(recipient=users.secretary_b1).exists()
    assert not Notification.objects.filter(recipient=users.party_admin).exists()


def test_queries_bounded(users, tree):
    for i in range(10):
        make_unit(f"扩展党支部{i}", K.BRANCH, tree.sub_a)
    make_plan(
        users.party_admin,
        tree.root,
        year=YEAR - 1,
        items=[{"target_kinds": [K.BRANCH]}],
        publish=True,
    )
    with CaptureQueriesContext(connection) as ctx:
        items = list(task_reminders(TODAY))
    assert {r.user for r in items} == {users.secretary_a1, users.secretary_b1}
    assert len(ctx.captured_queries) <= 3
