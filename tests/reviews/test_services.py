"""Management review rules, on the services: scheduling (who, bad input), the frozen input
snapshot (contents, scope, immutability), every transition (allowed, refused, wrong role,
wrong signer), output actions and nonconformities raised from them, reminders."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import translation

from pbqms.core import changelog, workflow
from pbqms.core.models import ChangeLogEntry, Signature
from pbqms.improvement import services as improvement
from pbqms.improvement.models import Nonconformity
from pbqms.reviews import services
from pbqms.reviews.models import InputSnapshot, ManagementReview, ReviewOutput
from tests.factories import make_person

from .conftest import TODAY, days, meeting_data, review_data

R = ManagementReview.Status


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def raise_nc(actor, org, title="记录不全", **extra):
    return improvement.raise_nonconformity(
        actor=actor,
        org=org,
        title=title,
        source_kind=Nonconformity.Source.INTERNAL_AUDIT,
        requirement="三会一课制度",
        description="缺少记录",
        severity="minor",
        correction_due=extra.pop("correction_due", days(30)),
        **extra,
    )


# ---------------------------------------------------------------- scheduling


def test_schedule_numbers_and_logs(rp, tree):
    review = services.schedule_review(actor=rp.admin, org=tree.root, data=review_data(rp))
    assert review.number == f"MR-{TODAY.year}-001"
    assert review.status == R.PLANNED
    assert set(review.attendees.all()) == {rp.chair, rp.attendee}
    entry = ChangeLogEntry.objects.get(
        object_type="reviews.managementreview", object_id=str(review.pk)
    )
    assert entry.action == "create" and entry.changes
    assert changelog.verify_chain().ok


def test_schedule_refused_for_secretary_and_outside_scope(rp, users, tree):
    with pytest.raises(PermissionDenied):
        services.schedule_review(actor=users.secretary_a1, org=tree.branch_a1, data=review_data(rp))
    with pytest.raises(Http404):
        services.schedule_review(actor=users.secretary_a1, org=tree.root, data=review_data(rp))
    assert not ManagementReview.objects.exists()


def test_schedule_bad_input_saves_nothing(rp, tree, users):
    other = make_person(tree.branch_b1, "外单位人员")  # not in A's subtree or above it
    with pytest.raises(ValidationError) as exc:
        services.schedule_review(
            actor=rp.admin,
            org=tree.sub_a,
            data=review_data(
                rp, title=" ", period_end=days(-400), chair=other, attendees=[other.pk]
            ),
        )
    errors = exc.value.message_dict
    assert set(errors) >= {"title", "period_end", "chair", "attendees"}
    assert not ManagementReview.objects.exists()


# ---------------------------------------------------------------- inputs


def test_compile_freezes_inputs_of_the_subtree(rp, users, tree, make_review):
    inside = raise_nc(users.auditor, tree.branch_a1, title="A1 记录不全")
    outside = raise_nc(rp.admin, tree.branch_b1, title="B1 问题")
    review = make_review(tree.sub_a)
    snapshot = services.compile_inputs(review, actor=rp.admin)
    review.refresh_from_db()
    assert review.status == R.INPUTS_FROZEN
    data = snapshot.data
    numbers = [r["number"] for r in data["nonconformities"]["rows"]]
    assert inside.number in numbers and outside.number not in numbers
    assert data["nonconformities"]["raised"] == 1
    assert data["nonconformities"]["by_status"] == {"open": 1}
    assert data["satisfaction"]["available"] is False
    for key in ("audits", "objectives", "conformity", "changes", "previous"):
        assert key in data
    assert data["previous"] == {"available": False, "reason": "none"}
    assert snapshot.intact
    # later changes do not reach the frozen snapshot
    raise_nc(users.auditor, tree.branch_a2, title="后来的问题")
    assert InputSnapshot.objects.get(pk=snapshot.pk).data["nonconformities"]["raised"] == 1


def test_compile_twice_refused(rp, make_review):
    review = make_review(stage="frozen")
    with pytest.raises(workflow.TransitionNotAllowed):
        services.compile_inputs(review, actor=rp.admin)
    assert InputSnapshot.objects.count() == 1


def test_compile_wrong_role(rp, users, make_review, tree):
    review = make_review(tree.branch_a1)
    with pytest.raises(PermissionDenied):
        services.compile_inputs(review, actor=users.secretary_a1)
    with pytest.raises(Http404):
        services.compile_inputs(review, actor=users.secretary_b1)
    review.refresh_from_db()
    assert review.status == R.PLANNED and not InputSnapshot.objects.exists()


def test_snapshot_is_immutable(rp, make_review):
    review = make_review(stage="frozen")
    snapshot = InputSnapshot.objects.get(review=review)
    snapshot.data = {"tampered": True}
    with pytest.raises(PermissionError):
        snapshot.save()
    with pytest.raises(PermissionError):
        snapshot.delete()
    with pytest.raises(PermissionError):
        InputSnapshot.objects.filter(pk=snapshot.pk).update(data={})
    with pytest.raises(PermissionError):
        InputSnapshot.objects.filter(pk=snapshot.pk).delete()
    fresh = InputSnapshot.objects.get(pk=snapshot.pk)
    assert fresh.data != {"tampered": True} and fresh.intact


def test_previous_review_outputs_feed_the_next(rp, make_review, tree):
    first = make_review(
        stage="held", planned_on=days(-200), period_start=days(-560), period_end=days(-200)
    )
    services.add_output(
        first,
        actor=rp.admin,
        data={"kind": "improvement", "description": "完善台账", "owner": rp.owner, "due_on": TODAY},
    )
    done = services.add_output(
        first,
        actor=rp.admin,
        data={"kind": "change", "description": "修订制度", "owner": rp.owner, "due_on": TODAY},
    )
    services.complete_output(done, actor=rp.owner_user, result="已修订")
    second = make_review(stage="frozen")
    previous = second.snapshot.data["previous"]
    assert previous["review"]["number"] == first.number
    assert previous["by_status"] == {"open": 1, "done": 1}


# ---------------------------------------------------------------- transitions


def test_hold_needs_conclusions(rp, make_review):
    review = make_review(stage="frozen")
    with pytest.raises(workflow.TransitionNotAllowed):
        services.hold(review, actor=rp.admin)
    services.record_meeting(review, actor=rp.admin, data=meeting_data(rp))
    services.hold(review, actor=rp.admin)
    review.refresh_from_db()
    assert review.status == R.HELD


def test_hold_wrong_role(rp, users, make_review):
    review = make_review(stage="frozen")
    services.record_meeting(review, actor=rp.admin, data=meeting_data(rp))
    with pytest.raises(PermissionDenied):
        workflow.fire(review, "hold", actor=users.expert)


def test_meeting_bad_input(rp, make_review):
    review = make_review(stage="frozen")
    with pytest.raises(ValidationError) as exc:
        services.record_meeting(
            review, actor=rp.admin, data=meeting_data(rp, held_on=days(3), attendees=[])
        )
    assert set(exc.value.message_dict) == {"held_on", "attendees"}
    review.refresh_from_db()
    assert review.suitability == ""


def test_meeting_refused_before_inputs(rp, make_review):
    review = make_review()
    with pytest.raises(ValidationError):
        services.record_meeting(review, actor=rp.admin, data=meeting_data(rp))


def test_stale_edit_refused(rp, make_review):
    review = make_review()
    old = review.version
    services.update_review(
        review, actor=rp.admin, data=review_data(rp, title="新标题"), expected_version=old
    )
    stale = ManagementReview.objects.get(pk=review.pk)
    with pytest.raises(ValidationError):
        services.update_review(stale, actor=rp.admin, data=review_data(rp), expected_version=old)


def test_close_by_chair_with_signature(rp, make_review, password):
    review = make_review(stage="held")
    output = services.add_output(
        review,
        actor=rp.admin,
        data={
            "kind": "resource",
            "description": "配备专职党务干部",
            "owner": rp.owner,
            "due_on": TODAY,
        },
    )
    # open outputs block closing
    with pytest.raises(workflow.TransitionNotAllowed):
        services.close(review, actor=rp.chair_user, password=password)
    services.complete_output(output, actor=rp.owner_user, result="已配备")
    # the party admin is not the chair
    with pytest.raises(PermissionDenied):
        services.close(review, actor=rp.admin, password=password)
    # wrong password
    with pytest.raises(ValidationError):
        services.close(review, actor=rp.chair_user, password="wrong")
    review.refresh_from_db()
    assert review.status == R.HELD
    services.close(review, actor=rp.chair_user, password=password)
    review.refresh_from_db()
    assert review.status == R.CLOSED and review.closed_on == TODAY
    sig = Signature.objects.get(object_id=str(review.pk), meaning=Signature.Meaning.APPROVED)
    assert sig.signer == rp.chair_user
    assert sig.signed_hash == review.signed_content_hash()


def test_close_refused_from_wrong_state(rp, make_review, password):
    review = make_review(stage="frozen")
    with pytest.raises(workflow.TransitionNotAllowed):
        services.close(review, actor=rp.chair_user, password=password)


# ---------------------------------------------------------------- outputs


def test_outputs_tracked_to_closure(rp, users, make_review):
    review = make_review(stage="held")
    data = {
        "kind": "improvement",
        "description": "开展专项整改",
        "owner": rp.owner,
        "due_on": TODAY,
    }
    output = services.add_output(review, actor=rp.admin, data=data)
    assert not output.is_overdue(days(0)) and output.is_overdue(days(1))
    assert ReviewOutput.objects.overdue(days(1)).get() == output
    with pytest.raises(PermissionDenied):
        services.complete_output(output, actor=users.secretary_b1, result="x")
    with pytest.raises(ValidationError) as exc:
        services.complete_output(output, actor=rp.owner_user, result=" ")
    assert "result" in exc.value.message_dict
    services.complete_output(output, actor=rp.owner_user, result="整改完成")
    output.refresh_from_db()
    assert output.status == ReviewOutput.Status.DONE and output.done_on == TODAY
    with pytest.raises(ValidationError):
        services.complete_output(output, actor=rp.owner_user, result="again")


def test_output_bad_input_and_wrong_state(rp, make_review):
    planned = make_review()
    with pytest.raises(ValidationError):
        services.add_output(
            planned, actor=rp.admin, data={"description": "x", "owner": rp.owner, "due_on": TODAY}
        )
    review = make_review(stage="held")
    with pytest.raises(ValidationError) as exc:
        services.add_output(
            review,
            actor=rp.admin,
            data={"kind": "bogus", "description": "", "owner": None, "due_on": days(-30)},
        )
    assert set(exc.value.message_dict) == {"kind", "description", "owner", "due_on"}
    assert not ReviewOutput.objects.exists()


def test_cancel_output_needs_reason(rp, make_review):
    review = make_review(stage="held")
    output = services.add_output(
        review, actor=rp.admin, data={"description": "x", "owner": rp.owner, "due_on": TODAY}
    )
    with pytest.raises(ValidationError):
        services.cancel_output(output, actor=rp.admin, reason="")
    services.cancel_output(output, actor=rp.admin, reason="并入其他措施")
    output.refresh_from_db()
    assert output.status == ReviewOutput.Status.CANCELLED


def test_output_raises_nonconformity(rp, tree, make_review):
    review = make_review(stage="held")
    output = services.add_output(
        review,
        actor=rp.admin,
        data={"description": "组织生活会记录不规范", "owner": rp.owner, "due_on": days(20)},
    )
    with pytest.raises(ValidationError):
        services.raise_nonconformity(
            output, actor=rp.admin, org=None, requirement="x", severity="minor"
        )
    nc = services.raise_nonconformity(
        output, actor=rp.admin, org=tree.branch_a1, requirement="组织生活会制度", severity="minor"
    )
    assert nc.source_kind == Nonconformity.Source.MANAGEMENT_REVIEW
    assert nc.source == output
    output.refresh_from_db()
    assert output.nonconformity_id == nc.pk
    with pytest.raises(ValidationError):
        services.raise_nonconformity(
            output, actor=rp.admin, org=tree.branch_a1, requirement="x", severity="minor"
        )


# ---------------------------------------------------------------- reminders


def test_reminders_for_due_and_overdue_outputs(rp, make_review):
    reminders = pytest.importorskip("pbqms.core.reminders")
    from pbqms.reviews.reminders import output_reminders

    assert "reviews.outputs" in reminders.providers()
    review = make_review(stage="held")
    output = services.add_output(
        review,
        actor=rp.admin,
        data={"description": "完善台账", "owner": rp.owner, "due_on": days(3)},
    )
    soon = list(output_reminders(TODAY))
    assert [(r.user, r.dedupe_key) for r in soon] == [
        (rp.owner_user, f"reviews.output.{output.pk}.soon")
    ]
    late = list(output_reminders(days(10)))
    assert {r.user for r in late} == {rp.owner_user, rp.chair_user}
    assert list(output_reminders(days(-30))) == []
    # delivered once per week while overdue (in-app inbox and e-mail, deduplicated)
    assert reminders.run(days(10), names=["reviews.outputs"]) == {"reviews.outputs": 2}
    assert reminders.run(days(10), names=["reviews.outputs"]) == {"reviews.outputs": 0}


def test_objective_attainment_in_the_snapshot(rp, tree, make_review):
    pytest.importorskip("pbqms.objectives")
    from pbqms.objectives.models import Indicator, Measurement, Objective, Policy

    policy = Policy.objects.create(org=tree.root, year=TODAY.year, title="方针", statement="x")
    objective = Objective.objects.create(policy=policy, org=tree.root, code="O1", title="目标一")
    met = Indicator.objects.create(
        objective=objective,
        org=tree.root,
        code="I1",
        name="三会一课完成率",
        unit_of_measure="%",
        target=95,
    )
    missed = Indicator.objects.create(
        objective=objective,
        org=tree.root,
        code="I2",
        name="不符合项数",
        unit_of_measure="项",
        target=5,
        direction=Indicator.Direction.LOWER,
    )
    Measurement.objects.create(indicator=met, org=tree.root, value=98, source="manual")
    Measurement.objects.create(indicator=missed, org=tree.root, value=8, source="manual")
    review = make_review(stage="frozen", period_start=TODAY.replace(month=1, day=1))
    section = review.snapshot.data["objectives"]
    assert section["available"] is True
    assert (section["total"], section["attained"], section["not_attained"]) == (2, 1, 1)
    assert [r["code"] for r in section["rows"]] == ["I1", "I2"]


def test_objective_section_says_when_nothing_is_there(make_review):
    review = make_review(stage="frozen")
    section = review.snapshot.data["objectives"]
    assert section["available"] is False and section["reason"] in ("empty", "not_installed")


def test_compile_from_a_stale_copy_is_refused(rp, make_review):
    review = make_review()
    stale = ManagementReview.objects.get(pk=review.pk)
    services.compile_inputs(review, actor=rp.admin)
    with pytest.raises(workflow.TransitionNotAllowed):
        services.compile_inputs(stale, actor=rp.admin)
    assert InputSnapshot.objects.filter(review=review).count() == 1


def test_api_like_bad_values_never_crash(rp, tree):
    with pytest.raises(ValidationError):
        services.schedule_review(actor=rp.admin, org=None, data={})
    with pytest.raises(ValidationError) as exc:
        services.schedule_review(
            actor=rp.admin,
            org=tree.root,
            data={"title": "x" * 300, "planned_on": "nope", "chair": "abc", "attendees": ["x"]},
        )
    assert {"title", "planned_on", "chair", "attendees", "period_start"} <= set(
        exc.value.message_dict
    )


def test_work_plan_completion_in_the_snapshot(rp, tree, make_review):
    from pbqms.plans import services as plans
    from pbqms.plans.models import Task

    plan = plans.create_plan(actor=rp.admin, org=tree.root, year=TODAY.year, title="工作计划")
    plans.add_item(
        plan,
        actor=rp.admin,
        title="支部书记述职",
        due_on=TODAY,
        target_kinds=[tree.branch_a1.kind],
    )
    plans.publish_plan(plan, actor=rp.admin)
    tasks = Task.objects.filter(org__path__startswith=tree.root.path)
    n = tasks.count()
    assert n >= 2
    tasks.filter(pk=tasks.first().pk).update(status=Task.Status.DONE, completed_on=TODAY)
    review = make_review(stage="frozen", period_start=TODAY.replace(month=1, day=1))
    section = review.snapshot.data["plans"]
    assert section["available"] is True
    assert (section["total"], section["done"], section["on_time"]) == (n, 1, 1)
    assert section["rate"] == round(100 / n, 1)
