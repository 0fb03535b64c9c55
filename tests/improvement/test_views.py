"""Pages of nonconformities and corrective actions: each role allowed / refused, another
unit's data invisible (404), bad input kept in the form with nothing saved, and query counts
that do not grow with the data (list, action list, detail, at a glance)."""

from __future__ import annotations

import datetime
import json
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pbqms.core import signatures
from pbqms.improvement import services
from pbqms.improvement.models import CorrectiveAction, Nonconformity
from tests.factories import PASSWORD, make_person

from .conftest import TODAY, action_data, days

S = Nonconformity.Status
A = CorrectiveAction.Status
MAX_PAGE_QUERIES = 20


def url(name, *args):
    return reverse(f"improvement:{name}", args=args)


def html(response) -> str:
    return response.content.decode()


def count_queries(client, *args, **kwargs):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(*args, **kwargs)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def numbers_in(response) -> list[str]:
    return re.findall(r'class="fw-medium">(NC-[^<]+|BULK-[^<]+)</a>', html(response))


def bulk_ncs(org, n: int, raised_by, *, owner=None) -> list[Nonconformity]:
    """``n`` nonconformities of every status, severity and age (rows written directly: the
    point is volume), with an overdue action on each open one when an owner is given."""
    statuses = list(S.values)
    ncs = Nonconformity.objects.bulk_create(
        Nonconformity(
            number=f"BULK-{org.code}-{i:05d}",
            title=f"批量不符合项{i}",
            source_kind=Nonconformity.Source.INTERNAL_AUDIT,
            org=org,
            requirement="要求",
            description="事实",
            severity="major" if i % 3 == 0 else "minor",
            raised_by=raised_by,
            raised_on=TODAY - datetime.timedelta(days=i % 120),
            correction_due=TODAY + datetime.timedelta(days=(i % 40) - 20),
            status=statuses[i % len(statuses)],
            closed_on=TODAY if statuses[i % len(statuses)] == S.CLOSED else None,
            days_to_close=i % 50 if statuses[i % len(statuses)] == S.CLOSED else None,
        )
        for i in range(n)
    )
    if owner is not None:
        CorrectiveAction.objects.bulk_create(
            CorrectiveAction(
                nonconformity=nc,
                org=org,
                kind=CorrectiveAction.Kind.CORRECTIVE,
                description="措施",
                owner=owner,
                due_on=TODAY - datetime.timedelta(days=3),
                verify_on=TODAY + datetime.timedelta(days=30),
                success_criteria="标准",
            )
            for nc in ncs
            if nc.status not in Nonconformity.FINISHED
        )
    # repeats
    for earlier, later in zip(ncs[:5], ncs[5:10], strict=True):
        Nonconformity.objects.filter(pk=later.pk).update(repeat_of=earlier)
    return ncs


# ---------------------------------------------------------------- list


