"""The built-in requirement library: the ISO 9001:2015 clause skeleton (numbers and
titles) and the recurring activities that party regulations require of a 党支部
(REFERENCE.md), each with its usual frequency and the record template that evidences it.

``ensure_builtin_requirements()`` is idempotent: it adds what is missing and never
overwrites a requirement a user has edited. ``ensure_builtin_obligations(owner)`` sets
up the usual obligations for the units under ``owner`` (used by the demo and on request).
"""

from __future__ import annotations

# (code, title, sort key)
ISO_CLAUSES: list[tuple[str, str]] = [
    ("4", "组织环境"),
    ("4.1", "理解组织及其环境"),
    ("4.2", "理解相关方的需求和期望"),
    ("4.3", "确定质量管理体系的范围"),
    ("4.4", "质量管理体系及其过程"),
    ("5", "领导作用"),
    ("5.1", "领导作用和承诺"),
    ("5.2", "方针"),
    ("5.3", "组织的岗位、职责和权限"),
    ("6", "策划"),
    ("6.1", "应对风险和机遇的措施"),
    ("6.2", "质量目标及其实现的策划"),
    ("6.3", "变更的策划"),
    ("7", "支持"),
    ("7.1", "资源"),
    ("7.2", "能力"),
    ("7.3", "意识"),
    ("7.4", "沟通"),
    ("7.5", "成文信息"),
    ("8", "运行"),
    ("8.1", "运行的策划和控制"),
    ("8.2", "产品和服务的要求"),
    ("8.3", "产品和服务的设计和开发"),
    ("8.4", "外部提供的过程、产品和服务的控制"),
    ("8.5", "生产和服务提供"),
    ("8.6", "产品和服务的放行"),
    ("8.7", "不合格输出的控制"),
    ("9", "绩效评价"),
    ("9.1", "监视、测量、分析和评价"),
    ("9.1.2", "顾客满意"),
    ("9.2", "内部审核"),
    ("9.3", "管理评审"),
    ("10", "改进"),
    ("10.1", "总则"),
    ("10.2", "不合格和纠正措施"),
    ("10.3", "持续改进"),
]

# (code, title, frequency note, record template code, frequency, interval, due offset,
#  counting, applies to kinds)
PARTY_ACTIVITIES: list[dict] = [
    {
        "code": "DJ-ZBDYDH",
        "title": "支部党员大会",
        "text": "党支部党员大会一般每季度召开1次。",
        "frequency_note": "一般每季度1次",
        "template": "member_meeting",
        "frequency": "quarterly",
        "kinds": ["branch", "joint_branch"],
    },
    {
        "code": "DJ-ZBWYH",
        "title": "支部委员会会议",
        "text": "党支部委员会会议一般每月召开1次，须有半数以上委员到会方能召开。",
        "frequency_note": "一般每月1次；半数以上委员到会",
        "template": "committee_meeting",
        "frequency": "monthly",
        "counting": "quorum",
        "kinds": ["branch", "joint_branch"],
    },
    {
        "code": "DJ-DXZH",
        "title": "党小组会",
        "text": "党小组会一般每月召开1次。",
        "frequency_note": "一般每月1次",
        "template": "group_meeting",
        "frequency": "monthly",
        "kinds": ["group"],
    },
    {
        "code": "DJ-DK",
        "title": "党课",
        "text": "党支部书记每年至少讲1次党课；不少党委要求每季度1次。",
        "frequency_note": "书记每年至少1次；常见要求每季度1次",
        "template": "party_lecture",
        "frequency": "quarterly",
        "kinds": ["branch", "joint_branch"],
    },
    {
        "code": "DJ-ZTDR",
        "title": "主题党日",
        "text": "党支部每月相对固定1天开展主题党日活动。",
        "frequency_note": "每月1次",
        "template": "theme_day",
        "frequency": "monthly",
        "kinds": ["branch", "joint_branch"],
    },
    {
        "code": "DJ-ZZSHH",
        "title": "组织生活会",
        "text": "党支部每年至少召开1次组织生活会，一般安排在第四季度。",
        "frequency_note": "每年至少1次，一般在第四季度",
        "template": "org_life",
        "frequency": "yearly",
        "kinds": ["branch", "joint_branch"],
    },
    {
        "code": "DJ-MZPYDY",
        "title": "民主评议党员",
        "text": "民主评议党员一般每年开展1次：个人自评、党员互评、民主测评；"
        "评定等次为优秀、合格、基本合格、不合格，优秀一般不超过三分之一。",
        "frequency_note": "一般每年1次",
        "template": "member_review",
        "frequency": "yearly",
        "kinds": ["branch", "joint_branch"],
    },
    {
        "code": "DJ-TXTH",
        "title": "谈心谈话",
        "text": "支部委员与党员之间每年至少开展1次谈心谈话。",
        "frequency_note": "每年至少1次",
        "template": "heart_talk",
        "frequency": "yearly",
        "kinds": ["branch", "joint_branch"],
    },
    {
        "code": "DJ-HJ",
        "title": "换届",
        "text": "党组织任期届满按期进行换届选举；提前6个月提醒。",
        "frequency_note": "任期届满时",
        "template": None,
        "kinds": [],
    },
]


