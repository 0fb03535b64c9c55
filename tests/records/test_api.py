"""/api/record-templates/ and /api/records/: scope, create draft, edit, submit, amend."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from pbqms.records.models import Record, RecordAmendment
from tests.records.conftest import MEETING_DATA

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    def _api(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return _api


def test_templates_readable_by_record_readers(api, users, templates):
    response = api(users.member_a1).get("/api/record-templates/")
    assert response.status_code == 200
    codes = {t["code"] for t in response.json()["results"]}
    assert "committee_meeting" in codes
    assert api(users.nobody).get("/api/record-templates/").status_code == 403


def test_records_are_scoped(
    api, users, make_record, tree, templates, django_assert_max_num_queries
):
    mine = make_record(title="A1记录", submit=True)
    other = make_record(
        "theme_day",
        org=tree.branch_b1,
        actor=users.secretary_b1,
        title="B1记录",
        data={"theme": "学习", "form": "集中学习"},
    )
    client = api(users.secretary_a1)
    with django_assert_max_num_queries(8):
        response = client.get("/api/records/")
    titles = [r["title"] for r in response.json()["results"]]
    assert titles == ["A1记录"]
    row = response.json()["results"][0]
    assert row["present"] == 5 and row["total"] == 5
    assert client.get(f"/api/records/{other.pk}/").status_code == 404
    assert client.post(f"/api/records/{other.pk}/submit/", {}, format="json").status_code == 404
    assert client.get(f"/api/records/{mine.pk}/").json()["data"]["place"] == "会议室"
    admin = api(users.party_admin)
    assert admin.get("/api/records/", {"template": "theme_day"}).json()["count"] == 1
    assert admin.get("/api/records/", {"within": tree.sub_b.pk}).json()["count"] == 1
    assert admin.get("/api/records/", {"status": "submitted"}).json()["count"] == 1


def test_create_submit_amend(api, users, tree, templates, a1):
    client = api(users.secretary_a1)
    payload = {
        "template": templates["committee_meeting"].pk,
        "org": tree.branch_a1.pk,
        "title": "API支委会",
        "occurred_at": (timezone.now() - datetime.timedelta(hours=2)).isoformat(),
        "data": {"place": "会议室", "duration": "x"},
        "attendance": [{"person": p.pk, "present": True} for p in a1.people],
    }
    response = client.post("/api/records/", payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    pk = body["id"]
    assert body["status"] == "draft" and body["total"] == 5
    # incomplete: submit refused with field errors
    response = client.post(f"/api/records/{pk}/submit/", {}, format="json")
    assert response.status_code == 400
    assert "content" in response.json()["error"]["fields"]
    response = client.patch(
        f"/api/records/{pk}/", {"version": body["version"], "data": MEETING_DATA}, format="json"
    )
    assert response.status_code == 200, response.json()
    version = response.json()["version"]
    # stale version: 409
    stale = client.patch(
        f"/api/records/{pk}/", {"version": version - 1, "title": "x"}, format="json"
    )
    assert stale.status_code == 409
    response = client.post(f"/api/records/{pk}/submit/", {"version": version}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "submitted"
    # locked
    response = client.patch(
        f"/api/records/{pk}/", {"version": body["version"], "title": "改"}, format="json"
    )
    assert response.status_code == 400
    # amend without reason refused
    response = client.post(
        f"/api/records/{pk}/amend/", {"version": body["version"], "title": "改"}, format="json"
    )
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["fields"]
    response = client.post(
        f"/api/records/{pk}/amend/",
        {"version": body["version"], "title": "API支委会（更正）", "reason": "标题有误"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["amendment_count"] == 1
    assert RecordAmendment.objects.get().data_before["title"] == "API支委会"


def test_create_refused_outside_scope_and_for_members(api, users, tree, templates):
    payload = {
        "template": templates["theme_day"].pk,
        "org": tree.branch_b1.pk,
        "title": "x",
        "occurred_at": timezone.now().isoformat(),
    }
    response = api(users.secretary_a1).post("/api/records/", payload, format="json")
    assert response.status_code == 400  # a unit outside the scope does not exist for them
    assert "org" in response.json()["error"]["fields"]
    response = api(users.member_a1).post(
        "/api/records/", {**payload, "org": tree.branch_a1.pk}, format="json"
    )
    assert response.status_code == 403
    bad = api(users.secretary_a1).post(
        "/api/records/", {**payload, "org": tree.branch_a1.pk, "data": "nope"}, format="json"
    )
    assert bad.status_code == 400
    assert not Record.objects.exists()


@pytest.mark.parametrize("count", [10, 200])
def test_api_list_query_count_does_not_grow(
    api, users, tree, templates, a1, count, django_assert_max_num_queries
):
    from pbqms.records.models import RecordAttendance

    now = timezone.now()
    records = Record.objects.bulk_create(
        Record(
            template=templates["committee_meeting"],
            org=tree.branch_a1,
            title=f"记录{i}",
            occurred_at=now - datetime.timedelta(hours=i),
            status=Record.Status.SUBMITTED,
        )
        for i in range(count)
    )
    RecordAttendance.objects.bulk_create(
        RecordAttendance(record=r, person=p, person_name=p.name, present=True)
        for r in records
        for p in a1.people
    )
    client = api(users.member_a1)
    with django_assert_max_num_queries(8):
        response = client.get("/api/records/", {"page_size": 50})
    assert response.status_code == 200
    assert response.json()["count"] == count
    assert response.json()["results"][0]["total"] == 5