class TestList:
    def test_roles_and_scope(self, raise_nc, ncp, users, tree, login, client):
        a1 = raise_nc()
        b1 = raise_nc(actor=users.party_admin, org=tree.branch_b1, title="B1的问题")
        response = login(users.party_admin).get(url("nc_list"))
        assert response.status_code == 200
        assert set(numbers_in(response)) == {a1.number, b1.number}
        response = login(ncp.other_secretary).get(url("nc_list"))
        assert numbers_in(response) == [b1.number]
        response = login(ncp.secretary).get(url("nc_list"))
        assert numbers_in(response) == [a1.number]
        assert 'data-testid="raise-nc"' in html(response)  # self-inspection
        response = login(ncp.auditor).get(url("nc_list"))
        assert numbers_in(response) == [a1.number]
        for user in (users.member_a1, users.nobody, users.audit_admin):
            assert login(user).get(url("nc_list")).status_code == 403
        client.logout()
        assert client.get(url("nc_list")).status_code == 302

    def test_filters(self, raise_nc, drive, ncp, users, tree, login):
        late = raise_nc(raised_on=days(-40), correction_due=days(-1), title="逾期的")
        major = raise_nc(severity="major", title="严重的")
        other = raise_nc(actor=users.party_admin, org=tree.branch_a2, title="A2的")
        closed = drive(S.CLOSED)
        client = login(users.party_admin)

        def numbers(**params):
            return set(numbers_in(client.get(url("nc_list"), params)))

        assert numbers(overdue="1") == {late.number}
        assert numbers(severity="major") == {major.number}
        assert numbers(status="closed") == {closed.number}
        assert closed.number not in numbers(status="active")
        assert numbers(org=tree.branch_a2.pk) == {other.number}
        assert numbers(org=tree.sub_a.pk) == {
            late.number,
            major.number,
            other.number,
            closed.number,
        }
        assert numbers(q="严重") == {major.number}
        assert numbers(q=late.number) == {late.number}
        # a unit outside the scope is a filter error, not a leak
        response = login(ncp.other_secretary).get(url("nc_list"), {"org": tree.branch_a1.pk})
        assert response.status_code == 200
        assert response.context["form"].errors and numbers_in(response) == []

    def test_htmx_gets_only_the_table(self, raise_nc, users, login):
        raise_nc()
        response = login(users.party_admin).get(url("nc_list"), HTTP_HX_REQUEST="true")
        assert 'data-testid="nc-table"' in html(response) and "<html" not in html(response)
        assert response["Vary"] and "HX-Request" in response["Vary"]

    def test_query_count_does_not_grow(
        self, ncp, users, tree, login, django_assert_max_num_queries
    ):
        client = login(users.party_admin)
        client.get(url("nc_list"))
        bulk_ncs(tree.branch_a1, 10, users.party_admin)
        params = {"org": tree.sub_a.pk, "status": "active", "q": "批量", "sort": "-due"}
        small, response = count_queries(client, url("nc_list"))
        assert len(numbers_in(response)) == 10
        small_filtered, _ = count_queries(client, url("nc_list"), params)
        bulk_ncs(tree.branch_a2, 190, users.party_admin)
        with django_assert_max_num_queries(MAX_PAGE_QUERIES):
            big, response = count_queries(client, url("nc_list"), {"per_page": 100})
        assert response.context["page"].paginator.count == 200
        assert len(numbers_in(response)) == 100
        big_filtered, _ = count_queries(client, url("nc_list"), params)
        assert (big, big_filtered) == (small, small_filtered)


class TestActionList:
    def test_scope_and_mine(self, drive, ncp, users, tree, login):
        nc = drive(S.IMPLEMENTING)
        action = nc.actions.get()
        response = login(ncp.secretary).get(url("action_list"))
        assert list(response.context["actions"]) == [action]
        assert list(login(ncp.other_secretary).get(url("action_list")).context["actions"]) == []
        # the owner is a party member without other rights: they see their own action
        response = login(users.member_a1).get(url("action_list"))
        assert list(response.context["actions"]) == [action]
        assert login(users.nobody).get(url("action_list")).status_code == 403
        response = login(users.party_admin).get(url("action_list"), {"overdue": "1"})
        assert list(response.context["actions"]) == [action]
        response = login(users.party_admin).get(url("action_list"), {"mine": "1"})
        assert list(response.context["actions"]) == []

    def test_query_count_does_not_grow(
        self, ncp, users, tree, login, django_assert_max_num_queries
    ):
        client = login(users.party_admin)
        client.get(url("action_list"))
        bulk_ncs(tree.branch_a1, 10, users.party_admin, owner=ncp.owner_person)
        small, _ = count_queries(client, url("action_list"), {"overdue": "1"})
        bulk_ncs(tree.branch_a2, 190, users.party_admin, owner=ncp.owner_person)
        with django_assert_max_num_queries(MAX_PAGE_QUERIES):
            big, response = count_queries(client, url("action_list"), {"overdue": "1"})
        assert response.context["page"].paginator.count > 100
        assert big == small


# ---------------------------------------------------------------- detail


