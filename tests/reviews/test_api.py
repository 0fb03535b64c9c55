"""REST API of management reviews: scope (lists, 404 outside), roles (403), bad input
(400 with fields, nothing saved), the lifecycle, the read-only snapshot, bounded queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from pbqms.reviews import services
from pbqms.reviews.models import InputSnapshot, ManagementReview, ReviewOutput
from tests.factories import PASSWORD

from .conftest import TODAY, days

BASE = "/api/management-reviews/"


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


def body(rp, tree, **extra):
    data = {
        "org": tree.root.pk,
        "title": "API 管理评审",
        "period_start": days(-200).isoformat(),
        "period_end": TODAY.isoformat(),
        "planned_on": TODAY.isoformat(),
        "chair": rp.chair.pk,
        "attendees": [rp.chair.pk, rp.attendee.pk],
    }
    data.update(extra)
    return data


def test_list_and_scope(api, rp, users, tree, make_review):
    root = make_review()
    a1 = make_review(tree.branch_a1)
    assert ids(api(rp.admin).get(BASE)) == {root.pk, a1.pk}
    assert ids(api(users.secretary_a1).get(BASE)) == {a1.pk}
    assert api(users.secretary_a1).get(f"{BASE}{root.pk}/").status_code == 404
    assert api(users.member_a1).get(BASE).status_code == 403
    assert api().get(BASE).status_code in (401, 403)


def test_create_roles_and_bad_input(api, rp, users, tree):
    client = api(rp.admin)
    response = client.post(BASE, body(rp, tree, title="", chair=999999), format="json")
    assert response.status_code == 400
    assert "title" in response.json()["error"]["fields"]
    response = client.post(BASE, body(rp, tree, period_end=days(-300).isoformat()), format="json")
    assert response.status_code == 400 and "period_end" in response.json()["error"]["fields"]
    assert not ManagementReview.objects.exists()
    response = api(users.secretary_a1).post(
        BASE, body(rp, tree, org=tree.branch_a1.pk), format="json"
    )
    assert response.status_code == 403
    response = api(users.secretary_a1).post(BASE, body(rp, tree), format="json")
    assert response.status_code == 404
    response = client.post(BASE, body(rp, tree), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["number"].startswith("MR-")


def test_lifecycle_and_snapshot(api, rp, users, make_review, password):
    review = make_review()
    client = api(rp.admin)
    assert client.get(f"{BASE}{review.pk}/snapshot/").status_code == 404
    assert api(users.expert).post(f"{BASE}{review.pk}/compile-inputs/").status_code == 403
    response = client.post(f"{BASE}{review.pk}/compile-inputs/")
    assert response.status_code == 200 and response.json()["status"] == "inputs_frozen"
    snap = client.get(f"{BASE}{review.pk}/snapshot/")
    assert snap.status_code == 200 and snap.json()["intact"] is True
    assert "nonconformities" in snap.json()["data"]
    # the snapshot cannot be written through the API
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(f"{BASE}{review.pk}/snapshot/").status_code == 405
    again = client.post(f"{BASE}{review.pk}/compile-inputs/")
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "transition_not_allowed"
    response = client.post(f"{BASE}{review.pk}/hold/")
    assert response.status_code == 400
    response = client.post(
        f"{BASE}{review.pk}/meeting/",
        {
            "held_on": TODAY.isoformat(),
            "attendees": [rp.chair.pk],
            "suitability": "适宜",
            "adequacy": "充分",
            "effectiveness": "有效",
            "decisions": "无",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert client.post(f"{BASE}{review.pk}/hold/").json()["status"] == "held"
    response = client.post(
        f"{BASE}{review.pk}/outputs/",
        {"description": "补充台账", "owner": rp.owner.pk, "due_on": TODAY.isoformat()},
        format="json",
    )
    assert response.status_code == 201
    output_id = response.json()["id"]
    bad = client.post(
        f"{BASE}{review.pk}/outputs/",
        {"description": "", "owner": rp.owner.pk, "due_on": "x"},
        format="json",
    )
    assert bad.status_code == 400 and ReviewOutput.objects.count() == 1
    # the owner completes it through /api/review-outputs/
    owner = api(rp.owner_user)
    assert ids(owner.get("/api/review-outputs/")) == {output_id}
    done = owner.post(
        f"/api/review-outputs/{output_id}/complete/", {"result": "完成"}, format="json"
    )
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert api(users.secretary_b1).get(f"/api/review-outputs/{output_id}/").status_code in (
        403,
        404,
    )
    # only the chair closes, with the right password
    assert (
        client.post(f"{BASE}{review.pk}/close/", {"password": password}, format="json").status_code
        == 403
    )
    chair = api(rp.chair_user)
    assert (
        chair.post(f"{BASE}{review.pk}/close/", {"password": "nope"}, format="json").status_code
        == 400
    )
    closed = chair.post(f"{BASE}{review.pk}/close/", {"password": PASSWORD}, format="json")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert InputSnapshot.objects.filter(review=review).count() == 1


def test_list_queries_bounded(api, rp, make_review):
    client = api(rp.admin)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(BASE).status_code == 200
        return len(ctx.captured_queries)

    review = make_review(stage="held")
    services.add_output(
        review, actor=rp.admin, data={"description": "x", "owner": rp.owner, "due_on": TODAY}
    )
    small = count()
    for i in range(8):
        r = make_review(stage="held", title=f"评审{i}")
        for _j in range(3):
            services.add_output(
                r, actor=rp.admin, data={"description": "y", "owner": rp.owner, "due_on": TODAY}
            )
    assert count() == small


def test_stale_version_is_409_and_huge_ids_are_field_errors(api, rp, tree, make_review):
    review = make_review()
    client = api(rp.admin)
    first = client.patch(
        f"{BASE}{review.pk}/", body(rp, tree, title="第一次", version=review.version), format="json"
    )
    assert first.status_code == 200, first.json()
    stale = client.patch(
        f"{BASE}{review.pk}/", body(rp, tree, title="改名", version=review.version), format="json"
    )
    assert stale.status_code == 409, stale.json()
    review.refresh_from_db()
    assert review.title == "第一次"
    huge = client.post(BASE, body(rp, tree, attendees=[10**30], chair=10**30), format="json")
    assert huge.status_code == 400
    assert {"attendees", "chair"} <= set(huge.json()["error"]["fields"])
    assert ManagementReview.objects.count() == 1
