"""The conformity engine ("写你所做的，做你所写的").

For every unit, obligation and period it decides: done on time (met), done late, missing,
upcoming, not applicable or justified exception — and which records satisfied it.

Layers:

- ``compute(unit, obligation, period, records, excepted=, today=)`` — pure logic over plain
  data (dataclasses below); no database.
- ``recompute(...)`` — the one bulk path: loads units, obligations, submitted records,
  attendance, committee posts and exceptions in a handful of queries, computes in Python
  and writes only the cells that changed (bulk upsert), deleting cells that no longer
  exist (e.g. a unit that no longer matches the obligation). ``recompute_all()`` is the
  full run; ``update_for_record(record)`` the incremental one (only the cells of the
  record's unit, for the obligations evidenced by its template, in the record's period
  and the periods that listed it before an amendment); obligation and org-tree changes
  recompute that obligation / that unit's subtree (``signals.py``).

Rules:

- a record belongs to the period containing its Shanghai calendar date (``occurred_at``);
  only submitted records count; a record that fails the obligation's counting condition
  (committee quorum, minimum attendance) is *flagged*, not counted;
- met: a counting record on or before the due date; late: only after the due date but
  inside the period; missing: none and the due date has passed; upcoming: none and the
  due date has not passed; a justified exception turns a gap (late/missing/upcoming)
  into "excepted" (a met cell stays met); not applicable: the unit did not exist long
  enough before the due date or was dissolved before it (``periods.applies_to_unit``).

Summary rate per unit (``rate``): ``(met + LATE_WEIGHT × late) / (met + late + missing)``
with ``LATE_WEIGHT = 0.5``: a late activity is half as good as one on time, an upcoming,
not-applicable or excepted cell is not in the denominator. ``None`` when nothing was due.
"""

from __future__ import annotations

import bisect
import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

from django.db import transaction
from django.db.models import CharField, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from pbqms.system import periods as P
from pbqms.system.models import ConformityStatus as S

LATE_WEIGHT = 0.5
GAP_STATUSES = frozenset({S.LATE, S.MISSING, S.UPCOMING})


# ---------------------------------------------------------------- plain data


@dataclass(frozen=True)
class UnitFacts:
    id: int
    path: str
    kind: str
    founded_on: dt.date | None = None
    dissolved_on: dt.date | None = None


@dataclass(frozen=True)
class ObligationFacts:
    id: int
    activity_id: int
    frequency: str
    owner_path: str = ""
    kinds: frozenset[str] = frozenset()
    org_ids: frozenset[int] = frozenset()
    interval_months: int | None = None
    anchor_on: dt.date | None = None
    due_offset_days: int | None = None
    counting: str = "none"
    min_attendance_ratio: float | None = None
    active_from: dt.date | None = None
    active_to: dt.date | None = None
    is_active: bool = True

    def applies_to(self, unit: UnitFacts) -> bool:
        if not unit.path.startswith(self.owner_path):
            return False
        return unit.kind in self.kinds or unit.id in self.org_ids

    def periods(self, start: dt.date, end: dt.date) -> list[tuple[P.Period, dt.date]]:
        """(period, due date) of every period overlapping ``[start, end]`` in which the
        obligation is in force (due on/after ``active_from``, starting on/before
        ``active_to``)."""
        if not self.is_active:
            return []
        out = []
        for period in P.periods_between(
            start, end, self.frequency, self.interval_months, self.anchor_on
        ):
            due = period.due_on(self.due_offset_days)
            if self.active_from and due < self.active_from:
                continue
            if self.active_to and period.start > self.active_to:
                continue
            out.append((period, due))
        return out


class RecordFacts(NamedTuple):
    day: dt.date  # Shanghai calendar date of occurred_at
    id: int
    present_ids: frozenset[int] = frozenset()
    attendance_total: int = 0


@dataclass(frozen=True)
class Cell:
    status: str
    due_on: dt.date
    record_ids: tuple[int, ...] = ()
    flagged_ids: tuple[int, ...] = ()


# ---------------------------------------------------------------- pure logic


