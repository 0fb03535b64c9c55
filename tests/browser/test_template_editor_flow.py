"""In real Chromium: a party committee administrator builds a record template, adding field
rows in the page (no save in between), and the template keeps every field in order."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from pbqms.records.models import RecordTemplate
from pbqms.records.services import ensure_builtin_templates

pytestmark = pytest.mark.browser

DEMO_PASSWORD = "Pbqms@demo2026"


@pytest.fixture
def demo(transactional_db, settings, tmp_path):
    settings.DEMO_MODE = True
    settings.MEDIA_ROOT = tmp_path / "media"
    ensure_builtin_templates()
    call_command("demo", verbosity=0)


def test_admin_adds_field_rows_in_the_page(demo, page):
    page.goto(page.base_url + "/accounts/login/")
    page.fill("#id_username", "dangwei")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("form:has(#id_password) button[type=submit]")
    page.wait_for_load_state()

    page.goto(page.base_url + "/records/templates/new/")
    rows = page.locator("[data-testid=field-rows] tbody [data-testid=field-row]")
    assert rows.count() == 3
    page.fill("#id_name", "志愿服务记录")
    page.fill("#id_code", "volunteer_service")
    page.click("[data-testid=add-field]")
    page.click("[data-testid=add-field]")
    assert rows.count() == 5
    assert page.input_value("#id_fields-TOTAL_FORMS") == "5"
    names = ["place", "hours", "volunteers", "summary", "photo"]
    labels = ["地点", "时长（小时）", "参加人员", "服务情况", "现场照片"]
    types = ["text", "number", "people", "textarea", "file"]
    for i, (name, label, kind) in enumerate(zip(names, labels, types, strict=True)):
        page.fill(f"#id_fields-{i}-name", name)
        page.fill(f"#id_fields-{i}-label", label)
        page.select_option(f"#id_fields-{i}-type", kind)
    page.click("[data-testid=save-template]")
    page.wait_for_load_state()
    template = RecordTemplate.objects.get(code="volunteer_service")
    assert [f["name"] for f in template.fields] == names
    assert [f["type"] for f in template.fields] == types
