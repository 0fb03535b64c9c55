"""Demo nonconformities and corrective actions in every state (after ``pbqms demo`` has
built the enterprise and its accounts). Everything goes through the services, as the demo
users themselves, with dates moved back so that the verification dates have come.

``load()`` does nothing when nonconformities exist already (running the demo twice gives
the same demo)."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from pbqms.accounts.models import User
from pbqms.core.context import action_context
from pbqms.improvement import services
from pbqms.improvement.models import CorrectiveAction, Nonconformity
from pbqms.orgs.models import Organization, Person

PASSWORD = "Pbqms@demo2026"  # noqa: S105 - the documented demo password (README)
NC = Nonconformity
Src = Nonconformity.Source
K = CorrectiveAction.Kind


def _d(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


# the requirement library entry each case violates (when the library has it), so that the
# process chain and the coverage views find the nonconformities
REQUIREMENT_CODES = {
    "meeting": "DJ-ZBWYH",
    "meeting-again": "DJ-ZBWYH",
    "lesson": "DJ-DK",
    "talk": "DJ-TXTH",
    "day": "DJ-ZTDR",
    "appraisal": "DJ-MZPYDY",
}


def _library() -> dict:
    from django.apps import apps

    if not apps.is_installed("pbqms.system"):
        return {}
    from pbqms.system.models import Requirement

    codes = set(REQUIREMENT_CODES.values())
    return {r.code: r for r in Requirement.objects.filter(code__in=codes)}


# (key, unit code, source, severity, title, requirement, description, raised days ago,
#  due in days, target state)
CASES = (
    (
        "meeting",
        "HHJT-01-02",
        Src.INTERNAL_AUDIT,
        "minor",
        "支部委员会会议未按月召开",
        "《中国共产党支部工作条例（试行）》：支部委员会会议一般每月召开1次",
        "抽查2026年1—6月会议记录，3月、4月无支委会会议记录，也无延期说明。",
        95,
        -65,
        "closed",
    ),
    (
        "lesson",
        "HHJT-01-02",
        Src.INTERNAL_AUDIT,
        "minor",
        "书记讲党课记录不完整",
        "党支部书记每年至少讲1次党课，记录应包括时间、地点、主题、参加人员",
        "党课记录缺少参加人员签到，无法证明党员参加情况。",
        70,
        -40,
        "verification",
    ),
    (
        "dues",
        "HHJT-02-02",
        Src.INTERNAL_AUDIT,
        "major",
        "党费收缴台账未按月登记",
        "党费收缴使用管理规定：党费按月收缴并登记台账",
        "2026年第二季度党费台账空白，收据与台账无法对应。",
        50,
        -10,
        "implementing",
    ),
    (
        "talk",
        "HHJT-02-02",
        Src.MANAGEMENT_REVIEW,
        "minor",
        "谈心谈话未覆盖全体党员",
        "支部委员与党员每年至少谈心谈话1次",
        "谈心谈话记录仅覆盖12名党员中的7名。",
        30,
        20,
        "action_approval",
    ),
    (
        "archive",
        "HHJT-01-02",
        Src.EXTERNAL_REVIEW,
        "minor",
        "发展党员档案材料缺页",
        "《发展党员工作细则》：入党材料齐全、手续完备",
        "两名预备党员档案缺少政治审查材料。",
        25,
        25,
        "action_planning",
    ),
    (
        "day",
        "HHJT-01-02",
        Src.CONFORMITY_GAP,
        "minor",
        "主题党日活动记录缺少照片佐证",
        "主题党日每月固定1天，记录附照片或签到表",
        "5月、6月主题党日记录无照片、无签到表。",
        18,
        12,
        "root_cause_analysis",
    ),
    (
        "appraisal",
        "HHJT-02-02",
        Src.INTERNAL_AUDIT,
        "major",
        "民主评议党员未开展",
        "民主评议党员一般每年开展1次",
        "2025年度未开展民主评议党员，无任何记录。",
        40,
        -5,
        "open",
    ),
    (
        "meeting-again",
        "HHJT-01-02",
        Src.INTERNAL_AUDIT,
        "minor",
        "支部委员会会议再次间断",
        "《中国共产党支部工作条例（试行）》：支部委员会会议一般每月召开1次",
        "7月无支委会会议记录，与上次不符合项问题相同。",
        6,
        24,
        "open",
    ),
    (
        "duplicate",
        "HHJT-02-02",
        Src.COMPLAINT,
        "minor",
        "学习资料发放不及时（重复登记）",
        "学习资料按月发放",
        "与另一条投诉重复登记。",
        12,
        18,
        "cancelled",
    ),
    (
        "self",
        "HHJT-01-02",
        Src.SELF_INSPECTION,
        "minor",
        "自查：党员学习确认不及时",
        "受控文件生效后30日内完成学习确认",
        "3名党员超过30日未完成学习确认。",
        20,
        10,
        "open",
    ),
)


def _user(username: str) -> User | None:
    return User.objects.filter(username=username).first()


def _owner(unit: Organization, secretary: User) -> Person:
    person = Person.objects.filter(user=secretary, org=unit).first()
    return person or Person.objects.filter(org__path__startswith=unit.path).order_by("pk").first()


def _analyse(nc, actor, *, fishbone: bool = False):
    if fishbone:
        services.save_analysis(
            nc,
            actor=actor,
            method=NC.AnalysisMethod.FISHBONE,
            fishbone={
                "people": "组织委员对记录要求不熟悉",
                "methods": "没有活动记录模板和照片归档要求",
                "checking": "支部未开展月度自查",
            },
            root_cause="缺少统一的活动记录模板和月度自查机制",
        )
    else:
        services.save_analysis(
            nc,
            actor=actor,
            method=NC.AnalysisMethod.FIVE_WHY,
            whys=[
                "为什么没有按要求执行？——当月负责人外出",
                "为什么负责人外出就停了？——没有人代为组织",
                "为什么没有人代为组织？——支委分工没有明确AB角",
            ],
            root_cause="支委分工未建立AB角替补机制，工作依赖个人",
        )


def _plan(nc, actor, owner, raised: int):
    services.plan_action(
        nc,
        actor=actor,
        data={
            "kind": K.CORRECTION,
            "description": "补齐缺失的记录和说明，报党委备案",
            "owner": owner,
            "due_on": _d(-raised + 10),
            "verify_on": _d(-raised + 40),
            "success_criteria": "缺失月份均有补充说明并经党委确认",
        },
    )
    services.plan_action(
        nc,
        actor=actor,
        data={
            "kind": K.CORRECTIVE,
            "description": "明确支委AB角分工，建立月度工作提醒",
            "owner": owner,
            "due_on": _d(-raised + 20),
            "verify_on": _d(-raised + 50),
            "success_criteria": "连续三个月按时完成，无间断",
        },
    )


def _drive(nc, target: str, *, secretary, owner_user, owner, auditor, admin, raised: int):
    order = [s.value for s in NC.Status]
    goal = order.index(target)
    if target == "cancelled":
        services.cancel_nonconformity(nc, actor=auditor, reason="与另一条不符合项重复登记")
        return
    if goal >= 1:
        _analyse(nc, secretary, fishbone=target == "root_cause_analysis")
    if goal >= 2:
        services.submit_analysis(nc, actor=secretary)
        _plan(nc, secretary, owner, raised)
    if target == "action_planning":
        services.submit_plan(nc, actor=secretary)
        services.return_plan(nc, actor=admin, reason="请把成功标准写成可检查的数量要求")
        return
    if goal >= 3:
        services.submit_plan(nc, actor=secretary)
    if goal >= 4:
        services.approve_plan(nc, actor=admin, password=PASSWORD, comment="同意")
    if goal >= 5:
        for action in nc.actions.filter(status=CorrectiveAction.Status.PLANNED):
            services.complete_action(
                action,
                actor=owner_user,
                completed_on=action.due_on,
                note="已完成，相关记录已归档",
            )
    elif goal == 4:
        first = nc.actions.order_by("pk").first()
        services.complete_action(
            first, actor=owner_user, completed_on=first.due_on, note="已补充说明并报备"
        )
    if goal >= 6:
        for action in nc.actions.filter(status=CorrectiveAction.Status.DONE):
            services.verify_action(
                action,
                actor=auditor,
                password=PASSWORD,
                result=CorrectiveAction.Result.EFFECTIVE,
                comment="抽查近三个月记录，均按时完成",
            )


def load(stdout=None) -> int:
    """Create the demo nonconformities; returns how many (0 when they exist already)."""
    if NC.objects.exists():
        return 0
    auditor = _user("auditor1")
    admin = _user("dangwei")
    secretaries = {"HHJT-01-02": _user("zhibu1"), "HHJT-02-02": _user("zhibu2")}
    if not (auditor and admin and all(secretaries.values())):
        return 0
    created: dict[str, NC] = {}
    library = _library()
    with transaction.atomic(), action_context(source="command", reason="演示数据"):
        for key, code, source, severity, title, req, desc, raised, due, target in CASES:
            unit = Organization.objects.get(code=code)
            secretary = secretaries[code]
            raiser = secretary if source == Src.SELF_INSPECTION else auditor
            nc = services.raise_nonconformity(
                actor=raiser,
                org=unit,
                title=title,
                source_kind=source,
                source_ref="2026年度第一轮内部审核" if source == Src.INTERNAL_AUDIT else "",
                requirement=req,
                description=desc,
                severity=severity,
                raised_on=_d(-raised),
                correction_due=_d(due),
                repeat_of=created["meeting"] if key == "meeting-again" else None,
                requirement_object=library.get(REQUIREMENT_CODES.get(key, "")),
                verifier=auditor if source == Src.SELF_INSPECTION else None,
            )
            created[key] = nc
            owner = _owner(unit, secretary)
            _drive(
                nc,
                target,
                secretary=secretary,
                owner_user=secretary,
                owner=owner,
                auditor=auditor,
                admin=admin,
                raised=raised,
            )
    if stdout is not None:
        stdout.write(f"Demo nonconformities: {len(created)}\n")
    return len(created)
