"""Reminders of work plans, computed daily by ``manage.py send_reminders``:

``plans.tasks`` — the branch secretaries and party affairs workers whose grant covers a
unit with open plan tasks due within a week or overdue get one message a week with how
many (and how many overdue), linking to the overdue tasks or to the calendar. The party
committee's administrators are not reminded of every branch's tasks: they see them on the
workbench and in each plan's completion.

Two grouped queries (tasks per unit, grants of the two roles), whatever the number of
tasks; one message per person and ISO week (the dedupe key)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from pbqms.core import reminders
from pbqms.core.roles import Role
from pbqms.orgs.models import Organization, RoleAssignment
from pbqms.plans.models import DUE_SOON_DAYS, Task

REMINDED_ROLES = (Role.BRANCH_SECRETARY, Role.PARTY_WORKER)
STEP = Organization.steplen


def _week(today: dt.date) -> str:
    year, week, _day = today.isocalendar()
    return f"{year}-W{week:02d}"


@reminders.provider("plans.tasks")
def task_reminders(today: dt.date):
    soon = today + dt.timedelta(days=DUE_SOON_DAYS)
    rows = list(
        Task.objects.filter(status=Task.Status.OPEN, due_on__lte=soon)
        .values("org_id", "org__path")
        .annotate(
            total=Count("id"),
            overdue=Count("id", filter=Q(due_on__lt=today)),
            first_due=Min("due_on"),
        )
        .order_by()
    )
    if not rows:
        return
    grants = (
        RoleAssignment.objects.filter(role__in=REMINDED_ROLES, user__is_active=True)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today))
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
        .values_list("user_id", "org__path", "include_subtree")
    )
    exact: dict[str, set[int]] = defaultdict(set)
    subtree: dict[str, set[int]] = defaultdict(set)
    for user_id, path, include_subtree in grants:
        (subtree if include_subtree else exact)[path].add(user_id)
    totals: dict[int, dict] = {}
    for r in rows:
        path = r["org__path"]
        users = set(exact.get(path, ()))
        for end in range(STEP, len(path) + 1, STEP):
            users |= subtree.get(path[:end], set())
        for user_id in users:
            t = totals.setdefault(user_id, {"total": 0, "overdue": 0, "first_due": r["first_due"]})
            t["total"] += r["total"]
            t["overdue"] += r["overdue"]
            t["first_due"] = min(t["first_due"], r["first_due"])
    if not totals:
        return
    from pbqms.accounts.models import User

    people = User.objects.in_bulk(list(totals))
    week = _week(today)
    overdue_url = reverse("plans:task_list") + "?overdue=1"
    calendar_url = reverse("plans:calendar")
    for user_id, t in sorted(totals.items()):
        user = people.get(user_id)
        if user is None:
            continue
        if t["overdue"]:
            subject = _("%(n)s plan tasks need doing, %(overdue)s of them overdue") % {
                "n": t["total"],
                "overdue": t["overdue"],
            }
            url = overdue_url
        else:
            subject = _("%(n)s plan tasks are due within a week") % {"n": t["total"]}
            url = calendar_url
        body = _(
            "The earliest was due on %(day)s. Complete each task by linking the submitted "
            "records that prove it."
        ) % {"day": date_format(t["first_due"], "DATE_FORMAT")}
        yield reminders.Reminder(user, subject, body, url, f"plans.tasks:{user_id}:{week}")
