"""The audit administrator's change-log pages: list, filters, detail with diff, verify."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection

from pbqms.core.changelog import log_security_event, verify_chain
from pbqms.core.context import action_context
from pbqms.core.models import ChangeLogEntry
from pbqms.orgs import services

LIST = "/changelog/"


def detail(entry) -> str:
    return f"/changelog/{entry.pk}/"


def listed_ids(response) -> list[int]:
    return [e.pk for e in response.context["entries"]]


def test_audit_admin_sees_the_log_and_the_menu_item(client, users, login):
    login(users.audit_admin)
    response = client.get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/changelog/"' in html  # menu item
    ids = listed_ids(response)
    assert ids == sorted(ids, reverse=True)
    assert ids[0] == ChangeLogEntry.objects.order_by("-id").first().pk
    assert response.context["page"].paginator.count == ChangeLogEntry.objects.count()


@pytest.mark.parametrize(
    "who", ["party_admin", "system_admin", "security_admin", "secretary_a1", "nobody"]
)
def test_others_are_forbidden_and_have_no_menu_item(client, users, login, who):
    login(getattr(users, who))
    entry = ChangeLogEntry.objects.first()
    assert client.get(LIST).status_code == 403
    assert client.get(detail(entry)).status_code == 403
    assert client.get("/changelog/verify/").status_code == 403
    assert 'href="/changelog/"' not in client.get("/").content.decode()


def test_anonymous_is_sent_to_sign_in(client, tree):
    response = client.get(LIST)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_nothing_can_be_posted(client, users, login):
    login(users.audit_admin)
    entry = ChangeLogEntry.objects.first()
    for url in (LIST, detail(entry), "/changelog/verify/"):
        assert client.post(url, {"reason": "x"}).status_code == 405
    assert client.delete(detail(entry)).status_code == 405
    assert verify_chain().ok


def test_filters(client, users, login, tree):
    with action_context(actor=users.party_admin, source="ui", reason="整改"):
        services.update_unit(
            actor=users.party_admin, unit=tree.branch_a2, data={"name": "改名支部"}, version=1
        )
    log_security_event("login_failed", username="ghost", outcome="failure")
    login(users.audit_admin)

    def entries(**params):
        response = client.get(LIST, {"per_page": 100, **params})
        assert response.status_code == 200
        assert not response.context["form"].errors, response.context["form"].errors
        return response.context["entries"]

    assert {e.actor_repr for e in entries(actor_name="party_ad")} == {"party_admin"}
    assert {e.action for e in entries(action="login_failed")} == {"login_failed"}
    assert all(e.is_security_event for e in entries(security="true"))
    assert not any(e.is_security_event for e in entries(security="false"))
    assert {e.object_type for e in entries(object_type="orgs.person")} == {"orgs.person"}
    found = entries(q="改名支部")
    assert [e.action for e in found] == ["update"]
    assert [
        e.object_id for e in entries(q=str(tree.branch_a2.pk), object_type="orgs.organization")
    ] == [str(tree.branch_a2.pk)] * 2
    assert {e.outcome for e in entries(outcome="failure")} == {"failure"}
    today = datetime.date.today().isoformat()
    assert entries(date_from=today, date_to=today)
    assert entries(date_to="2000-01-01") == []
    # empty selects mean "all"
    assert len(entries(action="", outcome="", object_type="")) == min(
        100, ChangeLogEntry.objects.count()
    )
    same_request = entries(request_id=found[0].request_id)
    assert found[0].pk in [e.pk for e in same_request]


def test_bad_filter_values_show_errors_not_500(client, users, login):
    login(users.audit_admin)
    for params in (
        {"action": "explode"},
        {"date_from": "yesterday"},
        {"object_type": "no.such"},
        {"date_to": "9999-12-31", "date_from": "0001-01-01"},
        {"page": "abc"},
        {"per_page": "7"},
    ):
        response = client.get(LIST, params)
        assert response.status_code == 200, params


def test_htmx_gets_only_the_table(client, users, login):
    login(users.audit_admin)
    response = client.get(LIST, {"page": 1}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="changelog-table"' in html
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_list_query_count_does_not_grow(client, users, login):
    """The same number of queries for 10 and for 500 more entries, 100 on the page."""
    from tests.api.conftest import count_queries

    login(users.audit_admin)

    def add(n):
        for i in range(n):
            log_security_event("login_failed", username=f"u{i}", outcome="failure")

    def get(**params):
        response = client.get(LIST, {"per_page": 100, **params})
        assert response.status_code == 200
        assert len(response.context["entries"]) == 100 or params
        return response

    add(100)
    small = count_queries(get)
    filtered_small = count_queries(lambda: get(security="true", q="u1"))
    add(400)
    assert count_queries(get) == small <= 15
    assert count_queries(lambda: get(security="true", q="u1")) == filtered_small <= 15


def test_detail_of_an_update_shows_a_readable_diff(client, users, login, tree):
    with action_context(actor=users.party_admin, source="ui", reason="规范名称"):
        services.update_unit(
            actor=users.party_admin,
            unit=tree.branch_a2,
            data={"name": "A公司第二党支部（新）", "kind": "joint_branch"},
            version=1,
        )
    entry = ChangeLogEntry.objects.filter(action="update").latest("id")
    login(users.audit_admin)
    response = client.get(detail(entry))
    assert response.status_code == 200
    html = response.content.decode()
    assert "A公司第二党支部（新）" in html
    assert "A公司第二党支部" in html
    assert "规范名称" in html
    assert entry.hash in html
    assert entry.prev_hash in html
    assert 'data-testid="hash-ok"' in html
    rows = {r["name"]: r for r in response.context["rows"]}
    assert rows["name"]["before"] == "A公司第二党支部"
    assert rows["name"]["after"] == "A公司第二党支部（新）"
    assert rows["kind"]["after"].endswith("(joint_branch)")  # choice label shown with value
    assert response.context["unit_name"] == "A公司第二党支部（新）"


def test_detail_resolves_foreign_keys_and_hides_masked_values(client, users, login, tree):
    person_entry = ChangeLogEntry.objects.filter(object_type="orgs.person").latest("id")
    user_entry = ChangeLogEntry.objects.filter(object_type="accounts.user", action="create").latest(
        "id"
    )
    login(users.audit_admin)
    rows = {r["name"]: r for r in client.get(detail(person_entry)).context["rows"]}
    assert rows["org"]["after"] == f"{tree.branch_a1.name} (#{tree.branch_a1.pk})"
    response = client.get(detail(user_entry))
    rows = {r["name"]: r for r in response.context["rows"]}
    assert rows["password"]["after"] not in ("", "******")
    assert "pbkdf2" not in response.content.decode()


def test_detail_of_a_security_event(client, users, login):
    event = log_security_event(
        "lockout", username="ghost", outcome="failure", details={"ip": "10.0.0.8"}
    )
    login(users.audit_admin)
    response = client.get(detail(event))
    assert response.status_code == 200
    assert response.context["details"] == [("ip", "10.0.0.8")]
    assert "10.0.0.8" in response.content.decode()
    assert client.get("/changelog/999999/").status_code == 404


def test_verify_reports_an_intact_chain_and_writes_nothing(client, users, login):
    login(users.audit_admin)
    before = ChangeLogEntry.objects.count()
    response = client.get("/changelog/verify/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.context["report"].ok
    assert response.context["report"].checked == before
    assert 'data-testid="verify-result"' in response.content.decode()
    assert ChangeLogEntry.objects.count() == before
    full = client.get("/changelog/verify/")
    assert "<html" in full.content.decode()


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="tampering through raw SQL is shown on SQLite"
)
def test_verify_reports_a_tampered_entry(client, users, login):
    victim = ChangeLogEntry.objects.order_by("id")[3]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE core_changelogentry SET reason = %s WHERE id = %s", ["篡改", victim.pk]
        )
    login(users.audit_admin)
    response = client.get("/changelog/verify/")
    report = response.context["report"]
    assert not report.ok
    assert report.broken_id == victim.pk
    assert f"/changelog/{victim.pk}/" in response.content.decode()
    page = client.get(detail(victim))
    assert 'data-testid="hash-bad"' in page.content.decode()
