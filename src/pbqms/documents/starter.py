"""The starter set (体系文件骨架): a manual outline and one procedure per main party-building
process, with a few record forms, generated as drafts for a unit that sets up its system.

Written in our own words from the project's design notes (MISSION.md, REFERENCE.md). They
are outlines to be completed by the unit: every document is a draft, numbered by the usual
patterns, and becomes effective only through review and approval like any other."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from pbqms.core import roles
from pbqms.documents.models import Document
from pbqms.orgs.models import Organization

STARTER_REASON = "由体系文件骨架生成，待本单位补充完善"


@dataclass(frozen=True)
class Outline:
    title: str
    purpose: str
    steps: tuple[str, ...]
    records: tuple[str, ...] = ()
    forms: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (title, columns)


MANUAL_TITLE = "党建质量管理手册"

MANUAL = """# 0 手册说明

本手册是{unit}党建质量管理体系的纲领性文件，规定体系的范围、方针目标、组织职责和主要过程，
程序文件、作业指导书、管理制度和记录表格在其下展开。本稿为骨架，请结合本单位实际逐章补充。

# 1 范围

说明本体系覆盖的党组织层级（党委、党总支、党支部、党小组）和党建工作内容。

# 2 引用文件

列出本体系依据的党内法规、上级党组织的规定和本单位的制度。

# 3 术语

- **党建质量管理体系**：把党建工作按"计划—实施—检查—改进"循环组织起来的管理体系。
- **受控文件**：经编号、审核、批准并在有效期内使用的体系文件。

# 4 体系要求

坚持"凡事必规定、规定必执行、执行必有效、过程必记录"：

| 过程 | 程序文件 | 主要记录 |
|---|---|---|
{process_rows}

# 5 领导作用

党委对体系负总责；书记为第一责任人；明确管理者代表，负责体系的建立、运行和改进。

# 6 方针和目标

写明本单位的党建质量方针，目标分解到各党组织并可测量。

# 7 支持

人员与培训、内审员队伍、文件和记录的控制。

# 8 运行

各主要过程按对应程序文件运行，形成记录。

# 9 绩效评价

日常检查、内部审核（含交叉互审）、管理评审、外部专家评审和满意度测评。

# 10 改进

