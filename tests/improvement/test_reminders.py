"""Daily reminders: overdue corrective actions and effectiveness verifications due."""

from __future__ import annotations

import datetime

from django.urls import reverse

from pbqms.core import reminders
from pbqms.core.models import Notification
from pbqms.improvement.models import CorrectiveAction
from tests.improvement.conftest import TODAY, S


def inbox(user):
    return list(Notification.objects.filter(recipient=user).order_by("pk"))


def run(today, name):
    return reminders.run(today, [name])[name]


def test_providers_are_registered():
    names = reminders.providers()
    assert "improvement.overdue_actions" in names
    assert "improvement.verification_due" in names


def test_overdue_actions_remind_the_owner_weekly(drive, ncp):
    name = "improvement.overdue_actions"
    nc = drive(S.IMPLEMENTING, verify_in=20)  # due in 15 days: not overdue
    assert run(TODAY, name) == 0
    later = TODAY + datetime.timedelta(days=16)
    assert run(later, name) == 1
    (note,) = inbox(ncp.owner)
    assert note.url == reverse("improvement:action_list") and "1" in note.subject
    assert run(later, name) == 0  # once a week
    # done: no more reminder
    for action in nc.actions.filter(status=CorrectiveAction.Status.PLANNED):
        from pbqms.improvement import services

        services.complete_action(action, actor=ncp.owner, note="完成")
    assert run(later + datetime.timedelta(days=7), name) == 0


def test_overdue_action_without_an_owner_account_goes_to_the_unit(drive, ncp, tree):
    from tests.factories import make_person

    nc = drive(S.IMPLEMENTING, verify_in=20)
    nobody = make_person(tree.branch_a1, "无账号的党员")
    CorrectiveAction.objects.filter(nonconformity=nc).update(owner=nobody)
    assert run(TODAY + datetime.timedelta(days=16), "improvement.overdue_actions") == 2
    assert len(inbox(ncp.secretary)) == 1 and len(inbox(ncp.worker)) == 1
    assert inbox(ncp.other_secretary) == []


def test_verification_due_reminds_the_raiser_and_verifier(drive, ncp, users):
    name = "improvement.verification_due"
    drive(S.VERIFICATION, verify_in=20)
    assert run(TODAY, name) == 0
    soon = TODAY + datetime.timedelta(days=15)  # verification in 5 days
    assert run(soon, name) == 1
    (note,) = inbox(ncp.auditor)
    assert "0" in note.subject  # none due yet, one soon
    assert inbox(ncp.secretary) == []
    assert run(soon, name) == 0
