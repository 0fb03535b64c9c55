"""Record template editor: who may (party committee administrators), creating with every
field type, bad input (errors shown, nothing saved, input kept), built-in templates copied
not edited, templates in use keep their fields, change log, bounded queries."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pbqms.core.models import ChangeLogEntry
from pbqms.records import services, templates_admin
from pbqms.records.models import RecordTemplate

pytestmark = pytest.mark.django_db

LIST = reverse("records:templates")
NEW = reverse("records:template_create")

ROWS = [
    ("activity", "活动名称", "text", True, "", ""),
    ("summary", "活动纪要", "textarea", True, "", ""),
    ("held_on", "活动日期", "date", False, "", ""),
    ("starts", "开始时间", "datetime", False, "", ""),
    ("volunteers", "志愿者人数", "number", False, "", ""),
    ("form", "形式", "choice", True, "线下\n线上\n", "选一种"),
    ("leaders", "带队党员", "people", False, "", ""),
    ("photos", "现场照片", "file", False, "", ""),
]


def post_data(rows=ROWS, **over):
    data = {
        "name": "志愿服务记录",
        "code": "volunteer_service",
        "kind": "other",
        "description": "党员志愿服务活动",
        "has_attendance": "on",
        "is_active": "on",
        "fields-TOTAL_FORMS": str(len(rows) + 1),
        "fields-INITIAL_FORMS": "0",
        "fields-MIN_NUM_FORMS": "0",
        "fields-MAX_NUM_FORMS": "1000",
    }
    for i, (name, label, kind, required, choices, help_text) in enumerate(rows):
        data.update(
            {
                f"fields-{i}-ORDER": str(i + 1),
                f"fields-{i}-name": name,
                f"fields-{i}-label": label,
                f"fields-{i}-type": kind,
                f"fields-{i}-choices": choices,
                f"fields-{i}-help": help_text,
            }
        )
        if required:
            data[f"fields-{i}-required"] = "on"
    data.update(over)
    return data


def test_party_admin_creates_a_template_with_every_field_type(login, users, templates, tree):
    client = login(users.party_admin)
    page = client.get(LIST).content.decode()
    assert 'data-testid="new-template"' in page and 'data-code="committee_meeting"' in page
    assert client.get(NEW).status_code == 200
    before = ChangeLogEntry.objects.count()
    response = client.post(NEW, post_data())
    assert response.status_code == 302
    t = RecordTemplate.objects.get(code="volunteer_service")
    assert not t.is_builtin and t.has_attendance
    assert [f["name"] for f in t.fields] == [r[0] for r in ROWS]
    assert [f["type"] for f in t.fields] == [r[2] for r in ROWS]
    form = next(f for f in t.fields if f["name"] == "form")
    assert form["choices"] == ["线下", "线上"] and form["required"] and form["help"] == "选一种"
    assert ChangeLogEntry.objects.count() > before
    # the new template is offered for records and its form renders every field
    sec = login(users.secretary_a1)
    html = sec.get(
        reverse("records:create", args=[t.pk]) + f"?org={tree.branch_a1.pk}"
    ).content.decode()
    for _name, label, *_rest in ROWS:
        assert label in html


@pytest.mark.parametrize(
    "over, rows, field",
    [
        ({"code": "Bad Code"}, ROWS, "code"),
        ({"code": "committee_meeting"}, ROWS, "code"),  # taken by a built-in template
        ({"name": ""}, ROWS, "name"),
        ({}, [*ROWS, ("activity", "重复", "text", False, "", "")], None),  # duplicate name
        ({}, [("form", "形式", "choice", False, "", "")], None),  # choice without choices
        ({}, [("名称", "中文名", "text", False, "", "")], None),  # name not a slug
        ({}, [], None),  # no field at all
    ],
)
def test_bad_input_is_refused_and_kept(login, users, templates, over, rows, field):
    client = login(users.party_admin)
    count = RecordTemplate.objects.count()
    response = client.post(NEW, post_data(rows, **over))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="form-errors"' in html
    assert RecordTemplate.objects.count() == count
    assert "党员志愿服务活动" in html  # input kept
    if field:
        assert "invalid-feedback" in html


def test_row_with_missing_type_is_an_error(login, users, templates):
    client = login(users.party_admin)
    data = post_data()
    data["fields-0-type"] = ""
    response = client.post(NEW, data)
    assert response.status_code == 200 and "invalid-feedback" in response.content.decode()
    assert not RecordTemplate.objects.filter(code="volunteer_service").exists()


def test_builtin_templates_are_copied_not_edited(login, users, templates):
    client = login(users.party_admin)
    builtin = templates["committee_meeting"]
    response = client.get(reverse("records:template_edit", args=[builtin.pk]))
    assert response.status_code == 302 and f"copy={builtin.pk}" in response.url
    copy_page = client.get(NEW, {"copy": builtin.pk}).content.decode()
    assert "committee_meeting_copy" in copy_page and "议题" in copy_page
    with pytest.raises(ValidationError):
        templates_admin.save_template(
            actor=users.party_admin,
            template=builtin,
            name="改名",
            code=builtin.code,
            kind=builtin.kind,
            fields=builtin.fields,
        )
    builtin.refresh_from_db()
    assert builtin.name == "支部委员会会议"
    # the copy is saved as a user-made template
    copy = templates_admin.copy_of(builtin)
    saved = templates_admin.save_template(
        actor=users.party_admin,
        template=copy,
        name=copy.name,
        code=copy.code,
        kind=copy.kind,
        fields=copy.fields,
    )
    assert not saved.is_builtin and saved.fields == templates_admin.clean_fields(builtin.fields)


def test_template_in_use_keeps_its_fields(login, users, templates, tree):
    client = login(users.party_admin)
    client.post(NEW, post_data())
    t = RecordTemplate.objects.get(code="volunteer_service")
    url = reverse("records:template_edit", args=[t.pk])
    services.create_record(
        actor=users.secretary_a1,
        org=tree.branch_a1,
        template=t,
        title="志愿服务",
        occurred_at=timezone.now(),
        data={"activity": "社区服务", "summary": "清扫", "form": "线下"},
        attendance=[],
    )
    # removing a field: refused
    response = client.post(url, post_data(ROWS[1:], version=t.version))
    assert response.status_code == 200 and 'data-testid="form-errors"' in response.content.decode()
    t.refresh_from_db()
    assert len(t.fields) == len(ROWS)
    # adding a field and relabelling: allowed
    rows = [
        ("activity", "活动主题", *ROWS[0][2:]),
        *ROWS[1:],
        ("place", "地点", "text", False, "", ""),
    ]
    response = client.post(url, post_data(rows, version=t.version))
    assert response.status_code == 302
    t.refresh_from_db()
    assert t.fields[0]["label"] == "活动主题" and t.fields[-1]["name"] == "place"


def test_others_may_not_manage_templates(login, users, templates):
    for user in (users.secretary_a1, users.member_a1):
        client = login(user)
        page = client.get(LIST)
        assert page.status_code == 200 and "new-template" not in page.content.decode()
        assert client.get(NEW).status_code == 403
        assert client.post(NEW, post_data()).status_code == 403
    assert login(users.nobody).get(LIST).status_code == 403
    assert not RecordTemplate.objects.filter(code="volunteer_service").exists()


def test_list_query_count_is_bounded(login, users, templates):
    client = login(users.party_admin)
    client.get(LIST)
    with CaptureQueriesContext(connection) as small:
        client.get(LIST)
    for i in range(5):
        RecordTemplate.objects.create(code=f"extra_{i}", name=f"额外{i}", kind="other", fields=[])
    with CaptureQueriesContext(connection) as large:
        client.get(LIST)
    assert len(large) == len(small)


API = "/api/record-templates/"
API_BODY = {
    "code": "volunteer_api",
    "name": "志愿服务（接口）",
    "kind": "other",
    "fields": [
        {"name": "activity", "label": "活动", "type": "text", "required": True},
        {"name": "form", "label": "形式", "type": "choice", "choices": ["线下", "线上"]},
        {"name": "hours", "label": "时长", "type": "number", "min": 0, "max": 24},
    ],
}


def test_template_api_create_and_edit(login, users, templates):
    client = login(users.party_admin)
    response = client.post(API, API_BODY, content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["code"] == "volunteer_api" and not data["is_builtin"]
    assert data["fields"][2]["min"] == 0 and data["fields"][1]["choices"] == ["线下", "线上"]
    url = f"{API}{data['id']}/"
    body = {**API_BODY, "name": "志愿服务", "version": data["version"]}
    assert client.put(url, body, content_type="application/json").status_code == 200
    # stale version
    stale = client.put(url, {**body, "version": data["version"]}, content_type="application/json")
    assert stale.status_code == 409
    # bad input: 400 with field errors, nothing saved
    bad = client.post(
        API, {**API_BODY, "code": "Bad Code", "fields": []}, content_type="application/json"
    )
    assert bad.status_code == 400 and "code" in bad.json()["error"]["fields"]
    assert RecordTemplate.objects.filter(code__startswith="volunteer").count() == 1
    # a built-in template is not edited in place
    builtin = templates["theme_day"]
    refused = client.put(
        f"{API}{builtin.pk}/", {**API_BODY, "code": builtin.code}, content_type="application/json"
    )
    assert refused.status_code == 400
    # others: read only
    sec = login(users.secretary_a1)
    assert sec.get(API).status_code == 200
    assert sec.post(API, API_BODY, content_type="application/json").status_code == 403
    assert sec.put(url, body, content_type="application/json").status_code == 403


def test_odd_copy_parameter_gives_an_empty_form(login, users, templates):
    client = login(users.party_admin)
    for odd in ("²", "1" * 40, "-3", "x"):
        assert client.get(NEW, {"copy": odd}).status_code == 200