不符合项的纠正、原因分析和纠正措施，效果验证；经验做法固化为长效机制。
"""

PROCEDURES: tuple[Outline, ...] = (
    Outline(
        "文件控制程序",
        "规定体系文件的编制、审核、批准、发布、修订和废止，确保使用的都是现行有效版本。",
        (
            "文件按类型编号（如 DJ-CX-01），版本按 A/0、A/1、B/0 标识。",
            "编制人起草，审核人审核，批准人批准并确定生效日期，均以电子签名确认。",
            "文件生效后推送给适用的党组织和人员学习确认。",
            "文件每 12 个月至少评审一次，结论为继续有效、需修订或废止。",
        ),
        ("受控文件清单", "文件学习确认记录"),
        (("文件发放回收登记表", "序号 | 文件编号 | 文件名称 | 版本 | 领用人 | 日期"),),
    ),
    Outline(
        "记录控制程序",
        "规定党建工作记录的填写、提交、更正和保存，使每项工作都有可追溯的证据。",
        (
            "记录按记录表格填写，及时提交。",
            "已提交的记录只能通过更正修改，并写明原因，保留原版本。",
            "记录的保存期限和查阅权限按本单位规定执行。",
        ),
        ("各类工作记录",),
    ),
    Outline(
        "组织生活程序",
        "规范“三会一课”、主题党日、组织生活会和民主评议党员等组织生活的计划、实施和记录。",
        (
            "支部委员会会议一般每月一次，支部党员大会一般每季度一次，党小组会一般每月一次。",
            "书记每年至少讲一次党课；主题党日每月固定一天开展。",
            "组织生活会每年至少一次，一般在第四季度召开；民主评议党员一般每年一次。",
            "会前确定议题并通知参会人员，会后形成会议记录和签到表。",
        ),
        ("会议记录", "签到表"),
        (
            ("支部委员会会议记录", "时间 | 地点 | 主持人 | 应到 | 实到 | 议题 | 决定事项"),
            ("党员大会签到表", "序号 | 姓名 | 签到 | 缺席原因"),
        ),
    ),
    Outline(
        "党员教育管理程序",
        "规定党员学习教育、党员信息管理、组织关系转接和党员发展的工作要求。",
        (
            "按年度计划组织党员学习，记录学习内容和参加人员。",
            "及时维护党员信息，组织关系转接按规定办理。",
            "党员发展按入党申请、积极分子、发展对象、预备党员、转正五个阶段进行。",
        ),
        ("学习记录", "党员信息变更记录"),
    ),
    Outline(
        "宣传思想工作程序",
        "规定宣传教育、意识形态工作和特色活动的策划、实施和效果评价。",
        (
            "年初制定宣传工作计划，明确主题和责任人。",
            "活动结束后总结效果，好的做法形成经验交流材料。",
        ),
        ("活动记录", "效果评价记录"),
    ),
    Outline(
        "党风廉政建设程序",
        "规定党风廉政建设责任的分解、监督检查和问题整改。",
        (
            "逐级签订责任书，明确责任清单。",
            "定期开展监督检查，发现的问题按不符合项处理。",
        ),
        ("责任书", "检查记录"),
    ),
    Outline(
        "内部审核程序",
        "规定内部审核的策划、实施、报告和跟踪，检查体系是否有效运行。",
        (
            "每年制定审核方案，内审员不审核本单位的工作（交叉互审）。",
            "召开首次会议和末次会议，按检查表逐项审核并记录证据。",
            "审核发现分为符合、观察项、一般不符合和严重不符合，不符合项限期整改。",
        ),
        ("审核方案", "检查表", "不符合项报告单", "审核报告"),
    ),
    Outline(
        "管理评审程序",
        "规定党委对体系适宜性、充分性和有效性的定期评审。",
        (
            "管理评审每年至少一次，由书记主持。",
            "输入包括方针目标完成情况、审核结果、满意度测评、不符合项和纠正措施状态。",
            "输出改进决定，明确责任人和完成时间。",
        ),
        ("管理评审报告",),
    ),
    Outline(
        "不合格控制程序",
        "规定党建工作中不符合要求情况的识别、记录、纠正和处置。",
        (
            "任何来源发现的不符合（审核、检查、评审、投诉）都登记为不符合项。",
            "责任单位立即纠正，并评估是否需要采取纠正措施。",
        ),
        ("不符合项登记表",),
    ),
    Outline(
        "纠正措施程序",
        "规定针对不符合项的原因分析、纠正措施的制定、实施和效果验证。",
        (
            "查找根本原因，制定纠正措施并明确完成标准。",
            "措施完成后由验证人验证效果，无效的重新分析原因。",
            "涉及文件的，按文件控制程序修订。",
        ),
        ("纠正措施记录", "效果验证记录"),
    ),
    Outline(
        "预防措施程序",
        "规定对潜在问题的识别和预防措施，避免不符合的发生。",
        (
            "结合检查分析和满意度测评识别风险。",
            "制定预防措施并跟踪落实。",
        ),
        ("预防措施记录",),
    ),
    Outline(
        "满意度测评程序",
        "规定党员和群众对党建工作满意度的测评和需求的收集处理（输入需求、输出满意）。",
        (
            "每年至少开展一次满意度测评。",
            "对反映的需求和意见逐条登记、答复和改进。",
        ),
        ("满意度测评表", "需求登记表"),
    ),
)


def procedure_markdown(outline: Outline, unit: str) -> str:
    steps = "\n".join(f"{i}. {s}" for i, s in enumerate(outline.steps, 1))
    records = "\n".join(f"- {r}" for r in outline.records) or "- （待补充）"
    return (
        f"# 1 目的\n\n{outline.purpose}\n\n"
        f"# 2 适用范围\n\n适用于{unit}及所属各党组织。\n\n"
        "# 3 职责\n\n- 党委：审定本程序，监督实施。\n- 党群工作部门：归口管理，组织实施和检查。\n"
        "- 各党组织：按本程序开展工作并形成记录。\n\n"
        f"# 4 工作程序\n\n{steps}\n\n"
        "# 5 相关文件\n\n- 党建质量管理手册\n\n"
        f"# 6 记录\n\n{records}\n"
    )


def form_markdown(title: str, columns: str) -> str:
    cols = [c.strip() for c in columns.split("|")]
    header = "| " + " | ".join(cols) + " |"
    sep = "|" + "|".join(["---"] * len(cols)) + "|"
    blank = "| " + " | ".join([" "] * len(cols)) + " |"
    return f"# {title}\n\n{header}\n{sep}\n{blank}\n{blank}\n"


def has_manual(org: Organization) -> bool:
    return (
        Document.objects.filter(org=org, doc_type=Document.Type.MANUAL)
        .exclude(status=Document.Status.OBSOLETE)
        .exists()
    )


@transaction.atomic
def generate(*, actor, org: Organization) -> list[Document]:
    """Create the starter set as drafts of ``org`` (a unit that has no manual yet)."""
    from pbqms.documents import services

    services._require_unit(actor, roles.DOC_MANAGE, org)
    if has_manual(org):
        raise ValidationError(
            _("%(unit)s already has a management manual; the starter set is for a new system.")
            % {"unit": org.name}
        )
    unit = org.name
    rows = "\n".join(
        f"| {o.title[:-2] if o.title.endswith('程序') else o.title} | {o.title} | "
        f"{'、'.join(o.records) or '—'} |"
        for o in PROCEDURES
    )
    created = []
    manual = services.create_document(
        actor=actor,
        org=org,
        doc_type=Document.Type.MANUAL,
        title=MANUAL_TITLE,
        content=MANUAL.format(unit=unit, process_rows=rows),
        change_reason=STARTER_REASON,
    )
    created.append(manual)
    for outline in PROCEDURES:
        procedure = services.create_document(
            actor=actor,
            org=org,
            doc_type=Document.Type.PROCEDURE,
            title=outline.title,
            parent=manual,
            content=procedure_markdown(outline, unit),
            change_reason=STARTER_REASON,
        )
        created.append(procedure)
        for title, columns in outline.forms:
            created.append(
                services.create_document(
                    actor=actor,
                    org=org,
                    doc_type=Document.Type.RECORD_FORM,
                    title=title,
                    parent=procedure,
                    content=form_markdown(title, columns),
                    change_reason=STARTER_REASON,
                )
            )
    return created
