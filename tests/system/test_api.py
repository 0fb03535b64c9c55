"""API: /api/requirements/, /api/obligations/ (writes by the committee), /api/conformity/
(scoped): allowed, forbidden, other unit (404), bad input (400, nothing saved)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from pbqms.system import engine
from pbqms.system.models import ConformityResult, Obligation

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    def _api(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return _api


@pytest.fixture
def computed(tree, theme_day):
    engine.recompute_all()
    return theme_day


def test_requirements(api, users, requirement, django_assert_max_num_queries):
    client = api(users.member_a1)
    with django_assert_max_num_queries(6):
        response = client.get("/api/requirements/", {"source": "party"})
    assert response.status_code == 200
    codes = [r["code"] for r in response.json()["results"]]
    assert "DJ-ZTDR" in codes and not any(c.startswith("ISO") for c in codes)
    assert api(users.system_admin).get("/api/requirements/").status_code == 403
    assert client.get("/api/requirements/999999/").status_code == 404


def test_conformity_is_scoped(api, users, tree, computed, django_assert_max_num_queries):
    client = api(users.secretary_a1)
    with django_assert_max_num_queries(6):
        response = client.get("/api/conformity/", {"page_size": 100})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 12
    assert {r["org"] for r in body["results"]} == {tree.branch_a1.pk}
    other = ConformityResult.objects.filter(org=tree.branch_b1).first()
    assert client.get(f"/api/conformity/{other.pk}/").status_code == 404
    assert client.get("/api/conformity/abc/").status_code == 404
    admin = api(users.party_admin).get("/api/conformity/", {"obligation": computed.pk})
    assert admin.json()["count"] == 36
    assert api(users.system_admin).get("/api/conformity/").status_code == 403


def test_obligations_read_and_write(api, users, tree, templates, requirement, computed):
    sec = api(users.secretary_a1)
    assert sec.get("/api/obligations/").json()["count"] == 1
    payload = {
        "name": "党小组会",
        "requirement": requirement.pk,
        "owner": tree.sub_a.pk,
        "applies_to_kinds": ["group"],
        "activity": templates["group_meeting"].pk,
        "frequency": "monthly",
    }
    assert sec.post("/api/obligations/", payload, format="json").status_code == 403
    admin = api(users.party_admin)
    bad = admin.post("/api/obligations/", {**payload, "frequency": "weekly"}, format="json")
    assert bad.status_code == 400 and "frequency" in str(bad.json())
    custom = admin.post("/api/obligations/", {**payload, "frequency": "custom"}, format="json")
    assert custom.status_code == 400 and "interval_months" in str(custom.json())
    assert not Obligation.objects.filter(name="党小组会").exists()
    created = admin.post("/api/obligations/", payload, format="json")
    assert created.status_code == 201, created.json()
    ob_id = created.json()["id"]
    assert set(
        ConformityResult.objects.filter(obligation_id=ob_id).values_list("org_id", flat=True)
    ) == {tree.group_a1.pk}
    version = created.json()["version"]
    stale = admin.put(
        f"/api/obligations/{ob_id}/", {**payload, "version": version + 5}, format="json"
    )
    assert stale.status_code == 409
    updated = admin.put(
        f"/api/obligations/{ob_id}/",
        {**payload, "frequency": "quarterly", "version": version},
        format="json",
    )
    assert updated.status_code == 200 and updated.json()["frequency"] == "quarterly"
    # a B1 secretary has no write right; a unit outside the admin's grant is refused
    assert (
        api(users.secretary_b1)
        .put(f"/api/obligations/{ob_id}/", payload, format="json")
        .status_code
        == 403
    )
