"""Fixtures of the quality-system tests: built-in templates, an obligation per frequency,
and a helper that files a submitted record directly (the engine's own tests; the records
service path is tested separately)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from pbqms.orgs.models import Post
from pbqms.records.models import Record, RecordAttendance, RecordTemplate
from pbqms.records.services import ensure_builtin_templates
from pbqms.system import engine
from pbqms.system.builtin import ensure_builtin_requirements
from pbqms.system.models import Obligation, Requirement
from tests.factories import make_person

SH = ZoneInfo("Asia/Shanghai")
TODAY = dt.date(2026, 11, 24)


@pytest.fixture(autouse=True)
def _english_messages():
    with translation.override("en"):
        yield


@pytest.fixture
def templates(db):
    ensure_builtin_templates()
    return {t.code: t for t in RecordTemplate.objects.all()}


@pytest.fixture
def requirement(db):
    ensure_builtin_requirements()
    return Requirement.objects.get(code="DJ-ZTDR")


def at(y, m, d, hh=10, mm=0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=SH)


def file_record(org, template, when, *, status=Record.Status.SUBMITTED, attendance=()):
    """A record of ``org`` held at ``when`` (aware), without sending signals."""
    with engine.suspended():
        record = Record.objects.create(
            template=template,
            org=org,
            title=f"{template.name} {when:%Y-%m-%d}",
            occurred_at=when,
            status=status,
            submitted_at=when if status == Record.Status.SUBMITTED else None,
        )
        for person, present in attendance:
            RecordAttendance.objects.create(
                record=record, person=person, person_name=person.name, present=present
            )
    return record


def make_obligation(owner, template, requirement, **kw) -> Obligation:
    kinds = kw.pop("kinds", ["branch", "joint_branch"])
    orgs = kw.pop("orgs", ())
    with engine.suspended():
        ob = Obligation.objects.create(
            requirement=requirement,
            name=kw.pop("name", template.name),
            owner=owner,
            applies_to_kinds=kinds,
            activity=template,
            **kw,
        )
        if orgs:
            ob.orgs.set(orgs)
    return ob


@pytest.fixture
def theme_day(tree, templates, requirement):
    """主题党日: monthly, due on the 25th, every branch under the root."""
    return make_obligation(
        tree.root, templates["theme_day"], requirement, frequency="monthly", due_offset_days=24
    )


@pytest.fixture
def committee(tree):
    people = [make_person(tree.branch_a1, f"委员{i}") for i in range(5)]
    for person, title in zip(
        people[:3],
        [Post.Title.SECRETARY, Post.Title.ORGANIZATION, Post.Title.PUBLICITY],
        strict=True,
    ):
        Post.objects.create(
            person=person, org=tree.branch_a1, title=title, started_on=dt.date(2020, 1, 1)
        )
    return people


def cells(org=None, obligation=None):
    from pbqms.system.models import ConformityResult

    qs = ConformityResult.objects.all()
    if org is not None:
        qs = qs.filter(org=org)
    if obligation is not None:
        qs = qs.filter(obligation=obligation)
    return {(c.org_id, c.obligation_id, c.period_start): c for c in qs}
