"""Daily reminder: internal auditor qualifications about to end."""

from __future__ import annotations

import datetime

from django.urls import reverse

from pbqms.core import reminders
from pbqms.core.models import Notification
from tests.audits.conftest import qualify
from tests.factories import make_person

NAME = "audits.qualification_expiring"


def inbox(user):
    return list(Notification.objects.filter(recipient=user).order_by("pk"))


def run(today):
    return reminders.run(today, [NAME])[NAME]


def test_expiring_qualification_reminds_auditor_and_managers(team, users, tree):
    today = datetime.date.today()
    assert NAME in reminders.providers()
    baseline = run(today)
    # team.a1 (with an account) ends in 30 days; a later certificate would silence it
    team.a1.auditor_qualifications.update(valid_until=today + datetime.timedelta(days=30))
    assert run(today) == baseline + 2  # the auditor and the party committee administrator
    (note,) = inbox(team.a1_user)
    assert note.url == reverse("audits:auditor_detail", args=[team.a1.pk])
    assert inbox(users.secretary_a1) == []
    assert run(today) == 0  # once per phase
    # the last two weeks: once more
    assert run(today + datetime.timedelta(days=20)) >= 2
    # renewed: nothing
    qualify(team.a1, valid_until=today + datetime.timedelta(days=900))
    Notification.objects.all().delete()
    assert run(today + datetime.timedelta(days=21)) == 0


def test_person_without_account_reaches_the_managers(users, tree):
    today = datetime.date.today()
    person = make_person(tree.branch_b1, "无账号审核员")
    qualify(person, valid_until=today + datetime.timedelta(days=10))
    assert run(today) == 1
    (note,) = inbox(users.party_admin)
    assert person.name in note.subject
