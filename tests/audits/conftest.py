"""Audit fixtures: people with accounts and qualifications in the shared tree."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest

from pbqms.audits.models import Audit, AuditorQualification, AuditProgramme
from pbqms.core.context import action_context
from pbqms.core.roles import Role
from pbqms.orgs.models import Person
from tests.factories import grant, make_person, make_user

TODAY = datetime.date.today()
YEAR = TODAY.year


def qualify(person, *, certified_on=None, valid_until=None, course="内审员培训"):
    with action_context(source="test"):
        return AuditorQualification.objects.create(
            person=person,
            course=course,
            certified_on=certified_on or datetime.date(YEAR - 1, 1, 1),
            valid_until=valid_until or datetime.date(YEAR + 2, 12, 31),
        )


@dataclass
class Team:
    a1: Person  # auditor of branch A1, with an account (auditor role on A1)
    a2: Person  # auditor of branch A2
    b1: Person  # auditor of branch B1, with an account
    b: Person  # auditor of B general branch
    expired: Person  # auditor of A2 whose qualification expired
    a1_user: object
    b1_user: object


@pytest.fixture
def team(tree, users) -> Team:
    a1_user = make_user("auditor_a1")
    grant(a1_user, Role.INTERNAL_AUDITOR, tree.branch_a1)
    b1_user = make_user("auditor_b1")
    grant(b1_user, Role.INTERNAL_AUDITOR, tree.branch_b1)
    a1 = make_person(tree.branch_a1, "审核员甲", user=a1_user)
    a2 = make_person(tree.branch_a2, "审核员乙")
    b1 = make_person(tree.branch_b1, "审核员丙", user=b1_user)
    b = make_person(tree.sub_b, "审核员丁")
    expired = make_person(tree.branch_a2, "审核员戊")
    for p in (a1, a2, b1, b):
        qualify(p)
    # expired before any audit date of this year
    qualify(expired, valid_until=datetime.date(YEAR - 1, 12, 31))
    return Team(a1, a2, b1, b, expired, a1_user, b1_user)


@pytest.fixture
def programme(tree) -> AuditProgramme:
    with action_context(source="test"):
        return AuditProgramme.objects.create(
            year=YEAR, title=f"{YEAR}年度内部审核方案", org=tree.root, criteria="ISO 9001 第9.2条"
        )


def make_audit(programme, units, month=6, number=None, **extra) -> Audit:
    from pbqms.core.numbering import next_number

    with action_context(source="test"):
        audit = Audit.objects.create(
            programme=programme,
            number=number or next_number("audits.audit.test", pattern="T-{seq:04d}"),
            planned_month=month,
            **extra,
        )
        audit.audited_units.set(units)
    return audit