def record_counts(
    obligation: ObligationFacts, record: RecordFacts, committee: frozenset[int] | None = None
) -> bool:
    """Does the record meet the obligation's counting condition? ``committee``: the person
    ids holding a committee post in the unit on the record's day (quorum only)."""
    if obligation.counting == "quorum":
        if not committee:
            return False
        return len(committee & record.present_ids) * 2 > len(committee)
    if obligation.counting == "attendance":
        if record.attendance_total == 0:
            return False
        ratio = obligation.min_attendance_ratio or 0
        return len(record.present_ids) >= ratio * record.attendance_total
    return True


def compute(
    unit: UnitFacts,
    period: P.Period,
    due_on: dt.date,
    records: Iterable[tuple[RecordFacts, bool]],
    *,
    excepted: bool = False,
    today: dt.date,
) -> Cell:
    """The status of one cell. ``records``: (record, counts?) of the unit's submitted
    records of the obligation's template; those outside the period are ignored."""
    counted: list[RecordFacts] = []
    flagged: list[int] = []
    for record, counts in records:
        if not period.contains(record.day):
            continue
        if counts:
            counted.append(record)
        else:
            flagged.append(record.id)
    counted.sort()
    ids = tuple(r.id for r in counted)
    flagged_t = tuple(sorted(flagged))
    if not P.applies_to_unit(period, due_on, unit.founded_on, unit.dissolved_on):
        return Cell(S.NOT_APPLICABLE, due_on, ids, flagged_t)
    if counted and counted[0].day <= due_on:
        return Cell(S.MET, due_on, ids, flagged_t)
    if excepted:
        return Cell(S.EXCEPTED, due_on, ids, flagged_t)
    if counted:
        return Cell(S.LATE, due_on, ids, flagged_t)
    if today > due_on:
        return Cell(S.MISSING, due_on, ids, flagged_t)
    return Cell(S.UPCOMING, due_on, ids, flagged_t)


def effective_status(status: str, due_on: dt.date, today: dt.date | None = None) -> str:
    """A stored "upcoming" whose due date has passed since it was computed is missing."""
    today = today or timezone.localdate()
    if status == S.UPCOMING and due_on < today:
        return S.MISSING
    return status


def rate(statuses: Iterable[str]) -> float | None:
    """Summary rate (module docstring): (met + ½·late) / (met + late + missing)."""
    met = late = missing = 0
    for s in statuses:
        if s == S.MET:
            met += 1
        elif s == S.LATE:
            late += 1
        elif s == S.MISSING:
            missing += 1
    due = met + late + missing
    if not due:
        return None
    return (met + LATE_WEIGHT * late) / due


# ---------------------------------------------------------------- loading


def _units(org_ids: Sequence[int] | None = None, path_prefix: str | None = None):
    from pbqms.orgs.models import Organization

    qs = Organization.objects.all()
    if org_ids is not None:
        qs = qs.filter(pk__in=list(org_ids))
    if path_prefix is not None:
        qs = qs.filter(path__startswith=path_prefix)
    return [
        UnitFacts(*row)
        for row in qs.order_by().values_list("id", "path", "kind", "founded_on", "dissolved_on")
    ]


