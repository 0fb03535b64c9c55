"""Helpers of the plans tests: a plan of 集团党委 cascading to every 党支部, and records."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone, translation

from pbqms.orgs.models import Organization
from pbqms.plans import services
from pbqms.records.models import Record, RecordTemplate

TODAY = timezone.localdate()
YEAR = TODAY.year


def days(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


def in_year(month: int, day: int = 15) -> datetime.date:
    return datetime.date(YEAR, month, day)


@pytest.fixture(autouse=True)
def _english_messages():
    with translation.override("en"):
        yield


@pytest.fixture
def template(db):
    return RecordTemplate.objects.create(
        code="plans-test-committee",
        name="支部委员会会议记录",
        kind=RecordTemplate.Kind.COMMITTEE_MEETING,
        has_attendance=False,
    )


@pytest.fixture
def other_template(db):
    return RecordTemplate.objects.create(
        code="plans-test-lecture",
        name="党课记录",
        kind=RecordTemplate.Kind.PARTY_LECTURE,
        has_attendance=False,
    )


def make_record(org, template, *, status=Record.Status.SUBMITTED, when=None, title="会议记录"):
    when = when or timezone.now()
    return Record.objects.create(
        org=org,
        template=template,
        title=title,
        occurred_at=when,
        status=status,
        submitted_at=when if status == Record.Status.SUBMITTED else None,
    )


def make_plan(actor, org, *, year=YEAR, items=(), publish=False):
    """``items``: dicts of add_item keywords (title/due_on default)."""
    plan = services.create_plan(actor=actor, org=org, year=year, title=f"{year}年党建工作计划")
    for i, data in enumerate(items):
        data = {"title": f"事项{i + 1}", "due_on": datetime.date(year, 12, 31), **data}
        services.add_item(plan, actor=actor, **data)
    if publish:
        services.publish_plan(plan, actor=actor)
    return plan


@pytest.fixture
def branch_plan(users, tree, template):
    """集团党委's plan: one item to every 党支部 (with the committee template), one to B's
    党总支 itself, published."""
    return make_plan(
        users.party_admin,
        tree.root,
        items=[
            {
                "title": "每月召开支委会",
                "due_on": days(10) if days(10).year == YEAR else in_year(12, 31),
                "target_kinds": [Organization.Kind.BRANCH],
                "record_template": template,
            },
            {"title": "总支年度述职", "due_on": in_year(12, 31), "target_orgs": [tree.sub_b]},
        ],
        publish=True,
    )
