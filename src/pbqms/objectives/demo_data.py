"""Demo policy and objectives and the demo process map (after ``pbqms demo`` and, for the
computed values and the process chain, ``demo_documents``, ``demo_improvement`` and
``demo_records``). The group committee states its policy for last year and this year;
indicators are broken down to the subsidiaries and the group's own branches (and one
subsidiary cascades its share to its branches); values for both years make the year-over-
year trend show. Last year, before pbqms, the meeting conformity rate and the closure rate
were counted by hand (manual indicators with the same codes as this year's computed ones,
so the trend follows them). Everything goes through the services as ``dangwei``.

``load()`` does nothing when the group has a policy for this year already."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from pbqms.accounts.models import User
from pbqms.core.context import action_context
from pbqms.objectives import services
from pbqms.objectives.models import Indicator, Policy
from pbqms.orgs.models import Organization
from pbqms.processes import services as process_services
from pbqms.processes.models import Process

ROOT = "HHJT"
SUBSIDIARIES = ("HHJT-01", "HHJT-02", "HHJT-03")
OWN_BRANCHES = ("HHJT-B01", "HHJT-B02", "HHJT-B03")
CASCADE = "HHJT-01"  # the power subsidiary breaks its share down to its branches

POLICY = {
    "title": "{year}年党建工作方针目标",
    "statement": "围绕中心、服务大局，强基固本、提质增效；"
    "凡事必规定、规定必执行、执行必有效、过程必记录。",
    "notes": "以党建质量管理体系为抓手，推动党建工作与生产经营深度融合，持续改进，螺旋上升。",
}

# (objective code, title, [(code, name, unit, direction, target, source this year,
#   value range last year (low, high), improvement this year)])
OBJECTIVES = (
    (
        "M1",
        "组织生活规范化",
        (
            ("I1", "“三会一课”等组织生活按期完成率", "%", "higher", "95", "conformity_rate",
             (78, 90), 0),
            ("I2", "党员学习教育参学率", "%", "higher", "95", "manual", (86, 96), 3),
        ),
    ),
    (
        "M2",
        "党员队伍建设",
        (
            ("I3", "党员年度培训覆盖率", "%", "higher", "100", "manual", (88, 98), 4),
            ("I4", "党员满意度", "分", "higher", "90", "manual", (82, 91), 2),
        ),
    ),
    (
        "M3",
        "持续改进",
        (
            ("I5", "不符合项关闭率", "%", "higher", "90", "nc_closure_rate", (70, 85), 0),
            ("I6", "重复发生的不符合项", "项", "lower", "1", "manual", (2, 5), -1),
        ),
    ),
)  # fmt: skip

# process code → indicator codes and document titles it is governed by
PROCESS_LINKS = {
    "GL-01": ((), ("管理手册",)),
    "GL-02": ((), ("文件控制程序", "记录控制程序")),
    "GL-03": ((), ("内部审核程序",)),
    "GL-04": ((), ("管理评审程序",)),
    "GL-05": (("I5", "I6"), ("不合格控制程序", "纠正措施程序")),
    "HX-02": (("I2", "I3"), ("党员教育管理程序",)),
    "HX-03": (("I1",), ("组织生活程序",)),
    "HX-04": ((), ("党风廉政建设程序",)),
    "HX-05": (("I4",), ("宣传思想工作程序",)),
}


def _spread(key: str, low: float, high: float) -> Decimal:
    """A stable pseudo-random value in [low, high] (the same every run)."""
    digest = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    return Decimal(str(round(low + (high - low) * (digest % 1000) / 999, 1)))


def _units(codes):
    return [u for u in (Organization.objects.filter(code=c).first() for c in codes) if u]


def _build_year(admin, root, year: int, this_year: bool) -> list[Indicator]:
    policy = services.save_policy(
        actor=admin,
        org=root,
        year=year,
        title=POLICY["title"].format(year=year),
        statement=POLICY["statement"],
        notes=POLICY["notes"],
    )
    share_units = _units(SUBSIDIARIES + OWN_BRANCHES)
    cascade = Organization.objects.filter(code=CASCADE).first()
    cascade_units = (
        list(
            Organization.objects.filter(
                path__startswith=cascade.path, depth=cascade.depth + 1, dissolved_on__isnull=True
            ).exclude(kind=Organization.Kind.GROUP)
        )
        if cascade
        else []
    )
    indicators = []
    for order, (ocode, otitle, specs) in enumerate(OBJECTIVES, start=1):
        objective = services.save_objective(
            actor=admin, policy=policy, code=ocode, title=otitle, sort_order=order * 10
        )
        for iorder, (code, name, unit, direction, target, source, (lo, hi), step) in enumerate(
            specs, start=1
        ):
            # last year the computed ones were counted by hand
            src = source if this_year else "manual"
            indicator = services.save_indicator(
                actor=admin, objective=objective, code=code, name=name, unit_of_measure=unit,
                direction=direction, target=target, source=src, sort_order=iorder * 10,
            )  # fmt: skip
            tgt = Decimal(target)
            shares = dict.fromkeys(share_units, tgt)
            if direction == "higher" and unit == "%":
                # the subsidiaries carry a slightly higher share than the group's own target
                shares.update({u: min(tgt + 2, Decimal(100)) for u in share_units[:3]})
            shares.update(dict.fromkeys(cascade_units, tgt))
            services.set_targets(actor=admin, indicator=indicator, targets=shares)
            if src == "manual":
                for unit_org in [root, *share_units, *cascade_units]:
                    value = _spread(f"{code}/{unit_org.code}/2025", lo, hi)
                    if this_year:
                        value += Decimal(step) + _spread(f"{code}/{unit_org.code}/d", -1.5, 2)
                    if unit == "%":
                        value = min(value, Decimal(100))
                    if unit == "项":
                        value = max(value.to_integral_value(), Decimal(0))
                    services.enter_value(
                        actor=admin, indicator=indicator, org=unit_org, value=value,
                        note="手工统计" if not this_year else "",
                    )  # fmt: skip
            indicators.append(indicator)
    return indicators


def _process_map(admin, root, indicators: list[Indicator]) -> int:
    from pbqms.documents.models import Document

    made = process_services.ensure_starter_processes(actor=admin, org=root)
    by_code = {i.code: i for i in indicators}
    docs = {d.title: d for d in Document.objects.filter(org=root)}
    for process in Process.objects.filter(org=root, code__in=PROCESS_LINKS):
        codes, titles = PROCESS_LINKS[process.code]
        data = {
            "indicators": [by_code[c] for c in codes if c in by_code],
            "documents": [docs[t] for t in titles if t in docs],
        }
        process_services.save_process(
            actor=admin, org=root, data=data, process=process, version=process.version
        )
    return len(made)


def load(stdout=None) -> int:
    """Create the demo policy (this year and last), its values and the process map; returns
    the number of indicators created (0 when there already is a policy for this year)."""
    root = Organization.objects.filter(code=ROOT).first()
    admin = User.objects.filter(username="dangwei").first()
    year = timezone.localdate().year
    if root is None or admin is None or Policy.objects.filter(org=root, year=year).exists():
        return 0
    with transaction.atomic(), action_context(actor=admin, source="command", reason="演示数据"):
        _build_year(admin, root, year - 1, this_year=False)
        indicators = _build_year(admin, root, year, this_year=True)
        made = _process_map(admin, root, indicators)
    if stdout is not None:
        stdout.write(f"Demo policy for {year - 1} and {year}, {made} processes\n")
    return len(indicators)
