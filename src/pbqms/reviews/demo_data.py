"""The demo management review (after ``pbqms demo`` and the other demo commands): the
party committee's annual review, inputs compiled and frozen, meeting held, conclusions and
three output actions (two done, one open). Everything goes through the services, as the
demo users themselves. ``load()`` does nothing when a review exists already."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from pbqms.accounts.models import User
from pbqms.core.context import action_context
from pbqms.orgs.demo_data import ROOT_CODE
from pbqms.orgs.models import Organization, Person
from pbqms.reviews import services
from pbqms.reviews.models import ManagementReview, ReviewOutput


def _d(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def _person(username: str) -> Person | None:
    return Person.objects.filter(user__username=username).first()


OUTPUTS = (
    (
        ReviewOutput.Kind.CHANGE,
        "修订《党支部“三会一课”管理制度》，明确支委会延期召开的审批和补开要求",
        "zhibu1",
        20,
        "制度已修订并发布（第B版），各支部已组织学习确认。",
    ),
    (
        ReviewOutput.Kind.IMPROVEMENT,
        "对内审发现的重复不符合项开展专项整改回头看",
        "zhibu2",
        25,
        "已完成回头看，2项重复问题全部整改到位。",
    ),
    (
        ReviewOutput.Kind.RESOURCE,
        "为各基层党支部配备党务工作AB角，组织一次党务骨干专题培训",
        "dangwei",
        45,
        "",
    ),
)


def load(stdout=None) -> int:
    """Create the demo review; returns 1, or 0 when one exists (or the demo is missing)."""
    if ManagementReview.objects.exists():
        return 0
    admin = User.objects.filter(username="dangwei").first()
    root = Organization.objects.filter(code=ROOT_CODE).first()
    if admin is None or root is None:
        return 0
    chair = _person("shuji") or _person("dangwei")
    attendees = [
        p
        for p in (
            _person(u) for u in ("shuji", "dangwei", "dangban", "zhibu1", "zhibu2", "auditor1")
        )
        if p
    ]
    if chair is None:
        return 0
    today = timezone.localdate()
    with transaction.atomic(), action_context(source="command", reason="演示数据"):
        review = services.schedule_review(
            actor=admin,
            org=root,
            data={
                "title": f"{today.year}年度管理评审",
                "period_start": _d(-365),
                "period_end": _d(0),
                "planned_on": _d(0),
                "location": "集团党委会议室",
                "chair": chair,
                "attendees": attendees,
            },
        )
        services.compile_inputs(review, actor=admin)
        services.record_meeting(
            review,
            actor=admin,
            data={
                "held_on": _d(0),
                "attendees": attendees,
                "suitability": (
                    "党建质量管理体系与集团党委“围绕中心、服务大局”的定位和基层党组织设置相适应，"
                    "体系范围、方针和目标仍然适宜。"
                ),
                "adequacy": (
                    "体系文件覆盖党的组织生活、党员教育管理、党费收缴等主要过程；"
                    "党员发展过程的记录表格尚需补充。"
                ),
                "effectiveness": (
                    "年度目标基本实现；内审发现的不符合项多数按期关闭，"
                    "但支委会按月召开仍有反复，需持续改进。"
                ),
                "decisions": (
                    "1. 修订“三会一课”管理制度；2. 开展重复不符合项专项整改回头看；"
                    "3. 加强党务工作力量配备和培训。"
                ),
            },
        )
        services.hold(review, actor=admin)
        for kind, text, owner_name, due, result in OUTPUTS:
            owner = _person(owner_name) or chair
            output = services.add_output(
                review,
                actor=admin,
                data={"kind": kind, "description": text, "owner": owner, "due_on": _d(due)},
            )
            if result:
                services.complete_output(output, actor=admin, result=result, done_on=_d(0))
    if stdout is not None:
        stdout.write(f"Demo management review: {review.number}\n")
    return 1
