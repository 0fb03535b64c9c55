"""Issue 2's browser scenario, in real Chromium against the demo enterprise:
zhibu1 signs in, sees only their branch's people, adds a person; auditadmin (with TOTP)
finds that addition in the change log."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from pbqms.accounts.models import User
from pbqms.orgs.models import Person
from tests.browser.conftest import ARTIFACTS

DEMO_PASSWORD = "Pbqms@demo2026"
NEW_NAME = "浏览器测试员"


@pytest.fixture
def demo(transactional_db, settings):
    settings.DEMO_MODE = True
    call_command("demo", verbosity=0)


def sign_in(page, username: str) -> None:
    page.goto(page.base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("form:has(#id_password) button[type=submit]")
    page.wait_for_load_state()


def sign_out(page) -> None:
    page.context.clear_cookies()


def test_secretary_adds_person_and_audit_admin_sees_it(demo, page):
    zhibu1 = User.objects.get(username="zhibu1")
    branch = zhibu1.person.org
    own_people = set(
        Person.objects.filter(org__path__startswith=branch.path).values_list("name", flat=True)
    )
    others = (
        set(
            Person.objects.exclude(org__path__startswith=branch.path).values_list("name", flat=True)
        )
        - own_people
    )
    assert own_people and others

    # zhibu1: the people list shows their branch (and its party groups) only
    sign_in(page, "zhibu1")
    assert "/accounts/login" not in page.url
    page.goto(page.base_url + "/orgs/people/?per_page=100")
    names = set(page.locator("table tbody tr td:first-child").all_inner_texts())
    names = {n.strip() for n in names}
    assert names == own_people
    assert not (names & others)
    # another branch's person is not found
    stranger = Person.objects.exclude(org__path__startswith=branch.path).first()
    response = page.goto(page.base_url + f"/orgs/people/{stranger.pk}/")
    assert response.status == 404

    # add a person through the form
    page.goto(page.base_url + "/orgs/people/new/")
    form = page.locator("[data-testid=person-form]")
    form.locator("#id_org").select_option(str(branch.pk))
    form.locator("#id_name").fill(NEW_NAME)
    form.locator("input[name=gender][value=F]").check()
    form.locator("#id_birth_date").fill("1990-05-04")
    form.locator("#id_member_status").select_option("full")
    form.locator("#id_joined_on").fill("2015-07-01")
    form.locator("input[name=posts][value=publicity]").check()
    form.locator("button[type=submit]").first.click()
    page.wait_for_load_state()
    assert page.locator("h2.page-title").inner_text().strip().startswith(NEW_NAME)
    added = Person.objects.get(name=NEW_NAME)
    assert added.org_id == branch.pk
    page.screenshot(path=str(ARTIFACTS / "zhibu1-person-added.png"), full_page=True)
    sign_out(page)

    # auditadmin: TOTP step, then the change log shows who added whom
    sign_in(page, "auditadmin")
    assert "/accounts/otp" in page.url
    device = TOTPDevice.objects.get(user__username="auditadmin", confirmed=True)
    page.fill("#id_token", f"{totp(device.bin_key, step=device.step, digits=device.digits):06d}")
    page.click("form:has(#id_token) button[type=submit]")
    page.wait_for_load_state()
    assert "/accounts/otp" not in page.url
    page.goto(page.base_url + "/changelog/")
    page.fill("#id_q", NEW_NAME)
    page.locator("#id_q").press("Enter")
    page.wait_for_load_state("networkidle")
    rows = page.locator("table tbody tr")
    row = rows.filter(has_text=NEW_NAME).filter(has_text="zhibu1").first
    row.wait_for()
    assert re.search(r"zhibu1", row.inner_text())
    page.screenshot(path=str(ARTIFACTS / "auditadmin-changelog.png"), full_page=True)
