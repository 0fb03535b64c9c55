"""In real Chromium against the demo enterprise: zhibu1 records a branch committee meeting
with attendance (one absence with its reason) and a photo, submits it, and finds it locked
with its quorum badge; a text file renamed .png is refused on the way."""

from __future__ import annotations

import struct
import zlib

import pytest
from django.core.management import call_command

from pbqms.records.models import Record
from pbqms.records.services import ensure_builtin_templates

pytestmark = pytest.mark.browser

DEMO_PASSWORD = "Pbqms@demo2026"


def _png() -> bytes:
    width, height = 8, 8
    raw = b"".join(b"\x00" + b"\xc8\x28\x28" * width for _ in range(height))

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def demo(transactional_db, settings, tmp_path):
    settings.DEMO_MODE = True
    settings.MEDIA_ROOT = tmp_path / "media"
    # an earlier transactional test may have flushed the rows of the data migration
    ensure_builtin_templates()
    call_command("demo", verbosity=0)


def test_secretary_records_and_submits_a_committee_meeting(demo, page, tmp_path):
    page.goto(page.base_url + "/accounts/login/")
    page.fill("#id_username", "zhibu1")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("form:has(#id_password) button[type=submit]")
    page.wait_for_load_state()

    page.goto(page.base_url + "/records/")
    page.click("[data-testid=new-record]")
    page.locator("label.form-selectgroup-item", has_text="支部委员会会议").click()
    page.click("[data-testid=choose-template]")
    page.wait_for_load_state()
    form = page.locator("[data-testid=record-form]")
    form.locator("#id_title").fill("浏览器测试支委会")
    form.locator("#id_f_place").fill("党员活动室")
    form.locator("#id_f_host").fill("书记")
    form.locator("#id_f_recorder").fill("组织委员")
    form.locator("#id_f_topics").fill("研究发展党员工作")
    form.locator("#id_f_content").fill("会议讨论了……")
    # the last person is absent: first without a reason (refused), then with one
    last_present = form.locator("input[name^=att_present_]").last
    last_present.uncheck()
    bad = tmp_path / "scan.png"
    bad.write_text("not an image")
    form.locator("#id_f_photos").set_input_files(str(bad))
    page.click("[data-testid=save-record]")
    page.wait_for_load_state()
    assert page.locator("[data-testid=form-errors]").is_visible()
    assert page.locator("text=scan.png").count() >= 1
    assert form.locator("#id_f_place").input_value() == "党员活动室"
    assert not Record.objects.exists()

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
    assert page.locator("[data-testid=quorum-met], [data-testid=quorum-missed]").count() == 1
    record = Record.objects.get(title="浏览器测试支委会")
    assert record.status == "submitted"
    present, total = record.attendance_summary()
    assert total >= 2 and present == total - 1
    assert record.attachments.get().content_type == "image/png"
    assert page.locator("[data-testid=edit-record]").count() == 0
