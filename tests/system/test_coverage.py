"""Requirement coverage: requirements × documents (those the viewer may open), processes and
obligations; gaps and orphan documents; linking documents (who may, bad input, change log);
the page and ``/api/coverage/`` with bounded query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pbqms.core.models import ChangeLogEntry
from pbqms.documents.models import Document
from pbqms.processes.models import Process
from pbqms.system import coverage
from pbqms.system.models import DocumentRequirement, Requirement
from tests.documents.conftest import make_doc, people, release  # noqa: F401

pytestmark = pytest.mark.django_db
T = Document.Type


@pytest.fixture
def docs(make_doc, release, requirement):  # noqa: F811
    manual = make_doc(T.MANUAL, title="质量手册")
    release(manual.latest_version)
    procedure = make_doc(T.PROCEDURE, title="会议程序", parent=manual)
    release(procedure.latest_version)
    manual.refresh_from_db()
    procedure.refresh_from_db()
    return manual, procedure


def req(code):
    return Requirement.objects.get(code=code)


def test_matrix_gaps_and_orphans(users, tree, theme_day, docs):
    manual, procedure = docs
    DocumentRequirement.objects.create(requirement=req("ISO9001-7.5"), document=manual)
    process = Process.objects.create(org=tree.root, code="P01", name="组织生活过程")
    process.requirements.add(req("ISO9001-8.1"))
    rows = {r.requirement.code: r for r in coverage.matrix(users.party_admin)}
    assert rows["ISO9001-7.5"].documents[0]["id"] == manual.pk
    assert rows["ISO9001-8.1"].processes[0]["code"] == "P01"
    assert rows["DJ-ZTDR"].obligations[0]["id"] == theme_day.pk
    assert rows["ISO9001-4.1"].is_gap and not rows["ISO9001-7.5"].is_gap
    gaps = coverage.matrix(users.party_admin, gaps_only=True)
    assert {r.requirement.code for r in gaps} == {c for c, r in rows.items() if r.is_gap}
    assert list(coverage.orphan_documents(users.party_admin)) == [procedure]
    # a document governing a process that addresses a requirement is no orphan
    process.documents.add(procedure)
    assert list(coverage.orphan_documents(users.party_admin)) == []
    # another branch's secretary does not see branch A1's documents in the matrix
    other = {r.requirement.code: r for r in coverage.matrix(users.secretary_b1)}
    assert other["ISO9001-7.5"].documents == []


def test_coverage_page(login, users, tree, theme_day, docs):
    manual, procedure = docs
    DocumentRequirement.objects.create(requirement=req("ISO9001-7.5"), document=manual)
    client = login(users.party_admin)
    response = client.get(reverse("system:coverage"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-code="ISO9001-7.5" data-gap="0"' in html
    assert 'data-code="ISO9001-4.1" data-gap="1"' in html
    assert 'data-testid="orphans"' in html and procedure.number in html
    gaps = client.get(reverse("system:coverage"), {"gaps": "1"}).content.decode()
    assert 'data-code="ISO9001-7.5"' not in gaps and 'data-code="ISO9001-4.1"' in gaps
    # odd input: no 500
    assert client.get(reverse("system:coverage"), {"source": "x", "page": "zz"}).status_code == 200
    # no role: 403
    assert login(users.nobody).get(reverse("system:coverage")).status_code == 403


def test_coverage_query_count_is_bounded(login, users, tree, theme_day, docs):
    manual, _procedure = docs
    client = login(users.party_admin)
    DocumentRequirement.objects.create(requirement=req("ISO9001-7.5"), document=manual)
    client.get(reverse("system:coverage"))
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("system:coverage"))
    for code in ("ISO9001-4.1", "ISO9001-4.2", "ISO9001-5.1", "DJ-DK"):
        DocumentRequirement.objects.create(requirement=req(code), document=manual)
        p = Process.objects.create(org=tree.root, code=code[-4:], name=code)
        p.requirements.add(req(code))
    with CaptureQueriesContext(connection) as large:
        client.get(reverse("system:coverage"))
    assert len(large) == len(small)


def test_link_documents_from_the_requirement_page(login, users, tree, docs):
    manual, procedure = docs
    requirement = req("ISO9001-7.5")
    url = reverse("system:requirement_detail", args=[requirement.pk])
    # a secretary may view but not link
    sec = login(users.secretary_a1)
    page = sec.get(url)
    assert page.status_code == 200 and "document-links-form" not in page.content.decode()
    assert sec.post(url, {"documents": [manual.pk]}).status_code == 403
    client = login(users.party_admin)
    assert "document-links-form" in client.get(url).content.decode()
    # bad input: an unknown document → inline error, nothing saved
    response = client.post(url, {"documents": [manual.pk, 999999]})
    assert response.status_code == 200 and "invalid-feedback" in response.content.decode()
    assert not DocumentRequirement.objects.exists()
    before = ChangeLogEntry.objects.count()
    response = client.post(url, {"documents": [manual.pk, procedure.pk]})
    assert response.status_code == 302
    assert set(
        DocumentRequirement.objects.filter(requirement=requirement).values_list(
            "document_id", flat=True
        )
    ) == {manual.pk, procedure.pk}
    assert ChangeLogEntry.objects.count() == before + 2
    # remove one
    client.post(url, {"documents": [manual.pk]})
    assert list(DocumentRequirement.objects.values_list("document_id", flat=True)) == [manual.pk]


def test_coverage_api(login, users, tree, theme_day, docs):
    manual, procedure = docs
    DocumentRequirement.objects.create(requirement=req("ISO9001-7.5"), document=manual)
    client = login(users.party_admin)
    data = client.get("/api/coverage/", {"source": "iso9001"}).json()
    rows = {r["code"]: r for r in data["results"]}
    assert rows["ISO9001-7.5"]["documents"][0]["id"] == manual.pk
    assert rows["ISO9001-4.1"]["is_gap"] is True
    gaps = client.get("/api/coverage/", {"gaps": "1", "page_size": 200}).json()
    assert all(r["is_gap"] for r in gaps["results"])
    assert "DJ-ZTDR" not in {r["code"] for r in gaps["results"]}
    orphans = client.get("/api/coverage/orphans/").json()
    assert [o["id"] for o in orphans["results"]] == [procedure.pk]
    assert client.get("/api/coverage/", {"source": "bogus"}).status_code == 400
    assert login(users.nobody).get("/api/coverage/").status_code == 403
    # the other resource paths of the area exist
    admin = login(users.party_admin)
    for path in (
        "/api/obligations/",
        "/api/record-templates/",
        "/api/records/",
        "/api/conformity/",
        "/api/requirements/",
    ):
        assert admin.get(path).status_code == 200, path


def test_processes_of_other_units_are_not_shown(login, users, tree):
    """A branch sees the processes of its own unit and of the committees above it, never a
    sister branch's, in the matrix and on the requirement page."""
    root_process = Process.objects.create(org=tree.root, code="P-ROOT", name="集团过程")
    root_process.requirements.add(req("ISO9001-8.1"))
    b1_process = Process.objects.create(org=tree.branch_b1, code="P-B1", name="B1支部自有过程")
    b1_process.requirements.add(req("ISO9001-8.1"), req("ISO9001-4.1"))
    rows = {r.requirement.code: r for r in coverage.matrix(users.secretary_a1)}
    assert [p["code"] for p in rows["ISO9001-8.1"].processes] == ["P-ROOT"]
    assert rows["ISO9001-4.1"].processes == []
    own = {r.requirement.code: r for r in coverage.matrix(users.secretary_b1)}
    assert {p["code"] for p in own["ISO9001-8.1"].processes} == {"P-ROOT", "P-B1"}
    page = login(users.secretary_a1).get(
        reverse("system:requirement_detail", args=[req("ISO9001-8.1").pk])
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert "P-ROOT" in html and "P-B1" not in html
