"""Pages of management reviews: each role allowed / refused, another unit's review
invisible (404), bad input kept in the form with nothing saved (errors in Chinese), the
lifecycle through the pages, the minutes .docx, and query counts that do not grow."""

from __future__ import annotations

import io

import docx
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pbqms.reviews import services
from pbqms.reviews.models import InputSnapshot, ManagementReview, ReviewOutput
from tests.factories import make_person

from .conftest import TODAY, days

R = ManagementReview.Status


def url(name, *args):
    return reverse(f"reviews:{name}", args=args)


def html(response) -> str:
    return response.content.decode()


def queries(client, path) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def api_get(client, pk):
    return client.get(f"/api/management-reviews/{pk}/snapshot/")


def add_outputs(review, rp, n):
    for i in range(n):
        services.add_output(
            review,
            actor=rp.admin,
            data={"description": f"措施{i}", "owner": rp.owner, "due_on": days(i % 5)},
        )


def test_list_roles(login, rp, users, tree, make_review):
    root_review = make_review()
    a1_review = make_review(tree.branch_a1, title="A1支部评审")
    page = html(login(rp.admin).get(url("list")))
    assert root_review.number in page and a1_review.number in page
    client = login(users.secretary_a1)
    page = html(client.get(url("list")))
    assert a1_review.number in page and root_review.number not in page
    assert client.get(url("detail", root_review.pk)).status_code == 404
    assert client.get(url("detail", a1_review.pk)).status_code == 200
    assert login(users.member_a1).get(url("list")).status_code == 403
    assert login(users.nobody).get(url("list")).status_code == 403
    assert login(users.secretary_b1).get(url("detail", a1_review.pk)).status_code == 404


def test_menu_item(login, rp, users):
    assert url("list") in html(login(rp.admin).get("/"))
    assert url("list") not in html(login(users.member_a1).get("/"))


def test_owner_sees_review_through_output(login, rp, users, make_review):
    review = make_review(stage="held")
    add_outputs(review, rp, 1)
    client = login(users.member_a1)  # a member: no review permission, but owns an output
    page = html(client.get(url("detail", review.pk)))
    assert "措施0" in page
    # the inputs list other units' nonconformities: not for an output's owner
    assert 'data-testid="review-inputs"' not in page and url("minutes", review.pk) not in page
    assert client.get(url("minutes", review.pk)).status_code == 403
    assert api_get(client, review.pk).status_code == 403
    output = review.outputs.get()
    response = client.post(
        url("output_complete", output.pk), {"result": "已完成", "version": output.version}
    )
    assert response.status_code == 302
    output.refresh_from_db()
    assert output.status == ReviewOutput.Status.DONE


def test_create_and_bad_input(login, rp, tree, users):
    client = login(rp.admin)
    assert client.get(url("create")).status_code == 200
    before = ManagementReview.objects.count()
    response = client.post(
        url("create"),
        {"org": tree.root.pk, "title": "坏输入的评审", "period_start": "2026-13-01", "chair": ""},
    )
    assert response.status_code == 200
    page = html(response)
    assert "此项为必填项" in page  # field errors in the Chinese UI
    assert 'value="坏输入的评审"' in page  # input kept
    assert ManagementReview.objects.count() == before
    response = client.post(
        url("create"),
        {
            "org": tree.root.pk,
            "title": "年度管理评审",
            "period_start": days(-200).isoformat(),
            "period_end": TODAY.isoformat(),
            "planned_on": TODAY.isoformat(),
            "chair": rp.chair.pk,
            "attendees": [rp.chair.pk, rp.attendee.pk],
        },
    )
    assert response.status_code == 302
    review = ManagementReview.objects.get(title="年度管理评审")
    assert set(review.attendees.all()) == {rp.chair, rp.attendee}
    assert login(users.secretary_a1).get(url("create")).status_code == 403


def test_lifecycle_through_pages(login, rp, users, tree, make_review, password):
    review = make_review()
    client = login(rp.admin)
    assert login(users.secretary_a1).post(url("compile", review.pk)).status_code == 404
    client = login(rp.admin)
    assert client.post(url("compile", review.pk)).status_code == 302
    assert InputSnapshot.objects.filter(review=review).exists()
    page = html(client.get(url("detail", review.pk)))
    assert 'data-testid="review-inputs"' in page and "review-charts-data" in page
    # bad meeting input: nothing saved, error shown
    response = client.post(url("meeting", review.pk), {"held_on": "", "attendees": []})
    assert response.status_code == 200 and "此项为必填项" in html(response)
    review.refresh_from_db()
    assert review.held_on is None
    response = client.post(
        url("meeting", review.pk),
        {
            "held_on": TODAY.isoformat(),
            "attendees": [rp.chair.pk, rp.attendee.pk],
            "suitability": "适宜",
            "adequacy": "充分",
            "effectiveness": "有效",
            "decisions": "决定",
            "version": review.version,
        },
    )
    assert response.status_code == 302
    assert client.post(url("transition", review.pk), {"transition": "hold"}).status_code == 302
    review.refresh_from_db()
    assert review.status == R.HELD
    # an output, with a bad one first
    response = client.post(
        url("output_add", review.pk),
        {
            "kind": "improvement",
            "description": "",
            "owner": rp.owner.pk,
            "due_on": TODAY.isoformat(),
        },
    )
    assert response.status_code == 200 and not ReviewOutput.objects.exists()
    response = client.post(
        url("output_add", review.pk),
        {
            "kind": "improvement",
            "description": "完善制度",
            "owner": rp.owner.pk,
            "due_on": TODAY.isoformat(),
        },
    )
    assert response.status_code == 302
    output = ReviewOutput.objects.get()
    client.post(url("output_complete", output.pk), {"result": "已完善", "version": output.version})
    # the chair signs
    chair = login(rp.chair_user)
    chair.post(url("transition", review.pk), {"transition": "close", "password": "wrong"})
    review.refresh_from_db()
    assert review.status == R.HELD
    chair.post(url("transition", review.pk), {"transition": "close", "password": password})
    review.refresh_from_db()
    assert review.status == R.CLOSED
    assert chair.post(url("transition", review.pk), {"transition": "bogus"}).status_code == 404


