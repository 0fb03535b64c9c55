"""In real Chromium against the demo enterprise with its year of records (``demo_records``):
the branch secretary ``zhibu1`` finds this month's committee meeting open in the due list,
records it from the cell (attendance with one absence and its reason, a photo), submits it,
and the heatmap cell of the month turns done; the party administrator ``dangwei`` sees every
unit of the tree on the board, ``zhibu1`` only their own branch and its groups."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone

from pbqms.orgs.models import Organization
from pbqms.records.services import ensure_builtin_templates
from pbqms.system.models import ConformityResult, Obligation

from .test_records_flow import DEMO_PASSWORD, _png

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(transactional_db, settings, tmp_path):
    settings.DEMO_MODE = True
    settings.MEDIA_ROOT = tmp_path / "media"
    ensure_builtin_templates()  # an earlier transactional test may have flushed them
    call_command("demo", verbosity=0)
    call_command("demo_records", verbosity=0)


def _login(page, username):
    page.goto(page.base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("form:has(#id_password) button[type=submit]")
    page.wait_for_load_state()


def _board_rows(page, query=""):
    page.goto(page.base_url + "/system/conformity/?view=table" + query)
    return page.locator("[data-testid=board-table] tbody tr")


def test_secretary_records_due_meeting_and_the_cell_turns_done(demo, page, tmp_path):
    branch = Organization.objects.get(code="HHJT-01-02")
    committee = Obligation.objects.get(activity__code="committee_meeting")
    today = timezone.localdate()
    month = today.month
    cell = ConformityResult.objects.get(
        org=branch, obligation=committee, period_start=today.replace(day=1)
    )
    assert cell.status in ("upcoming", "missing")

    _login(page, "zhibu1")
    page.goto(page.base_url + "/system/conformity/due/")
    row = page.locator("[data-testid=due-row][data-obligation=committee_meeting]").filter(
        has_text=branch.name
    )
    assert row.get_attribute("data-open") == "1"
    row.locator("[data-testid=due-details]").click()
    page.wait_for_load_state()
    assert page.locator("[data-testid=cell-status]").get_attribute("data-status") in (
        "upcoming",
        "missing",
    )
    page.click("[data-testid=record-it]")
    page.wait_for_load_state()

    form = page.locator("[data-testid=record-form]")
    form.locator("#id_title").fill("本月支委会")
    form.locator("#id_f_place").fill("党员活动室")
    form.locator("#id_f_host").fill("书记")
    form.locator("#id_f_recorder").fill("组织委员")
    form.locator("#id_f_topics").fill("研究发展党员工作")
    form.locator("#id_f_content").fill("会议讨论了本月工作。")
    form.locator("input[name^=att_present_]").last.uncheck()
    form.locator("input[name^=att_reason_]").last.fill("外出培训")
    photo = tmp_path / "现场.png"
    photo.write_bytes(_png())
    form.locator("#id_f_photos").set_input_files(str(photo))
    page.click("[data-testid=save-record]")
    page.wait_for_load_state()
    assert page.locator("[data-testid=status-draft]").is_visible()
    page.click("[data-testid=submit-record]")
    page.click("[data-testid=confirm-submit]")
    page.wait_for_load_state()
    assert page.locator("[data-testid=status-submitted]").is_visible()

    # the board, filtered to the committee meetings: this month's cell is done
    rows = _board_rows(page, f"&obligation={committee.pk}&year={today.year}")
    own = rows.filter(has_text=branch.name)
    cell_td = own.locator("td.pb-cf-cell").nth(month - 1)
    assert cell_td.get_attribute("data-status") in ("met", "late")
    cell.refresh_from_db()
    assert cell.status in ("met", "late") and len(cell.record_ids) == 1
    # the secretary sees only their branch and its groups
    names = set(page.locator("[data-testid=board-table] tbody th").all_inner_texts())
    assert branch.name in names
    assert all(Organization.objects.get(name=n).path.startswith(branch.path) for n in names), names


def test_party_admin_sees_the_whole_tree(demo, page):
    _login(page, "dangwei")
    rows = _board_rows(page)
    names = set(page.locator("[data-testid=board-table] tbody th").all_inner_texts())
    # branches of all three subsidiaries and of the group's own offices
    for code in ("HHJT-B01", "HHJT-01-05", "HHJT-02-02", "HHJT-03-03"):
        assert Organization.objects.get(code=code).name in names
    assert rows.count() >= 16
    # the heatmap itself renders
    page.goto(page.base_url + "/system/conformity/")
    page.wait_for_selector("#cf-chart canvas")
    page.screenshot(path=str(_artifacts() / "conformity-heatmap-dangwei.png"), full_page=True)


def test_party_admin_raises_a_nonconformity_from_a_gap(demo, page):
    from pbqms.improvement.models import Nonconformity

    raised = Nonconformity.objects.values_list("source_id", flat=True)
    gap = (
        ConformityResult.objects.filter(org__code="HHJT-02-02", status="missing")
        .exclude(pk__in=[int(i) for i in raised if i.isdigit()])
        .select_related("org")
        .order_by("-period_start")
        .first()
    )
    _login(page, "dangwei")
    page.goto(
        page.base_url
        + f"/system/conformity/cell/{gap.org_id}/{gap.obligation_id}/{gap.period_start}/"
    )
    form = page.locator("[data-testid=raise-form]")
    assert gap.org.name in form.locator("#id_title").input_value()
    form.locator("#id_severity").select_option("major")
    page.click("[data-testid=raise-nonconformity]")
    page.wait_for_load_state()
    nc = Nonconformity.objects.get(source_id=str(gap.pk))
    assert nc.source_kind == "conformity_gap" and nc.severity == "major"
    assert page.locator("[data-testid=cell-nonconformities]").inner_text().count(nc.number) == 1
    # a justified exception (the demo's overseas branch) offers no nonconformity
    excepted = ConformityResult.objects.get(status="excepted")
    page.goto(
        page.base_url
        + f"/system/conformity/cell/{excepted.org_id}/{excepted.obligation_id}/"
        + f"{excepted.period_start}/"
    )
    assert page.locator("[data-testid=exception]").is_visible()
    assert page.locator("[data-testid=raise-form]").count() == 0


def _artifacts():
    from .conftest import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
