"""In real Chromium against the demo enterprise (``demo_objectives``): the party
administrator ``dangwei`` reads the group's policy, sees the attainment chart and the
year-over-year trend of a branch; the branch secretary ``zhibu1`` enters the branch's value
of a manual indicator and finds it on the attainment page; the process map opens a
process with its chain (rule → plan → records → checks → findings)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone

from pbqms.objectives.models import Indicator, Measurement
from pbqms.orgs.models import Organization
from pbqms.records.services import ensure_builtin_templates

from .test_records_flow import DEMO_PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(transactional_db, settings):
    settings.DEMO_MODE = True
    ensure_builtin_templates()  # an earlier transactional test may have flushed them
    call_command("demo", verbosity=0)
    call_command("demo_objectives", verbosity=0)


def _login(page, username):
    page.goto(page.base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("form:has(#id_password) button[type=submit]")
    page.wait_for_load_state()


def test_policy_attainment_value_and_process_chain(demo, page):
    year = timezone.localdate().year
    branch = Organization.objects.get(code="HHJT-01-02")
    _login(page, "dangwei")
    page.goto(page.base_url + "/objectives/")
    assert page.locator("[data-testid=policy-statement]").is_visible()
    assert page.locator("[data-testid=objective-card]").count() == 3
    page.goto(page.base_url + f"/objectives/attainment/?org={branch.pk}&year={year}")
    page.wait_for_selector("#attainment-chart canvas")
    page.wait_for_selector("#trend-chart canvas")
    assert page.locator("[data-testid=trend-table] thead th").count() == 3  # indicator + 2 years

    # the secretary enters the branch's value of a manual indicator
    context = page.context
    context.clear_cookies()
    _login(page, "zhibu1")
    indicator = Indicator.objects.get(code="I2", objective__policy__year=year)
    page.goto(page.base_url + f"/objectives/indicators/{indicator.pk}/")
    page.click("[data-testid=enter-value]")
    page.select_option("#id_org", str(branch.pk))
    page.fill("#id_value", "99.5")
    page.fill("#id_note", "支部学习台账统计")
    page.click("[data-testid=save]")
    page.wait_for_load_state()
    assert Measurement.objects.get(indicator=indicator, org=branch).value == 99.5
    page.goto(page.base_url + f"/objectives/attainment/?year={year}&view=table")
    row = page.locator("[data-testid=attainment-table] tr").filter(has_text="党员学习教育参学率")
    assert "99.5" in row.inner_text()

    # the process map and one process's chain
    page.goto(page.base_url + "/processes/")
    page.locator("[data-testid=process-card]").filter(has_text="组织生活").click()
    page.wait_for_selector("[data-testid=process-chain]")
    for step in ("rule", "plan", "records", "checks", "findings"):
        assert page.locator(f"[data-testid=chain-{step}]").is_visible()
    assert "支部委员会会议" in page.locator("[data-testid=chain-rule]").inner_text()
