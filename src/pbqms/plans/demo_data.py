"""Demo work plans (``pbqms demo_plans``, after ``pbqms demo`` and ``pbqms demo_records``).

The 集团党委 gets an annual party-building work plan for last year (its year-end items)
and for this year, both published to every 党支部 and 联合党支部 as tasks; the branch of
the secretary ``zhibu1`` has its own plan cascading to its 党小组. Tasks whose unit has a
submitted record of the item's template in the plan year (up to the due date, or up to
today for items not yet due) are completed with that record — the branches that missed
meetings in the demo records are left with overdue tasks, so the plan's completion per
unit and the PDCA view tell the same story as the conformity board.

Everything goes through ``pbqms.plans.services`` as the demo users. ``load()`` does
nothing when the 集团党委 has plans already (running the demo twice gives the same demo).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from pbqms.accounts.models import User
from pbqms.core.context import action_context
from pbqms.orgs.models import Organization
from pbqms.plans import services
from pbqms.plans.models import Task, WorkPlan

REASON = "演示数据"
ROOT_CODE = "HHJT"
BRANCH_KINDS = [Organization.Kind.BRANCH, Organization.Kind.JOINT_BRANCH]

# (title, category, month, day, record template kind, responsible, description)
THIS_YEAR = (
    (
        "召开一季度支部党员大会",
        "organisational",
        3,
        31,
        "member_meeting",
        "支部书记",
        "传达学习上级会议精神，部署全年党建工作。",
    ),
    (
        "书记讲专题党课",
        "ideological",
        6,
        30,
        "party_lecture",
        "支部书记",
        "围绕党的创新理论和企业改革发展讲一次专题党课。",
    ),
    (
        "开展“七一”主题党日活动",
        "political",
        7,
        31,
        "theme_day",
        "组织委员",
        "重温入党誓词，开展党员志愿服务。",
    ),
    (
        "召开三季度支部党员大会",
        "organisational",
        9,
        30,
        "member_meeting",
        "支部书记",
        "通报上半年工作，讨论发展党员等事项。",
    ),
    (
        "谈心谈话全覆盖",
        "conduct",
        12,
        20,
        "heart_talk",
        "支部委员",
        "支部委员与每名党员至少谈心谈话一次。",
    ),
    (
        "召开支委会研究年度考核",
        "institutional",
        11,
        30,
        "committee_meeting",
        "支部书记",
        "研究党员年度考核和民主评议安排。",
    ),
    (
        "召开年度组织生活会",
        "discipline",
        12,
        31,
        "org_life",
        "支部书记",
        "开展批评和自我批评，制定整改措施。",
    ),
    (
        "开展民主评议党员",
        "discipline",
        12,
        31,
        "member_review",
        "组织委员",
        "按程序开展民主评议，评定等次。",
    ),
)
LAST_YEAR = (
    (
        "12月支委会：总结全年工作",
        "institutional",
        12,
        31,
        "committee_meeting",
        "支部书记",
        "总结全年党建工作，研究明年工作计划。",
    ),
    (
        "12月主题党日：年终学习",
        "political",
        12,
        31,
        "theme_day",
        "组织委员",
        "学习上级年终工作会议精神。",
    ),
)
BRANCH_PLAN = (
    (
        "党小组每月集中学习",
        "ideological",
        11,
        30,
        "group_meeting",
        "党小组组长",
        "各党小组组织党员集中学习，做好记录。",
    ),
)


def _user(username: str):
    return User.objects.filter(username=username, is_active=True).first()


def _templates() -> dict[str, object]:
    from pbqms.records.models import RecordTemplate

    out = {}
    for t in RecordTemplate.objects.filter(is_active=True).order_by("-is_builtin", "id"):
        out.setdefault(t.kind, t)
    return out


def _obligations(root) -> dict[int, object]:
    """Record template id → the 党委's obligation evidenced by it (when demo_records ran)."""
    from pbqms.system.models import Obligation

    out = {}
    for ob in Obligation.objects.filter(owner=root, is_active=True).order_by("id"):
        if ob.activity_id:
            out.setdefault(ob.activity_id, ob)
    return out