class TestDetail:
    def test_visible_in_scope_404_outside(self, raise_nc, ncp, users, login):
        nc = raise_nc()
        for user in (ncp.secretary, ncp.auditor, users.party_admin, users.expert):
            response = login(user).get(url("nc_detail", nc.pk))
            assert response.status_code == 200, user
            assert nc.title in html(response)
        for user in (ncp.other_secretary,):
            assert login(user).get(url("nc_detail", nc.pk)).status_code == 404
        assert login(users.member_a1).get(url("nc_detail", nc.pk)).status_code == 404
        assert login(users.party_admin).get(url("nc_detail", 99999)).status_code == 404

    def test_buttons_follow_the_allowed_steps(self, raise_nc, drive, ncp, users, login):
        nc = raise_nc()
        body = html(login(ncp.secretary).get(url("nc_detail", nc.pk)))
        assert 'data-testid="edit-analysis"' in body and "step-cancel" not in body
        body = html(login(ncp.auditor).get(url("nc_detail", nc.pk)))
        assert 'data-testid="step-cancel"' in body and "edit-analysis" not in body
        body = html(login(users.expert).get(url("nc_detail", nc.pk)))
        assert 'data-testid="step-' not in body and "edit-analysis" not in body
        approval = drive(S.ACTION_APPROVAL)
        body = html(login(users.party_admin).get(url("nc_detail", approval.pk)))
        assert 'data-testid="step-approve_plan"' in body
        assert 'data-testid="step-return_plan"' in body
        assert "step-approve_plan" not in html(
            login(ncp.secretary).get(url("nc_detail", approval.pk))
        )

    def test_tabs_show_analysis_actions_signatures_history(self, drive, ncp, users, login):
        nc = drive(S.CLOSED)
        response = login(ncp.secretary).get(url("nc_detail", nc.pk), {"tab": "signatures"})
        body = html(response)
        assert "未建立会议召集的替补机制" in body  # root cause
        assert 'data-testid="action-row"' in body
        rows = response.context["signature_rows"]
        assert [r["signature"].meaning for r in rows] == ["approved", "verified"]
        assert all(r["valid"] for r in rows)
        assert 'data-testid="object-history"' in body
        history_types = {e.object_type for e in response.context["history"]}
        assert history_types == {"improvement.nonconformity", "improvement.correctiveaction"}

    def test_query_count_does_not_grow_with_actions(
        self, drive, ncp, users, login, django_assert_max_num_queries
    ):
        nc = drive(S.ACTION_PLANNING)
        services.plan_action(nc, actor=ncp.secretary, data=action_data(ncp))
        client = login(ncp.secretary)
        small, _ = count_queries(client, url("nc_detail", nc.pk))
        for _i in range(15):
            services.plan_action(nc, actor=ncp.secretary, data=action_data(ncp))
        with django_assert_max_num_queries(40):
            big, response = count_queries(client, url("nc_detail", nc.pk))
        assert len(response.context["actions"]) == 16
        assert big == small


# ---------------------------------------------------------------- raise


class TestRaise:
    def data(self, tree, **extra):
        return {
            "org": tree.branch_a1.pk,
            "title": "党员大会未按季度召开",
            "source_kind": "internal_audit",
            "source_ref": "2026年第一次内审",
            "severity": "minor",
            "requirement": "支部党员大会一般每季度召开1次",
            "description": "第一季度无党员大会记录",
            "raised_on": TODAY.isoformat(),
            "correction_due": days(30).isoformat(),
            **extra,
        }

    def test_auditor_raises(self, ncp, tree, login):
        client = login(ncp.auditor)
        assert client.get(url("nc_create")).status_code == 200
        response = client.post(url("nc_create"), self.data(tree))
        nc = Nonconformity.objects.get()
        assert response.status_code == 302 and response["Location"] == url("nc_detail", nc.pk)
        assert nc.raised_by == ncp.auditor and nc.source_ref == "2026年第一次内审"

    def test_bad_input_keeps_the_data_and_saves_nothing(self, ncp, tree, login):
        client = login(ncp.auditor)
        response = client.post(
            url("nc_create"),
            self.data(tree, requirement="", correction_due=days(-5).isoformat(), raised_on=""),
        )
        assert response.status_code == 200
        form = response.context["form"]
        assert set(form.errors) == {"requirement", "correction_due"}
        body = html(response)
        assert "党员大会未按季度召开" in body and "第一季度无党员大会记录" in body
        assert not Nonconformity.objects.exists()
        # a service rule (repeat of an unknown number) also comes back on its field
        response = client.post(url("nc_create"), self.data(tree, repeat_of="NC-1999-0001"))
        assert set(response.context["form"].errors) == {"repeat_of"}
        assert "NC-1999-0001" in html(response)
        assert not Nonconformity.objects.exists()

    def test_unit_outside_the_scope_is_refused(self, ncp, tree, login):
        response = login(ncp.auditor).post(url("nc_create"), self.data(tree, org=tree.branch_b1.pk))
        assert response.status_code == 200 and "org" in response.context["form"].errors
        assert not Nonconformity.objects.exists()

    def test_secretary_raises_self_inspection_only(self, ncp, tree, login):
        client = login(ncp.secretary)
        response = client.get(url("nc_create"))
        assert [c[0] for c in response.context["form"].fields["source_kind"].choices] == [
            "self_inspection"
        ]
        response = client.post(url("nc_create"), self.data(tree))
        assert "source_kind" in response.context["form"].errors
        response = client.post(url("nc_create"), self.data(tree, source_kind="self_inspection"))
        assert response.status_code == 302
        assert Nonconformity.objects.get().source_kind == "self_inspection"

    def test_forbidden_roles(self, users, login):
        for user in (users.member_a1, users.nobody, users.expert, users.system_admin):
            assert login(user).get(url("nc_create")).status_code == 403


