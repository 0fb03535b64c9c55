"""Issue 5's browser scenario against the demo enterprise, in real Chromium: dangwei creates
an audit programme and accepts the proposed cross-audit team; auditor1 fills the checklist
and records a nonconformity against zhibu1's branch; zhibu1 analyses it and plans an
action; the committee approves the plan; zhibu1 reports the action done; auditor1 verifies
it effective with an e-signature and it closes; the management review's frozen inputs show
it closed."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from pbqms.audits.models import Audit, AuditorQualification, AuditProgramme, ChecklistItem
from pbqms.improvement.models import CorrectiveAction, Nonconformity
from pbqms.orgs.models import Organization, Person
from pbqms.reviews.models import ManagementReview

from .conftest import ARTIFACTS

DEMO_PASSWORD = "Pbqms@demo2026"
BRANCH = "HHJT-01-02"  # zhibu1's branch
NC_TITLE = "支委会会议记录缺少决议事项"


@pytest.fixture
def demo(transactional_db, settings):
    settings.DEMO_MODE = True
    call_command("demo", verbosity=0)
    today = timezone.localdate()
    auditor = Person.objects.get(user__username="auditor1")
    # auditor1 is a trained and qualified internal auditor (内审员) of the group
    AuditorQualification.objects.create(
        person=auditor,
        course="党建质量管理体系内审员培训",
        certificate_no="NS-2026-001",
        certified_on=datetime.date(today.year, 1, 1),
        valid_until=datetime.date(today.year + 2, 12, 31),
    )
    return auditor


def sign_in(page, username: str) -> None:
    page.context.clear_cookies()
    page.goto(page.base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("form:has(#id_password) button[type=submit]")
    page.wait_for_load_state()
    assert "/accounts/login" not in page.url


def submit(page, selector: str) -> None:
    page.locator(selector).click()
    page.wait_for_load_state()


def follow(page, selector: str) -> None:
    """Open a link that may sit in a tab not shown yet."""
    page.goto(page.base_url + page.locator(selector).first.get_attribute("href"))


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(ARTIFACTS) / f"audit-cycle-{name}.png"), full_page=True)


def test_audit_cycle_to_management_review(demo, page):
    auditor = demo
    today = timezone.localdate()
    root = Organization.objects.get(code="HHJT")
    branch = Organization.objects.get(code=BRANCH)

    # --- dangwei: a programme, an audit of zhibu1's branch, the proposed team accepted
    sign_in(page, "dangwei")
    page.goto(page.base_url + "/audits/programmes/new/")
    form = page.locator("form:has(#id_title)")
    form.locator("#id_title").fill(f"{today.year}年度内部审核方案（浏览器测试）")
    form.locator("#id_scope_units").select_option([str(branch.pk)])
    form.locator("#id_team_size").fill("1")
    form.locator("button[type=submit]").first.click()
    page.wait_for_load_state()
    programme = AuditProgramme.objects.get(title__contains="浏览器测试")
    assert programme.org == root
    page.goto(page.base_url + f"/audits/programmes/{programme.pk}/audits/new/")
    form = page.locator("form:has(#id_audited_units)")
    form.locator("#id_audited_units").select_option([str(branch.pk)])
    form.locator("#id_planned_month").select_option(str(today.month))
    form.locator("button[type=submit]").first.click()
    page.wait_for_load_state()
    audit = Audit.objects.get(programme=programme)
    page.goto(page.base_url + f"/audits/programmes/{programme.pk}/propose/")
    row = page.locator(f"[data-testid=proposal-table] tr[data-audit='{audit.pk}']")
    assert auditor.name in row.inner_text()  # proposed: independent of the branch, qualified
    shot(page, "1-proposal")
    submit(page, "[data-testid=proposal-form] button[type=submit]")
    audit.refresh_from_db()
    assert audit.lead_auditor == auditor

    # --- auditor1: starts the audit, fills the checklist, raises the nonconformity
    sign_in(page, "auditor1")
    page.goto(page.base_url + f"/audits/{audit.pk}/")
    page.locator("[data-testid=audit-transitions] button", has_text="开始").click()
    page.wait_for_load_state()
    audit.refresh_from_db()
    assert audit.status == Audit.Status.IN_PROGRESS
    page.goto(page.base_url + f"/audits/{audit.pk}/checklist/")
    add = page.locator("[data-testid=checklist-add]")
    add.locator("#id_criterion").fill("《中国共产党支部工作条例（试行）》第十五条")
    add.locator("#id_question").fill("支委会会议记录是否完整记载议题和决议？")
    add.locator("button[type=submit]").click()
    page.wait_for_load_state()
    item = ChecklistItem.objects.get(audit=audit, criterion__contains="第十五条")
    row = page.locator("[data-testid=checklist-table] tr", has_text="第十五条")
    row.locator("select[name$=result]").select_option("minor")
    row.locator("textarea[name$=evidence]").fill(
        "抽查2026年第三季度支委会会议记录，3次会议均未记录决议事项。"
    )
    row.locator("button[type=submit]", has_text="保存").click()
    page.wait_for_load_state()
    row = page.locator("[data-testid=checklist-table] tr", has_text="第十五条")
    raise_form = row.locator("[data-testid=raise-form]")
    raise_form.locator("input[name$=title]").fill(NC_TITLE)
    raise_form.locator("input[name$=correction_due]").fill(
        (today + datetime.timedelta(days=30)).isoformat()
    )
    raise_form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    nc = Nonconformity.objects.get(title=NC_TITLE)
    assert nc.org == branch and nc.source_kind == Nonconformity.Source.INTERNAL_AUDIT
    item.refresh_from_db()
    assert item.nonconformity_id == nc.pk
    shot(page, "2-checklist")

    # --- zhibu1: analyses (5 whys) and plans a corrective action
    sign_in(page, "zhibu1")
    page.goto(page.base_url + f"/improvement/nonconformities/{nc.pk}/")
    submit(page, "[data-testid=edit-analysis]")
    form = page.locator("[data-testid=analysis-form]")
    form.locator("#id_why_1").fill("会议记录由组织委员临时记录，没有统一格式")
    form.locator("#id_why_2").fill("支部未使用记录表格模板")
    form.locator("#id_root_cause").fill("支部未建立支委会会议记录的格式和审核要求")
    submit(page, "[data-testid=finish-analysis]")
    nc.refresh_from_db()
    assert nc.status == Nonconformity.Status.ACTION_PLANNING
    submit(page, "[data-testid=add-action]")
    form = page.locator("[data-testid=action-form]")
    form.locator("input[name=kind][value=corrective]").check()
    form.locator("#id_description").fill("启用支委会会议记录表，书记逐次审核签字")
    form.locator("#id_owner").select_option(str(Person.objects.get(user__username="zhibu1").pk))
    form.locator("#id_due_on").fill(today.isoformat())
    form.locator("#id_verify_on").fill((today + datetime.timedelta(days=1)).isoformat())
    form.locator("#id_success_criteria").fill("此后每次支委会记录均有决议事项和书记签字")
    submit(page, "[data-testid=action-form] [data-testid=save]")
    submit(page, "[data-testid=step-submit_plan]")
    nc.refresh_from_db()
    assert nc.status == Nonconformity.Status.ACTION_APPROVAL

    # --- dangwei (the committee) approves the plan with an e-signature
    sign_in(page, "dangwei")
    page.goto(page.base_url + f"/improvement/nonconformities/{nc.pk}/")
    submit(page, "[data-testid=step-approve_plan]")
    page.fill("#id_password", DEMO_PASSWORD)
    submit(page, "[data-testid=confirm-step]")
    nc.refresh_from_db()
    assert nc.status == Nonconformity.Status.IMPLEMENTING

    # --- zhibu1 carries it out
    sign_in(page, "zhibu1")
    page.goto(page.base_url + f"/improvement/nonconformities/{nc.pk}/")
    follow(page, "[data-testid=action-complete]")
    page.locator("[data-testid=step-form] #id_note").fill("已启用会议记录表，逐次审核签字")
    submit(page, "[data-testid=confirm-step]")
    nc.refresh_from_db()
    assert nc.status == Nonconformity.Status.VERIFICATION

    # the verification date has come: the calendar is moved back a day instead of waiting
    yesterday = today - datetime.timedelta(days=1)
    Nonconformity.objects.filter(pk=nc.pk).update(raised_on=yesterday)
    CorrectiveAction.objects.filter(nonconformity=nc).update(
        due_on=yesterday, verify_on=today, completed_on=yesterday
    )

    # --- auditor1 verifies it effective (e-signature): it closes
    sign_in(page, "auditor1")
    page.goto(page.base_url + f"/improvement/nonconformities/{nc.pk}/")
    follow(page, "[data-testid=action-verify]")
    page.locator("input[name=result][value=effective]").check()
    page.fill("#id_password", DEMO_PASSWORD)
    submit(page, "[data-testid=confirm-step]")
    nc.refresh_from_db()
    assert nc.status == Nonconformity.Status.CLOSED
    shot(page, "3-closed")

    # --- dangwei: the management review's frozen inputs show it closed
    sign_in(page, "dangwei")
    page.goto(page.base_url + "/reviews/new/")
    form = page.locator("[data-testid=review-form]")
    assert form.locator("#id_org").input_value() == str(root.pk)  # the committee, preselected
    form.locator("#id_title").fill(f"{today.year}年度管理评审（浏览器测试）")
    chair = Person.objects.get(user__username="dangwei")
    form.locator("#id_chair").select_option(str(chair.pk))
    form.locator("#id_attendees").select_option([str(chair.pk)])
    submit(page, "[data-testid=review-form] button[type=submit]")
    review = ManagementReview.objects.get(title__contains="浏览器测试")
    submit(page, "[data-testid=compile-inputs]")
    review.refresh_from_db()
    assert review.status == ManagementReview.Status.INPUTS_FROZEN
    inputs = page.locator("[data-testid=input-ncs]")
    nc_row = inputs.locator("tr", has_text=nc.number)
    assert "已关闭" in nc_row.inner_text()
    audits = page.locator("[data-testid=input-audits]")
    assert audit.number in audits.inner_text()
    page.locator(".pb-review-chart canvas").first.wait_for()
    shot(page, "4-review")