def load_obligations(ids: Sequence[int] | None = None, activity_id: int | None = None):
    from pbqms.system.models import Obligation

    qs = Obligation.objects.all()
    qs = qs.filter(pk__in=list(ids)) if ids is not None else qs.filter(is_active=True)
    if activity_id is not None:
        qs = qs.filter(activity_id=activity_id, is_active=True)
    rows = list(
        qs.order_by("id").values(
            "id",
            "activity_id",
            "frequency",
            "owner__path",
            "applies_to_kinds",
            "interval_months",
            "anchor_on",
            "due_offset_days",
            "counting",
            "min_attendance_ratio",
            "active_from",
            "active_to",
            "is_active",
        )
    )
    chosen: dict[int, set[int]] = defaultdict(set)
    if rows:
        through = Obligation.orgs.through
        for ob_id, org_id in through.objects.filter(
            obligation_id__in=[r["id"] for r in rows]
        ).values_list("obligation_id", "organization_id"):
            chosen[ob_id].add(org_id)
    return [
        ObligationFacts(
            id=r["id"],
            activity_id=r["activity_id"],
            frequency=r["frequency"],
            owner_path=r["owner__path"] or "",
            kinds=frozenset(r["applies_to_kinds"] or ()),
            org_ids=frozenset(chosen[r["id"]]),
            interval_months=r["interval_months"],
            anchor_on=r["anchor_on"],
            due_offset_days=r["due_offset_days"],
            counting=r["counting"],
            min_attendance_ratio=(
                float(r["min_attendance_ratio"]) if r["min_attendance_ratio"] is not None else None
            ),
            active_from=r["active_from"],
            active_to=r["active_to"],
            is_active=r["is_active"],
        )
        for r in rows
    ]


def _aware(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=P.tz())


def _load_records(template_ids, org_ids, start, end, with_attendance: set[int]):
    """{(org_id, template_id): sorted [RecordFacts]} of submitted records held in
    ``[start, end]`` (local dates). Attendance only for templates in ``with_attendance``."""
    from pbqms.records.models import Record, RecordAttendance

    qs = Record.objects.filter(
        status=Record.Status.SUBMITTED,
        template_id__in=list(template_ids),
        occurred_at__gte=_aware(start),
        occurred_at__lt=_aware(end + dt.timedelta(days=1)),
    )
    if org_ids is not None:
        qs = qs.filter(org_id__in=list(org_ids))
    present: dict[int, set[int]] = defaultdict(set)
    totals: dict[int, int] = defaultdict(int)
    if with_attendance:
        att = RecordAttendance.objects.filter(
            record__status=Record.Status.SUBMITTED,
            record__template_id__in=list(with_attendance),
            record__occurred_at__gte=_aware(start),
            record__occurred_at__lt=_aware(end + dt.timedelta(days=1)),
        )
        if org_ids is not None:
            att = att.filter(record__org_id__in=list(org_ids))
        for record_id, person_id, is_present in att.values_list(
            "record_id", "person_id", "present"
        ).order_by():
            totals[record_id] += 1
            if is_present:
                present[record_id].add(person_id)
    out: dict[tuple[int, int], list[RecordFacts]] = defaultdict(list)
    zone = P.tz()
    # the timestamp as text (no per-row converters): ISO in UTC on both backends
    rows = (
        qs.order_by()
        .annotate(_at=Cast("occurred_at", output_field=CharField()))
        .values_list("id", "org_id", "template_id", "_at")
    )
    empty: frozenset[int] = frozenset()
    local_day: dict[str, dt.date] = {}  # "YYYY-MM-DD HH" (UTC) → local date
    for rid, org_id, template_id, text in rows:
        if not isinstance(text, str):
            text = text.isoformat(" ")
        hour = text[:13]
        day = local_day.get(hour)
        if day is None:
            day = local_day[hour] = _parse_utc(text).astimezone(zone).date()
        out[(org_id, template_id)].append(
            RecordFacts(
                day,
                rid,
                frozenset(present[rid]) if rid in present else empty,
                totals.get(rid, 0),
            )
        )
    for rows in out.values():
        rows.sort()
    return out