# ---------------------------------------------------------------- analysis


class TestAnalysis:
    def test_five_whys_saved_then_finished(self, raise_nc, ncp, login):
        nc = raise_nc()
        client = login(ncp.secretary)
        assert client.get(url("nc_analysis", nc.pk)).status_code == 200
        data = {
            "analysis_method": "five_why",
            "why_1": "会议没开",
            "why_2": "书记出差",
            "root_cause": "没有替补召集机制",
            "version": nc.version,
        }
        response = client.post(url("nc_analysis", nc.pk), data)
        assert response.status_code == 302
        nc.refresh_from_db()
        assert nc.status == S.ROOT_CAUSE_ANALYSIS and nc.why_chain == ["会议没开", "书记出差"]
        response = client.post(
            url("nc_analysis", nc.pk), {**data, "version": nc.version, "finish": "1"}
        )
        assert response.status_code == 302 and response["Location"].endswith("?tab=actions")
        assert Nonconformity.objects.get(pk=nc.pk).status == S.ACTION_PLANNING

    def test_bad_input_keeps_every_row(self, raise_nc, ncp, login):
        nc = raise_nc()
        response = login(ncp.secretary).post(
            url("nc_analysis", nc.pk),
            {
                "analysis_method": "five_why",
                "why_1": "第一问",
                "why_3": "第三问",
                "bone_people": "人员原因",
                "root_cause": "",
            },
        )
        assert response.status_code == 200
        form = response.context["form"]
        assert "root_cause" in form.errors
        body = html(response)
        assert "第一问" in body and "第三问" in body and "人员原因" in body
        assert Nonconformity.objects.get(pk=nc.pk).status == S.OPEN
        # the service's group error (a gap in the whys) is shown on the group
        response = login(ncp.secretary).post(
            url("nc_analysis", nc.pk),
            {"analysis_method": "five_why", "why_1": "一", "why_3": "三", "root_cause": "根因"},
        )
        assert 'data-testid="why-error"' in html(response)
        assert Nonconformity.objects.get(pk=nc.pk).why_chain == []

    def test_who_may_analyse(self, raise_nc, drive, ncp, users, login):
        nc = raise_nc()
        assert login(ncp.auditor).get(url("nc_analysis", nc.pk)).status_code == 403
        assert login(ncp.other_secretary).get(url("nc_analysis", nc.pk)).status_code == 404
        planned = drive(S.ACTION_PLANNING)
        response = login(ncp.secretary).get(url("nc_analysis", planned.pk))
        assert response.status_code == 302  # not in analysis any more: back to the page

    def test_stale_version_is_refused(self, raise_nc, ncp, login):
        nc = raise_nc()
        response = login(ncp.secretary).post(
            url("nc_analysis", nc.pk),
            {"analysis_method": "five_why", "why_1": "一", "root_cause": "根", "version": 99},
        )
        assert response.status_code == 200 and response.context["form"].non_field_errors()


