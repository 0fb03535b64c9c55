"""An action opens a revision of the document it concerns (the link kept both ways)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pbqms.core.context import action_context
from pbqms.documents.models import Document, DocumentVersion
from pbqms.improvement import services
from pbqms.improvement.models import CorrectiveAction
from tests.improvement.conftest import S


@pytest.fixture
def document(tree, users):
    with action_context(source="test"):
        doc = Document.objects.create(
            number="ZD-101",
            title="支委会会议制度",
            doc_type="regulation",
            org=tree.root,
            status="effective",
        )
        version = DocumentVersion.objects.create(
            document=doc,
            title=doc.title,
            status="effective",
            content="正文",
            author=users.party_admin,
        )
        doc.effective_version = version
        doc.save()
        doc.applies_to.set([tree.root])
    return doc


def test_action_opens_a_revision(drive, ncp, document, login, users):
    nc = drive(S.IMPLEMENTING, verify_in=20)
    action = nc.actions.get()
    content_type, object_id = services._generic(document)
    CorrectiveAction.objects.filter(pk=action.pk).update(
        document_type=content_type, document_id=object_id
    )
    action.refresh_from_db()
    # the branch secretary may not draft the group's documents: no button, refused
    page = login(ncp.secretary).get(reverse("improvement:nc_detail", args=[nc.pk]))
    assert 'data-testid="revise-document"' not in page.content.decode()
    url = reverse("improvement:action_revise_document", args=[action.pk])
    r = login(ncp.secretary).post(url)
    assert r.status_code == 403
    assert document.versions.count() == 1
    # the committee's administrator opens the revision from the action
    c = login(users.party_admin)
    page = c.get(reverse("improvement:nc_detail", args=[nc.pk]))
    assert 'data-testid="revise-document"' in page.content.decode()
    r = c.post(url)
    assert r.status_code == 302
    revision = document.versions.exclude(status="effective").get()
    assert nc.number in revision.change_reason
    # both ways: the action still points at the document, the document finds the action
    assert list(CorrectiveAction.objects.for_document(document)) == [action]
    # a second revision while one is open is refused (the documents app's rule)
    r = c.post(url)
    assert r.status_code == 302 and document.versions.count() == 2
    # someone who cannot see the nonconformity: 404
    assert login(users.secretary_b1).post(url).status_code == 404


def test_document_page_lists_the_actions_concerning_it(drive, ncp, document, login, users):
    nc = drive(S.IMPLEMENTING, verify_in=20)
    action = nc.actions.get()
    page_url = reverse("documents:detail", args=[document.pk]) + "?tab=links"
    before = login(users.party_admin).get(page_url).content.decode()
    assert 'data-testid="concerning-actions"' not in before
    content_type, object_id = services._generic(document)
    CorrectiveAction.objects.filter(pk=action.pk).update(
        document_type=content_type, document_id=object_id
    )
    html = login(users.party_admin).get(page_url).content.decode()
    assert 'data-testid="concerning-actions"' in html and nc.number in html
    # a reader who may not see the nonconformity sees the document, not the action
    other = login(users.secretary_b1).get(page_url)
    assert other.status_code == 200
    assert nc.number not in other.content.decode()
