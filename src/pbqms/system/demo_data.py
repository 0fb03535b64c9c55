"""Demo obligations and a year of branch records (``pbqms demo_records``).

The demo enterprise (``pbqms demo``) gets the usual obligations of its party branches and
groups (builtin.PARTY_ACTIVITIES: 支部党员大会 quarterly, 支部委员会 monthly with a quorum,
党小组会 monthly, 党课 quarterly, 主题党日 monthly, 组织生活会, 民主评议党员, 谈心谈话
yearly), set by the 党委, then twelve months of submitted records with attendance, drawn
from a fixed seed with a profile per branch so the heatmap tells a story:

- exemplary branches hold everything on time (the secretary ``zhibu1``'s branch among
  them — its committee meeting of the current month is still to be held, which the
  browser test records);
- most branches are good: now and then a meeting held late or missed;
- two are weak (shift work, a remote wind farm): many gaps, many late;
- the overseas joint branch is weak too and has one justified exception (主题党日 of one
  month, with the 党委's reason);
- one committee meeting misses its quorum and is flagged, not counted.

For speed the records and their attendance are written with ``bulk_create`` (not through
``records.services``, which would recompute a cell per record); each record still gets its
change-log entry (``changelog.record_change``) and the exception goes through
``system.services.note_exception``. One full recompute at the end fills the board.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from pbqms.system import engine
from pbqms.system import periods as P

SEED = 20260401
# requirement code → due days into the period (others: the period's last day)
DUE_OFFSETS = {"DJ-ZTDR": 24, "DJ-DXZH": 24}
# branch code → profile (default "good")
PROFILES = {
    "HHJT-B01": "exemplary",
    "HHJT-01-01": "exemplary",
    "HHJT-01-02": "exemplary",
    "HHJT-02-01": "exemplary",
    "HHJT-01-05": "weak",
    "HHJT-02-02": "weak",
    "HHJT-03-03": "weak",
}
# profile → (chance an activity is missed, chance it is held late)
RATES = {"exemplary": (0.0, 0.03), "good": (0.06, 0.12), "weak": (0.3, 0.25)}
SECRETARY_BRANCH = "HHJT-01-02"  # zhibu1's: its committee meeting of this month is open
EXCEPTION_BRANCH = "HHJT-03-03"
FLAGGED_BRANCH = "HHJT-02-03"
EXCEPTION_REASON = (
    "海外项目部党员分散在三个国家的施工现场，经党委同意，本月主题党日与国内党支部线上联合开展，"
    "不单独组织。"
)
REASON = "演示数据"
# document title → the requirements it addresses (the coverage matrix keeps some gaps and
# orphans on purpose: 4.2, 6.1, 8.3 … and the record forms)
DOCUMENT_REQUIREMENTS = {
    "党建质量管理手册": ["ISO9001-4", "ISO9001-4.3", "ISO9001-4.4", "ISO9001-5.2", "ISO9001-5.3"],
    "文件控制程序": ["ISO9001-7.5"],
    "记录控制程序": ["ISO9001-7.5"],
    "组织生活程序": ["DJ-ZBDYDH", "DJ-ZBWYH", "DJ-DXZH", "DJ-ZZSHH", "ISO9001-8.5"],
    "党员教育管理程序": ["DJ-DK", "DJ-MZPYDY", "ISO9001-7.2"],
    "宣传思想工作程序": ["ISO9001-7.3", "ISO9001-7.4"],
    "内部审核程序": ["ISO9001-9.2"],
    "管理评审程序": ["ISO9001-9.3"],
    "不合格控制程序": ["ISO9001-8.7", "ISO9001-10.2"],
    "纠正措施程序": ["ISO9001-10.2"],
    "支部主题党日活动制度": ["DJ-ZTDR"],
}

THEMES = [
    "学习贯彻党的二十大精神",
    "重温入党誓词",
    "安全生产月志愿服务",
    "参观红色教育基地",
    "党员先锋岗挂牌",
    "结对帮扶困难职工",
    "学习《中国共产党纪律处分条例》",
    "节能降碳主题实践",
    "党史学习教育",
    "廉洁文化进班组",
    "技术攻关党员突击队",
    "走访慰问老党员",
]
TOPICS = [
    "传达学习上级党委会议精神",
    "研究本月主题党日安排",
    "讨论发展党员工作",
    "研究党员教育培训计划",
    "听取党小组工作汇报",
    "研究党费收缴情况",
    "部署安全生产和党风廉政建设工作",
    "研究困难党员帮扶事项",
]
PLACES = ["党员活动室", "二楼会议室", "现场党员之家", "线上会议"]


def _months_back(today: dt.date, n: int) -> dt.date:
    index = today.year * 12 + today.month - 1 - n
    return dt.date(index // 12, index % 12 + 1, 1)


def _at(day: dt.date, hour: int = 14, minute: int = 30) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=P.tz())


def _fill(template, day: dt.date, rng: random.Random, host: str) -> dict:
    data = {}
    for field in template.fields:
        name, kind = field["name"], field.get("type", "text")
        if kind == "file":
            continue
        if kind == "number":
            data[name] = 2 if name == "duration_hours" else rng.randint(0, 6)
        elif kind == "choice":
            data[name] = (field.get("choices") or [""])[0]
        elif name in ("place",):
            data[name] = rng.choice(PLACES)
        elif name in ("host", "lecturer", "talker"):
            data[name] = host
        elif name in ("recorder", "talkee"):
            data[name] = "组织委员"
        elif name in ("topics", "topic", "theme"):
            data[name] = THEMES[day.month % len(THEMES)] if name == "theme" else rng.choice(TOPICS)
        elif kind == "textarea":
            data[name] = f"{day.month}月{template.name}：{rng.choice(TOPICS)}，与会党员充分讨论。"
        else:
            data[name] = template.name
    return data


class _Loader:
    def __init__(self, root, today: dt.date):
        from pbqms.accounts.models import User
        from pbqms.orgs.models import Organization, Person, Post
        from pbqms.records.models import RecordTemplate

        self.root, self.today = root, today
        self.rng = random.Random(SEED)
        self.start = _months_back(today, 11)
        units = list(
            Organization.objects.filter(path__startswith=root.path)
            .filter(kind__in=["branch", "joint_branch", "group"])
            .order_by("path")
        )
        self.branches = [u for u in units if u.kind != "group"]
        self.groups = [u for u in units if u.kind == "group"]
        self.branch_of = {}
        for group in self.groups:
            parent = next((b for b in self.branches if group.path.startswith(b.path)), None)
            self.branch_of[group.pk] = parent
        self.people = defaultdict(list)  # unit id → [person id] (members, incl. sub-units)
        persons = list(
            Person.objects.filter(
                org__path__startswith=root.path, member_status__in=Person.PARTY_STATUSES
            ).values_list("id", "org__path", "name")
        )
        self.names = {pid: name for pid, _path, name in persons}
        for unit in units:
            self.people[unit.pk] = [pid for pid, path, _n in persons if path.startswith(unit.path)]
        self.committee = defaultdict(list)
        self.secretary = {}
        for org_id, pid, title, user_id in Post.objects.filter(
            org__in=units, ended_on__isnull=True, title__in=list(Post.COMMITTEE_TITLES)
        ).values_list("org_id", "person_id", "title", "person__user_id"):
            self.committee[org_id].append(pid)
            if title == Post.Title.SECRETARY or title == Post.Title.GROUP_LEADER:
                self.secretary[org_id] = (pid, user_id)
        for org_id, pid, user_id in Post.objects.filter(
            org__in=self.groups, ended_on__isnull=True, title=Post.Title.GROUP_LEADER
        ).values_list("org_id", "person_id", "person__user_id"):
            self.secretary[org_id] = (pid, user_id)
        self.users = {u.pk: u for u in User.objects.filter(person__org__path__startswith=root.path)}
        self.fallback_user = User.objects.filter(username="dangwei").first()
        self.templates = {t.code: t for t in RecordTemplate.objects.all()}

    def profile(self, unit) -> str:
        branch = self.branch_of.get(unit.pk, unit) or unit
        return PROFILES.get(branch.code, "good")

    def plan(self, obligations):
        """[(unit, template, day, flagged)] of the records to write."""
        out = []
        for ob in obligations:
            template = ob.activity
            units = self.groups if "group" in ob.applies_to_kinds else self.branches
            for period in P.periods_between(
                self.start, self.today, ob.frequency, ob.interval_months, ob.anchor_on
            ):
                due = period.due_on(ob.due_offset_days)
                for unit in units:
                    missed, late = RATES[self.profile(unit)]
                    roll = self.rng.random()
                    if roll < missed:
                        continue
                    if roll < missed + late and due < period.end:
                        span = (period.end - due).days
                        day = due + dt.timedelta(days=self.rng.randint(1, span))
                    else:
                        # on time: somewhere in the on-time part, late in a long period
                        first = period.start
                        if (due - period.start).days > 45:
                            first = due - dt.timedelta(days=45)
                        day = first + dt.timedelta(days=self.rng.randint(0, (due - first).days))
                    if day >= self.today:
                        continue  # not held yet
                    if (
                        template.code == "committee_meeting"
                        and unit.code == SECRETARY_BRANCH
                        and period.contains(self.today)
                    ):
                        continue  # the browser test records it
                    out.append((unit, template, day))
        return out

    def write(self, plan):
        from pbqms.core import changelog
        from pbqms.records.models import Record, RecordAttendance

        records, attendance_plan = [], []
        flagged_done = False
        for unit, template, day in plan:
            sec_pid, sec_user = self.secretary.get(unit.pk, (None, None))
            user = self.users.get(sec_user) or self.fallback_user
            host = self.names.get(sec_pid, "书记")
            records.append(
                Record(
                    template=template,
                    org=unit,
                    title=f"{day.year}年{day.month}月{template.name}",
                    occurred_at=_at(day),
                    status=Record.Status.SUBMITTED,
                    submitted_at=_at(day + dt.timedelta(days=1), 9, 0),
                    submitted_by=user,
                    created_by=user,
                    data=_fill(template, day, self.rng, host),
                )
            )
            if not template.has_attendance:
                attendance_plan.append([])
                continue
            if template.code == "committee_meeting":
                people = self.committee.get(unit.pk, [])
            else:
                people = self.people.get(unit.pk, [])
            rows = []
            absent_left = 0 if not people else 1 + len(people) // 8
            quorum_miss = (
                template.code == "committee_meeting"
                and unit.code == FLAGGED_BRANCH
                and not flagged_done
                and day.month == _months_back(self.today, 3).month
            )
            if quorum_miss:
                flagged_done = True
            for index, pid in enumerate(people):
                if quorum_miss:
                    present = index == 0  # only the secretary came
                else:
                    present = not (absent_left and self.rng.random() < 0.15)
                    if not present:
                        absent_left -= 1
                rows.append(
                    (pid, present, "" if present else self.rng.choice(["出差", "病假", "值班"]))
                )
            attendance_plan.append(rows)
        Record.objects.bulk_create(records, batch_size=500)
        if any(r.pk is None for r in records):  # backends without RETURNING ids
            records = list(Record.objects.filter(created_by__isnull=False).order_by("id"))
        att = [
            RecordAttendance(
                record=record,
                person_id=pid,
                person_name=self.names.get(pid, ""),
                present=present,
                absence_reason=reason,
            )
            for record, rows in zip(records, attendance_plan, strict=True)
            for pid, present, reason in rows
        ]
        RecordAttendance.objects.bulk_create(att, batch_size=2000)
        for record in records:
            changelog.record_change(
                record,
                "create",
                after={
                    "title": record.title,
                    "template": record.template.code,
                    "occurred_at": record.occurred_at.isoformat(),
                    "status": record.status,
                },
                reason=REASON,
            )
        return len(records), len(att)


def load(stdout=None) -> dict | None:
    """Load the demo obligations and records; ``None`` when already loaded (or no demo)."""
    from pbqms.core.context import action_context
    from pbqms.orgs import demo_data as demo
    from pbqms.orgs.models import Organization
    from pbqms.system import builtin, services
    from pbqms.system.models import Obligation

    root = Organization.objects.filter(code=demo.ROOT_CODE).first()
    if root is None or Obligation.objects.filter(owner=root).exists():
        return None
    today = timezone.localdate()
    with action_context(source="command", reason=REASON), transaction.atomic():
        loader = _Loader(root, today)
        with engine.suspended():
            builtin.ensure_builtin_obligations(
                root, active_from=loader.start, due_offsets=DUE_OFFSETS
            )
            obligations = list(
                Obligation.objects.filter(owner=root).select_related("activity").order_by("id")
            )
            n_records, n_att = loader.write(loader.plan(obligations))
            exc = _exception(loader, obligations, services)
            links = _link_documents(root)
        stats = engine.recompute(start=loader.start, end=dt.date(today.year, 12, 31), today=today)
        nc = _nonconformity_from_gap(services)
    summary = {
        "obligations": len(obligations),
        "records": n_records,
        "attendance": n_att,
        "exception": exc,
        "document_links": links,
        "nonconformity": nc,
        "cells": stats.cells,
    }
    if stdout is not None:
        stdout.write(
            f"{summary['obligations']} obligations, {n_records} records "
            f"({n_att} attendance rows), {stats.cells} conformity cells"
        )
    return summary


def _link_documents(root) -> int:
    """Link the demo's controlled documents (``demo_documents``, if loaded) to the
    requirements they address."""
    from django.apps import apps

    from pbqms.system.models import DocumentRequirement, Requirement

    if not apps.is_installed("pbqms.documents"):
        return 0
    from pbqms.documents.models import Document

    docs = {
        d.title: d
        for d in Document.objects.filter(
            org__path__startswith=root.path, title__in=list(DOCUMENT_REQUIREMENTS)
        )
    }
    codes = {c for cs in DOCUMENT_REQUIREMENTS.values() for c in cs}
    reqs = {r.code: r for r in Requirement.objects.filter(code__in=codes)}
    have = set(DocumentRequirement.objects.values_list("document_id", "requirement_id"))
    made = 0
    for title, doc in docs.items():
        for code in DOCUMENT_REQUIREMENTS[title]:
            req = reqs.get(code)
            if req is not None and (doc.pk, req.pk) not in have:
                DocumentRequirement.objects.create(document=doc, requirement=req)
                made += 1
    return made


def _nonconformity_from_gap(services):
    """The 党委 raises a nonconformity from the wind-farm branch's latest missed committee
    meeting (the gap links to it on the board)."""
    from pbqms.accounts.models import User
    from pbqms.system.models import ConformityResult

    if not services.nonconformities_enabled():
        return None
    actor = User.objects.filter(username="dangwei").first()
    gap = (
        ConformityResult.objects.filter(
            org__code="HHJT-02-02",
            obligation__activity__code="committee_meeting",
            status="missing",
        )
        .select_related("org", "obligation", "obligation__requirement")
        .order_by("-period_start")
        .first()
    )
    if actor is None or gap is None:
        return None
    title, description = services.gap_description(gap)
    nc = services.raise_nonconformity_from_gap(
        actor=actor,
        result=gap,
        title=title,
        description=description + "本年度支委会多次未按期召开。",
        severity="minor",
        correction_due=timezone.localdate() + dt.timedelta(days=30),
    )
    return nc.number


def _exception(loader, obligations, services):
    """The overseas branch's 主题党日 of a month it did not hold one: a justified exception."""
    from pbqms.accounts.models import User
    from pbqms.orgs.models import Organization
    from pbqms.records.models import Record

    branch = Organization.objects.filter(code=EXCEPTION_BRANCH).first()
    theme = next((o for o in obligations if o.activity.code == "theme_day"), None)
    actor = User.objects.filter(username="dangwei").first()
    if branch is None or theme is None or actor is None:
        return None
    held = {
        P.local_date(at).replace(day=1)
        for at in Record.objects.filter(org=branch, template=theme.activity).values_list(
            "occurred_at", flat=True
        )
    }
    for back in range(2, 11):
        month = _months_back(loader.today, back)
        if month not in held:
            services.note_exception(
                actor=actor,
                org=branch,
                obligation=theme,
                period_start=month,
                reason=EXCEPTION_REASON,
            )
            return month
    return None
