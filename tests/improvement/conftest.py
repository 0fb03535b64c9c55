"""Fixtures of the improvement tests: the people around branch A1 and helpers that drive a
nonconformity through its lifecycle with the real services."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.utils import timezone, translation

from pbqms.core.roles import Role
from pbqms.improvement import services
from pbqms.improvement.models import CorrectiveAction, Nonconformity
from pbqms.orgs.models import Person
from tests.factories import PASSWORD, grant, make_user

S = Nonconformity.Status
TODAY = timezone.localdate()


def days(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


@pytest.fixture(autouse=True)
def _english_messages():
    """Service messages are asserted in their English source form."""
    with translation.override("en"):
        yield


@dataclass
class NcPeople:
    auditor: object  # 内审员 on A公司党委 and below: raises and verifies
    secretary: object  # 支部书记 of A1: analyses and plans
    worker: object  # 党务工作者 of A1
    admin: object  # 党委管理员 on the whole tree: approves
    owner: object  # a member of A1 with an account: owns the actions
    owner_person: Person
    other_secretary: object  # 支部书记 of B1


@pytest.fixture
def ncp(users, tree) -> NcPeople:
    worker = make_user("worker_a1", display_name="党务工作者")
    grant(worker, Role.PARTY_WORKER, tree.branch_a1)
    owner_person = Person.objects.get(user=users.member_a1)
    return NcPeople(
        auditor=users.auditor,
        secretary=users.secretary_a1,
        worker=worker,
        admin=users.party_admin,
        owner=users.member_a1,
        owner_person=owner_person,
        other_secretary=users.secretary_b1,
    )


@pytest.fixture
def raise_nc(ncp, tree):
    def _raise(actor=None, org=None, **extra) -> Nonconformity:
        data = {
            "title": "支部委员会会议未按月召开",
            "source_kind": Nonconformity.Source.INTERNAL_AUDIT,
            "requirement": "《支部工作条例》第十七条：支部委员会会议一般每月召开1次",
            "description": "2026年3月、4月无会议记录。",
            "severity": Nonconformity.Severity.MINOR,
            "correction_due": days(30),
            **extra,
        }
        return services.raise_nonconformity(
            actor=actor or ncp.auditor, org=org or tree.branch_a1, **data
        )

    return _raise


def action_data(ncp, **extra):
    return {
        "kind": CorrectiveAction.Kind.CORRECTIVE,
        "description": "建立支委会会议月度提醒，书记负责召集",
        "owner": ncp.owner_person,
        "due_on": days(10),
        "verify_on": days(40),
        "success_criteria": "连续三个月均有支委会会议记录",
        **extra,
    }


@pytest.fixture
def drive(ncp, raise_nc):
    """``drive(to=S.X)``: a nonconformity brought to state X with the real services (its
    action due and verifiable ``verify_in`` days from today)."""

    def _drive(to: str, nc: Nonconformity | None = None, *, verify_in: int = -1, **raise_extra):
        if nc is None:
            raise_extra.setdefault("raised_on", days(-60))
            nc = raise_nc(**raise_extra)
        order = [
            S.OPEN,
            S.ROOT_CAUSE_ANALYSIS,
            S.ACTION_PLANNING,
            S.ACTION_APPROVAL,
            S.IMPLEMENTING,
            S.VERIFICATION,
            S.CLOSED,
        ]
        target = order.index(to)
        if target >= 1 and nc.status == S.OPEN:
            services.start_analysis(nc, actor=ncp.secretary)
        if target >= 2 and nc.status == S.ROOT_CAUSE_ANALYSIS:
            services.save_analysis(
                nc,
                actor=ncp.secretary,
                method=Nonconformity.AnalysisMethod.FIVE_WHY,
                whys=["没有开会", "书记出差", "无人代为召集"],
                root_cause="未建立会议召集的替补机制",
            )
            services.submit_analysis(nc, actor=ncp.secretary)
        if target >= 3 and nc.status == S.ACTION_PLANNING:
            services.plan_action(
                nc,
                actor=ncp.secretary,
                data=action_data(ncp, due_on=days(verify_in - 5), verify_on=days(verify_in)),
            )
            services.submit_plan(nc, actor=ncp.secretary)
        if target >= 4 and nc.status == S.ACTION_APPROVAL:
            services.approve_plan(nc, actor=ncp.admin, password=PASSWORD)
        if target >= 5 and nc.status == S.IMPLEMENTING:
            for action in nc.actions.filter(status=CorrectiveAction.Status.PLANNED):
                services.complete_action(action, actor=ncp.owner, note="已建立提醒机制")
            nc.refresh_from_db()
        if target >= 6 and nc.status == S.VERIFICATION:
            for action in nc.actions.filter(status=CorrectiveAction.Status.DONE):
                services.verify_action(
                    action, actor=ncp.auditor, password=PASSWORD, result="effective"
                )
        nc.refresh_from_db()
        assert nc.status == to
        return nc

    return _drive
