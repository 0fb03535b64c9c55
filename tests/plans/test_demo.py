"""``pbqms demo_plans``: demo mode only; plans for last year and this year cascaded to the
branches, completed where records prove them, overdue where they do not; idempotent."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from pbqms.core.roles import Role
from pbqms.orgs.models import Organization
from pbqms.plans import demo_data
from pbqms.plans.models import Task, WorkPlan
from pbqms.records.models import RecordTemplate
from tests.factories import grant, make_unit, make_user
from tests.plans.conftest import make_record

K = Organization.Kind


def test_refused_outside_demo_mode(db, settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError):
        call_command("demo_plans")
    assert not WorkPlan.objects.exists()


def test_nothing_without_the_demo_enterprise(db, settings):
    settings.DEMO_MODE = True
    call_command("demo_plans")
    assert not WorkPlan.objects.exists()


def test_loads_once_with_completed_and_overdue_tasks(db, settings):
    settings.DEMO_MODE = True
    today = timezone.localdate()
    root = make_unit("华衡集团党委", K.COMMITTEE, code="HHJT")
    good = make_unit("第一党支部", K.BRANCH, root, code="HHJT-B01")
    weak = make_unit("第二党支部", K.BRANCH, root, code="HHJT-B02")
    grant(make_user("dangwei"), Role.PARTY_ADMIN, root)
    if not RecordTemplate.objects.filter(kind="member_meeting").exists():
        RecordTemplate.objects.create(code="demo-mm", name="支部党员大会", kind="member_meeting")
    templates = demo_data._templates()  # the ones the demo uses (built-in first)
    # the good branch held its first-quarter general meeting; the weak one did not
    held = timezone.make_aware(dt.datetime(today.year, 3, 10, 14, 30))
    make_record(good, templates["member_meeting"], when=held)
    call_command("demo_plans")
    plans = WorkPlan.objects.filter(org=root)
    assert set(plans.values_list("year", flat=True)) == {today.year - 1, today.year}
    q1 = Task.objects.filter(item__plan__year=today.year, item__title="召开一季度支部党员大会")
    assert q1.get(org=good).status == Task.Status.DONE
    weak_task = q1.get(org=weak)
    assert weak_task.status == Task.Status.OPEN
    if today > dt.date(today.year, 3, 31):
        assert weak_task.is_overdue()
    count = Task.objects.count()
    call_command("demo_plans")
    assert Task.objects.count() == count
    assert demo_data.load() is None