def _parse_utc(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    else:
        text = value.replace(" ", "T", 1)
        if text.endswith(("+00", "-00")):
            text += ":00"
        moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def _load_committees(org_ids):
    """{org_id: [(person_id, started_on, ended_on)]} of committee posts."""
    from pbqms.orgs.models import Post

    qs = Post.objects.filter(title__in=list(Post.COMMITTEE_TITLES))
    if org_ids is not None:
        qs = qs.filter(org_id__in=list(org_ids))
    out: dict[int, list] = defaultdict(list)
    for org_id, person_id, started_on, ended_on in qs.order_by().values_list(
        "org_id", "person_id", "started_on", "ended_on"
    ):
        out[org_id].append((person_id, started_on, ended_on))
    return out


def _committee_on(posts, day) -> frozenset[int]:
    return frozenset(
        pid for pid, started, ended in posts if started <= day and (ended is None or ended >= day)
    )


# ---------------------------------------------------------------- bulk recompute

_local = threading.local()


@contextmanager
def suspended():
    """Within the block, signals do not update results (bulk loads; run a recompute
    afterwards)."""
    previous = getattr(_local, "suspended", False)
    _local.suspended = True
    try:
        yield
    finally:
        _local.suspended = previous


def is_suspended() -> bool:
    return getattr(_local, "suspended", False)


def default_window(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The current calendar year (cells of earlier years stay as last computed and are
    still updated incrementally when one of their records changes)."""
    today = today or timezone.localdate()
    return dt.date(today.year, 1, 1), dt.date(today.year, 12, 31)


@dataclass
class Stats:
    cells: int = 0
    written: int = 0
    deleted: int = 0


def recompute(
    *,
    units: list[UnitFacts] | None = None,
    obligations: list[ObligationFacts] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    today: dt.date | None = None,
    restrict_orgs: bool | None = None,
) -> Stats:
    """Recompute every (unit, obligation, period) cell with a period overlapping
    ``[start, end]`` for the given units (default: all) and obligations (default: all
    active); write what changed. ``restrict_orgs``: load records and existing cells only
    for these units (set automatically when ``units`` is given)."""
    from pbqms.system.models import ConformityException, ConformityResult

    today = today or timezone.localdate()
    if start is None or end is None:
        start, end = default_window(today)
    if restrict_orgs is None:
        restrict_orgs = units is not None
    if units is None:
        units = _units()
    if obligations is None:
        obligations = load_obligations()
    stats = Stats()
    if not obligations:
        return stats
    org_ids = [u.id for u in units] if restrict_orgs else None
    ob_ids = [o.id for o in obligations]

    plans = {o.id: o.periods(start, end) for o in obligations}
    all_periods = [p for plan in plans.values() for p, _due in plan]
    data_start = min((p.start for p in all_periods), default=start)
    data_end = max((p.end for p in all_periods), default=end)

    template_ids = {o.activity_id for o in obligations}
    attendance_templates = {o.activity_id for o in obligations if o.counting != "none"}
    records = (
        _load_records(template_ids, org_ids, data_start, data_end, attendance_templates)
        if all_periods
        else {}
    )
    committees = (
        _load_committees(org_ids) if any(o.counting == "quorum" for o in obligations) else {}
    )
    exc_qs = ConformityException.objects.filter(
        obligation_id__in=ob_ids, period_start__lte=data_end, period_end__gte=data_start
    )
    if org_ids is not None:
        exc_qs = exc_qs.filter(org_id__in=org_ids)
    exceptions = set(exc_qs.values_list("org_id", "obligation_id", "period_start"))

    existing_qs = ConformityResult.objects.filter(
        obligation_id__in=ob_ids, period_start__lte=end, period_end__gte=start
    )
    if org_ids is not None:
        existing_qs = existing_qs.filter(org_id__in=org_ids)
    # compared as text (dates ISO, id lists as JSON): no per-row JSON or date parsing
    existing = {
        (org_id, ob_id, ps): (pk, pe, due, status, rec, flag)
        for pk, org_id, ob_id, ps, pe, due, status, rec, flag in existing_qs.order_by()
        .annotate(
            _ps=Cast("period_start", output_field=CharField()),
            _pe=Cast("period_end", output_field=CharField()),
            _due=Cast("due_on", output_field=CharField()),
            _rec=Cast("record_ids", output_field=TextField()),
            _flag=Cast("flagged_ids", output_field=TextField()),
        )
        .values_list(
            "id", "org_id", "obligation_id", "_ps", "_pe", "_due", "status", "_rec", "_flag"
        )
    }
    now = timezone.now()
    inserts: list[tuple] = []
    updates: list[tuple] = []
    seen: set[tuple] = set()
    met, late, excepted_s, missing, upcoming, na = (
        S.MET.value,
        S.LATE.value,
        S.EXCEPTED.value,
        S.MISSING.value,
        S.UPCOMING.value,
        S.NOT_APPLICABLE.value,
    )
    min_days = dt.timedelta(days=P.MIN_EXISTENCE_DAYS)
    from django.db import connection

    adapt_day = connection.ops.adapt_datefield_value
    at = connection.ops.adapt_datetimefield_value(now)
    for ob in obligations:
        plan = plans[ob.id]
        if not plan:
            continue
        plan_text = [
            (
                period.start,
                period.end,
                due,
                due - min_days,
                period.start.isoformat(),
                period.end.isoformat(),
                due.isoformat(),
                adapt_day(period.start),
                adapt_day(period.end),
                adapt_day(due),
            )
            for period, due in plan
        ]
        counting = ob.counting
        quorum = counting == "quorum"
        activity_id = ob.activity_id
        ob_id = ob.id
        for unit in units:
            if not ob.applies_to(unit):
                continue
            unit_id = unit.id
            founded, dissolved = unit.founded_on, unit.dissolved_on
            rows = records.get((unit_id, activity_id), ())
            days = [r.day for r in rows] if rows else ()
            posts = committees.get(unit_id, ()) if quorum else ()
            for (
                ps_d,
                pe_d,
                due,
                latest_founding,
                ps,
                pe,
                due_text,
                db_ps,
                db_pe,
                db_due,
            ) in plan_text:
                counted: list[RecordFacts] | tuple = ()
                flagged_text = "[]"
                if rows:
                    lo = bisect.bisect_left(days, ps_d)
                    hi = bisect.bisect_right(days, pe_d, lo)
                    if lo < hi:
                        if counting == "none":
                            counted = rows[lo:hi]
                        else:
                            counted = []
                            flagged = []
                            for r in rows[lo:hi]:
                                committee = _committee_on(posts, r.day) if quorum else None
                                if record_counts(ob, r, committee):
                                    counted.append(r)
                                else:
                                    flagged.append(r.id)
                            if flagged:
                                flagged_text = _ids_text(sorted(flagged))
                # the rules of ``compute`` (kept as the reference), inlined for speed
                if (founded is not None and founded > latest_founding) or (
                    dissolved is not None and dissolved < due
                ):
                    status = na
                elif counted and counted[0].day <= due:
                    status = met
                elif exceptions and (unit_id, ob_id, ps_d) in exceptions:
                    status = excepted_s
                elif counted:
                    status = late
                elif today > due:
                    status = missing
                else:
                    status = upcoming
                rec_text = _ids_text([r.id for r in counted]) if counted else "[]"
                key_text = (unit_id, ob_id, ps)
                seen.add(key_text)
                stats.cells += 1
                old = existing.get(key_text)
                if old is None:
                    inserts.append(
                        (unit_id, ob_id, db_ps, db_pe, db_due, status, rec_text, flagged_text, at)
                    )
                elif old[1:] != (pe, due_text, status, rec_text, flagged_text):
                    updates.append((db_pe, db_due, status, rec_text, flagged_text, at, old[0]))
    stale = [v[0] for k, v in existing.items() if k not in seen]
    with transaction.atomic():
        if stale:
            for i in range(0, len(stale), 5000):
                ConformityResult.objects.filter(pk__in=stale[i : i + 5000]).delete()
        _write_cells(inserts, updates)
    stats.written = len(inserts) + len(updates)
    stats.deleted = len(stale)
    return stats


def _ids_text(ids) -> str:
    """The JSON text of an id list exactly as the database returns it cast to text (``[1,
    2]`` with ", " separators on SQLite and PostgreSQL alike): compared with the stored
    value without parsing it."""
    if len(ids) == 1:
        return f"[{ids[0]}]"
    return "[" + ", ".join(map(str, ids)) + "]"


_BATCH = 5000


def _write_cells(inserts: list[tuple], updates: list[tuple]) -> None:
    """Write new and changed cells with plain parameterised statements in batches (no model
    instances: a full first run writes hundreds of thousands of cells). The values come
    already adapted for the database (``connection.ops.adapt_*``). Inserts: (org,
    obligation, start, end, due, status, records JSON, flagged JSON, computed at); updates:
    (end, due, status, records JSON, flagged JSON, computed at, pk)."""
    from django.db import connection

    from pbqms.system.models import ConformityResult

    if not inserts and not updates:
        return
    qn = connection.ops.quote_name
    table = qn(ConformityResult._meta.db_table)
    json_param = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    with connection.cursor() as cursor:
        if inserts:
            cols = ", ".join(
                qn(c)
                for c in (
                    "org_id",
                    "obligation_id",
                    "period_start",
                    "period_end",
                    "due_on",
                    "status",
                    "record_ids",
                    "flagged_ids",
                    "computed_at",
                )
            )
            values = f"%s, %s, %s, %s, %s, %s, {json_param}, {json_param}, %s"
            if connection.vendor == "postgresql":
                # COPY: an order of magnitude faster than row-by-row inserts on PostgreSQL
                with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in inserts:
                        copy.write_row(row)
            else:
                # identifiers from the model's meta; every value is a parameter
                sql = f"INSERT INTO {table} ({cols}) VALUES ({values})"  # noqa: S608
                for i in range(0, len(inserts), _BATCH):
                    cursor.executemany(sql, inserts[i : i + _BATCH])
        if updates:
            sets = ", ".join(
                f"{qn(c)} = {json_param if c in ('record_ids', 'flagged_ids') else '%s'}"
                for c in (
                    "period_end",
                    "due_on",
                    "status",
                    "record_ids",
                    "flagged_ids",
                    "computed_at",
                )
            )
            sql = f"UPDATE {table} SET {sets} WHERE {qn('id')} = %s"  # noqa: S608
            for i in range(0, len(updates), _BATCH):
                cursor.executemany(sql, updates[i : i + _BATCH])


def recompute_all(start=None, end=None, today=None) -> Stats:
    """Full recomputation of every unit and active obligation over the window (default:
    the current calendar year); also withdraws the cells of inactive obligations."""
    from pbqms.system.models import ConformityResult

    ConformityResult.objects.filter(obligation__is_active=False).delete()
    return recompute(start=start, end=end, today=today)


def recompute_obligation(obligation, today=None) -> Stats:
    from pbqms.system.models import ConformityResult

    if not obligation.is_active:
        ConformityResult.objects.filter(obligation_id=obligation.pk).delete()
        return Stats()
    return recompute(obligations=load_obligations([obligation.pk]), today=today)


def recompute_org(org, today=None) -> Stats:
    """The unit and its subtree (kind, dates or place changed)."""
    units = _units(path_prefix=org.path)
    return recompute(units=units, today=today)


def update_for_record(record, today=None) -> Stats:
    """Incremental update after a record was submitted or amended: only the cells of the
    record's unit for the obligations its template evidences, in the record's period and
    in any period that listed the record before (an amendment may move its date)."""
    from pbqms.system.models import ConformityResult

    obligations = load_obligations(activity_id=record.template_id)
    if not obligations:
        return Stats()
    units = _units([record.org_id])
    if not units:
        return Stats()
    unit = units[0]
    day = P.local_date(record.occurred_at)
    listed = defaultdict(set)
    for ob_id, ps, pe, rec, flag in ConformityResult.objects.filter(
        org_id=unit.id, obligation_id__in=[o.id for o in obligations]
    ).values_list("obligation_id", "period_start", "period_end", "record_ids", "flagged_ids"):
        if record.pk in rec or record.pk in flag:
            listed[ob_id].add(P.Period(ps, pe))
    total = Stats()
    for ob in obligations:
        if not ob.applies_to(unit):
            continue
        targets = {P.period_containing(day, ob.frequency, ob.interval_months, ob.anchor_on)}
        targets |= listed.get(ob.id, set())
        for period in targets:
            s = recompute(
                units=units, obligations=[ob], start=period.start, end=period.end, today=today
            )
            total.cells += s.cells
            total.written += s.written
            total.deleted += s.deleted
    return total
