"""Reminders of internal audits, computed daily by ``manage.py send_reminders``:

* ``audits.qualification_expiring`` — an internal auditor whose qualification ends within
  ``EXPIRING_DAYS`` (and who holds no later one) hears it, and so do the auditor-team
  managers (``AUDITOR_MANAGE``) of the auditor's unit: once when it enters the window and
  once more in its last two weeks."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Max, Q
from django.urls import reverse
from django.utils.translation import gettext as _

from pbqms.accounts.models import User
from pbqms.audits.models import AuditorQualification
from pbqms.core import reminders, roles
from pbqms.core.roles import Role
from pbqms.orgs.models import Person, RoleAssignment

EXPIRING_DAYS = 60
LAST_CALL_DAYS = 14


def _manager_grants(today: dt.date):
    manager_roles = [r for r in Role.values if roles.AUDITOR_MANAGE in roles.permissions_of(r)]
    return list(
        RoleAssignment.objects.filter(role__in=manager_roles, user__is_active=True)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today))
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
        .values_list("user_id", "org__path", "include_subtree")
    )


@reminders.provider("audits.qualification_expiring")
def qualification_reminders(today: dt.date):
    limit = today + dt.timedelta(days=EXPIRING_DAYS)
    latest = (
        AuditorQualification.objects.order_by()
        .values("person_id")
        .annotate(until=Max("valid_until"))
        .filter(until__gte=today, until__lte=limit)
    )
    rows = {r["person_id"]: r["until"] for r in latest}
    if not rows:
        return
    people = Person.objects.filter(pk__in=list(rows)).select_related("org")
    grants = _manager_grants(today)
    messages: dict[int, list] = defaultdict(list)
    for person in people:
        until = rows[person.pk]
        path = person.org.path
        recipients = {uid for uid, gp, sub in grants if path == gp or (sub and path.startswith(gp))}
        if person.user_id:
            recipients.add(person.user_id)
        for uid in recipients:
            messages[uid].append((person, until))
    users = User.objects.filter(is_active=True).in_bulk(list(messages))
    for uid, items in sorted(messages.items()):
        user = users.get(uid)
        if user is None:
            continue
        for person, until in items:
            phase = "last" if (until - today).days <= LAST_CALL_DAYS else "window"
            params = {"name": person.name, "date": until.isoformat()}
            if person.user_id == uid:
                subject = _("Your internal auditor qualification ends on %(date)s") % params
            else:
                subject = (
                    _("The internal auditor qualification of %(name)s ends on %(date)s") % params
                )
            body = _(
                "Only qualified, unexpired auditors can be assigned to audits. Arrange the "
                "refresher training and record the new certificate."
            )
            url = reverse("audits:auditor_detail", args=[person.pk])
            key = f"audits.qualification.{person.pk}.{until.isoformat()}.{phase}.{uid}"
            yield reminders.Reminder(user, subject, body, url, key)
