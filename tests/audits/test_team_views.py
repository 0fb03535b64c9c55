"""Auditor team pages (内审员队伍): list, detail, record/edit qualifications."""

from __future__ import annotations

import datetime

from django.urls import reverse

from pbqms.audits import services
from pbqms.audits.models import AuditorQualification
from tests.audits.conftest import TODAY, make_audit, qualify
from tests.factories import make_person

LIST = reverse("audits:auditor_list")


def test_list_shows_team_with_validity_and_done_count(login, users, team, programme, tree):
    soon = make_person(tree.branch_b1, "即将到期")
    qualify(soon, valid_until=TODAY + datetime.timedelta(days=30))
    audit = make_audit(programme, [tree.branch_b1], lead_auditor=team.a1, status="reported")
    audit.team.add(team.a2)
    r = login(users.party_admin).get(LIST)
    assert r.status_code == 200
    body = r.content.decode()
    for name in ("审核员甲", "审核员乙", "审核员丙", "审核员丁", "审核员戊", "即将到期"):
        assert name in body
    rows = {row["person"].name: row for row in r.context["rows"]}
    assert rows["审核员戊"]["badge"] == "expired"
    assert rows["即将到期"]["badge"] == "expiring"
    assert rows["审核员甲"]["badge"] == "valid"
    assert rows["审核员甲"]["done"] == 1
    assert rows["审核员乙"]["done"] == 1
    assert rows["审核员丙"]["done"] == 0
    assert "党员甲" not in body  # not an auditor


def test_list_filters(login, users, team):
    c = login(users.party_admin)
    r = c.get(LIST, {"validity": "expired"})
    assert [row["person"].name for row in r.context["rows"]] == ["审核员戊"]
    r = c.get(LIST, {"q": "丙"})
    assert [row["person"].name for row in r.context["rows"]] == ["审核员丙"]
    r = c.get(LIST, {"q": "nobody-here"})
    assert "auditor-empty" in r.content.decode()


def test_list_scoped_to_auditor_grant(login, team):
    # auditor_b1 holds the auditor role on branch B1 only: sees B1's auditors only
    r = login(team.b1_user).get(LIST)
    assert [row["person"].name for row in r.context["rows"]] == ["审核员丙"]


def test_list_forbidden_without_role(login, users, team):
    assert login(users.member_a1).get(LIST).status_code == 403
    assert login(users.nobody).get(LIST).status_code == 403


def test_list_query_count_bounded(login, users, team, tree, django_assert_max_num_queries):
    c = login(users.party_admin)
    c.get(LIST)
    for i in range(15):
        qualify(make_person(tree.branch_b1, f"加{i}"))
    with django_assert_max_num_queries(12):
        r = c.get(LIST)
    assert len(r.context["rows"]) == 20


def test_detail_and_other_unit_404(login, users, team):
    c = login(users.party_admin)
    r = c.get(reverse("audits:auditor_detail", args=[team.a1.pk]))
    assert r.status_code == 200
    assert "内审员培训" in r.content.decode()
    # B1's auditor cannot open A1's auditor
    c = login(team.b1_user)
    assert c.get(reverse("audits:auditor_detail", args=[team.a1.pk])).status_code == 404


def test_detail_of_non_auditor_404(login, users, tree):
    person = make_person(tree.branch_a1, "不是审核员")
    r = login(users.party_admin).get(reverse("audits:auditor_detail", args=[person.pk]))
    assert r.status_code == 404


def test_record_qualification(login, users, tree):
    person = make_person(tree.branch_a2, "新审核员")
    c = login(users.party_admin)
    url = reverse("audits:qualification_create")
    # the person select lists the chosen unit's people only
    r = c.get(url)
    assert list(r.context["form"].fields["person"].queryset) == []
    r = c.get(url, {"org": tree.branch_a2.pk})
    assert person in r.context["form"].fields["person"].queryset
    assert c.get(url, {"org": 99999}).status_code == 404
    r = c.post(
        url,
        {
            "org": tree.branch_a2.pk,
            "person": person.pk,
            "course": "2026年内审员培训班",
            "trained_on": "2026-03-01",
            "certificate_no": "NS-001",
            "certified_on": "2026-03-05",
            "valid_until": "2029-03-04",
        },
    )
    assert r.status_code == 302
    qual = AuditorQualification.objects.get(person=person)
    assert qual.certificate_no == "NS-001"
    assert services.is_qualified(person, datetime.date(2027, 1, 1))
    assert not services.is_qualified(person, datetime.date(2029, 3, 5))


def test_record_qualification_bad_input_keeps_data(login, users, tree):
    person = make_person(tree.branch_a2, "新审核员")
    c = login(users.party_admin)
    r = c.post(
        reverse("audits:qualification_create"),
        {
            "org": tree.branch_a2.pk,
            "person": person.pk,
            "course": "培训班X",
            "certified_on": "2026-03-05",
            "valid_until": "2025-01-01",
        },
    )
    assert r.status_code == 200
    assert r.context["form"].errors["valid_until"]
    body = r.content.decode()
    assert "培训班X" in body and "2026-03-05" in body
    assert not AuditorQualification.objects.filter(person=person).exists()
    r = c.post(
        reverse("audits:qualification_create"),
        {"org": tree.branch_a2.pk, "person": person.pk, "course": ""},
    )
    assert set(r.context["form"].errors) >= {"course", "certified_on", "valid_until"}


def test_record_qualification_forbidden_and_out_of_scope(login, users, team, tree):
    # a secretary cannot record qualifications
    r = login(users.secretary_a1).get(reverse("audits:qualification_create"))
    assert r.status_code == 403
    # an auditor sees the team but cannot record
    r = login(team.a1_user).post(
        reverse("audits:qualification_create"),
        {
            "person": team.a1.pk,
            "course": "x",
            "certified_on": "2026-01-01",
            "valid_until": "2027-01-01",
        },
    )
    assert r.status_code == 403


def test_edit_qualification(login, users, team):
    qual = team.a1.auditor_qualifications.get()
    c = login(users.party_admin)
    url = reverse("audits:qualification_edit", args=[qual.pk])
    assert c.get(url).status_code == 200
    r = c.post(
        url,
        {
            "course": "复训",
            "certified_on": "2025-01-01",
            "valid_until": "2030-12-31",
            "version": qual.version,
        },
    )
    assert r.status_code == 302
    qual.refresh_from_db()
    assert qual.course == "复训" and qual.valid_until == datetime.date(2030, 12, 31)
    # stale version: refused, input kept
    r = c.post(
        url,
        {"course": "再改", "certified_on": "2025-01-01", "valid_until": "2030-12-31", "version": 1},
    )
    assert r.status_code == 200 and "再改" in r.content.decode()
    assert r.context["form"].non_field_errors()


def test_edit_qualification_forbidden_and_404(login, users, team):
    qual = team.a1.auditor_qualifications.get()
    url = reverse("audits:qualification_edit", args=[qual.pk])
    assert login(team.a1_user).get(url).status_code == 403
    assert login(team.b1_user).get(url).status_code == 404
    assert login(users.secretary_b1).get(url).status_code == 404