# ---------------------------------------------------------------- planning and approval


class TestPlanning:
    def post_data(self, ncp, **extra):
        data = action_data(ncp, **extra)
        data["owner"] = data["owner"].pk
        data["due_on"] = data["due_on"].isoformat() if data["due_on"] else ""
        data["verify_on"] = data["verify_on"].isoformat() if data["verify_on"] else ""
        return data

    def test_add_action_and_bad_input(self, drive, ncp, login):
        nc = drive(S.ACTION_PLANNING)
        client = login(ncp.secretary)
        assert client.get(url("action_create", nc.pk)).status_code == 200
        response = client.post(
            url("action_create", nc.pk),
            self.post_data(ncp, verify_on=days(5), due_on=days(10), success_criteria=""),
        )
        assert response.status_code == 200
        assert set(response.context["form"].errors) == {"success_criteria", "verify_on"}
        assert "建立支委会会议月度提醒" in html(response)
        assert not nc.actions.exists()
        response = client.post(url("action_create", nc.pk), self.post_data(ncp))
        assert response.status_code == 302 and nc.actions.count() == 1
        action = nc.actions.get()
        response = client.post(
            url("action_edit", action.pk),
            {**self.post_data(ncp, description="改"), "version": action.version},
        )
        assert response.status_code == 302
        assert CorrectiveAction.objects.get(pk=action.pk).description == "改"

    def test_owner_outside_the_unit_is_not_offered(self, drive, ncp, tree, login):
        nc = drive(S.ACTION_PLANNING)
        stranger = make_person(tree.branch_b1, "外人")
        response = login(ncp.secretary).post(
            url("action_create", nc.pk), self.post_data(ncp, owner=stranger)
        )
        assert "owner" in response.context["form"].errors and not nc.actions.exists()

    def test_who_may_plan(self, drive, raise_nc, ncp, login):
        nc = drive(S.ACTION_PLANNING)
        assert login(ncp.auditor).get(url("action_create", nc.pk)).status_code == 403
        assert login(ncp.other_secretary).get(url("action_create", nc.pk)).status_code == 404
        early = raise_nc()
        response = login(ncp.secretary).post(url("action_create", early.pk), self.post_data(ncp))
        assert response.status_code == 302 and not early.actions.exists()

    def test_submit_plan_is_one_click(self, drive, ncp, login):
        nc = drive(S.ACTION_PLANNING)
        services.plan_action(nc, actor=ncp.secretary, data=action_data(ncp))
        response = login(ncp.secretary).post(url("nc_step", nc.pk, "submit_plan"))
        assert response.status_code == 302
        assert Nonconformity.objects.get(pk=nc.pk).status == S.ACTION_APPROVAL

    def test_approve_with_password(self, drive, ncp, users, login):
        nc = drive(S.ACTION_APPROVAL)
        assert login(ncp.secretary).get(url("nc_step", nc.pk, "approve_plan")).status_code == 403
        client = login(users.party_admin)
        response = client.get(url("nc_step", nc.pk, "approve_plan"))
        assert response.status_code == 200 and 'data-testid="plan"' in html(response)
        response = client.post(
            url("nc_step", nc.pk, "approve_plan"), {"password": "wrong", "comment": "同意实施"}
        )
        assert response.status_code == 200 and "password" in response.context["form"].errors
        assert "同意实施" in html(response)  # the comment is kept
        assert Nonconformity.objects.get(pk=nc.pk).status == S.ACTION_APPROVAL
        response = client.post(
            url("nc_step", nc.pk, "approve_plan"), {"password": PASSWORD, "comment": "同意实施"}
        )
        assert response.status_code == 302
        assert Nonconformity.objects.get(pk=nc.pk).status == S.IMPLEMENTING
        assert signatures.signatures_for(nc).get().comment == "同意实施"

    def test_wrong_state_redirects_with_the_reason(self, drive, ncp, users, login):
        nc = drive(S.ACTION_PLANNING)
        response = login(users.party_admin).post(
            url("nc_step", nc.pk, "approve_plan"), {"password": PASSWORD}
        )
        assert response.status_code == 302
        assert Nonconformity.objects.get(pk=nc.pk).status == S.ACTION_PLANNING
        assert login(users.party_admin).get(url("nc_step", nc.pk, "fly")).status_code == 404

    def test_return_plan_needs_comments(self, drive, ncp, users, login):
        nc = drive(S.ACTION_APPROVAL)
        client = login(users.party_admin)
        response = client.post(url("nc_step", nc.pk, "return_plan"), {"reason": ""})
        assert "reason" in response.context["form"].errors
        response = client.post(url("nc_step", nc.pk, "return_plan"), {"reason": "补充成功标准"})
        assert response.status_code == 302
        body = html(login(ncp.secretary).get(url("nc_detail", nc.pk)))
        assert 'data-testid="return-comment"' in body and "补充成功标准" in body


