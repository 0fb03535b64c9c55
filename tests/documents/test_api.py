"""REST API of documents: the same rules as the pages (scope, roles, lifecycle, signatures)."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from pbqms.core.models import ChangeLogEntry
from pbqms.documents.models import Acknowledgement, Document, DocumentVersion
from tests.factories import PASSWORD

S = DocumentVersion.Status


@pytest.fixture
def api(db):
    def _api(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return _api


def test_create_and_full_lifecycle(api, people, users, tree):
    author = api(people.author)
    r = author.post(
        "/api/documents/",
        {
            "doc_type": "regulation",
            "title": "学习制度",
            "org": tree.branch_a1.pk,
            "content": "正文",
        },
        format="json",
    )
    assert r.status_code == 201, r.json()
    doc = Document.objects.get(pk=r.json()["id"])
    v = doc.latest_version
    r = author.patch(
        f"/api/document-versions/{v.pk}/",
        {
            "version": v.version,
            "reviewers": [people.reviewer.pk],
            "approvers": [people.approver.pk],
        },
        format="json",
    )
    assert r.status_code == 200, r.json()
    assert r.json()["allowed_transitions"] == ["submit", "withdraw"]
    r = author.post(
        f"/api/document-versions/{v.pk}/transition/",
        {"transition": "submit", "password": PASSWORD},
        format="json",
    )
    assert r.status_code == 200 and r.json()["status"] == S.IN_REVIEW
    r = api(people.reviewer).post(
        f"/api/document-versions/{v.pk}/transition/",
        {"transition": "review", "password": PASSWORD},
        format="json",
    )
    assert r.json()["status"] == S.AWAITING_APPROVAL
    r = api(people.approver).post(
        f"/api/document-versions/{v.pk}/transition/",
        {
            "transition": "approve",
            "password": PASSWORD,
            "effective_on": timezone.localdate().isoformat(),
        },
        format="json",
    )
    assert r.status_code == 200 and r.json()["status"] == S.EFFECTIVE
    assert [s["meaning"] for s in r.json()["signatures"]] == ["prepared", "reviewed", "approved"]
    assert all(s["valid"] for s in r.json()["signatures"])
    member = api(users.member_a1)
    acks = member.get("/api/acknowledgements/", {"mine": "true"}).json()["results"]
    assert len(acks) == 1
    r = member.post(f"/api/acknowledgements/{acks[0]['id']}/acknowledge/")
    assert r.status_code == 200 and r.json()["done_at"]


def test_wrong_password_is_400_and_the_attempt_stays_logged(api, make_doc, people):
    v = make_doc().latest_version
    r = api(people.author).post(
        f"/api/document-versions/{v.pk}/transition/",
        {"transition": "submit", "password": "x"},
        format="json",
    )
    assert r.status_code == 400 and "password" in r.json()["error"]["fields"]
    assert ChangeLogEntry.objects.filter(action="signature", outcome="failure").exists()
    assert DocumentVersion.objects.get(pk=v.pk).status == S.DRAFT


def test_illegal_step_is_400_with_a_clear_code(api, make_doc, people):
    v = make_doc().latest_version
    r = api(people.author).post(
        f"/api/document-versions/{v.pk}/transition/",
        {"transition": "make_effective"},
        format="json",
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "transition_not_allowed"


def test_wrong_role_is_403(api, make_doc, people):
    v = make_doc().latest_version
    r = api(people.reviewer).post(
        f"/api/document-versions/{v.pk}/transition/",
        {"transition": "submit", "password": PASSWORD},
        format="json",
    )
    assert r.status_code == 403


def test_draft_outside_scope_is_404_and_absent_from_lists(api, make_doc, users):
    doc = make_doc()
    client = api(users.secretary_b1)
    assert client.get(f"/api/documents/{doc.pk}/").status_code == 404
    assert client.get(f"/api/document-versions/{doc.latest_version_id}/").status_code == 404
    assert client.get("/api/documents/").json()["results"] == []


def test_member_may_not_create(api, users, tree):
    r = api(users.member_a1).post(
        "/api/documents/",
        {"doc_type": "regulation", "title": "x", "org": tree.branch_a1.pk},
        format="json",
    )
    assert r.status_code == 403


def test_bad_input_is_field_errors_and_nothing_saved(api, people, tree):
    r = api(people.author).post(
        "/api/documents/",
        {"doc_type": "record_form", "title": "表", "org": tree.branch_a1.pk},
        format="json",
    )
    assert r.status_code == 400 and "parent" in r.json()["error"]["fields"]
    assert not Document.objects.exists()


def test_stale_draft_edit_is_409(api, make_doc, people):
    v = make_doc().latest_version
    client = api(people.author)
    assert (
        client.patch(
            f"/api/document-versions/{v.pk}/", {"version": v.version, "content": "a"}, format="json"
        ).status_code
        == 200
    )
    r = client.patch(
        f"/api/document-versions/{v.pk}/", {"version": v.version, "content": "b"}, format="json"
    )
    assert r.status_code == 409


def test_revise_and_obsolete(api, make_doc, release, people):
    doc = make_doc()
    release(doc.latest_version)
    r = api(people.author).post(
        f"/api/documents/{doc.pk}/revise/", {"reason": "修订"}, format="json"
    )
    assert r.status_code == 201 and r.json()["label"] == "B/0"
    assert (
        api(people.author)
        .post(f"/api/documents/{doc.pk}/obsolete/", {"reason": "x"}, format="json")
        .status_code
        == 403
    )
    r = api(people.approver).post(
        f"/api/documents/{doc.pk}/obsolete/", {"reason": "废止"}, format="json"
    )
    assert r.status_code == 200 and r.json()["status"] == "obsolete"


def test_someone_elses_acknowledgement(api, make_doc, release, people, users):
    release(make_doc().latest_version)
    ack = Acknowledgement.objects.get()
    # the secretary of A1 sees it (their unit) but may not acknowledge for the member
    assert (
        api(people.author).post(f"/api/acknowledgements/{ack.pk}/acknowledge/").status_code == 403
    )
    assert api(users.secretary_b1).get(f"/api/acknowledgements/{ack.pk}/").status_code == 404


def test_search_by_number_title_and_text(api, make_doc, release, users):
    other = make_doc(Document.Type.REGULATION, title="党费收缴制度", content="按月收缴党费")
    release(other.latest_version)
    client = api(users.member_a1)
    for q in ("DJ-ZD", "dj-zd", "党费收缴", "按月收缴"):
        rows = client.get("/api/documents/", {"search": q}).json()["results"]
        assert [r["number"] for r in rows] == [other.number], q
    assert client.get("/api/documents/", {"search": "没有的词"}).json()["results"] == []


def test_combined_type_in_simplified_mode(api, people, tree):
    from pbqms.documents import modes

    client = api(people.author)
    data = {"doc_type": "combined", "title": "三会一课制度", "org": tree.branch_a1.pk}
    response = client.post("/api/documents/", data, format="json")
    assert response.status_code == 400 and "doc_type" in response.json()["error"]["fields"]
    modes.set_mode(tree.sub_a, actor=people.admin_a, simplified=True)
    response = client.post("/api/documents/", data, format="json")
    assert response.status_code == 201
    assert Document.objects.get(title="三会一课制度").doc_type == "procedure"
