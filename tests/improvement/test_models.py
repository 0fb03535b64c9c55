"""Nonconformity and corrective-action models: the declared lifecycle, numbering, the
overdue querysets, scope (who sees what) and the database rule on verification dates."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from pbqms.core import roles, workflow
from pbqms.core.models import Signature
from pbqms.improvement.models import CorrectiveAction, Nonconformity
from tests.factories import make_person, make_user

from .conftest import TODAY, action_data, days

S = Nonconformity.Status
A = CorrectiveAction.Status


def test_lifecycle_is_declared_once_with_labels():
    names = workflow.transition_names(Nonconformity)
    assert names == [
        "start_analysis",
        "submit_analysis",
        "submit_plan",
        "approve_plan",
        "return_plan",
        "begin_verification",
        "close",
        "reanalyse",
        "cancel",
    ]
    assert workflow.transition_names(CorrectiveAction) == ["complete", "verify", "cancel"]


def test_transition_metadata(raise_nc):
    nc = raise_nc()
    approve = workflow.info(nc, "approve_plan")
    assert approve.signature == Signature.Meaning.APPROVED
    assert approve.targets == (S.IMPLEMENTING,)
    assert workflow.info(nc, "cancel").reason_required
    assert workflow.info(nc, "close").hidden and workflow.info(nc, "reanalyse").hidden
    cancel_sources = set(Nonconformity.cancel._django_fsm.transitions)
    assert cancel_sources == set(Nonconformity.ACTIVE)
    assert S.CLOSED not in cancel_sources


def test_numbers_run_per_year(raise_nc):
    first = raise_nc()
    second = raise_nc()
    last_year = raise_nc(raised_on=TODAY.replace(year=TODAY.year - 1, month=12, day=1))
    year = TODAY.year
    assert first.number == f"NC-{year}-0001"
    assert second.number == f"NC-{year}-0002"
    assert last_year.number == f"NC-{year - 1}-0001"


def test_overdue_querysets(raise_nc, drive, ncp):
    late = raise_nc(raised_on=days(-40), correction_due=days(-1))
    on_time = raise_nc(correction_due=days(5))
    assert set(Nonconformity.objects.overdue()) == {late}
    assert late.is_overdue() and not on_time.is_overdue()
    # a closed one is never overdue
    done = drive(S.CLOSED, correction_due=days(-2))
    assert done not in Nonconformity.objects.overdue()
    assert not done.is_overdue()
    assert done.closed_on == TODAY and done.days_to_close == 60
    # actions: planned past their due date
    implementing = drive(S.IMPLEMENTING, verify_in=3)  # due 2 days ago
    action = implementing.actions.get()
    assert list(CorrectiveAction.objects.overdue()) == [action]
    assert action.is_overdue()


def test_scope_of_nonconformities(raise_nc, ncp, users, tree):
    a1 = raise_nc()
    b1 = raise_nc(actor=users.party_admin, org=tree.branch_b1)

    def visible(user):
        return set(Nonconformity.objects.visible_to(user, roles.NC_VIEW))

    assert visible(ncp.secretary) == {a1}
    assert visible(ncp.other_secretary) == {b1}
    assert visible(ncp.admin) == {a1, b1}
    assert visible(ncp.auditor) == {a1}
    assert visible(users.member_a1) == set()
    assert visible(users.audit_admin) == set()
    assert visible(users.nobody) == set()


def test_raiser_verifier_and_owner_keep_seeing_theirs(raise_nc, drive, ncp, users, tree):
    outsider = make_user("outside_auditor")
    nc = raise_nc(actor=users.party_admin, org=tree.branch_b1)
    assert nc not in Nonconformity.objects.visible_to(ncp.auditor, roles.NC_VIEW)
    # designated while their grant covered B1 (the grant is on A only now): they still see it
    Nonconformity.objects.filter(pk=nc.pk).update(verifier=ncp.auditor)
    assert nc in Nonconformity.objects.visible_to(ncp.auditor, roles.NC_VIEW)
    assert nc not in Nonconformity.objects.visible_to(outsider, roles.NC_VIEW)
    # an owner in another unit sees the nonconformity and their action
    person = make_person(tree.branch_b1, "乙", user=outsider)
    planned = drive(S.ACTION_PLANNING)
    from pbqms.improvement import services

    action = services.plan_action(
        planned, actor=ncp.secretary, data=action_data(ncp, owner=ncp.owner_person)
    )
    CorrectiveAction.objects.filter(pk=action.pk).update(owner=person)
    assert planned in Nonconformity.objects.visible_to(outsider, roles.NC_VIEW)
    assert action in CorrectiveAction.objects.visible_to(outsider, roles.NC_VIEW)
    # but the extra visibility is for reading only
    assert planned not in Nonconformity.objects.visible_to(outsider, roles.NC_HANDLE)


def test_verification_date_after_due_date_in_the_database(drive, ncp):
    nc = drive(S.ACTION_PLANNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        CorrectiveAction.objects.create(
            nonconformity=nc,
            org=nc.org,
            kind=CorrectiveAction.Kind.CORRECTION,
            description="x",
            owner=ncp.owner_person,
            due_on=days(5),
            verify_on=days(5),
            success_criteria="y",
        )
