"""Risk-based audit programme: rank the units of a programme by how urgently they need an
audit, and explain the ranking.

Four factors, each worth a bounded number of points (the score is their sum, 0–100):

* **conformity gaps** (up to ``W_CONFORMITY``): the share of the unit's obligations due in
  the last 12 months that were missing (a missing cell counts fully, a late one half, as in
  the conformity engine's summary rate) — ``W_CONFORMITY × (missing + ½·late) / due``;
* **open nonconformities** (up to ``W_OPEN``): ``PER_OPEN`` points per open nonconformity,
  ``PER_OPEN_MAJOR`` more for a major one;
* **repeat nonconformities** (up to ``W_REPEAT``): ``PER_REPEAT`` points per nonconformity of
  the last 24 months that repeats an earlier one;
* **time since the last audit** (up to ``W_SINCE``): one ``W_SINCE / SINCE_CAP_MONTHS`` per
  month since the unit (or a unit above it) was last audited (reported or closed), full
  points when it never was.

Every factor is non-decreasing in its inputs, so more gaps, more open or repeat
nonconformities or a longer time since the last audit never lower a unit's rank
(``tests/audits/test_risk.py`` checks this as a property). ``score`` is pure; ``rank_units``
loads the facts for a programme's units in a fixed number of queries.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Max, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

W_CONFORMITY = 35.0
W_OPEN = 25.0
PER_OPEN = 5.0
PER_OPEN_MAJOR = 5.0
W_REPEAT = 20.0
PER_REPEAT = 10.0
W_SINCE = 20.0
SINCE_CAP_MONTHS = 36
CONFORMITY_WINDOW_DAYS = 365
REPEAT_WINDOW_DAYS = 730

FACTORS = ("conformity", "open", "repeat", "since")


@dataclass(frozen=True)
class Facts:
    """What is known about one unit (plain data: ``score`` needs no database)."""

    org_id: int
    due: int = 0  # conformity cells due in the window (met + late + missing)
    missing: int = 0
    late: int = 0
    open_ncs: int = 0
    open_major: int = 0
    repeats: int = 0
    last_audit: datetime.date | None = None


@dataclass
class Ranked:
    facts: Facts
    contributions: dict[str, float]
    score: float
    months_since: int | None = None
    org: object = None
    planned: bool = False  # already has an audit in this programme
    reasons: list[str] = field(default_factory=list)


def months_between(earlier: datetime.date, later: datetime.date) -> int:
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    if later.day < earlier.day:
        months -= 1
    return max(months, 0)


def contributions(facts: Facts, today: datetime.date) -> dict[str, float]:
    gap = 0.0
    if facts.due > 0:
        gap = min((facts.missing + 0.5 * facts.late) / facts.due, 1.0)
    open_points = PER_OPEN * facts.open_ncs + PER_OPEN_MAJOR * facts.open_major
    if facts.last_audit is None:
        since = W_SINCE
    else:
        months = months_between(facts.last_audit, today)
        since = W_SINCE * min(months, SINCE_CAP_MONTHS) / SINCE_CAP_MONTHS
    return {
        "conformity": round(W_CONFORMITY * gap, 1),
        "open": round(min(open_points, W_OPEN), 1),
        "repeat": round(min(PER_REPEAT * facts.repeats, W_REPEAT), 1),
        "since": round(since, 1),
    }


def score(facts: Facts, today: datetime.date) -> Ranked:
    parts = contributions(facts, today)
    months = months_between(facts.last_audit, today) if facts.last_audit else None
    return Ranked(facts, parts, round(sum(parts.values()), 1), months)


def order(ranked: list[Ranked]) -> list[Ranked]:
    """Highest score first; ties: the longest without an audit, then the unit id."""
    return sorted(
        ranked,
        key=lambda r: (
            -r.score,
            r.facts.last_audit or datetime.date.min,
            r.facts.org_id,
        ),
    )


def fmt_points(x: float) -> str:
    """12.0 → "12", 12.5 → "12.5"."""
    return f"{x:.1f}".removesuffix(".0")


def explain(r: Ranked) -> list[str]:
    f = r.facts
    c = {k: fmt_points(v) for k, v in r.contributions.items()}
    lines = []
    if f.due:
        lines.append(
            _(
                "Conformity: %(missing)s missing and %(late)s late of %(due)s obligations due "
                "in the last 12 months: +%(points)s"
            )
            % {"missing": f.missing, "late": f.late, "due": f.due, "points": c["conformity"]}
        )
    else:
        lines.append(
            _("Conformity: nothing was due in the last 12 months: +%(points)s")
            % {"points": c["conformity"]}
        )
    lines.append(
        _("Open nonconformities: %(n)s (%(major)s major): +%(points)s")
        % {"n": f.open_ncs, "major": f.open_major, "points": c["open"]}
    )
    lines.append(
        _("Repeat nonconformities in the last 24 months: %(n)s: +%(points)s")
        % {"n": f.repeats, "points": c["repeat"]}
    )
    if f.last_audit is None:
        lines.append(_("Never audited: +%(points)s") % {"points": c["since"]})
    else:
        lines.append(
            _("Last audited %(date)s (%(months)s months ago): +%(points)s")
            % {"date": f.last_audit.isoformat(), "months": r.months_since, "points": c["since"]}
        )
    return lines


# ---------------------------------------------------------------- loading


def programme_units(programme=None, *, org=None, scope_paths=None):
    """The active units of a programme's scope: the scope units' subtrees (or the owner
    committee's), without the owner committee itself. Without a programme (drafting one):
    ``org`` and ``scope_paths``. ``rank_units`` ranks them except the party groups, which
    are audited with their branch (their facts count for it)."""
    from pbqms.orgs.models import Organization

    if programme is not None:
        org = programme.org
        scope_paths = list(programme.scope_units.values_list("path", flat=True))
    qs = Organization.objects.filter(dissolved_on__isnull=True).exclude(pk=org.pk)
    if scope_paths:
        q = Q()
        for p in scope_paths:
            q |= Q(path__startswith=p)
        qs = qs.filter(q)
    else:
        qs = qs.filter(path__startswith=org.path)
    return qs


def _nonconformity_model():
    from django.apps import apps

    if not apps.is_installed("pbqms.improvement"):
        return None
    try:
        return apps.get_model("improvement", "Nonconformity")
    except LookupError:
        return None


def load_facts(
    units: list, today: datetime.date, members: dict[int, int] | None = None, ids_query=None
):
    """Facts for ``units`` (Organization rows with ``pk`` and ``path``) in a fixed number of
    queries. ``members`` maps further unit ids (party groups) to the unit in ``units``
    whose facts they add to; ``ids_query`` (a ``values("pk")`` queryset of all of them)
    replaces a long list of ids in the queries."""
    from pbqms.audits.models import Audit
    from pbqms.system.models import ConformityResult
    from pbqms.system.models import ConformityStatus as S

    if not units:
        return {}
    owner = {u.pk: u.pk for u in units}
    owner.update(members or {})
    ids = ids_query if ids_query is not None else list(owner)
    data: dict[int, dict] = {u.pk: defaultdict(int) for u in units}
    window_start = today - datetime.timedelta(days=CONFORMITY_WINDOW_DAYS)
    missing_q = Q(status=S.MISSING) | Q(status=S.UPCOMING, due_on__lt=today)
    rows = (
        ConformityResult.objects.filter(org_id__in=ids, due_on__gte=window_start, due_on__lt=today)
        .order_by()
        .values("org_id")
        .annotate(
            missing=Count("pk", filter=missing_q),
            late=Count("pk", filter=Q(status=S.LATE)),
            met=Count("pk", filter=Q(status=S.MET)),
        )
    )
    for r in rows:
        if r["org_id"] not in owner:
            continue
        d = data[owner[r["org_id"]]]
        d["missing"] += r["missing"]
        d["late"] += r["late"]
        d["due"] += r["missing"] + r["late"] + r["met"]

    nc_model = _nonconformity_model()
    if nc_model is not None:
        finished = list(nc_model.FINISHED)
        repeat_start = today - datetime.timedelta(days=REPEAT_WINDOW_DAYS)
        open_q = ~Q(status__in=finished)
        for r in (
            nc_model.objects.filter(org_id__in=ids)
            .filter(open_q | Q(repeat_of__isnull=False, raised_on__gte=repeat_start))
            .order_by()
            .values("org_id")
            .annotate(
                open=Count("pk", filter=open_q),
                major=Count("pk", filter=open_q & Q(severity="major")),
                repeats=Count("pk", filter=Q(repeat_of__isnull=False, raised_on__gte=repeat_start)),
            )
        ):
            if r["org_id"] not in owner:
                continue
            d = data[owner[r["org_id"]]]
            d["open_ncs"] += r["open"]
            d["open_major"] += r["major"]
            d["repeats"] += r["repeats"]

    # the last audit of each unit or of a unit above it (an audit covers the subtree)
    through = Audit.audited_units.through
    done = [Audit.Status.REPORTED, Audit.Status.CLOSED]
    last_by_path: dict[str, datetime.date] = {}
    for path, day in (
        through.objects.filter(audit__status__in=done)
        .order_by()
        .values("organization__path")
        .annotate(
            day=Max(Coalesce("audit__end_date", "audit__start_date")),
        )
        .values_list("organization__path", "day")
    ):
        if day is not None:
            last_by_path[path] = day
    if last_by_path:
        from pbqms.orgs.models import Organization

        step = Organization.steplen
        for u in units:
            best = None
            for n in range(step, len(u.path) + 1, step):
                day = last_by_path.get(u.path[:n])
                if day is not None and (best is None or day > best):
                    best = day
            if best is not None:
                data[u.pk]["last_audit"] = best
    return {pk: Facts(org_id=pk, **d) for pk, d in data.items()}


def rank_units(
    programme=None, today: datetime.date | None = None, *, org=None, scope_paths=None
) -> list[Ranked]:
    """Every unit the programme may audit (or, while drafting one, every unit under
    ``org`` / ``scope_paths``), riskiest first, with the contributions."""
    from pbqms.audits.models import Audit
    from pbqms.orgs.models import Organization

    today = today or timezone.localdate()
    in_scope = programme_units(programme, org=org, scope_paths=scope_paths)
    rows = list(in_scope.only("pk", "name", "path", "depth", "kind").order_by("path"))
    # party groups are audited with their branch: their facts count for it
    units = [u for u in rows if u.kind != Organization.Kind.GROUP]
    by_path = {u.path: u.pk for u in units}
    step = Organization.steplen
    members = {}
    for g in rows:
        if g.kind == Organization.Kind.GROUP:
            parent = by_path.get(g.path[:-step])
            if parent is not None:
                members[g.pk] = parent
    facts = load_facts(units, today, members, in_scope.values("pk"))
    planned = (
        set(
            Audit.audited_units.through.objects.filter(audit__programme=programme).values_list(
                "organization_id", flat=True
            )
        )
        if programme is not None
        else set()
    )
    by_id = {u.pk: u for u in units}
    ranked = []
    for pk, f in facts.items():
        r = score(f, today)
        r.org = by_id[pk]
        r.planned = pk in planned
        ranked.append(r)
    return order(ranked)