# ---------------------------------------------------------------- implementing and verifying


class TestImplementAndVerify:
    def test_owner_completes(self, drive, ncp, users, login):
        nc = drive(S.IMPLEMENTING)
        action = nc.actions.get()
        assert login(ncp.auditor).get(url("action_complete", action.pk)).status_code == 403
        assert login(ncp.other_secretary).get(url("action_complete", action.pk)).status_code == 404
        client = login(ncp.owner)  # a member: sees the page through their action
        response = client.post(
            url("action_complete", action.pk), {"completed_on": TODAY, "note": ""}
        )
        assert response.status_code == 200 and "note" in response.context["form"].errors
        response = client.post(
            url("action_complete", action.pk),
            {"completed_on": TODAY.isoformat(), "note": "建立了提醒"},
        )
        assert response.status_code == 302
        assert CorrectiveAction.objects.get(pk=action.pk).status == A.DONE
        assert Nonconformity.objects.get(pk=nc.pk).status == S.VERIFICATION

    def test_verify_before_the_date_is_refused(self, drive, ncp, login):
        nc = drive(S.VERIFICATION, verify_in=20)
        action = nc.actions.get()
        response = login(ncp.auditor).post(
            url("action_verify", action.pk), {"result": "effective", "password": PASSWORD}
        )
        assert response.status_code == 302
        assert CorrectiveAction.objects.get(pk=action.pk).status == A.DONE

    def test_secretary_cannot_verify(self, drive, ncp, login):
        nc = drive(S.VERIFICATION)
        action = nc.actions.get()
        response = login(ncp.secretary).post(
            url("action_verify", action.pk), {"result": "effective", "password": PASSWORD}
        )
        assert response.status_code == 403
        assert CorrectiveAction.objects.get(pk=action.pk).status == A.DONE

    def test_verify_with_password(self, drive, ncp, login):
        nc = drive(S.VERIFICATION)
        action = nc.actions.get()
        client = login(ncp.auditor)
        assert client.get(url("action_verify", action.pk)).status_code == 200
        response = client.post(
            url("action_verify", action.pk),
            {"result": "not_effective", "comment": "", "password": PASSWORD},
        )
        assert "comment" in response.context["form"].errors
        response = client.post(
            url("action_verify", action.pk),
            {"result": "effective", "comment": "已连续三月开会", "password": "bad"},
        )
        assert "password" in response.context["form"].errors
        assert "已连续三月开会" in html(response)
        response = client.post(
            url("action_verify", action.pk),
            {"result": "effective", "comment": "已连续三月开会", "password": PASSWORD},
        )
        assert response.status_code == 302
        assert Nonconformity.objects.get(pk=nc.pk).status == S.CLOSED


class TestCancelAndVerifier:
    def test_cancel_with_reason(self, raise_nc, ncp, users, login):
        nc = raise_nc()
        assert login(ncp.secretary).get(url("nc_step", nc.pk, "cancel")).status_code == 403
        client = login(ncp.auditor)
        response = client.post(url("nc_step", nc.pk, "cancel"), {"reason": ""})
        assert "reason" in response.context["form"].errors
        response = client.post(url("nc_step", nc.pk, "cancel"), {"reason": "误判"})
        assert response.status_code == 302
        assert Nonconformity.objects.get(pk=nc.pk).status == S.CANCELLED

    def test_designate_verifier(self, raise_nc, ncp, users, login):
        nc = raise_nc(actor=ncp.secretary, source_kind="self_inspection")
        assert login(ncp.secretary).get(url("nc_verifier", nc.pk)).status_code == 403
        client = login(users.party_admin)
        response = client.get(url("nc_verifier", nc.pk))
        options = list(response.context["form"].fields["verifier"].queryset)
        assert ncp.auditor in options and ncp.secretary not in options
        response = client.post(
            url("nc_verifier", nc.pk), {"verifier": ncp.auditor.pk, "version": nc.version}
        )
        assert response.status_code == 302
        assert Nonconformity.objects.get(pk=nc.pk).verifier == ncp.auditor
        response = client.post(url("nc_verifier", nc.pk), {"verifier": ncp.secretary.pk})
        assert "verifier" in response.context["form"].errors


