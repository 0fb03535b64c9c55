"""``demo_audits``: one completed internal-audit round, actions in every state, idempotent,
demo mode only."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from pbqms.audits.models import Audit, AuditorQualification, AuditProgramme, ChecklistTemplate
from pbqms.core import roles, scope
from pbqms.improvement.models import CorrectiveAction, Nonconformity


def test_refused_outside_demo_mode(db, settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError):
        call_command("demo_audits")
    assert not AuditProgramme.objects.exists()


def test_demo_round(db, settings):
    from pbqms.accounts.models import User

    settings.DEMO_MODE = True
    call_command("demo", verbosity=0)
    call_command("demo_improvement")
    call_command("demo_audits")
    programme = AuditProgramme.objects.get()
    assert programme.status == AuditProgramme.Status.APPROVED
    audits = list(programme.audits.prefetch_related("audited_units", "team"))
    assert len(audits) == 4
    assert {a.status for a in audits} <= {Audit.Status.REPORTED, Audit.Status.CLOSED}
    assert any(a.status == Audit.Status.CLOSED for a in audits)
    auditor1 = User.objects.get(username="auditor1")
    zhibu1_audit = next(a for a in audits if a.audited_units.get().code == "HHJT-01-02")
    assert zhibu1_audit.lead_auditor.user == auditor1
    for audit in audits:
        unit = audit.audited_units.get()
        for person in [audit.lead_auditor, *audit.team.all()]:
            # cross-audit: nobody audits their own unit, its ancestors or descendants
            assert not person.org.path.startswith(unit.path)
            assert not unit.path.startswith(person.org.path)
        assert audit.checklist.exclude(result="").count() == audit.checklist.count() > 0
    ncs = Nonconformity.objects.filter(source_kind="internal_audit").exclude(source_id="")
    assert ncs.count() == 8
    action_states = set(
        CorrectiveAction.objects.filter(nonconformity__in=ncs).values_list("status", flat=True)
    )
    assert action_states == set(CorrectiveAction.Status.values)
    assert AuditorQualification.objects.count() >= 7
    assert ChecklistTemplate.objects.count() == 1
    # auditor1 sees the round's audits
    assert Audit.objects.visible_to(auditor1, roles.AUDIT_VIEW).count() == 4
    assert scope.has_perm(auditor1, roles.AUDIT_PERFORM)
    call_command("demo_audits")
    assert Audit.objects.count() == 4
