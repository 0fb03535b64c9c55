"""In real Chromium: a branch secretary finds the task the committee's published plan gave
the branch in the calendar (month navigation by htmx), cannot complete it without a record,
then completes it with the branch's submitted record; the plan's completion per unit shows
it done."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from pbqms.orgs.models import Organization
from pbqms.plans.models import Task
from pbqms.records.models import Record, RecordTemplate
from tests.factories import PASSWORD
from tests.plans.conftest import make_plan

pytestmark = pytest.mark.browser


@pytest.fixture
def setup(transactional_db, tree, users):
    today = timezone.localdate()
    template = RecordTemplate.objects.create(
        code="browser-plans", name="浏览器测试记录", kind="committee_meeting", has_attendance=False
    )
    due = today + dt.timedelta(days=3)
    if due.year != today.year:
        due = dt.date(today.year, 12, 31)
    plan = make_plan(
        users.party_admin,
        tree.root,
        items=[
            {
                "title": "浏览器测试任务",
                "due_on": due,
                "target_kinds": [Organization.Kind.BRANCH],
                "record_template": template,
            }
        ],
        publish=True,
    )
    Record.objects.create(
        org=tree.branch_a1,
        template=template,
        title="支委会记录（浏览器）",
        occurred_at=timezone.now(),
        status=Record.Status.SUBMITTED,
        submitted_at=timezone.now(),
    )
    return plan, due


def _login(page, username):
    page.goto(page.base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form:has(#id_password) button[type=submit]")
    page.wait_for_load_state()


def test_secretary_completes_a_cascaded_task(setup, page, tree):
    plan, due = setup
    _login(page, "sec_a1")
    page.goto(page.base_url + f"/plans/calendar/?year={due.year}&month={due.month}")
    calendar = page.locator("[data-testid=calendar]")
    title = page.locator("[data-testid=calendar-month]").inner_text()
    page.click("[data-testid=next-month]")
    page.wait_for_function(
        "t => document.querySelector('[data-testid=calendar-month]').innerText !== t", arg=title
    )
    assert "month=" in page.url
    page.click("[data-testid=prev-month]")
    page.wait_for_function(
        "t => document.querySelector('[data-testid=calendar-month]').innerText === t", arg=title
    )
    calendar.locator(".pb-cal-grid a", has_text="浏览器测试任务").click()
    page.wait_for_load_state()
    assert "A公司第一党支部" in page.content()
    page.click("[data-testid=complete]")
    page.wait_for_load_state()
    assert page.locator(".invalid-feedback").count() >= 1
    task = Task.objects.get(item__plan=plan, org=tree.branch_a1)
    assert task.status == Task.Status.OPEN
    page.locator("[data-testid=record-choices] label", has_text="支委会记录（浏览器）").click()
    page.click("[data-testid=complete]")
    page.wait_for_load_state()
    assert page.locator("[data-testid=task-done]").is_visible()
    assert page.locator("[data-testid=evidence]").is_visible()
    task.refresh_from_db()
    assert task.status == Task.Status.DONE

    page.context.clear_cookies()
    _login(page, "party_admin")
    page.goto(page.base_url + f"/plans/{plan.pk}/?tab=units")
    row = page.locator("[data-testid=completion-table] tr", has_text="A公司第一党支部")
    assert "100%" in row.inner_text()
