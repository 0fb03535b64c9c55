"""The starter set: a manual outline and one procedure per main process, as drafts."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from pbqms.documents import starter
from pbqms.documents.models import Document, DocumentVersion


def test_generates_numbered_drafts_under_the_manual(people, tree):
    made = starter.generate(actor=people.admin_a, org=tree.sub_a)
    manual = made[0]
    assert manual.doc_type == "manual" and manual.number == "DJ-SC-01"
    procedures = [d for d in made if d.doc_type == "procedure"]
    assert len(procedures) == len(starter.PROCEDURES)
    assert all(p.parent_id == manual.pk for p in procedures)
    forms = [d for d in made if d.doc_type == "record_form"]
    assert forms and all(f.number.startswith("DJ-JL-") for f in forms)
    assert "文件控制程序" in {p.title for p in procedures}
    # nothing is effective; every version is a draft by the actor
    assert not Document.objects.in_master_list().exists()
    assert set(DocumentVersion.objects.values_list("status", flat=True)) == {"draft"}
    assert set(DocumentVersion.objects.values_list("author", flat=True)) == {people.admin_a.pk}
    assert "三会一课" in procedures[2].latest_version.content


def test_members_do_not_see_the_drafts(people, users, tree):
    starter.generate(actor=people.approver, org=tree.root)
    assert not Document.objects.visible_to(users.member_a1).exists()
    assert not Document.objects.visible_to(users.secretary_a1).exists()


def test_second_run_is_refused(people, tree):
    starter.generate(actor=people.admin_a, org=tree.sub_a)
    with pytest.raises(ValidationError):
        starter.generate(actor=people.admin_a, org=tree.sub_a)


def test_only_document_administrators(people, users, tree):
    with pytest.raises(PermissionDenied):
        starter.generate(actor=users.secretary_a1, org=tree.branch_a1)


def test_starter_page(people, users, tree, login):
    url = reverse("documents:starter")
    assert login(users.secretary_a1).get(url).status_code == 403
    client = login(people.admin_a)
    assert "文件控制程序" in client.get(url).content.decode()
    response = client.post(url, {"org": tree.sub_b.pk})  # outside A's scope
    assert response.status_code == 200 and not Document.objects.exists()
    assert client.post(url, {"org": tree.sub_a.pk}).status_code == 302
    assert Document.objects.filter(org=tree.sub_a).count() > 10
    again = client.post(url, {"org": tree.sub_a.pk})
    assert again.status_code == 200 and "alert-danger" in again.content.decode()
