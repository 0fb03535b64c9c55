"""Checklist templates: the list (who may see), a template's page, rename and delete by its
committee's managers only, bad input and stale versions, bounded queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pbqms.audits.models import ChecklistItem, ChecklistTemplate, ChecklistTemplateItem
from pbqms.core.models import ChangeLogEntry
from pbqms.core.roles import Role
from tests.factories import grant, make_user

pytestmark = pytest.mark.django_db
LIST = reverse("audits:template_list")


@pytest.fixture
def template(tree):
    t = ChecklistTemplate.objects.create(name="支部内审检查表", org=tree.root, description="通用")
    for i, (criterion, question) in enumerate(
        [("三会一课", "是否按月召开？"), ("组织生活会", "是否年度召开？")], 1
    ):
        ChecklistTemplateItem.objects.create(
            template=t, position=i, criterion=criterion, question=question
        )
    return t


def test_list_and_page_for_audit_roles(login, users, template):
    client = login(users.auditor)
    listing = client.get(LIST)
    assert listing.status_code == 200 and "支部内审检查表" in listing.content.decode()
    page = client.get(reverse("audits:template_detail", args=[template.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "是否按月召开" in html
    assert 'data-testid="template-form"' not in html  # an auditor does not manage templates
    assert login(users.member_a1).get(LIST).status_code == 403
    assert (
        login(users.member_a1)
        .get(reverse("audits:template_detail", args=[template.pk]))
        .status_code
        == 404
    )
    assert login(users.party_admin).get(LIST, {"q": "没有这个"}).status_code == 200


def test_rename_by_the_committee_bad_input_and_stale(login, users, template):
    url = reverse("audits:template_detail", args=[template.pk])
    client = login(users.party_admin)
    bad = client.post(url, {"name": "", "description": "新说明", "version": template.version})
    assert bad.status_code == 200
    assert "新说明" in bad.content.decode()  # what the user typed stays
    template.refresh_from_db()
    assert template.description == "通用"
    ok = client.post(
        url, {"name": "党支部内审检查表", "description": "", "version": template.version}
    )
    assert ok.status_code == 302
    template.refresh_from_db()
    assert template.name == "党支部内审检查表"
    assert ChangeLogEntry.objects.filter(
        object_type="audits.checklisttemplate", object_id=str(template.pk), action="update"
    ).exists()
    stale = client.post(url, {"name": "旧版本的修改", "version": template.version - 1})
    assert stale.status_code == 200
    template.refresh_from_db()
    assert template.name == "党支部内审检查表"
    # an auditor may see but not change it
    assert (
        login(users.auditor).post(url, {"name": "x", "version": template.version}).status_code
        == 403
    )


def test_delete_only_by_managers_checklists_keep_items(login, users, tree, template, programme):
    from tests.audits.conftest import make_audit

    audit = make_audit(programme, [tree.branch_a1])
    item = ChecklistItem.objects.create(
        audit=audit, criterion="三会一课", question="是否按月召开？", source="template"
    )
    url = reverse("audits:template_delete", args=[template.pk])
    sub_admin = make_user("sub_admin")
    grant(sub_admin, Role.PARTY_ADMIN, tree.sub_a)
    assert login(sub_admin).post(url, {"version": template.version}).status_code == 403
    assert login(users.auditor).post(url, {"version": template.version}).status_code == 403
    assert login(users.member_a1).post(url).status_code == 404
    assert ChecklistTemplate.objects.filter(pk=template.pk).exists()
    response = login(users.party_admin).post(url, {"version": template.version})
    assert response.status_code == 302
    assert not ChecklistTemplate.objects.filter(pk=template.pk).exists()
    assert not ChecklistTemplateItem.objects.filter(template_id=template.pk).exists()
    assert ChecklistItem.objects.filter(pk=item.pk).exists()


def test_list_query_count_is_bounded(login, users, tree):
    client = login(users.party_admin)
    ChecklistTemplate.objects.create(name="T0", org=tree.root)
    with CaptureQueriesContext(connection) as small:
        client.get(LIST)
    for i in range(1, 20):
        t = ChecklistTemplate.objects.create(name=f"T{i}", org=tree.root)
        ChecklistTemplateItem.objects.create(template=t, position=1, criterion="c", question="q")
    with CaptureQueriesContext(connection) as big:
        client.get(LIST)
    assert len(big) == len(small)
