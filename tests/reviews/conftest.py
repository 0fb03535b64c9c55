"""Fixtures of the management-review tests: a chair (党委书记) with an account, a few
attendees and owners, and builders driving a review through its lifecycle."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.utils import timezone

from pbqms.core.roles import Role
from pbqms.orgs.models import Person
from pbqms.reviews import services
from pbqms.reviews.models import ManagementReview
from tests.factories import PASSWORD, grant, make_person, make_user

TODAY = timezone.localdate()


def days(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


@dataclass
class ReviewPeople:
    admin: object  # 党委管理员 on the whole tree: schedules and runs reviews
    chair_user: object  # 党委书记: party admin too, chairs and signs
    chair: Person
    attendee: Person
    owner_user: object  # a member of A1 with an account: owns an output
    owner: Person


@pytest.fixture
def rp(users, tree) -> ReviewPeople:
    chair_user = make_user("shuji", display_name="书记")
    grant(chair_user, Role.PARTY_ADMIN, tree.root)
    chair = make_person(tree.root, "王书记", user=chair_user)
    attendee = make_person(tree.sub_a, "李委员")
    owner = Person.objects.get(user=users.member_a1)
    return ReviewPeople(
        admin=users.party_admin,
        chair_user=chair_user,
        chair=chair,
        attendee=attendee,
        owner_user=users.member_a1,
        owner=owner,
    )


def review_data(rp: ReviewPeople, **extra) -> dict:
    data = {
        "title": "2026年度管理评审",
        "period_start": days(-300),
        "period_end": TODAY,
        "planned_on": TODAY,
        "location": "党委会议室",
        "chair": rp.chair,
        "attendees": [rp.chair, rp.attendee],
    }
    data.update(extra)
    return data


def meeting_data(rp: ReviewPeople, **extra) -> dict:
    data = {
        "held_on": TODAY,
        "attendees": [rp.chair, rp.attendee],
        "suitability": "体系与党建工作实际相适应。",
        "adequacy": "覆盖全部基层组织和主要过程。",
        "effectiveness": "目标基本实现，不符合项按期关闭。",
        "decisions": "修订三会一课制度。",
    }
    data.update(extra)
    return data


@pytest.fixture
def make_review(rp, tree):
    def _make(org=None, *, stage: str = "planned", **extra) -> ManagementReview:
        review = services.schedule_review(
            actor=rp.admin, org=org or tree.root, data=review_data(rp, **extra)
        )
        if stage == "planned":
            return review
        services.compile_inputs(review, actor=rp.admin)
        if stage == "frozen":
            return review
        services.record_meeting(review, actor=rp.admin, data=meeting_data(rp))
        services.hold(review, actor=rp.admin)
        review.refresh_from_db()
        return review

    return _make


@pytest.fixture
def password():
    return PASSWORD