def _plan(actor, org, year, title, description, rows, targets, templates, obligations):
    plan = services.create_plan(
        actor=actor, org=org, year=year, title=title, description=description
    )
    for title, category, month, day, kind, owner, text in rows:
        template = templates.get(kind)
        services.add_item(
            plan,
            actor=actor,
            title=title,
            description=text,
            category=category,
            due_on=dt.date(year, month, day),
            owner=owner,
            record_template=template,
            obligation=obligations.get(template.pk) if template else None,
            target_kinds=targets,
        )
    services.publish_plan(plan, actor=actor)
    return plan


def _complete(plan: WorkPlan, actor, today: dt.date) -> int:
    """Complete the tasks whose unit has a fitting submitted record; returns how many."""
    from pbqms.records.models import Record

    tasks = list(
        Task.objects.filter(item__plan=plan, status=Task.Status.OPEN)
        .select_related("item", "org")
        .order_by("due_on", "id")
    )
    if not tasks:
        return 0
    start = timezone.make_aware(dt.datetime(plan.year, 1, 1))
    end = timezone.make_aware(dt.datetime(plan.year + 1, 1, 1))
    rows = (
        Record.objects.filter(
            status=Record.Status.SUBMITTED,
            org_id__in={t.org_id for t in tasks},
            occurred_at__gte=start,
            occurred_at__lt=end,
        )
        .order_by("occurred_at", "id")
        .values_list("id", "org_id", "template_id", "occurred_at")
    )
    by_unit: dict[tuple[int, int], list[tuple[int, dt.date]]] = {}
    for pk, org_id, template_id, occurred_at in rows:
        day = timezone.localtime(occurred_at).date()
        by_unit.setdefault((org_id, template_id), []).append((pk, day))
    done = 0
    for task in tasks:
        limit = min(task.due_on, today)
        # the latest record before the due date (a quarter's meeting, not January's)
        fitting = [
            (pk, day)
            for pk, day in by_unit.get((task.org_id, task.item.record_template_id), [])
            if day <= limit
        ]
        if not fitting:
            continue
        pk, day = fitting[-1]
        services.complete_task(task, actor=actor, records=[pk], completed_on=day)
        done += 1
    return done


def load(stdout=None) -> dict | None:
    """Create the demo plans; ``None`` when they exist already (or the demo is missing)."""
    root = Organization.objects.filter(code=ROOT_CODE).first()
    admin = _user("dangwei")
    if root is None or admin is None or WorkPlan.objects.filter(org=root).exists():
        return None
    today = timezone.localdate()
    year = today.year
    templates = _templates()
    obligations = _obligations(root)
    summary = {"plans": 0, "tasks": 0, "completed": 0}
    with transaction.atomic():
        with action_context(source="command", reason=REASON, actor=admin):
            plans = [
                _plan(
                    admin,
                    root,
                    year - 1,
                    f"{year - 1}年度党建工作计划（年终重点）",
                    "年终各党支部重点工作。",
                    LAST_YEAR,
                    BRANCH_KINDS,
                    templates,
                    obligations,
                ),
                _plan(
                    admin,
                    root,
                    year,
                    f"{year}年度党建工作计划",
                    "以政治建设为统领，推进党支部标准化规范化建设，落实“三会一课”等组织生活制度。",
                    THIS_YEAR,
                    BRANCH_KINDS,
                    templates,
                    obligations,
                ),
            ]
            for plan in plans:
                summary["completed"] += _complete(plan, admin, today)
        branch = Organization.objects.filter(code="HHJT-01-02").first()
        secretary = _user("zhibu1")
        has_groups = (
            branch is not None
            and services.subordinate_units(branch).filter(kind=Organization.Kind.GROUP).exists()
        )
        if secretary is not None and has_groups:
            with action_context(source="command", reason=REASON, actor=secretary):
                plan = _plan(
                    secretary,
                    branch,
                    year,
                    f"{branch.short_name or branch.name}{year}年度工作计划",
                    "落实党委年度计划，结合本支部实际细化到党小组。",
                    BRANCH_PLAN,
                    [Organization.Kind.GROUP],
                    templates,
                    obligations,
                )
                summary["completed"] += _complete(plan, secretary, today)
                plans.append(plan)
    summary["plans"] = len(plans)
    summary["tasks"] = Task.objects.filter(item__plan__in=plans).count()
    if stdout is not None:
        stdout.write(
            f"{summary['plans']} work plans, {summary['tasks']} tasks "
            f"({summary['completed']} completed with records)"
        )
    return summary
