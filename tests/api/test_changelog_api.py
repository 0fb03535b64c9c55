"""/api/change-log/: read-only, the audit administrator only."""

from __future__ import annotations

import datetime

import pytest

from pbqms.core.changelog import log_security_event, verify_chain
from pbqms.core.context import action_context
from pbqms.core.models import ChangeLogEntry
from pbqms.orgs import services
from tests.api.conftest import QUERY_CEILING, count_queries

URL = "/api/change-log/"


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_audit_admin_reads_the_log_newest_first(api, users):
    response = api(users.audit_admin).get(URL, {"page_size": 500})
    got = ids(response)
    assert got == sorted(got, reverse=True)
    assert set(got) == set(ChangeLogEntry.objects.values_list("pk", flat=True))
    row = response.json()["results"][0]
    assert {"hash", "prev_hash", "changes", "actor", "actor_repr", "source", "reason"} <= set(row)


def test_detail(api, users):
    entry = ChangeLogEntry.objects.filter(object_type="orgs.organization").first()
    response = api(users.audit_admin).get(f"{URL}{entry.pk}/")
    assert response.status_code == 200
    assert response.json()["hash"] == entry.hash
    assert api(users.audit_admin).get(f"{URL}999999/").status_code == 404


@pytest.mark.parametrize(
    "who",
    ["party_admin", "system_admin", "security_admin", "secretary_a1", "auditor", "nobody"],
)
def test_everyone_else_is_forbidden(api, users, who):
    client = api(getattr(users, who))
    entry = ChangeLogEntry.objects.first()
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}{entry.pk}/").status_code == 403


def test_nobody_can_write_the_log(api, users, entries):
    client = api(users.audit_admin)
    entry = ChangeLogEntry.objects.first()
    assert client.post(URL, {"action": "create"}, format="json").status_code == 405
    assert client.put(f"{URL}{entry.pk}/", {"reason": "x"}, format="json").status_code == 405
    assert client.patch(f"{URL}{entry.pk}/", {"reason": "x"}, format="json").status_code == 405
    assert client.delete(f"{URL}{entry.pk}/").status_code == 405
    assert ChangeLogEntry.objects.get(pk=entry.pk).hash == entry.hash
    assert entries.new() == []
    assert verify_chain().ok


def test_filters(api, users, tree):
    with action_context(actor=users.party_admin, source="ui", reason="整改"):
        services.update_unit(
            actor=users.party_admin, unit=tree.branch_a2, data={"name": "改名支部"}, version=1
        )
    log_security_event("login_failed", username="ghost", outcome="failure")
    client = api(users.audit_admin)

    def rows(**params):
        response = client.get(URL, {"page_size": 500, **params})
        assert response.status_code == 200, response.content
        return response.json()["results"]

    by_actor = rows(actor=users.party_admin.pk)
    assert by_actor and {r["actor"] for r in by_actor} == {users.party_admin.pk}
    assert {r["action"] for r in rows(action="login_failed")} == {"login_failed"}
    assert {r["action"] for r in rows(action=["update", "login_failed"])} == {
        "update",
        "login_failed",
    }
    assert {r["outcome"] for r in rows(outcome="failure")} == {"failure"}
    assert all(r["is_security_event"] for r in rows(security="true"))
    assert not any(r["is_security_event"] for r in rows(security="false"))
    obj = rows(object_type="orgs.organization", object_id=str(tree.branch_a2.pk))
    assert [r["action"] for r in obj] == ["update", "create"]
    assert obj[0]["reason"] == "整改"
    assert obj[0]["changes"]["name"] == ["A公司第二党支部", "改名支部"]
    today = datetime.date.today()
    assert len(rows(date_from=today.isoformat(), date_to=today.isoformat())) > 0
    assert rows(date_to=(today - datetime.timedelta(days=2)).isoformat()) == []
    assert rows(actor=999999) == []
    assert rows(actor_name="party_admin")


def test_bad_filters_are_400(api, users):
    client = api(users.audit_admin)
    for params in ({"action": "explode"}, {"date_from": "yesterday"}, {"outcome": "maybe"}):
        response = client.get(URL, params)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid"


def test_list_query_count_does_not_grow(api, users):
    """The same number of queries for 10 and for 500 more entries on the page."""
    client = api(users.audit_admin)

    def add(n):
        for i in range(n):
            log_security_event("login_failed", username=f"u{i}", outcome="failure")

    def get():
        response = client.get(URL, {"page_size": 500})
        assert response.status_code == 200
        return response

    add(10)
    small = count_queries(get)
    add(490)
    large = count_queries(get)
    assert len(get().json()["results"]) == 500
    assert small == large <= QUERY_CEILING