def test_raise_nonconformity_page(login, rp, tree, make_review):
    review = make_review(stage="held")
    add_outputs(review, rp, 1)
    output = review.outputs.get()
    client = login(rp.admin)
    assert client.get(url("output_raise", output.pk)).status_code == 200
    response = client.post(
        url("output_raise", output.pk),
        {"org": tree.branch_a1.pk, "requirement": "", "severity": "minor"},
    )
    assert response.status_code == 200
    output.refresh_from_db()
    assert output.nonconformity_id is None
    response = client.post(
        url("output_raise", output.pk),
        {"org": tree.branch_a1.pk, "requirement": "组织生活会制度", "severity": "minor"},
    )
    assert response.status_code == 302
    output.refresh_from_db()
    assert output.nonconformity_id


def test_minutes_docx(login, rp, make_review, users):
    review = make_review(stage="held")
    add_outputs(review, rp, 2)
    client = login(rp.admin)
    response = client.get(url("minutes", review.pk))
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('-minutes.docx"')
    document = docx.Document(io.BytesIO(response.content))
    text = "\n".join(p.text for p in document.paragraphs)
    cells = "\n".join(c.text for t in document.tables for row in t.rows for c in row.cells)
    assert review.number in text
    assert "体系与党建工作实际相适应。" in text and "修订三会一课制度。" in text
    assert "王书记" in cells and "李委员" in cells and "措施0" in cells and "措施1" in cells
    planned = make_review(title="计划中")
    assert client.get(url("minutes", planned.pk)).status_code == 404
    assert login(users.secretary_b1).get(url("minutes", review.pk)).status_code == 404


def test_query_counts_do_not_grow(login, rp, tree, make_review):
    small = make_review(stage="held")
    add_outputs(small, rp, 2)
    big = make_review(stage="held", title="大评审")
    add_outputs(big, rp, 25)
    extra = [make_person(tree.sub_a, f"参会{i}") for i in range(10)]
    big.attendees.add(*extra)
    client = login(rp.admin)
    assert queries(client, url("detail", small.pk)) == queries(client, url("detail", big.pk))
    list_small = queries(client, url("list"))
    for i in range(12):
        make_review(title=f"评审{i}")
    assert queries(client, url("list")) == list_small


def test_edit_page_keeps_attendees_and_refuses_stale(login, rp, make_review):
    review = make_review()
    client = login(rp.admin)
    page = html(client.get(url("edit", review.pk)))
    assert f'<option value="{rp.attendee.pk}" selected>' in page
    assert "multiple" in page
    data = {
        "title": "改名",
        "period_start": review.period_start.isoformat(),
        "period_end": review.period_end.isoformat(),
        "planned_on": TODAY.isoformat(),
        "chair": rp.chair.pk,
        "attendees": [rp.chair.pk],
        "version": review.version,
    }
    assert client.post(url("edit", review.pk), data).status_code == 302
    response = client.post(url("edit", review.pk), {**data, "title": "再改"})  # stale version
    assert response.status_code == 200
    review.refresh_from_db()
    assert review.title == "改名"


def test_overdue_output_flagged(login, rp, make_review):
    review = make_review(stage="held")
    output = services.add_output(
        review, actor=rp.admin, data={"description": "逾期措施", "owner": rp.owner, "due_on": TODAY}
    )
    ReviewOutput.objects.filter(pk=output.pk).update(due_on=days(-3))
    page = html(login(rp.admin).get(url("detail", review.pk)))
    assert 'data-testid="overdue"' in page
    listing = html(login(rp.admin).get(url("list")))
    assert "1 项逾期" in listing or "1 overdue" in listing


def test_minutes_of_a_closed_review_carry_the_signature(login, rp, make_review, password):
    review = make_review(stage="held")
    services.close(review, actor=rp.chair_user, password=password)
    response = login(rp.admin).get(url("minutes", review.pk))
    document = docx.Document(io.BytesIO(response.content))
    text = "\n".join(p.text for p in document.paragraphs)
    signer = rp.chair_user.display_name
    assert f"：{signer}" in text and "____" not in text


def test_workbench_card_for_output_owners(login, rp, make_review):
    assert url("list") not in html(login(rp.owner_user).get("/"))
    review = make_review(stage="held")
    add_outputs(review, rp, 2)
    page = html(login(rp.owner_user).get("/"))
    assert url("list") in page


def test_list_filters_and_htmx_partial(login, rp, make_review):
    planned = make_review(title="甲评审")
    held = make_review(stage="held", title="乙评审")
    client = login(rp.admin)
    page = html(client.get(url("list"), {"status": "held"}))
    assert held.number in page and planned.number not in page
    page = html(client.get(url("list"), {"q": "甲"}))
    assert planned.number in page and held.number not in page
    partial = client.get(url("list"), {"status": "bogus", "page": "x"}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert "<html" not in html(partial) and 'id="review-table"' in html(partial)


def test_create_page_survives_odd_unit_parameter(login, rp):
    client = login(rp.admin)
    for odd in ("²", "1" * 40, "-1", "abc"):
        assert client.get(reverse("reviews:create"), {"org": odd}).status_code == 200