def _iso_sort_key(number: str) -> str:
    return ".".join(f"{int(p):03d}" for p in number.split("."))


def ensure_builtin_requirements(requirement_model=None) -> int:
    """Create the built-in requirements that do not exist yet (by code); return how many."""
    if requirement_model is None:
        from pbqms.system.models import Requirement as requirement_model
    existing = set(requirement_model.objects.values_list("code", flat=True))
    new = []
    for number, title in ISO_CLAUSES:
        code = f"ISO9001-{number}"
        if code not in existing:
            new.append(
                requirement_model(
                    source="iso9001",
                    code=code,
                    title=f"{number} {title}",
                    reference="ISO 9001:2015",
                    sort_key=_iso_sort_key(number),
                    is_builtin=True,
                )
            )
    for index, spec in enumerate(PARTY_ACTIVITIES):
        if spec["code"] not in existing:
            new.append(
                requirement_model(
                    source="party",
                    code=spec["code"],
                    title=spec["title"],
                    text=spec["text"],
                    reference="《中国共产党支部工作条例（试行）》",
                    frequency_note=spec["frequency_note"],
                    sort_key=f"{index:03d}",
                    is_builtin=True,
                )
            )
    requirement_model.objects.bulk_create(new)
    return len(new)


def ensure_builtin_obligations(owner, active_from=None, due_offsets=None) -> list:
    """The usual obligations (one per party activity with a record template) for the units
    under ``owner``; existing ones (same requirement and owner) are kept. ``due_offsets``:
    {requirement code: days into the period} for obligations due before the period ends."""
    due_offsets = due_offsets or {}
    from pbqms.records.models import RecordTemplate
    from pbqms.system.models import Obligation, Requirement

    ensure_builtin_requirements()
    requirements = {r.code: r for r in Requirement.objects.filter(source="party")}
    templates = {t.code: t for t in RecordTemplate.objects.all()}
    have = set(Obligation.objects.filter(owner=owner).values_list("requirement__code", flat=True))
    made = []
    for spec in PARTY_ACTIVITIES:
        template = templates.get(spec["template"] or "")
        if template is None or spec["code"] in have:
            continue
        made.append(
            Obligation.objects.create(
                requirement=requirements[spec["code"]],
                name=spec["title"],
                owner=owner,
                applies_to_kinds=spec["kinds"],
                activity=template,
                frequency=spec["frequency"],
                counting=spec.get("counting", "none"),
                due_offset_days=due_offsets.get(spec["code"]),
                active_from=active_from,
            )
        )
    return made
