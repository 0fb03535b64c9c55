"""Record pages: list (scope, filters, bounded queries), new/create form (dynamic fields,
attendance, uploads, errors keep input), detail, submit, amend, attachments, .docx export."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from pbqms.records import services
from pbqms.records.models import Record, RecordAmendment
from tests.records.conftest import MEETING_DATA, PNG, t

pytestmark = pytest.mark.django_db


def _post_data(template, org, a1, **overrides):
    data = {
        "org": org.pk,
        "title": "十一月支委会",
        "occurred_at": (timezone.localtime() - datetime.timedelta(days=1)).strftime(
            "%Y-%m-%dT%H:%M"
        ),
        **{f"f_{k}": v for k, v in MEETING_DATA.items()},
        "att_person": [p.pk for p in a1.people],
    }
    for p in a1.people:
        data[f"att_present_{p.pk}"] = "on"
    data.update(overrides)
    return data


def test_list_shows_own_unit_records_only(login, users, make_record, tree, templates):
    mine = make_record(title="A1的记录", submit=True)
    other = services.create_record(
        actor=users.secretary_b1,
        org=tree.branch_b1,
        template=templates["theme_day"],
        title="B1的记录",
        occurred_at=timezone.now(),
    )
    client = login(users.secretary_a1)
    response = client.get(reverse("records:list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "A1的记录" in body and "B1的记录" not in body
    assert client.get(reverse("records:detail", args=[other.pk])).status_code == 404
    assert client.get(reverse("records:docx", args=[other.pk])).status_code == 404
    assert client.get(reverse("records:edit", args=[other.pk])).status_code == 404
    assert client.post(reverse("records:submit", args=[other.pk])).status_code == 404
    assert client.get(reverse("records:detail", args=[mine.pk])).status_code == 200
    # the party administrator sees both
    body = login(users.party_admin).get(reverse("records:list")).content.decode()
    assert "A1的记录" in body and "B1的记录" in body


def test_list_filters(login, users, make_record, templates):
    make_record(title="支委会一", submit=True)
    make_record("theme_day", title="主题党日一", data={"theme": "学习", "form": "集中学习"})
    client = login(users.secretary_a1)
    url = reverse("records:list")
    body = client.get(url, {"template": templates["theme_day"].pk}).content.decode()
    assert "主题党日一" in body and "支委会一" not in body
    body = client.get(url, {"status": "submitted"}).content.decode()
    assert "支委会一" in body and "主题党日一" not in body
    body = client.get(url, {"q": "主题"}).content.decode()
    assert "主题党日一" in body and "支委会一" not in body
    tomorrow = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
    body = client.get(url, {"date_from": tomorrow}).content.decode()
    assert "支委会一" not in body and "主题党日一" not in body
    assert client.get(url, {"date_from": "garbage"}).status_code == 200


def test_member_sees_submitted_only_and_no_new_button(login, users, make_record):
    make_record(title="草稿记录")
    submitted = make_record(title="已提交记录", submit=True)
    client = login(users.member_a1)
    body = client.get(reverse("records:list")).content.decode()
    assert "已提交记录" in body and "草稿记录" not in body
    assert 'data-testid="new-record"' not in body
    assert client.get(reverse("records:new")).status_code == 403
    detail = client.get(reverse("records:detail", args=[submitted.pk])).content.decode()
    assert 'data-testid="amend-record"' not in detail
    assert client.get(reverse("records:amend", args=[submitted.pk])).status_code == 403


def test_users_without_record_permission_are_refused(login, users):
    assert login(users.nobody).get(reverse("records:list")).status_code == 403
    assert login(users.security_admin).get(reverse("records:list")).status_code == 403


@pytest.mark.parametrize("count", [10, 200])
def test_list_query_count_is_bounded(
    login, users, tree, templates, count, django_assert_max_num_queries
):
    now = timezone.now()
    Record.objects.bulk_create(
        Record(
            template=templates["committee_meeting"],
            org=tree.branch_a1,
            title=f"记录{i}",
            occurred_at=now - datetime.timedelta(hours=i),
        )
        for i in range(count)
    )
    client = login(users.secretary_a1)
    client.get(reverse("records:list"))  # warm the session/user caches
    with django_assert_max_num_queries(14):
        response = client.get(reverse("records:list"), {"per_page": 100})
    assert response.status_code == 200


def test_detail_query_count_is_bounded(login, users, make_record, django_assert_max_num_queries):
    record = make_record(submit=True)
    for i in range(3):
        services.amend_record(
            record,
            actor=users.secretary_a1,
            reason=f"更正{i}",
            data={**MEETING_DATA, "place": f"地点{i}"},
        )
    client = login(users.secretary_a1)
    client.get(reverse("records:detail", args=[record.pk]))
    with django_assert_max_num_queries(24):
        response = client.get(reverse("records:detail", args=[record.pk]))
    body = response.content.decode()
    assert "更正2" in body and "地点0" in body
    assert 'data-testid="quorum-met"' in body


def test_new_record_flow(login, users, tree, templates, a1):
    client = login(users.secretary_a1)
    response = client.get(reverse("records:new"))
    assert response.status_code == 200
    assert "支部委员会会议" in response.content.decode()
    template = templates["committee_meeting"]
    response = client.get(
        reverse("records:new"), {"template": template.pk, "org": tree.branch_a1.pk}
    )
    assert response.status_code == 302
    form_url = response["Location"]
    page = client.get(form_url).content.decode()
    assert "地点" in page and "成员0" in page and 'name="f_photos"' in page
    photo = SimpleUploadedFile("现场.png", PNG, content_type="image/png")
    response = client.post(
        form_url, {**_post_data(template, tree.branch_a1, a1), "f_photos": photo}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    record = Record.objects.get()
    assert record.title == "十一月支委会"
    assert record.data["place"] == "会议室"
    assert record.attendance_summary() == (5, 5)
    assert record.attachments.get().content_type == "image/png"


def test_create_errors_keep_input_and_save_nothing(login, users, tree, templates, a1):
    client = login(users.secretary_a1)
    template = templates["party_lecture"]
    url = reverse("records:create", args=[template.pk]) + f"?org={tree.branch_a1.pk}"
    absent = a1.people[1]
    data = {
        "org": tree.branch_a1.pk,
        "title": "党课：初心使命",
        "occurred_at": "2026-01-05T09:00",
        "f_topic": "初心使命",
        "f_duration_hours": "两个小时",
        "att_person": [p.pk for p in a1.people],
        **{f"att_present_{p.pk}": "on" for p in a1.people if p != absent},
        f"att_reason_{absent.pk}": "",
    }
    response = client.post(url, data)
    assert response.status_code == 400
    body = response.content.decode()
    assert t("Enter a number.") in body
    assert t("Give the reason for the absence.") in body
    assert "初心使命" in body and "两个小时" in body
    assert not Record.objects.exists()
    # a text file renamed .png is refused with a clear message
    data["f_duration_hours"] = "2"
    data[f"att_reason_{absent.pk}"] = "出差"
    fake = SimpleUploadedFile("photo.png", b"hello, I am text\n", content_type="image/png")
    response = client.post(url, {**data, "f_photos": fake})
    assert response.status_code == 400
    assert "photo.png" in response.content.decode()
    assert 'data-testid="form-errors"' in response.content.decode()
    assert not Record.objects.exists()
    response = client.post(url, data)
    assert response.status_code == 302
    assert Record.objects.get().attendance.get(person=absent).absence_reason == "出差"


def test_other_branch_unit_cannot_be_chosen(login, users, tree, templates, a1):
    client = login(users.secretary_a1)
    template = templates["committee_meeting"]
    url = reverse("records:create", args=[template.pk])
    response = client.post(url, _post_data(template, tree.branch_b1, a1))
    assert response.status_code == 302  # back to choosing a unit of one's own
    assert not Record.objects.exists()


def test_edit_submit_amend_flow(login, users, make_record, a1):
    record = make_record(data={"place": "会议室"})
    client = login(users.secretary_a1)
    # submit refused while required fields are empty; the page lists what is missing
    response = client.post(reverse("records:submit", args=[record.pk]))
    assert response.status_code == 400
    assert t("This field is required.") in response.content.decode()
    edit_url = reverse("records:edit", args=[record.pk])
    data = _post_data(record.template, record.org, a1, version=record.version)
    response = client.post(edit_url, data)
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.data["content"] == MEETING_DATA["content"]
    assert client.get(reverse("records:submit", args=[record.pk])).status_code == 200
    response = client.post(reverse("records:submit", args=[record.pk]), {"version": record.version})
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.status == "submitted"
    # the edit page of a submitted record sends to the detail page; a forged POST changes nothing
    assert client.get(edit_url).status_code == 302
    client.post(edit_url, {**data, "title": "偷偷改"})
    record.refresh_from_db()
    assert record.title == "十一月支委会"
    # amendment without a reason: refused, input kept
    amend_url = reverse("records:amend", args=[record.pk])
    response = client.post(
        amend_url, {**data, "version": record.version, "f_place": "三楼", "reason": ""}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "三楼" in body
    assert not RecordAmendment.objects.exists()
    response = client.post(
        amend_url, {**data, "version": record.version, "f_place": "三楼", "reason": "地点记错"}
    )
    assert response.status_code == 302
    amendment = RecordAmendment.objects.get()
    assert amendment.reason == "地点记错"
    assert amendment.data_before["data"]["place"] == "会议室"
    detail = client.get(reverse("records:detail", args=[record.pk]) + "?tab=amendments")
    assert "地点记错" in detail.content.decode()


def test_stale_edit_is_refused(login, users, make_record, a1):
    record = make_record()
    client = login(users.secretary_a1)
    data = _post_data(record.template, record.org, a1, version=record.version)
    services.update_draft(record, actor=users.secretary_a1, title="别人改了")
    response = client.post(reverse("records:edit", args=[record.pk]), data)
    assert response.status_code == 400
    assert (
        t(
            "Someone else changed this record after you opened it. Reload the page to see "
            "their changes, then make yours again."
        )
        in response.content.decode()
    )


def test_attachment_served_after_permission_check(login, users, make_record):
    record = make_record(
        uploads=[
            ("photos", SimpleUploadedFile("a.png", PNG)),
            ("sign_in_sheet", SimpleUploadedFile("s.pdf", b"%PDF-1.4\n")),
        ]
    )
    photo = record.attachments.get(field="photos")
    sheet = record.attachments.get(field="sign_in_sheet")
    client = login(users.secretary_a1)
    response = client.get(reverse("records:attachment", args=[record.pk, photo.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert b"".join(response.streaming_content) == PNG
    response = client.get(reverse("records:attachment", args=[record.pk, sheet.pk]))
    assert response["Content-Disposition"].startswith("attachment")
    other = login(users.secretary_b1)
    assert other.get(reverse("records:attachment", args=[record.pk, photo.pk])).status_code == 404
    member = login(users.member_a1)  # a draft's files are not visible to members
    assert member.get(reverse("records:attachment", args=[record.pk, photo.pk])).status_code == 404


def test_docx_export_contains_title_and_attendance(login, users, make_record, a1):
    import docx

    record = make_record(title="导出测试支委会", submit=True)
    services.amend_record(
        record,
        actor=users.secretary_a1,
        reason="补充决议",
        data={**MEETING_DATA, "resolutions": "新决议"},
    )
    response = login(users.member_a1).get(reverse("records:docx", args=[record.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    document = docx.Document(io.BytesIO(response.content))
    text = "\n".join(p.text for p in document.paragraphs)
    cells = "\n".join(c.text for t in document.tables for row in t.rows for c in row.cells)
    assert "导出测试支委会" in text
    for person in a1.people:
        assert person.name in cells
    assert "会议室" in cells
    assert "补充决议" in text
    from pbqms.core.models import ChangeLogEntry

    assert ChangeLogEntry.objects.filter(action="export", object_id=str(record.pk)).exists()
