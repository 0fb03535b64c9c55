"""Demo internal-audit round (after ``pbqms demo`` and, for the checklist's gap items, the
demo records): the auditor team, one programme of four cross-audits, checklists generated
from the criteria and filled in, findings raised as nonconformities and driven through
the improvement services so that corrective actions exist in every state (planned, done,
effective, not effective, cancelled), and each audit report signed by its lead.

``auditor1`` leads the audits of ``zhibu1``'s and ``zhibu2``'s branches; the other two
teams come from the cross-audit proposal, and their leads get a demo account each
(``auditor2``, ``auditor3``, password as every demo account) so that they can sign.
Everything goes through the services with real e-signatures. ``load()`` does nothing when
an audit programme exists already (running it twice gives the same demo)."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from pbqms.accounts.models import User
from pbqms.audits import services
from pbqms.audits.models import Audit, AuditorQualification, AuditProgramme, ChecklistItem
from pbqms.core import scope, workflow
from pbqms.core.context import action_context
from pbqms.core.roles import Role
from pbqms.orgs.models import Organization, Person

PASSWORD = "Pbqms@demo2026"  # noqa: S105 - the documented demo password (README)
ROOT = "HHJT"
R = ChecklistItem.Result

# auditors: (unit code, validity: "valid" | "expiring" | "expired")
AUDITOR_UNITS = (
    ("HHJT-B02", "valid"),
    ("HHJT-01-01", "valid"),
    ("HHJT-01-04", "valid"),
    ("HHJT-02-01", "valid"),
    ("HHJT-02-03", "valid"),
    ("HHJT-03-01", "expiring"),
    ("HHJT-03-02", "expired"),
)

# audits: (unit code, month offset, findings); a finding is (criterion, evidence, result,
# nonconformity title, target state of the nonconformity or "")
AUDITS = (
    (
        "HHJT-01-02",
        [
            (
                "三会一课：支部委员会会议每月召开",
                "抽查近6个月会议记录，有2个月无支委会会议记录，也无延期说明。",
                R.MINOR,
                "支委会会议未按月召开",
                "closed",
            ),
            (
                "组织生活会记录完整",
                "组织生活会记录缺少会前谈心谈话情况和整改清单。",
                R.MINOR,
                "组织生活会记录要素不全",
                "verification",
            ),
            (
                "党员教育培训学时",
                "3名党员年度学习学时不足32学时，无补学安排。",
                R.MINOR,
                "党员教育培训学时不足",
                "not_effective",
            ),
        ],
    ),
    (
        "HHJT-02-02",
        [
            (
                "党费按月收缴并登记台账",
                "第二季度党费台账空白，收据与台账无法对应。",
                R.MAJOR,
                "党费台账未按月登记",
                "implementing",
            ),
            (
                "发展党员程序规范",
                "1名发展对象政治审查材料缺页。",
                R.MINOR,
                "发展党员政审材料缺页",
                "action_approval",
            ),
            (
                "谈心谈话覆盖全体党员",
                "谈心谈话记录仅覆盖12名党员中的7名。",
                R.MINOR,
                "谈心谈话未覆盖全体党员",
                "action_planning",
            ),
            (
                "主题党日活动留痕",
                "两次主题党日无签到表和照片。",
                R.MINOR,
                "主题党日活动留痕不足",
                "open",
            ),
        ],
    ),
    (
        "HHJT-01-03",
        [
            (
                "支部书记述职评议",
                "年度述职评议材料未归档。",
                R.MINOR,
                "书记述职评议材料未归档",
                "closed",
            ),
        ],
    ),
    ("HHJT-03-03", []),
)


def _d(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def _user(username: str) -> User | None:
    return User.objects.filter(username=username).first()


def _first_person(unit: Organization) -> Person | None:
    return Person.objects.filter(org=unit, user__isnull=True).order_by("pk").first()


def _qualify(admin, person: Person, validity: str, n: int) -> None:
    until = {"valid": _d(3 * 365), "expiring": _d(40), "expired": _d(-30)}[validity]
    services.add_qualification(
        actor=admin,
        person=person,
        data={
            "course": "党建质量管理体系内审员培训",
            "trained_on": _d(-720),
            "certificate_no": f"NSY-{_d(-700).year}-{n:03d}",
            "certified_on": _d(-700),
            "valid_until": until,
        },
    )


def _ensure_account(person: Person, admin, root: Organization) -> User:
    """A demo login for an auditor who leads an audit (so that they can sign its report)."""
    if person.user_id:
        return person.user
    n = 2
    while User.objects.filter(username=f"auditor{n}").exists():
        n += 1
    user = User(username=f"auditor{n}", display_name=person.name)
    user.set_password(PASSWORD)
    user.must_change_password = False
    user.save()
    from pbqms.orgs import services as org_services

    # roles are granted by the security administrator, as in ``pbqms demo``
    granter = _user("secadmin") or admin
    with action_context(actor=granter):
        org_services.assign_role(
            actor=granter, user=user, role=Role.INTERNAL_AUDITOR, org=root, note="演示数据"
        )
    person.user = user
    person.save()
    scope.clear_cache(user)
    return user


def _drive(nc, target, *, handler, lead, admin, raised: int) -> None:
    from pbqms.improvement import demo_data as nc_demo
    from pbqms.improvement import services as nc_services
    from pbqms.improvement.models import CorrectiveAction

    owner = nc_demo._owner(nc.org, handler)
    if target == "not_effective":
        nc_demo._drive(
            nc,
            "verification",
            secretary=handler,
            owner_user=handler,
            owner=owner,
            auditor=lead,
            admin=admin,
            raised=raised,
        )
        correction, corrective = list(nc.actions.order_by("pk"))[:2]
        nc_services.verify_action(
            correction,
            actor=lead,
            password=PASSWORD,
            result=CorrectiveAction.Result.EFFECTIVE,
            comment="补学记录齐全",
        )
        corrective.refresh_from_db()
        nc_services.verify_action(
            corrective,
            actor=lead,
            password=PASSWORD,
            result=CorrectiveAction.Result.NOT_EFFECTIVE,
            comment="抽查近两个月学时统计，仍有党员学时不足，措施未见效",
        )
        return
    if not target:
        return
    nc_demo._drive(
        nc,
        target,
        secretary=handler,
        owner_user=handler,
        owner=owner,
        auditor=lead,
        admin=admin,
        raised=raised,
    )
    if target == "action_planning":
        # the plan was sent back: the unit drops the correction it no longer needs
        first = nc.actions.order_by("pk").first()
        nc_services.cancel_action(first, actor=handler, reason="退回后合并到纠正措施中一并实施")


def load(stdout=None) -> int:
    """Create the demo audit round; returns the number of audits (0 when it exists)."""
    if AuditProgramme.objects.exists():
        return 0
    admin = _user("dangwei")
    auditor1 = _user("auditor1")
    handlers = {"HHJT-01-02": _user("zhibu1"), "HHJT-02-02": _user("zhibu2")}
    root = Organization.objects.filter(code=ROOT).first()
    if not (admin and auditor1 and root and all(handlers.values())):
        return 0
    lead1 = Person.objects.filter(user=auditor1).select_related("org").first()
    if lead1 is None:
        return 0
    start_days = 150  # the round was audited about five months ago
    first_day = _d(-start_days)
    with transaction.atomic(), action_context(source="command", reason="演示数据"):
        # the auditor team
        _qualify(admin, lead1, "valid", 1)
        for n, (code, validity) in enumerate(AUDITOR_UNITS, start=2):
            unit = Organization.objects.get(code=code)
            person = _first_person(unit)
            if person is not None:
                _qualify(admin, person, validity, n)
        # the programme
        programme = services.create_programme(
            actor=admin,
            org=root,
            data={
                "year": first_day.year,
                "title": f"{first_day.year}年度第一轮内部审核方案",
                "criteria": "党建质量管理手册、程序文件；《中国共产党支部工作条例（试行）》；"
                "本单位规定事项",
                "team_size": 2,
                "no_reciprocal": True,
            },
        )
        workflow.fire(programme, "approve", actor=admin)
        audits = []
        for i, (code, _findings) in enumerate(AUDITS):
            start = first_day + datetime.timedelta(days=7 * i)
            audits.append(
                services.create_audit(
                    actor=admin,
                    programme=programme,
                    data={
                        "planned_month": start.month,
                        "start_date": start,
                        "end_date": start + datetime.timedelta(days=2),
                        "agenda": "首次会议；查阅记录、访谈党员；现场观察；审核组内部会议；"
                        "末次会议",
                    },
                    audited_units=[Organization.objects.get(code=code)],
                )
            )
        # auditor1 leads the audits of zhibu1's and zhibu2's branches; the proposal staffs
        # the others (its first auditor leads)
        proposal, _audits, _people = services.propose_teams(programme)
        for audit in audits[:2]:
            others = [
                pid
                for pid in proposal.audits[audit.pk].auditor_ids
                if pid != lead1.pk and Person.objects.filter(pk=pid).exists()
            ]
            members = list(Person.objects.filter(pk__in=others[:1]))
            services.assign_team(actor=admin, audit=audit, lead=lead1, members=members)
        proposal, rest, _people = services.propose_teams(programme)
        services.accept_proposal(
            actor=admin,
            programme=programme,
            teams={a.pk: proposal.audits[a.pk].auditor_ids for a in rest},
        )
        template = None
        for audit, (code, findings) in zip(audits, AUDITS, strict=True):
            audit.refresh_from_db()
            lead = _ensure_account(audit.lead_auditor, admin, root)
            audit.refresh_from_db()
            workflow.fire(audit, "start", actor=lead)
            audit.refresh_from_db()
            if code == AUDITS[-1][0] and template is not None:
                # the last audit reuses the checklist saved from the first one
                services.apply_template(actor=lead, audit=audit, template=template)
            else:
                services.generate_checklist(actor=lead, audit=audit)
            for item in audit.checklist.order_by("position"):
                if item.source == ChecklistItem.Source.GAP:
                    result, evidence = R.OBSERVATION, "已核实该期记录情况，请支部在自查中持续关注。"
                else:
                    result, evidence = R.CONFORMING, "抽查相关记录和台账，符合要求。"
                services.record_result(actor=lead, item=item, result=result, evidence=evidence)
            raised = start_days - 7 * audits.index(audit) - 1
            for criterion, evidence, result, title, target in findings:
                item = services.add_checklist_item(
                    actor=lead,
                    audit=audit,
                    data={"criterion": criterion, "question": f"{criterion}？", "unit": None},
                )
                item = services.record_result(
                    actor=lead, item=item, result=result, evidence=evidence
                )
                nc = services.raise_from_item(
                    actor=lead,
                    item=item,
                    title=title,
                    correction_due=_d(-raised + 30),
                    raised_on=_d(-raised),
                )
                handler = handlers.get(code) or admin
                _drive(nc, target, handler=handler, lead=lead, admin=admin, raised=raised)
            audit.refresh_from_db()
            n_findings = len(findings)
            services.save_report_summary(
                actor=lead,
                audit=audit,
                summary=(
                    f"本次审核依据审核准则对{audit.audited_units.first().name}进行了检查，"
                    f"共发现不符合项{n_findings}项。"
                    + ("体系运行基本有效，需按期完成整改。" if n_findings else "体系运行有效。")
                ),
            )
            audit.refresh_from_db()
            workflow.fire(audit, "report", actor=lead, password=PASSWORD)
            audit.refresh_from_db()
            if workflow.can(audit, "close", admin):
                workflow.fire(audit, "close", actor=admin)
            if template is None:
                template = services.save_as_template(
                    actor=lead,
                    audit=audit,
                    name="党支部内审通用检查表",
                    description="由本轮第一次审核的检查表保存，供其他支部审核套用。",
                )
    if stdout is not None:
        stdout.write(f"Demo audits: {len(audits)}\n")
    return len(audits)


def summary() -> dict:
    return {
        "audits": Audit.objects.count(),
        "qualifications": AuditorQualification.objects.count(),
    }
