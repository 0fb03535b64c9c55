"""The nonconformity services: who may raise, every step of the lifecycle allowed and
refused (wrong state, wrong role, wrong signer, wrong password, too early), the rounds
after an ineffective action, cancelling, and what the change log keeps."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from pbqms.core import signatures, workflow
from pbqms.core.changelog import verify_chain
from pbqms.core.locking import StaleObjectError
from pbqms.core.models import ChangeLogEntry, Signature
from pbqms.core.roles import Role
from pbqms.improvement import services
from pbqms.improvement.models import CorrectiveAction, Nonconformity
from tests.factories import PASSWORD, grant, make_person, make_user

from .conftest import TODAY, action_data, days

S = Nonconformity.Status
A = CorrectiveAction.Status
Src = Nonconformity.Source


def _fields(exc) -> set[str]:
    return set(exc.value.message_dict)


# ---------------------------------------------------------------- raise


def test_auditor_raises_a_numbered_open_nonconformity(raise_nc, ncp, tree):
    nc = raise_nc()
    assert nc.number == f"NC-{TODAY.year}-0001"
    assert nc.status == S.OPEN and nc.org == tree.branch_a1 and nc.raised_by == ncp.auditor
    entry = ChangeLogEntry.objects.filter(
        object_type="improvement.nonconformity", object_id=str(nc.pk)
    ).get()
    assert entry.action == "create" and entry.org_id == tree.branch_a1.pk


def test_secretary_raises_only_self_inspection_of_their_unit(raise_nc, ncp, tree):
    nc = raise_nc(actor=ncp.secretary, source_kind=Src.SELF_INSPECTION)
    assert nc.source_kind == Src.SELF_INSPECTION
    # a group below the branch is theirs too
    raise_nc(actor=ncp.secretary, org=tree.group_a1, source_kind=Src.SELF_INSPECTION)
    with pytest.raises(ValidationError) as exc:
        raise_nc(actor=ncp.secretary, source_kind=Src.INTERNAL_AUDIT)
    assert _fields(exc) == {"source_kind"}
    # another branch: not visible to them at all
    with pytest.raises(Http404):
        raise_nc(actor=ncp.secretary, org=tree.branch_a2, source_kind=Src.SELF_INSPECTION)
    assert services.raisable_sources(ncp.secretary) == [
        (Src.SELF_INSPECTION.value, Src.SELF_INSPECTION.label)
    ]


def test_who_may_not_raise(raise_nc, ncp, users, tree):
    with pytest.raises(Http404):  # the auditor's grant is on A; B1 is outside
        raise_nc(actor=ncp.auditor, org=tree.branch_b1)
    with pytest.raises(PermissionDenied):  # a member sees their unit but raises nothing
        raise_nc(actor=users.member_a1, source_kind=Src.SELF_INSPECTION)
    with pytest.raises(PermissionDenied):
        raise_nc(actor=users.expert)
    assert not Nonconformity.objects.exists()


def test_bad_input_names_each_field_and_saves_nothing(raise_nc):
    with pytest.raises(ValidationError) as exc:
        raise_nc(
            title=" ",
            requirement="",
            description="",
            severity="observation",
            correction_due=None,
        )
    assert _fields(exc) == {"title", "requirement", "description", "severity", "correction_due"}
    with pytest.raises(ValidationError) as exc:
        raise_nc(raised_on=days(1), correction_due=days(5))
    assert _fields(exc) == {"raised_on"}
    with pytest.raises(ValidationError) as exc:
        raise_nc(raised_on=days(-5), correction_due=days(-6))
    assert _fields(exc) == {"correction_due"}
    with pytest.raises(ValidationError) as exc:
        raise_nc(source_kind="rumour")
    assert _fields(exc) == {"source_kind"}
    assert not Nonconformity.objects.exists()


def test_repeat_of_is_an_earlier_one_of_the_same_unit(raise_nc, ncp, users, tree):
    first = raise_nc(raised_on=days(-100))
    again = raise_nc(repeat_of=first.number)
    assert again.repeat_of == first
    other = raise_nc(actor=users.party_admin, org=tree.branch_b1)
    with pytest.raises(ValidationError) as exc:
        raise_nc(repeat_of=other)
    assert _fields(exc) == {"repeat_of"}
    with pytest.raises(ValidationError):  # not visible to the auditor: as if unknown
        raise_nc(repeat_of=other.number)
    with pytest.raises(ValidationError):
        raise_nc(repeat_of="NC-1999-0001")


def test_source_and_requirement_link_any_object(raise_nc, ncp):
    # any model can be the source (an audit finding later); here a person stands in
    nc = raise_nc(source=ncp.owner_person, requirement_object=ncp.owner_person.org)
    assert nc.source == ncp.owner_person and nc.requirement_object == ncp.owner_person.org
    assert list(Nonconformity.objects.for_source(ncp.owner_person)) == [nc]


def test_designated_verifier_rules(raise_nc, ncp, users, tree):
    with pytest.raises(ValidationError) as exc:
        raise_nc(verifier=ncp.secretary)  # the unit's own secretary
    assert _fields(exc) == {"verifier"}
    with pytest.raises(ValidationError):
        raise_nc(verifier=ncp.auditor)  # who raises it verifies anyway
    nc = raise_nc(verifier=users.party_admin)
    assert nc.verifier == users.party_admin
    auditor2 = make_user("auditor2")
    grant(auditor2, Role.INTERNAL_AUDITOR, tree.root)
    assert set(services.eligible_verifiers(tree.branch_a1)) == {
        ncp.auditor,
        auditor2,
        users.party_admin,
    }
    assert set(services.eligible_verifiers(tree.branch_b1)) == {auditor2, users.party_admin}
    # later: the committee changes it; the unit's secretary may not
    services.set_verifier(nc, actor=users.party_admin, verifier=auditor2, expected_version=1)
    assert Nonconformity.objects.get(pk=nc.pk).verifier == auditor2
    with pytest.raises(PermissionDenied):
        services.set_verifier(nc, actor=ncp.secretary, verifier=None)
    with pytest.raises(StaleObjectError):
        services.set_verifier(nc, actor=users.party_admin, verifier=None, expected_version=1)


# ---------------------------------------------------------------- analysis


def test_start_analysis(raise_nc, ncp, users, tree):
    nc = raise_nc()
    with pytest.raises(PermissionDenied):
        services.start_analysis(nc, actor=ncp.auditor)
    with pytest.raises(Http404):
        services.start_analysis(nc, actor=ncp.other_secretary)
    with pytest.raises(Http404):
        services.start_analysis(nc, actor=users.member_a1)
    services.start_analysis(nc, actor=ncp.worker)
    assert Nonconformity.objects.get(pk=nc.pk).status == S.ROOT_CAUSE_ANALYSIS
    with pytest.raises(workflow.TransitionNotAllowed) as exc:
        services.start_analysis(nc, actor=ncp.secretary)
    assert "Root cause analysis" in str(exc.value.messages[0])


def test_save_analysis_validates_and_keeps_one_method(raise_nc, ncp):
    nc = raise_nc()
    with pytest.raises(ValidationError) as exc:
        services.save_analysis(nc, actor=ncp.secretary, method="five_why", whys=[], root_cause="")
    assert _fields(exc) == {"why_chain", "root_cause"}
    # a failed save changes nothing (not even the step into analysis)
    assert Nonconformity.objects.get(pk=nc.pk).status == S.OPEN
    with pytest.raises(ValidationError) as exc:
        services.save_analysis(
            nc, actor=ncp.secretary, method="five_why", whys=["a", "", "c"], root_cause="x"
        )
    assert _fields(exc) == {"why_chain"}
    with pytest.raises(ValidationError) as exc:
        services.save_analysis(
            nc, actor=ncp.secretary, method="fishbone", fishbone={"people": ""}, root_cause="x"
        )
    assert _fields(exc) == {"fishbone"}
    with pytest.raises(ValidationError) as exc:
        services.save_analysis(
            nc, actor=ncp.secretary, method="fishbone", fishbone={"money": "x"}, root_cause="x"
        )
    assert _fields(exc) == {"fishbone"}
    with pytest.raises(PermissionDenied):
        services.save_analysis(nc, actor=ncp.auditor, method="five_why", whys=["a"], root_cause="x")
    services.save_analysis(
        nc,
        actor=ncp.secretary,
        method="fishbone",
        fishbone={"people": "书记不熟悉要求", "methods": "无提醒制度", "checking": " "},
        root_cause="缺少会议提醒和替补召集制度",
    )
    nc.refresh_from_db()
    assert nc.status == S.ROOT_CAUSE_ANALYSIS  # taken on by the first save
    assert nc.fishbone == {"people": "书记不熟悉要求", "methods": "无提醒制度"}
    services.save_analysis(
        nc, actor=ncp.secretary, method="five_why", whys=["一", "二", ""], root_cause="根因"
    )
    nc.refresh_from_db()
    assert nc.why_chain == ["一", "二"] and nc.fishbone == {}
    with pytest.raises(StaleObjectError):
        services.save_analysis(
            nc,
            actor=ncp.secretary,
            method="five_why",
            whys=["一"],
            root_cause="根因",
            expected_version=nc.version - 1,
        )


def test_submit_analysis_needs_the_analysis(raise_nc, ncp):
    nc = raise_nc()
    services.start_analysis(nc, actor=ncp.secretary)
    with pytest.raises(workflow.TransitionNotAllowed) as exc:
        services.submit_analysis(nc, actor=ncp.secretary)
    assert "record the analysis" in str(exc.value.messages[0])
    services.save_analysis(nc, actor=ncp.secretary, method="five_why", whys=["a"], root_cause="b")
    with pytest.raises(PermissionDenied):
        services.submit_analysis(nc, actor=ncp.auditor)
    services.submit_analysis(nc, actor=ncp.secretary)
    assert Nonconformity.objects.get(pk=nc.pk).status == S.ACTION_PLANNING
    with pytest.raises(workflow.TransitionNotAllowed):
        services.save_analysis(
            nc, actor=ncp.secretary, method="five_why", whys=["a"], root_cause="changed"
        )


# ---------------------------------------------------------------- planning and approval


def test_plan_actions_only_while_planning(drive, ncp):
    nc = drive(S.ROOT_CAUSE_ANALYSIS)
    with pytest.raises(workflow.TransitionNotAllowed):
        services.plan_action(nc, actor=ncp.secretary, data=action_data(ncp))
    services.submit_analysis(
        services.save_analysis(
            nc, actor=ncp.secretary, method="five_why", whys=["a"], root_cause="b"
        ),
        actor=ncp.secretary,
    )
    with pytest.raises(PermissionDenied):
        services.plan_action(nc, actor=ncp.auditor, data=action_data(ncp))
    action = services.plan_action(nc, actor=ncp.secretary, data=action_data(ncp))
    assert action.status == A.PLANNED and action.org_id == nc.org_id and action.cycle == 1


def test_action_input_rules(drive, ncp, tree):
    nc = drive(S.ACTION_PLANNING)
    outsider = make_person(tree.branch_b1, "外单位")
    with pytest.raises(ValidationError) as exc:
        services.plan_action(
            nc,
            actor=ncp.secretary,
            data=action_data(
                ncp,
                kind="wish",
                description="",
                success_criteria=" ",
                owner=outsider,
                due_on=days(10),
                verify_on=days(10),
            ),
        )
    assert _fields(exc) == {"kind", "description", "success_criteria", "owner", "verify_on"}
    with pytest.raises(ValidationError) as exc:
        services.plan_action(
            nc, actor=ncp.secretary, data=action_data(ncp, due_on=days(-90), verify_on=None)
        )
    assert _fields(exc) == {"due_on", "verify_on"}
    assert not nc.actions.exists()


def test_submit_plan_needs_a_corrective_action(drive, ncp):
    nc = drive(S.ACTION_PLANNING)
    correction = services.plan_action(
        nc, actor=ncp.secretary, data=action_data(ncp, kind=CorrectiveAction.Kind.CORRECTION)
    )
    with pytest.raises(workflow.TransitionNotAllowed) as exc:
        services.submit_plan(nc, actor=ncp.secretary)
    assert "corrective action" in str(exc.value.messages[0])
    services.plan_action(nc, actor=ncp.secretary, data=action_data(ncp))
    with pytest.raises(PermissionDenied):
        services.submit_plan(nc, actor=ncp.auditor)
    services.submit_plan(nc, actor=ncp.secretary)
    assert Nonconformity.objects.get(pk=nc.pk).status == S.ACTION_APPROVAL
    # the plan is now with the committee: the unit cannot change or drop actions
    with pytest.raises(workflow.TransitionNotAllowed):
        services.update_action(correction, actor=ncp.secretary, data=action_data(ncp))
    with pytest.raises(PermissionDenied):
        services.cancel_action(correction, actor=ncp.secretary, reason="不需要")


def test_update_and_cancel_planned_actions(drive, ncp):
    nc = drive(S.ACTION_PLANNING)
    action = services.plan_action(nc, actor=ncp.secretary, data=action_data(ncp))
    services.update_action(
        action,
        actor=ncp.secretary,
        data=action_data(ncp, description="改为每月初提醒"),
        expected_version=action.version,
    )
    action.refresh_from_db()
    assert action.description == "改为每月初提醒"
    with pytest.raises(StaleObjectError):
        services.update_action(
            action, actor=ncp.secretary, data=action_data(ncp), expected_version=1
        )
    with pytest.raises(ValidationError) as exc:
        services.cancel_action(action, actor=ncp.secretary, reason=" ")
    assert _fields(exc) == {"reason"}
    services.cancel_action(action, actor=ncp.secretary, reason="与另一措施重复")
    action.refresh_from_db()
    assert action.status == A.CANCELLED and action.cancel_reason == "与另一措施重复"


def test_approve_plan_with_signature(drive, ncp, users):
    nc = drive(S.ACTION_APPROVAL)
    with pytest.raises(PermissionDenied):
        services.approve_plan(nc, actor=ncp.secretary, password=PASSWORD)
    with pytest.raises(PermissionDenied):
        services.approve_plan(nc, actor=ncp.auditor, password=PASSWORD)
    before = ChangeLogEntry.objects.filter(action="signature", outcome="failure").count()
    with pytest.raises(ValidationError) as exc:
        services.approve_plan(nc, actor=ncp.admin, password="wrong")
    assert _fields(exc) == {"password"}
    # the refused attempt is in the change log; nothing else changed
    assert (
        ChangeLogEntry.objects.filter(action="signature", outcome="failure").count() == before + 1
    )
    assert Nonconformity.objects.get(pk=nc.pk).status == S.ACTION_APPROVAL
    assert not signatures.signatures_for(nc).exists()
    services.approve_plan(nc, actor=ncp.admin, password=PASSWORD, comment="同意")
    nc.refresh_from_db()
    assert nc.status == S.IMPLEMENTING
    sig = signatures.signatures_for(nc).get()
    assert sig.meaning == Signature.Meaning.APPROVED and sig.signer == ncp.admin
    assert sig.comment == "同意" and signatures.is_valid(sig, nc.signed_content_hash())
    with pytest.raises(workflow.TransitionNotAllowed):
        services.approve_plan(nc, actor=ncp.admin, password=PASSWORD)


def test_approve_refused_in_the_wrong_state(drive, ncp):
    nc = drive(S.ACTION_PLANNING)
    with pytest.raises(workflow.TransitionNotAllowed) as exc:
        services.approve_plan(nc, actor=ncp.admin, password=PASSWORD)
    assert "Action planning" in str(exc.value.messages[0])


def test_return_plan_with_comments(drive, ncp):
    nc = drive(S.ACTION_APPROVAL)
    with pytest.raises(ValidationError) as exc:
        services.return_plan(nc, actor=ncp.admin, reason="")
    assert _fields(exc) == {"reason"}
    with pytest.raises(PermissionDenied):
        services.return_plan(nc, actor=ncp.secretary, reason="自己退回")
    services.return_plan(nc, actor=ncp.admin, reason="成功标准不可衡量")
    nc.refresh_from_db()
    assert nc.status == S.ACTION_PLANNING and nc.return_comment == "成功标准不可衡量"
    entry = ChangeLogEntry.objects.filter(
        object_type="improvement.nonconformity", object_id=str(nc.pk)
    ).first()
    assert entry.reason == "成功标准不可衡量" and entry.changes["status"] == [
        S.ACTION_APPROVAL,
        S.ACTION_PLANNING,
    ]
    services.submit_plan(nc, actor=ncp.secretary)
    assert Nonconformity.objects.get(pk=nc.pk).return_comment == ""


# ---------------------------------------------------------------- implementing


def test_complete_actions(drive, ncp, users):
    nc = drive(S.ACTION_PLANNING)
    first = services.plan_action(nc, actor=ncp.secretary, data=action_data(ncp))
    second = services.plan_action(
        nc, actor=ncp.secretary, data=action_data(ncp, kind=CorrectiveAction.Kind.CORRECTION)
    )
    services.submit_plan(nc, actor=ncp.secretary)
    with pytest.raises(workflow.TransitionNotAllowed) as exc:  # not approved yet
        services.complete_action(first, actor=ncp.owner, note="做了")
    assert "not been approved" in str(exc.value.messages[0])
    services.approve_plan(nc, actor=ncp.admin, password=PASSWORD)
    with pytest.raises(PermissionDenied):
        services.complete_action(first, actor=ncp.auditor, note="做了")
    with pytest.raises(ValidationError) as exc:
        services.complete_action(first, actor=ncp.owner, note="")
    assert _fields(exc) == {"note"}
    with pytest.raises(ValidationError) as exc:
        services.complete_action(first, actor=ncp.owner, note="做了", completed_on=days(1))
    assert _fields(exc) == {"completed_on"}
    services.complete_action(first, actor=ncp.owner, note="已建立提醒")
    first.refresh_from_db()
    assert first.status == A.DONE and first.completed_on == TODAY
    assert Nonconformity.objects.get(pk=nc.pk).status == S.IMPLEMENTING  # one still planned
    # the secretary completes on the owner's behalf; the last one starts the verification
    services.complete_action(second, actor=ncp.secretary, note="已补开会议")
    assert Nonconformity.objects.get(pk=nc.pk).status == S.VERIFICATION
    with pytest.raises(workflow.TransitionNotAllowed):
        services.complete_action(second, actor=ncp.secretary, note="again")


# ---------------------------------------------------------------- verification


def test_verification_refused_before_the_verify_date(drive, ncp):
    nc = drive(S.VERIFICATION, verify_in=5)
    action = nc.actions.get()
    with pytest.raises(workflow.TransitionNotAllowed) as exc:
        services.verify_action(action, actor=ncp.auditor, password=PASSWORD, result="effective")
    assert "verification date has not come" in str(exc.value.messages[0])
    # the date comes (the plan's dates moved back instead of the clock moving forward)
    CorrectiveAction.objects.filter(pk=action.pk).update(due_on=days(-1), verify_on=TODAY)
    action.refresh_from_db()
    services.verify_action(action, actor=ncp.auditor, password=PASSWORD, result="effective")
    assert Nonconformity.objects.get(pk=nc.pk).status == S.CLOSED


def test_verification_refused_while_actions_are_open(drive, ncp):
    nc = drive(S.IMPLEMENTING)
    with pytest.raises(workflow.TransitionNotAllowed) as exc:
        services.verify_action(
            nc.actions.get(), actor=ncp.auditor, password=PASSWORD, result="effective"
        )
    assert "Planned" in str(exc.value.messages[0])


def test_unit_staff_and_bystanders_cannot_verify(drive, ncp, users):
    nc = drive(S.VERIFICATION)
    action = nc.actions.get()
    for actor in (ncp.secretary, ncp.worker, ncp.owner, users.party_admin):
        with pytest.raises(PermissionDenied):
            services.verify_action(action, actor=actor, password=PASSWORD, result="effective")
    with pytest.raises(Http404):
        services.verify_action(
            action, actor=ncp.other_secretary, password=PASSWORD, result="effective"
        )
    assert CorrectiveAction.objects.get(pk=action.pk).status == A.DONE


def test_secretary_cannot_verify_their_own_self_inspection(drive, ncp, users):
    nc = drive(
        S.VERIFICATION,
        actor=ncp.secretary,
        source_kind=Src.SELF_INSPECTION,
    )
    action = nc.actions.get()
    assert nc.raised_by == ncp.secretary
    with pytest.raises(PermissionDenied):
        services.verify_action(action, actor=ncp.secretary, password=PASSWORD, result="effective")
    # the committee designates a verifier, who verifies
    services.set_verifier(nc, actor=users.party_admin, verifier=ncp.auditor)
    action.refresh_from_db()
    services.verify_action(action, actor=ncp.auditor, password=PASSWORD, result="effective")
    assert Nonconformity.objects.get(pk=nc.pk).status == S.CLOSED


def test_a_unit_secretary_granted_with_subtree_above_is_own_staff(drive, ncp, tree):
    # a general-branch secretary whose grant covers A1 answers for it too
    upper = make_user("upper_secretary")
    grant(upper, Role.BRANCH_SECRETARY, tree.sub_a)
    grant(upper, Role.INTERNAL_AUDITOR, tree.sub_a)
    nc = drive(S.VERIFICATION, actor=upper)
    with pytest.raises(PermissionDenied):
        services.verify_action(nc.actions.get(), actor=upper, password=PASSWORD, result="effective")


def test_actions_read_through_an_old_nonconformity_object(drive, ncp):
    # the page (or a script) read the nonconformity before the last action was done
    nc = drive(S.IMPLEMENTING)
    stale = Nonconformity.objects.get(pk=nc.pk)
    services.complete_action(stale.actions.get(), actor=ncp.owner, note="做了")
    assert stale.status == S.IMPLEMENTING  # the object still says so; the row does not
    action = stale.actions.get()
    services.verify_action(action, actor=ncp.auditor, password=PASSWORD, result="effective")
    assert Nonconformity.objects.get(pk=nc.pk).status == S.CLOSED


def test_verify_wrong_password_changes_nothing(drive, ncp):
    nc = drive(S.VERIFICATION)
    action = nc.actions.get()
    with pytest.raises(ValidationError) as exc:
        services.verify_action(action, actor=ncp.auditor, password="nope", result="effective")
    assert _fields(exc) == {"password"}
    with pytest.raises(ValidationError) as exc:
        services.verify_action(action, actor=ncp.auditor, password=None, result="effective")
    assert _fields(exc) == {"password"}
    assert CorrectiveAction.objects.get(pk=action.pk).status == A.DONE
    assert Nonconformity.objects.get(pk=nc.pk).status == S.VERIFICATION
    assert not signatures.signatures_for(action).exists()


def test_effective_closes_with_a_verification_signature(drive, ncp):
    nc = drive(S.VERIFICATION)
    action = nc.actions.get()
    with pytest.raises(ValidationError) as exc:
        services.verify_action(action, actor=ncp.auditor, password=PASSWORD, result="maybe")
    assert _fields(exc) == {"result"}
    services.verify_action(
        action, actor=ncp.auditor, password=PASSWORD, result="effective", comment="三个月均有记录"
    )
    action.refresh_from_db()
    nc.refresh_from_db()
    assert action.status == A.EFFECTIVE and action.verified_by == ncp.auditor
    assert nc.status == S.CLOSED and nc.closed_on == TODAY
    sig = signatures.signatures_for(action).get()
    assert sig.meaning == Signature.Meaning.VERIFIED
    assert signatures.is_valid(sig, action.signed_content_hash())
    # changing the signed content invalidates the signature
    action.verification_comment = "改过"
    assert not signatures.is_valid(sig, action.signed_content_hash())
    assert verify_chain().ok


def test_not_effective_returns_to_analysis_for_a_new_round(drive, ncp):
    nc = drive(S.VERIFICATION)
    action = nc.actions.get()
    with pytest.raises(ValidationError) as exc:
        services.verify_action(action, actor=ncp.auditor, password=PASSWORD, result="not_effective")
    assert _fields(exc) == {"comment"}
    services.verify_action(
        action,
        actor=ncp.auditor,
        password=PASSWORD,
        result="not_effective",
        comment="5月仍未召开",
    )
    nc.refresh_from_db()
    action.refresh_from_db()
    assert action.status == A.NOT_EFFECTIVE
    assert nc.status == S.ROOT_CAUSE_ANALYSIS and nc.cycle == 2
    entry = ChangeLogEntry.objects.filter(
        object_type="improvement.nonconformity", object_id=str(nc.pk)
    ).first()
    assert "5月仍未召开" in entry.reason
    # the first round's approval no longer matches the content (a new plan is coming)
    first_approval = signatures.signatures_for(nc).get()
    assert not signatures.is_valid(first_approval, nc.signed_content_hash())
    # round two: new analysis, new plan, new approval, verified effective → closed
    nc = drive(S.CLOSED, nc=nc)
    assert nc.actions.filter(cycle=2, status=A.EFFECTIVE).count() == 1
    assert signatures.signatures_for(nc).count() == 2


# ---------------------------------------------------------------- cancel


def test_raiser_withdraws_only_while_open(raise_nc, drive, ncp):
    nc = raise_nc()
    with pytest.raises(ValidationError) as exc:
        services.cancel_nonconformity(nc, actor=ncp.auditor, reason="")
    assert _fields(exc) == {"reason"}
    with pytest.raises(PermissionDenied):
        services.cancel_nonconformity(nc, actor=ncp.secretary, reason="不认可")
    services.cancel_nonconformity(nc, actor=ncp.auditor, reason="误判，实有记录")
    nc.refresh_from_db()
    assert nc.status == S.CANCELLED and nc.cancel_reason == "误判，实有记录"
    assert nc.cancelled_on == TODAY
    later = drive(S.ROOT_CAUSE_ANALYSIS)
    with pytest.raises(PermissionDenied):
        services.cancel_nonconformity(later, actor=ncp.auditor, reason="撤回")


def test_committee_cancels_with_open_actions(drive, ncp):
    nc = drive(S.IMPLEMENTING)
    services.cancel_nonconformity(nc, actor=ncp.admin, reason="单位已撤销合并")
    nc.refresh_from_db()
    assert nc.status == S.CANCELLED
    assert list(nc.actions.values_list("status", "cancel_reason")) == [
        (A.CANCELLED, "单位已撤销合并")
    ]
    assert nc not in Nonconformity.objects.overdue(days(365))


def test_a_closed_nonconformity_cannot_be_cancelled(drive, ncp):
    nc = drive(S.CLOSED)
    with pytest.raises(workflow.TransitionNotAllowed) as exc:
        services.cancel_nonconformity(nc, actor=ncp.admin, reason="x")
    assert "Closed" in str(exc.value.messages[0])


def test_allowed_lists_the_buttons_per_user(drive, raise_nc, ncp):
    nc = raise_nc()
    assert [t.name for t in workflow.allowed(nc, ncp.secretary)] == ["start_analysis"]
    assert [t.name for t in workflow.allowed(nc, ncp.auditor)] == ["cancel"]
    assert [t.name for t in workflow.allowed(nc, ncp.admin)] == ["start_analysis", "cancel"]
    approval = drive(S.ACTION_APPROVAL)
    assert [t.name for t in workflow.allowed(approval, ncp.admin)] == [
        "approve_plan",
        "return_plan",
        "cancel",
    ]
    assert workflow.allowed(approval, ncp.secretary) == []
