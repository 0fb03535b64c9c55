"""Issue 3's browser scenario against the demo enterprise, in real Chromium: dangwei drafts a
procedure, zhibu1 cannot see the draft, the reviewer and the approver sign, the procedure
takes effect, member1 acknowledges it and the acknowledgement percentage moves."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from pbqms.accounts.models import User
from pbqms.core.roles import Role
from pbqms.documents.models import Document, DocumentVersion
from pbqms.orgs.models import Organization
from tests.factories import grant, make_user

DEMO_PASSWORD = "Pbqms@demo2026"
TITLE = "浏览器测试程序"


@pytest.fixture
def demo(transactional_db, settings):
    settings.DEMO_MODE = True
    call_command("demo", verbosity=0)
    root = Organization.objects.get(code="HHJT")
    reviewer = make_user("shenhe", password=DEMO_PASSWORD, display_name="王审核")
    grant(reviewer, Role.PARTY_WORKER, root)
    approver = make_user("shuji", password=DEMO_PASSWORD, display_name="李书记")
    grant(approver, Role.PARTY_ADMIN, root)
    return reviewer, approver


def sign_in(page, username: str) -> None:
    page.context.clear_cookies()
    page.goto(page.base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("form:has(#id_password) button[type=submit]")
    page.wait_for_load_state()
    assert "/accounts/login" not in page.url


def sign(page) -> None:
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("[data-testid=confirm-action]")
    page.wait_for_load_state()


def ack_percent(page, doc) -> int:
    page.goto(page.base_url + f"/documents/{doc.pk}/?tab=acknowledgements")
    return int(page.locator("[data-testid=ack-percent]").inner_text().strip().rstrip("%"))


def test_procedure_from_draft_to_acknowledgement(demo, page):
    reviewer, approver = demo
    root = Organization.objects.get(code="HHJT")

    # dangwei drafts a procedure with live preview, then chooses reviewer and approver
    sign_in(page, "dangwei")
    page.goto(page.base_url + "/documents/new/")
    form = page.locator("[data-testid=document-form]")
    form.locator("#id_doc_type").select_option("procedure")
    form.locator("#id_title").fill(TITLE)
    form.locator("#id_org").select_option(str(root.pk))
    form.locator("#id_content").fill("# 目的\n\n| 步骤 | 责任人 |\n|---|---|\n| 编制 | 党办 |")
    page.locator("#md-preview table").wait_for(timeout=10_000)  # the live preview
    form.locator("button[type=submit]").first.click()
    page.wait_for_load_state()
    doc = Document.objects.get(title=TITLE)
    assert re.fullmatch(r"DJ-CX-\d{2}", doc.number)
    page.locator("#id_reviewers").select_option([str(reviewer.pk)])
    page.locator("#id_approvers").select_option([str(approver.pk)])
    page.click("[data-testid=save-and-submit]")
    page.wait_for_load_state()
    assert "signature-meaning" in page.content()
    sign(page)
    assert DocumentVersion.objects.get(document=doc).status == "in_review"

    # zhibu1 (a branch secretary) cannot see the committee's draft
    sign_in(page, "zhibu1")
    response = page.goto(page.base_url + f"/documents/{doc.pk}/")
    assert response.status == 404
    page.goto(page.base_url + "/documents/tree/")
    assert doc.number not in page.content()

    # the reviewer finds it among their tasks and signs
    sign_in(page, "shenhe")
    page.goto(page.base_url + "/documents/tasks/")
    page.locator("[data-testid=tasks-review] a.btn").first.click()
    page.wait_for_load_state()
    sign(page)
    assert DocumentVersion.objects.get(document=doc).status == "awaiting_approval"

    # the approver approves with today's date: it takes effect
    sign_in(page, "shuji")
    page.goto(page.base_url + "/documents/tasks/")
    page.locator("[data-testid=tasks-approve] a.btn").first.click()
    page.wait_for_load_state()
    sign(page)
    version = DocumentVersion.objects.get(document=doc)
    assert version.status == "effective"
    assert doc.number in page.locator("h2.page-title").inner_text()
    before = ack_percent(page, doc)
    assert version.acknowledgements.exists()

    # member1 reads it and acknowledges
    member = User.objects.get(username="member1")
    assert version.acknowledgements.filter(person__user=member).exists()
    sign_in(page, "member1")
    page.goto(page.base_url + f"/documents/{doc.pk}/")
    assert "目的" in page.locator("[data-testid=document-content]").inner_text()
    page.click("[data-testid=acknowledge]")
    page.wait_for_load_state()
    assert version.acknowledgements.get(person__user=member).done_at is not None

    # the percentage moved
    sign_in(page, "shuji")
    assert ack_percent(page, doc) > before

    # the PDF export of the version answers with a PDF
    pdf = page.request.get(page.base_url + f"/documents/versions/{version.pk}/export.pdf")
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF-")

    # dangwei switches the group's system to the simplified mode (三合为一) and back
    from django.utils import translation

    from pbqms.documents import modes
    from pbqms.documents.models import DocumentSystemSetting

    with translation.override("zh-hans"):
        merged = str(modes.COMBINED_LABEL)
    sign_in(page, "dangwei")
    page.goto(page.base_url + "/documents/tree/")
    page.click("[data-testid=system-link]")
    row = page.locator(f"[data-testid=system-row-{root.code}]")
    row.locator("input[name=simplified][value='1']").check()
    row.locator(f"[data-testid=system-save-{root.code}]").click()
    page.wait_for_load_state()
    assert DocumentSystemSetting.objects.get(org=root).simplified
    page.screenshot(path="/tmp/pbqms-docs-system.png", full_page=True)
    page.goto(page.base_url + f"/documents/{doc.pk}/")
    assert merged in page.content()
    page.goto(page.base_url + "/documents/new/")
    options = page.locator("#id_doc_type option").all_inner_texts()
    assert merged in options and len(options) == 3
    page.goto(page.base_url + "/documents/system/")
    row = page.locator(f"[data-testid=system-row-{root.code}]")
    row.locator("input[name=simplified][value='0']").check()
    row.locator(f"[data-testid=system-save-{root.code}]").click()
    page.wait_for_load_state()
    page.goto(page.base_url + f"/documents/{doc.pk}/")
    assert merged not in page.content()
    assert Document.objects.get(pk=doc.pk).doc_type == "procedure"
