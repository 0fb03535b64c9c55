"""Record services: drafts, schema validation, attendance, submit/lock, amendments, quorum,
uploads, scope."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.utils import timezone

from pbqms.orgs.models import Post
from pbqms.records import services
from pbqms.records.models import Record, RecordAmendment, committee_quorum_met
from pbqms.records.signals import record_submitted
from tests.records.conftest import JPEG, MEETING_DATA, PDF, PNG

pytestmark = pytest.mark.django_db


def test_builtin_templates_exist_and_ensure_is_idempotent(templates):
    assert {
        "member_meeting",
        "committee_meeting",
        "group_meeting",
        "party_lecture",
        "theme_day",
        "org_life",
        "member_review",
        "heart_talk",
    } <= set(templates)
    assert templates["committee_meeting"].name == "支部委员会会议"
    assert services.ensure_builtin_templates() == 0


def test_secretary_creates_a_draft_of_their_unit(make_record, a1):
    record = make_record()
    assert record.status == Record.Status.DRAFT
    assert record.data["place"] == "会议室"
    assert record.attendance_summary() == (5, 5)


def test_secretary_cannot_create_for_another_branch(tree, users, templates):
    with pytest.raises(Http404):
        services.create_record(
            actor=users.secretary_b1,
            org=tree.branch_a1,
            template=templates["theme_day"],
            title="x",
            occurred_at=timezone.now(),
        )
    with pytest.raises(PermissionDenied):
        services.create_record(
            actor=users.member_a1,
            org=tree.branch_a1,
            template=templates["theme_day"],
            title="x",
            occurred_at=timezone.now(),
        )
    assert not Record.objects.exists()


def test_schema_errors_name_every_bad_field(tree, users, templates):
    with pytest.raises(ValidationError) as exc:
        services.create_record(
            actor=users.secretary_a1,
            org=tree.branch_a1,
            template=templates["theme_day"],
            title="",
            occurred_at="not a date",
            data={"form": "跳舞", "theme": "x" * 501},
        )
    errors = exc.value.message_dict
    assert set(errors) >= {"title", "occurred_at", "form", "theme"}
    with pytest.raises(ValidationError) as exc:
        services.create_record(
            actor=users.secretary_a1,
            org=tree.branch_a1,
            template=templates["party_lecture"],
            title="党课",
            occurred_at=timezone.now(),
            data={"duration_hours": "abc"},
        )
    assert "duration_hours" in exc.value.message_dict
    assert not Record.objects.exists()


def test_absent_person_needs_a_reason_and_only_unit_people(make_record, a1, tree):
    rows = [{"person": p.pk, "present": True} for p in a1.people]
    rows[0] = {"person": a1.people[0].pk, "present": False, "reason": ""}
    with pytest.raises(ValidationError) as exc:
        make_record(attendance=rows)
    assert f"attendance-{a1.people[0].pk}" in exc.value.message_dict
    from tests.factories import make_person

    stranger = make_person(tree.branch_b1, "外人")
    with pytest.raises(ValidationError) as exc:
        make_record(attendance=[{"person": stranger.pk, "present": True}])
    assert "attendance" in exc.value.message_dict
    rows[0]["reason"] = "出差"
    record = make_record(attendance=rows)
    assert record.attendance_summary() == (4, 5)
    absent = record.attendance.get(person=a1.people[0])
    assert absent.absence_reason == "出差"
    assert absent.person_name == "成员0"


def test_submit_requires_required_fields_then_locks(make_record, users):
    record = make_record(data={"place": "会议室"})
    with pytest.raises(ValidationError) as exc:
        services.submit_record(record, actor=users.secretary_a1)
    assert {"host", "recorder", "topics", "content"} <= set(exc.value.message_dict)
    record.refresh_from_db()
    assert record.status == Record.Status.DRAFT
    services.update_draft(record, actor=users.secretary_a1, data=dict(MEETING_DATA))
    received = []

    def receiver(sender, record, amendment, **kwargs):
        received.append((record.pk, record.status, amendment))

    record_submitted.connect(receiver)
    try:
        services.submit_record(record, actor=users.secretary_a1)
    finally:
        record_submitted.disconnect(receiver)
    record.refresh_from_db()
    assert record.status == Record.Status.SUBMITTED
    assert record.submitted_at is not None
    assert record.submitted_by == users.secretary_a1
    assert received == [(record.pk, "submitted", None)]
    # locked: a draft edit is refused, nothing changes
    with pytest.raises(ValidationError) as exc:
        services.update_draft(record, actor=users.secretary_a1, title="改标题")
    assert "locked" in str(exc.value)
    record.refresh_from_db()
    assert record.title == "支委会会议"
    # submitting twice is refused
    with pytest.raises(ValidationError):
        services.submit_record(record, actor=users.secretary_a1)


def test_member_cannot_submit(make_record, users):
    record = make_record()
    with pytest.raises(Http404):  # members do not see drafts at all
        services.submit_record(record, actor=users.member_a1)
    with pytest.raises(Http404):
        services.submit_record(record, actor=users.secretary_b1)


def test_amend_requires_reason_and_keeps_before_after(make_record, users, a1):
    record = make_record(submit=True)
    with pytest.raises(ValidationError) as exc:
        services.amend_record(record, actor=users.secretary_a1, reason="  ", title="新标题")
    assert "reason" in exc.value.message_dict
    record.refresh_from_db()
    assert record.title == "支委会会议"
    assert not RecordAmendment.objects.exists()
    received = []

    def receiver(sender, record, amendment, **kwargs):
        received.append(amendment)

    record_submitted.connect(receiver)
    try:
        rows = [{"person": p.pk, "present": True} for p in a1.people]
        rows[4] = {"person": a1.people[4].pk, "present": False, "reason": "病假"}
        amendment = services.amend_record(
            record,
            actor=users.secretary_a1,
            reason="记录人填错",
            data={**MEETING_DATA, "recorder": "成员2"},
            attendance=rows,
        )
    finally:
        record_submitted.disconnect(receiver)
    assert received == [amendment]
    assert amendment.number == 1
    assert amendment.data_before["data"]["recorder"] == "成员1"
    assert amendment.data_after["data"]["recorder"] == "成员2"
    assert amendment.data_before["attendance"][4]["present"] is True
    assert amendment.data_after["attendance"][4]["reason"] == "病假"
    record.refresh_from_db()
    assert record.status == Record.Status.SUBMITTED
    assert record.amendment_count == 1
    assert record.data["recorder"] == "成员2"
    # an amendment must still satisfy the template (required fields)
    with pytest.raises(ValidationError) as exc:
        services.amend_record(
            record, actor=users.secretary_a1, reason="删内容", data={"place": "x"}
        )
    assert "content" in exc.value.message_dict
    # nothing changed: refused
    with pytest.raises(ValidationError):
        services.amend_record(record, actor=users.secretary_a1, reason="同上", data=record.data)
    # a draft is not amended
    draft = make_record()
    with pytest.raises(ValidationError):
        services.amend_record(draft, actor=users.secretary_a1, reason="x", title="y")


def test_member_sees_submitted_records_only_and_cannot_amend(make_record, users):
    draft = make_record(title="草稿")
    submitted = make_record(title="已提交", submit=True)
    visible = set(services.visible_records(users.member_a1))
    assert visible == {submitted}
    assert set(services.visible_records(users.secretary_a1)) == {draft, submitted}
    assert set(services.visible_records(users.secretary_b1)) == set()
    with pytest.raises(PermissionDenied):
        services.amend_record(submitted, actor=users.member_a1, reason="x", title="y")


def test_stale_version_is_refused(make_record, users):
    record = make_record()
    old = record.version
    services.update_draft(record, actor=users.secretary_a1, title="一", expected_version=old)
    with pytest.raises(ValidationError) as exc:
        services.update_draft(record, actor=users.secretary_a1, title="二", expected_version=old)
    assert exc.value.code == "stale"


def test_committee_quorum(make_record, a1, tree, users):
    c0, c1, c2 = a1.committee
    others = a1.people[3:]

    def rows(present):
        return [
            {"person": p.pk, "present": p in present, "reason": "" if p in present else "公出"}
            for p in a1.people
        ]

    assert committee_quorum_met(make_record(attendance=rows([c0, c1])))  # 2 of 3
    assert not committee_quorum_met(make_record(attendance=rows([c0, *others])))  # 1 of 3
    # a committee post ended before the meeting does not count
    Post.objects.filter(person=c2).update(ended_on=datetime.date(2020, 6, 30))
    assert not committee_quorum_met(make_record(attendance=rows([c0])))  # 1 of 2 is not > half
    assert not committee_quorum_met(make_record(attendance=rows([c2, *others])))
    # 2 members left: both present is more than half
    assert committee_quorum_met(make_record(attendance=rows([c0, c1])))
    # a unit without committee members never meets the quorum
    record = make_record(org=tree.branch_a2, attendance=None, actor=users.party_admin)
    assert not committee_quorum_met(record)


def test_quorum_exact_half_is_not_enough(make_record, a1, tree):
    from tests.factories import make_person

    fourth = make_person(tree.branch_a1, "委员4")
    Post.objects.create(
        person=fourth,
        org=tree.branch_a1,
        title=Post.Title.DISCIPLINE,
        started_on=datetime.date(2020, 1, 1),
    )
    people = [*a1.people, fourth]
    present = {a1.committee[0].pk, a1.committee[1].pk}
    rows = [
        {"person": p.pk, "present": p.pk in present, "reason": "" if p.pk in present else "事假"}
        for p in people
    ]
    assert not committee_quorum_met(make_record(attendance=rows))  # 2 of 4


def upload(name, content, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def test_uploads_checked_by_content(make_record, users):
    record = make_record(
        uploads=[("photos", upload("a.png", PNG)), ("photos", upload("b.jpg", JPEG))]
    )
    assert [a.content_type for a in record.attachments.all()] == ["image/png", "image/jpeg"]
    with pytest.raises(ValidationError) as exc:
        services.update_draft(
            record,
            actor=users.secretary_a1,
            uploads=[("photos", upload("evil.png", b"just some text\n", "image/png"))],
        )
    assert "photos" in exc.value.message_dict
    assert "not a PNG or JPEG" in exc.value.message_dict["photos"][0]
    assert record.attachments.count() == 2
    services.update_draft(
        record, actor=users.secretary_a1, uploads=[("sign_in_sheet", upload("s.pdf", PDF))]
    )
    sheet = record.attachments.get(field="sign_in_sheet")
    assert sheet.content_type == "application/pdf"
    assert sheet.kind == "sign_in"
    assert sheet.file.read() == PDF


def test_submitted_attachments_change_only_by_amendment(make_record, users):
    record = make_record(submit=True)
    with pytest.raises(ValidationError):
        services.update_draft(
            record, actor=users.secretary_a1, uploads=[("photos", upload("a.png", PNG))]
        )
    amendment = services.amend_record(
        record,
        actor=users.secretary_a1,
        reason="补照片",
        uploads=[("photos", upload("a.png", PNG))],
    )
    assert amendment.data_before["attachments"] == []
    assert amendment.data_after["attachments"][0]["name"] == "a.png"


def test_change_log_records_the_amendment_reason(make_record, users):
    from pbqms.core.models import ChangeLogEntry

    record = make_record(submit=True)
    services.amend_record(
        record, actor=users.secretary_a1, reason="更正地点", data={**MEETING_DATA, "place": "二楼"}
    )
    entry = ChangeLogEntry.objects.filter(
        object_type__icontains="record", object_id=str(record.pk), action="update"
    ).first()
    assert entry is not None
    assert entry.reason == "更正地点"


def test_future_date_refused(make_record):
    with pytest.raises(ValidationError) as exc:
        make_record(occurred_at=timezone.now() + datetime.timedelta(days=3))
    assert "occurred_at" in exc.value.message_dict
