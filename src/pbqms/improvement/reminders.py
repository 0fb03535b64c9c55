"""Reminders of nonconformities and corrective actions, computed daily by
``manage.py send_reminders``:

* ``improvement.overdue_actions`` — the owner of a planned corrective action past its
  planned completion (or, when the owner has no account, the unit's secretaries and party
  workers) gets one message a week with how many, linking to the action list;
* ``improvement.verification_due`` — who raised the nonconformity and its designated
  verifier get one message a week for the done actions whose verification date has come
  or comes within a week, linking to the action list.

One message per person and week, not per action."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _

from pbqms.accounts.models import User
from pbqms.core import reminders
from pbqms.improvement.models import OWN_UNIT_ROLES, CorrectiveAction, Nonconformity
from pbqms.orgs.models import RoleAssignment

VERIFY_SOON_DAYS = 7


def _week(today: dt.date) -> str:
    year, week, _day = today.isocalendar()
    return f"{year}-W{week:02d}"


def _unit_staff(today: dt.date):
    """(user id, unit path, subtree) of the current secretary and party-worker grants."""
    return list(
        RoleAssignment.objects.filter(role__in=list(OWN_UNIT_ROLES), user__is_active=True)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today))
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
        .values_list("user_id", "org__path", "include_subtree")
    )


@reminders.provider("improvement.overdue_actions")
def overdue_action_reminders(today: dt.date):
    rows = list(
        CorrectiveAction.objects.overdue(today)
        .order_by()
        .values_list("owner__user_id", "org__path", "due_on")
    )
    if not rows:
        return
    counts: dict[int, list] = defaultdict(lambda: [0, None])
    staff = None
    for user_id, path, due_on in rows:
        recipients = {user_id} if user_id else set()
        if not recipients:
            staff = staff if staff is not None else _unit_staff(today)
            recipients = {
                uid for uid, gp, sub in staff if path == gp or (sub and path.startswith(gp))
            }
        for uid in recipients:
            c = counts[uid]
            c[0] += 1
            c[1] = due_on if c[1] is None or due_on < c[1] else c[1]
    url = reverse("improvement:action_list")
    week = _week(today)
    users = User.objects.filter(is_active=True).in_bulk(list(counts))
    for uid, (n, first) in sorted(counts.items()):
        user = users.get(uid)
        if user is None:
            continue
        params = {"n": n, "due": first.isoformat()}
        subject = _("%(n)d corrective actions overdue (the earliest was due %(due)s)") % params
        body = _(
            "Complete the actions and record what was done, or agree a new date with the "
            "party committee."
        )
        yield reminders.Reminder(user, subject, body, url, f"improvement.overdue.{uid}.{week}")


@reminders.provider("improvement.verification_due")
def verification_reminders(today: dt.date):
    soon = today + dt.timedelta(days=VERIFY_SOON_DAYS)
    rows = list(
        CorrectiveAction.objects.filter(
            status=CorrectiveAction.Status.DONE,
            verify_on__lte=soon,
            nonconformity__status=Nonconformity.Status.VERIFICATION,
        )
        .order_by()
        .values_list("nonconformity__raised_by_id", "nonconformity__verifier_id", "verify_on")
    )
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for raiser, verifier, verify_on in rows:
        for uid in {raiser, verifier} - {None}:
            counts[uid][0] += 1
            if verify_on <= today:
                counts[uid][1] += 1
    if not counts:
        return
    url = reverse("improvement:action_list")
    week = _week(today)
    users = User.objects.filter(is_active=True).in_bulk(list(counts))
    for uid, (n, due) in sorted(counts.items()):
        user = users.get(uid)
        if user is None:
            continue
        params = {"n": n, "due": due}
        subject = _("%(n)d corrective actions to verify (%(due)d due now)") % params
        body = _(
            "Check each action against the success criteria written when it was planned and "
            "sign the verification: effective closes it, not effective sends the "
            "nonconformity back to root cause analysis."
        )
        yield reminders.Reminder(user, subject, body, url, f"improvement.verify.{uid}.{week}")