# ---------------------------------------------------------------- at a glance


class TestGlance:
    def test_figures(self, raise_nc, drive, ncp, users, tree, login):
        late = raise_nc(raised_on=days(-45), correction_due=days(-1), severity="major")
        raise_nc(repeat_of=late.number)
        drive(S.CLOSED)  # raised 60 days ago, closed today
        raise_nc(actor=users.party_admin, org=tree.branch_b1)
        response = login(users.party_admin).get(url("glance"))
        assert response.status_code == 200
        g = response.context["g"]
        assert g.open_total == 3 and g.open_major == 1 and g.overdue_ncs == 1
        assert g.repeats == 1 and g.closed == 1 and g.raised == 4 and g.closure_rate == 25
        assert g.mean_days_to_close == 60
        age = {b["key"]: (b["minor"], b["major"]) for b in g.age}
        assert age == {"age_30": (2, 0), "age_60": (0, 1), "age_90": (0, 0), "age_older": (0, 0)}
        chart = json.loads(
            re.search(
                r'<script id="nc-age-chart-data" type="application/json">(.*?)</script>',
                html(response),
            ).group(1)
        )
        assert chart["series"][1]["data"] == [0, 1, 0, 0]
        assert 'data-testid="age-table"' in html(response)
        # one level down from the top of the scope: the two subsidiaries
        units = {row["unit"].code: row["open"] for row in g.units}
        assert units == {"ROOT": 0, "A": 2, "B": 1}

    def test_per_unit_and_scope(self, raise_nc, ncp, users, tree, login):
        raise_nc()
        raise_nc(actor=users.party_admin, org=tree.branch_b1)
        response = login(users.party_admin).get(url("glance"), {"org": tree.sub_b.pk})
        assert response.context["g"].open_total == 1
        response = login(ncp.other_secretary).get(url("glance"))
        assert response.context["g"].open_total == 1
        assert (
            login(ncp.other_secretary).get(url("glance"), {"org": tree.branch_a1.pk}).status_code
            == 404
        )
        assert login(users.member_a1).get(url("glance")).status_code == 403
        response = login(users.party_admin).get(url("glance"), {"year": "abc"})
        assert response.status_code == 200 and response.context["year"] == TODAY.year

    def test_query_count_does_not_grow(
        self, ncp, users, tree, login, django_assert_max_num_queries
    ):
        client = login(users.party_admin)
        client.get(url("glance"))
        bulk_ncs(tree.branch_a1, 10, users.party_admin, owner=ncp.owner_person)
        small, _ = count_queries(client, url("glance"))
        small_unit, _ = count_queries(client, url("glance"), {"org": tree.sub_a.pk})
        bulk_ncs(tree.branch_a2, 100, users.party_admin, owner=ncp.owner_person)
        bulk_ncs(tree.branch_b1, 90, users.party_admin, owner=ncp.owner_person)
        with django_assert_max_num_queries(MAX_PAGE_QUERIES + 5):
            big, response = count_queries(client, url("glance"))
        assert response.context["g"].open_total > 100
        big_unit, _ = count_queries(client, url("glance"), {"org": tree.sub_a.pk})
        assert (big, big_unit) == (small, small_unit)


def test_menu_items(ncp, users, login):
    body = html(login(ncp.secretary).get(reverse("core:home")))
    assert url("nc_list") in body and url("action_list") in body
    body = html(login(users.member_a1).get(reverse("core:home")))
    assert url("nc_list") not in body
