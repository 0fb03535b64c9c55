"""The built-in record templates (the usual records of a party branch, REFERENCE.md).

Plain data, used by the data migration and by ``services.ensure_builtin_templates``. Field
labels are content (the template's own wording), stored as data like a user-made template."""

from __future__ import annotations

from typing import Any


def _f(name: str, label: str, type_: str = "text", required: bool = False, **extra: Any):
    spec = {"name": name, "label": label, "type": type_, "required": required}
    spec.update(extra)
    return spec


_PHOTOS = _f("photos", "现场照片", "file", help="PNG、JPEG 照片或 PDF 扫描件")
_SIGN_IN = _f("sign_in_sheet", "签到表扫描件", "file", help="签字的签到表（PDF 或照片）")


def _meeting(topic_label: str = "议题") -> list[dict[str, Any]]:
    return [
        _f("place", "地点", required=True),
        _f("host", "主持人", required=True),
        _f("recorder", "记录人", required=True),
        _f("topics", topic_label, "textarea", required=True),
        _f("content", "会议内容", "textarea", required=True),
        _f("resolutions", "决议/结果", "textarea"),
        _SIGN_IN,
        _PHOTOS,
    ]


BUILTIN_TEMPLATES: list[dict[str, Any]] = [
    {
        "code": "member_meeting",
        "kind": "member_meeting",
        "name": "支部党员大会",
        "description": "支部党员大会记录（一般每季度召开一次）",
        "has_attendance": True,
        "fields": _meeting(),
    },
    {
        "code": "committee_meeting",
        "kind": "committee_meeting",
        "name": "支部委员会会议",
        "description": "支部委员会会议记录（一般每月召开一次；须半数以上委员到会）",
        "has_attendance": True,
        "fields": _meeting(),
    },
    {
        "code": "group_meeting",
        "kind": "group_meeting",
        "name": "党小组会",
        "description": "党小组会记录（一般每月召开一次）",
        "has_attendance": True,
        "fields": _meeting(),
    },
    {
        "code": "party_lecture",
        "kind": "party_lecture",
        "name": "党课",
        "description": "党课记录（每季度至少一次；书记每年至少讲一次）",
        "has_attendance": True,
        "fields": [
            _f("topic", "党课主题", required=True),
            _f("lecturer", "授课人", required=True),
            _f("lecturer_post", "授课人职务"),
            _f("place", "地点", required=True),
            _f("content", "主要内容", "textarea", required=True),
            _f("duration_hours", "时长（小时）", "number", min=0, max=24),
            _SIGN_IN,
            _PHOTOS,
        ],
    },
    {
        "code": "theme_day",
        "kind": "theme_day",
        "name": "主题党日",
        "description": "主题党日活动记录（每月一次）",
        "has_attendance": True,
        "fields": [
            _f("theme", "活动主题", required=True),
            _f("place", "地点", required=True),
            _f(
                "form",
                "活动形式",
                "choice",
                required=True,
                choices=["集中学习", "志愿服务", "参观学习", "研讨交流", "其他"],
            ),
            _f("host", "主持人"),
            _f("content", "活动内容", "textarea", required=True),
            _f("result", "活动成效", "textarea"),
            _SIGN_IN,
            _PHOTOS,
        ],
    },
    {
        "code": "org_life",
        "kind": "org_life",
        "name": "组织生活会",
        "description": "组织生活会记录（每年至少一次，开展批评和自我批评）",
        "has_attendance": True,
        "fields": [
            _f("topic", "主题", required=True),
            _f("place", "地点", required=True),
            _f("host", "主持人", required=True),
            _f("recorder", "记录人", required=True),
            _f("superior_attendee", "上级党组织参会人员"),
            _f("content", "对照检查与批评和自我批评", "textarea", required=True),
            _f("rectification", "整改措施", "textarea"),
            _SIGN_IN,
            _PHOTOS,
        ],
    },
    {
        "code": "member_review",
        "kind": "member_review",
        "name": "民主评议党员",
        "description": "民主评议党员记录（每年一次）",
        "has_attendance": True,
        "fields": [
            _f("place", "地点", required=True),
            _f("host", "主持人", required=True),
            _f("content", "评议过程", "textarea", required=True),
            _f("excellent", "优秀（人）", "number", min=0),
            _f("qualified", "合格（人）", "number", min=0),
            _f("basically_qualified", "基本合格（人）", "number", min=0),
            _f("unqualified", "不合格（人）", "number", min=0),
            _f("result", "评议结果及处理", "textarea"),
            _SIGN_IN,
        ],
    },
    {
        "code": "heart_talk",
        "kind": "heart_talk",
        "name": "谈心谈话",
        "description": "谈心谈话记录",
        "has_attendance": False,
        "fields": [
            _f("talker", "谈话人", required=True),
            _f("talkee", "谈话对象", required=True),
            _f("form", "谈话方式", "choice", required=True, choices=["面谈", "电话", "网络"]),
            _f("place", "地点"),
            _f("topic", "谈话主题", required=True),
            _f("content", "谈话内容", "textarea", required=True),
            _f("follow_up", "后续跟进", "textarea"),
        ],
    },
]


def ensure(template_model) -> int:
    """Create the built-in templates that are missing (edited ones are left alone)."""
    existing = set(template_model.objects.values_list("code", flat=True))
    created = 0
    for spec in BUILTIN_TEMPLATES:
        if spec["code"] in existing:
            continue
        template_model.objects.create(is_builtin=True, **spec)
        created += 1
    return created
