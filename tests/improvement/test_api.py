"""REST API of nonconformities and corrective actions: scoped lists and lookups (404
outside the scope), structured errors, every lifecycle step as a POST action calling the
services (wrong state, wrong role, wrong password, too early), stale versions (409) and a
bounded number of queries for the lists."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from pbqms.core.models import ChangeLogEntry
from pbqms.improvement.models import CorrectiveAction, Nonconformity
from tests.factories import PASSWORD

from .conftest import TODAY, days
from .test_views import bulk_ncs

S = Nonconformity.Status
A = CorrectiveAction.Status
NCS = "/api/nonconformities/"
CAS = "/api/corrective-actions/"


@pytest.fixture
def api(db):
    def _api(user=None) -> APIClient:
        client = APIClient()
        if user is None:
            return client
        client.force_login(user)
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.filter(user=user).first() or TOTPDevice.objects.create(
            user=user, name="test", confirmed=True
        )
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
        return client

    return _api


def ids(response) -> set[int]:
    return {row["id"] for row in response.json()["results"]}


def raise_body(tree, **extra):
    return {
        "org": tree.branch_a1.pk,
        "title": "党员大会未按季度召开",
        "source_kind": "internal_audit",
        "severity": "minor",
        "requirement": "支部党员大会一般每季度召开1次",
        "description": "第一季度无记录",
        "raised_on": days(-60).isoformat(),
        "correction_due": days(30).isoformat(),
        **extra,
    }


class TestReads:
    def test_list_is_scoped(self, raise_nc, ncp, users, tree, api):
        a1 = raise_nc()
        b1 = raise_nc(actor=users.party_admin, org=tree.branch_b1)
        assert ids(api(users.party_admin).get(NCS)) == {a1.pk, b1.pk}
        assert ids(api(ncp.secretary).get(NCS)) == {a1.pk}
        assert ids(api(ncp.other_secretary).get(NCS)) == {b1.pk}
        assert api(users.member_a1).get(NCS).status_code == 403
        assert api(users.audit_admin).get(NCS).status_code == 403
        assert api(None).get(NCS).status_code in (401, 403)

    def test_filters(self, raise_nc, users, tree, api):
        late = raise_nc(raised_on=days(-40), correction_due=days(-1))
        major = raise_nc(severity="major")
        client = api(users.party_admin)
        assert ids(client.get(NCS, {"overdue": "true"})) == {late.pk}
        assert ids(client.get(NCS, {"severity": "major"})) == {major.pk}
        assert ids(client.get(NCS, {"org": tree.branch_a2.pk})) == set()
        assert client.get(NCS, {"severity": "grave"}).status_code == 400

    def test_retrieve_outside_scope_is_404(self, raise_nc, ncp, users, api):
        nc = raise_nc()
        response = api(ncp.secretary).get(f"{NCS}{nc.pk}/")
        assert response.status_code == 200
        body = response.json()
        assert body["number"] == nc.number and body["allowed_transitions"] == ["start_analysis"]
        assert body["org_name"] == nc.org.name and body["is_overdue"] is False
        response = api(ncp.other_secretary).get(f"{NCS}{nc.pk}/")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert api(ncp.secretary).get(f"{NCS}99999999999999999999999/").status_code == 404

    def test_actions_are_scoped(self, drive, ncp, users, api):
        nc = drive(S.IMPLEMENTING)
        action = nc.actions.get()
        assert ids(api(ncp.secretary).get(CAS)) == {action.pk}
        assert ids(api(ncp.other_secretary).get(CAS)) == set()
        assert api(ncp.other_secretary).get(f"{CAS}{action.pk}/").status_code == 404
        # the owner (a party member) sees their own action
        response = api(ncp.owner).get(f"{CAS}{action.pk}/")
        assert response.status_code == 200 and response.json()["nonconformity_number"] == nc.number
        assert api(users.nobody).get(CAS).status_code == 403

    def test_list_query_count_does_not_grow(self, ncp, users, tree, api):
        client = api(users.party_admin)
        client.get(NCS)
        bulk_ncs(tree.branch_a1, 10, users.party_admin, owner=ncp.owner_person)

        def count(path):
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(path, {"page_size": 100})
            assert response.status_code == 200
            return len(ctx.captured_queries)

        small, small_actions = count(NCS), count(CAS)
        bulk_ncs(tree.branch_a2, 190, users.party_admin, owner=ncp.owner_person)
        assert (count(NCS), count(CAS)) == (small, small_actions)


class TestRaise:
    def test_auditor_raises(self, ncp, tree, api):
        response = api(ncp.auditor).post(NCS, raise_body(tree), format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["number"] == f"NC-{TODAY.year}-0001" and body["status"] == "open"
        entry = ChangeLogEntry.objects.filter(object_type="improvement.nonconformity").get()
        assert entry.source == "api" and entry.actor_id == ncp.auditor.pk

    def test_bad_input_is_400_with_fields(self, ncp, tree, api):
        client = api(ncp.auditor)
        response = client.post(NCS, raise_body(tree, title="", severity="grave"), format="json")
        assert response.status_code == 400
        assert set(response.json()["error"]["fields"]) == {"title", "severity"}
        response = client.post(
            NCS, raise_body(tree, correction_due=days(-90).isoformat()), format="json"
        )
        assert (
            response.status_code == 400 and "correction_due" in response.json()["error"]["fields"]
        )
        # a unit outside the scope is as unknown as one that does not exist
        response = client.post(NCS, raise_body(tree, org=tree.branch_b1.pk), format="json")
        assert response.status_code == 400 and "org" in response.json()["error"]["fields"]
        assert not Nonconformity.objects.exists()

    def test_roles(self, ncp, users, tree, api):
        response = api(users.expert).post(NCS, raise_body(tree), format="json")
        assert response.status_code == 403
        response = api(ncp.secretary).post(NCS, raise_body(tree), format="json")
        assert response.status_code == 400 and "source_kind" in response.json()["error"]["fields"]
        response = api(ncp.secretary).post(
            NCS, raise_body(tree, source_kind="self_inspection"), format="json"
        )
        assert response.status_code == 201


class TestLifecycle:
    def test_the_whole_loop(self, raise_nc, ncp, users, api):
        nc = raise_nc(raised_on=days(-60))
        sec, admin, auditor = api(ncp.secretary), api(users.party_admin), api(ncp.auditor)
        url = f"{NCS}{nc.pk}/"
        assert api(ncp.auditor).post(url + "start-analysis/").status_code == 403
        assert sec.post(url + "start-analysis/").json()["status"] == "root_cause_analysis"
        # wrong state: a clear 400
        response = sec.post(url + "submit-plan/")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "transition_not_allowed"
        version = sec.get(url).json()["version"]
        response = sec.post(
            url + "analysis/",
            {
                "analysis_method": "five_why",
                "whys": ["没开会", "书记出差"],
                "root_cause": "无替补机制",
                "version": version,
            },
            format="json",
        )
        assert response.status_code == 200 and response.json()["why_chain"] == [
            "没开会",
            "书记出差",
        ]
        response = sec.post(
            url + "analysis/",
            {"analysis_method": "five_why", "whys": ["x"], "root_cause": "y", "version": version},
            format="json",
        )
        assert response.status_code == 409
        assert sec.post(url + "submit-analysis/").json()["status"] == "action_planning"
        action_body = {
            "nonconformity": nc.pk,
            "kind": "corrective",
            "description": "建立AB角",
            "owner": ncp.owner_person.pk,
            "due_on": days(-20).isoformat(),
            "verify_on": days(-1).isoformat(),
            "success_criteria": "三个月无间断",
        }
        response = sec.post(CAS, {**action_body, "verify_on": days(-30).isoformat()}, format="json")
        assert response.status_code == 400 and "verify_on" in response.json()["error"]["fields"]
        response = sec.post(CAS, action_body, format="json")
        assert response.status_code == 201, response.json()
        action_id = response.json()["id"]
        assert sec.post(url + "submit-plan/").json()["status"] == "action_approval"
        # approval: the secretary may not; a wrong password is refused and stays logged
        assert sec.post(url + "approve-plan/", {"password": PASSWORD}).status_code == 403
        failures = ChangeLogEntry.objects.filter(action="signature", outcome="failure").count()
        response = admin.post(url + "approve-plan/", {"password": "nope"})
        assert response.status_code == 400 and "password" in response.json()["error"]["fields"]
        assert (
            ChangeLogEntry.objects.filter(action="signature", outcome="failure").count()
            == failures + 1
        )
        response = admin.post(url + "approve-plan/", {"password": PASSWORD, "comment": "同意"})
        assert response.status_code == 200 and response.json()["status"] == "implementing"
        # the owner marks it done
        response = api(ncp.owner).post(f"{CAS}{action_id}/complete/", {"note": "已建立"})
        assert response.status_code == 200 and response.json()["status"] == "done"
        assert sec.get(url).json()["status"] == "verification"
        # the unit's secretary may not verify; the auditor (who raised it) does
        response = sec.post(
            f"{CAS}{action_id}/verify/", {"result": "effective", "password": PASSWORD}
        )
        assert response.status_code == 403
        response = auditor.post(
            f"{CAS}{action_id}/verify/", {"result": "effective", "password": "x"}
        )
        assert response.status_code == 400 and "password" in response.json()["error"]["fields"]
        response = auditor.post(
            f"{CAS}{action_id}/verify/", {"result": "effective", "password": PASSWORD}
        )
        assert response.status_code == 200 and response.json()["status"] == "effective"
        body = auditor.get(url).json()
        assert body["status"] == "closed" and body["closed_on"] == TODAY.isoformat()

    def test_verification_before_its_date_is_refused(self, drive, ncp, api):
        nc = drive(S.VERIFICATION, verify_in=10)
        action = nc.actions.get()
        response = api(ncp.auditor).post(
            f"{CAS}{action.pk}/verify/", {"result": "effective", "password": PASSWORD}
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "transition_not_allowed"
        assert CorrectiveAction.objects.get(pk=action.pk).status == A.DONE

    def test_return_cancel_and_verifier(self, drive, raise_nc, ncp, users, api):
        nc = drive(S.ACTION_APPROVAL)
        admin = api(users.party_admin)
        response = admin.post(f"{NCS}{nc.pk}/return-plan/", {"reason": ""})
        assert response.status_code == 400 and "reason" in response.json()["error"]["fields"]
        response = admin.post(f"{NCS}{nc.pk}/return-plan/", {"reason": "补充标准"})
        assert response.json()["status"] == "action_planning"
        action = nc.actions.get()
        response = api(ncp.secretary).post(f"{CAS}{action.pk}/cancel/", {"reason": "重复"})
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
        response = admin.post(f"{NCS}{nc.pk}/cancel/", {"reason": "单位合并"})
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
        other = raise_nc(actor=ncp.secretary, source_kind="self_inspection")
        response = admin.post(f"{NCS}{other.pk}/verifier/", {"verifier": ncp.secretary.pk})
        assert response.status_code == 400 and "verifier" in response.json()["error"]["fields"]
        response = admin.post(f"{NCS}{other.pk}/verifier/", {"verifier": ncp.auditor.pk})
        assert response.status_code == 200 and response.json()["verifier"] == ncp.auditor.pk
        response = api(ncp.secretary).post(
            f"{NCS}{other.pk}/verifier/", {"verifier": None}, format="json"
        )
        assert response.status_code == 403

    def test_update_a_planned_action(self, drive, ncp, api):
        nc = drive(S.ACTION_PLANNING)
        client = api(ncp.secretary)
        body = {
            "nonconformity": nc.pk,
            "kind": "corrective",
            "description": "原措施",
            "owner": ncp.owner_person.pk,
            "due_on": days(5).isoformat(),
            "verify_on": days(30).isoformat(),
            "success_criteria": "标准",
        }
        created = client.post(CAS, body, format="json").json()
        update = {k: v for k, v in body.items() if k != "nonconformity"}
        response = client.put(
            f"{CAS}{created['id']}/",
            {**update, "description": "新措施", "version": created["version"]},
            format="json",
        )
        assert response.status_code == 200 and response.json()["description"] == "新措施"
        response = client.put(
            f"{CAS}{created['id']}/", {**update, "version": created["version"]}, format="json"
        )
        assert response.status_code == 409
