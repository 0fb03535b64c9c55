"""Write rules and read helpers of policy and objectives (方针目标). Views, API and commands
call these; every write is a ``.save()``/``.create()`` so the change log records it.

Rights: stating a policy, objectives and indicators needs ``OBJECTIVE_MANAGE`` on the
unit; breaking an indicator down to a subordinate unit needs it on the indicator's unit or
on the subordinate's parent (a subsidiary committee cascades its part further down);
entering a value needs ``MEASUREMENT_ENTER`` on the unit the value is for.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from pbqms.core import context, roles, scope
from pbqms.core.locking import check_version
from pbqms.objectives.models import Indicator, IndicatorTarget, Measurement, Objective, Policy
from pbqms.orgs.models import Organization

STEP = 4
MAX_VALUE = Decimal("9999999999.99")
Src = Indicator.Source


def acting(func):
    """Run a service with ``actor`` as the change log's actor when no request or command
    context names one already (direct calls from commands and tests)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        actor = kwargs.get("actor")
        if actor is None or context.current().resolved_actor() is not None:
            return func(*args, **kwargs)
        with context.action_context(actor=actor):
            return func(*args, **kwargs)

    return wrapper


def _require(actor, perm: str, org) -> None:
    if not scope.has_perm(actor, perm, org):
        raise PermissionDenied


def may_break_down(actor, indicator: Indicator, org: Organization) -> bool:
    """May ``actor`` set ``org``'s target for ``indicator``? The indicator's committee, or
    the committee directly above ``org`` (it cascades its own share further down)."""
    if scope.has_perm(actor, roles.OBJECTIVE_MANAGE, indicator.org):
        return True
    parent_path = org.path[:-STEP]
    return any(
        parent_path.startswith(g.path) if g.subtree else g.path == parent_path
        for g in scope.grants_for(actor, roles.OBJECTIVE_MANAGE)
    )


def _decimal(value, field: str) -> Decimal:
    try:
        number = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise ValidationError({field: _("Enter a number.")}) from exc
    if not number.is_finite() or abs(number) > MAX_VALUE:
        raise ValidationError({field: _("Enter a number.")})
    return number


def _full_clean(obj, exclude=()) -> None:
    try:
        obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc


# ---------------------------------------------------------------- policy, objectives


@acting
@transaction.atomic
def save_policy(
    *, actor, org: Organization, year: int, title: str, statement: str, notes: str = "",
    policy: Policy | None = None, version=None,
) -> Policy:  # fmt: skip
    """State (or edit) a unit's party-building policy for a year."""
    _require(actor, roles.OBJECTIVE_MANAGE, org)
    if policy is None:
        policy = Policy(org=org)
    else:
        if policy.org_id != org.pk:
            raise ValidationError({"org": _("The unit of a policy cannot change.")})
        check_version(policy, version)
    policy.year, policy.title, policy.statement, policy.notes = year, title, statement, notes
    _full_clean(policy, exclude=["org"])
    if Policy.objects.filter(org=org, year=year).exclude(pk=policy.pk).exists():
        raise ValidationError({"year": _("This unit has a policy for that year already.")})
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError as exc:
        raise ValidationError({"year": _("This unit has a policy for that year already.")}) from exc
    return policy


@acting
@transaction.atomic
def save_objective(
    *, actor, policy: Policy, code: str, title: str, description: str = "", sort_order: int = 0,
    objective: Objective | None = None, version=None,
) -> Objective:  # fmt: skip
    _require(actor, roles.OBJECTIVE_MANAGE, policy.org)
    if objective is None:
        objective = Objective(policy=policy, org=policy.org)
    else:
        check_version(objective, version)
    objective.code, objective.title = code.strip(), title
    objective.description, objective.sort_order = description, sort_order
    _full_clean(objective, exclude=["policy", "org"])
    if policy.objectives.filter(code=objective.code).exclude(pk=objective.pk).exists():
        raise ValidationError({"code": _("Another objective of this policy has that code.")})
    objective.save()
    return objective


@acting
@transaction.atomic
def save_indicator(
    *, actor, objective: Objective, code: str, name: str, unit_of_measure: str,
    direction: str, target, source: str = Src.MANUAL, description: str = "",
    sort_order: int = 0, indicator: Indicator | None = None, version=None,
) -> Indicator:  # fmt: skip
    _require(actor, roles.OBJECTIVE_MANAGE, objective.org)
    if indicator is None:
        indicator = Indicator(objective=objective, org=objective.org)
    else:
        check_version(indicator, version)
    indicator.code, indicator.name = code.strip(), name
    indicator.unit_of_measure = unit_of_measure or Indicator.COMPUTED_UNITS.get(source, "")
    indicator.direction, indicator.source = direction, source
    indicator.target = _decimal(target, "target")
    indicator.description, indicator.sort_order = description, sort_order
    _full_clean(indicator, exclude=["objective", "org"])
    if source in Indicator.COMPUTED_UNITS:
        indicator.unit_of_measure = Indicator.COMPUTED_UNITS[source]
    if objective.indicators.filter(code=indicator.code).exclude(pk=indicator.pk).exists():
        raise ValidationError({"code": _("Another indicator of this objective has that code.")})
    if source in (Src.CONFORMITY_RATE, Src.NC_CLOSURE_RATE) and not Decimal(
        0
    ) <= indicator.target <= Decimal(100):
        raise ValidationError({"target": _("A rate lies between 0 and 100.")})
    indicator.save()
    if indicator.is_computed:
        refresh_indicator(indicator)
    return indicator


@acting
@transaction.atomic
def set_targets(*, actor, indicator: Indicator, targets: dict) -> int:
    """Break ``indicator`` down: ``targets`` maps subordinate units to their target (None
    removes the unit's target). Returns the number of rows written or removed."""
    errors = {}
    changed = 0
    existing = {t.org_id: t for t in indicator.targets.all()}
    for org, value in targets.items():
        key = f"target_{org.pk}"
        if org.pk == indicator.org_id or not org.path.startswith(indicator.org.path):
            errors[key] = _("Only units below %(unit)s get a share of its target.") % {
                "unit": indicator.org.name
            }
            continue
        if not may_break_down(actor, indicator, org):
            raise PermissionDenied
        current = existing.get(org.pk)
        if value in (None, ""):
            if current is not None:
                current.delete()
                changed += 1
            continue
        try:
            number = _decimal(value, key)
        except ValidationError as exc:
            errors.update(exc.message_dict)
            continue
        if current is None:
            IndicatorTarget.objects.create(indicator=indicator, org=org, target=number)
            changed += 1
        elif current.target != number:
            current.target = number
            current.save()
            changed += 1
    if errors:
        raise ValidationError(errors)
    if changed and indicator.is_computed:
        refresh_indicator(indicator)
    return changed


@acting
@transaction.atomic
def delete_item(*, actor, item: Objective | Indicator, version=None) -> None:
    """Remove an objective (with its indicators) or an indicator (with its shares and
    values) entered by mistake; the change log keeps every removed row."""
    _require(actor, roles.OBJECTIVE_MANAGE, item.org)
    check_version(item, version)
    item.delete()


def units_measured(indicator: Indicator) -> list[int]:
    """The owning unit and every unit with a share of the target."""
    return [indicator.org_id, *indicator.targets.values_list("org_id", flat=True)]


@acting
@transaction.atomic
def enter_value(
    *, actor, indicator: Indicator, org: Organization, value, note: str = "", version=None
) -> Measurement:
    """Enter (or correct) the year's value of a manual indicator for a unit."""
    _require(actor, roles.MEASUREMENT_ENTER, org)
    if indicator.is_computed:
        raise ValidationError({"value": _("This indicator is computed; it takes no entries.")})
    if org.pk != indicator.org_id and not indicator.targets.filter(org=org).exists():
        raise ValidationError({"org": _("This unit has no target for the indicator.")})
    number = _decimal(value, "value")
    if len(note) > 500:
        raise ValidationError({"note": _("At most 500 characters.")})
    measurement = Measurement.objects.filter(indicator=indicator, org=org).first()
    if measurement is None:
        return Measurement.objects.create(
            indicator=indicator, org=org, value=number, source=Measurement.Source.MANUAL, note=note
        )
    check_version(measurement, version)
    measurement.value, measurement.note = number, note
    measurement.save()
    return measurement


@acting
@transaction.atomic
def copy_policy(*, actor, policy: Policy, year: int) -> Policy:
    """Start another year from ``policy``: the same objectives, indicators (codes kept, so
    the trend follows them) and targets; no values."""
    _require(actor, roles.OBJECTIVE_MANAGE, policy.org)
    new = save_policy(
        actor=actor,
        org=policy.org,
        year=year,
        title=policy.title.replace(str(policy.year), str(year)),
        statement=policy.statement,
        notes=policy.notes,
    )
    for objective in policy.objectives.prefetch_related("indicators__targets"):
        copy = Objective.objects.create(
            policy=new,
            org=new.org,
            code=objective.code,
            title=objective.title,
            description=objective.description,
            sort_order=objective.sort_order,
        )
        for ind in objective.indicators.all():
            new_ind = Indicator.objects.create(
                objective=copy,
                org=new.org,
                code=ind.code,
                name=ind.name,
                unit_of_measure=ind.unit_of_measure,
                direction=ind.direction,
                target=ind.target,
                source=ind.source,
                description=ind.description,
                sort_order=ind.sort_order,
            )
            for t in ind.targets.all():
                IndicatorTarget.objects.create(indicator=new_ind, org_id=t.org_id, target=t.target)
    return new


# ---------------------------------------------------------------- computed indicators


def _subtree_ids(org: Organization):
    return Organization.objects.filter(path__startswith=org.path).values("pk")


def conformity_rate(org: Organization, year: int, today: dt.date | None = None) -> float | None:
    """The conformity engine's summary rate (``engine.rate``: on time 1, late ½, missing 0)
    over the unit and every unit below it, for the obligations due in ``year``, in
    percent. ``None`` when nothing was due. One aggregate query."""
    from pbqms.system import engine
    from pbqms.system.models import ConformityResult
    from pbqms.system.models import ConformityStatus as S

    today = today or timezone.localdate()
    agg = ConformityResult.objects.filter(
        org_id__in=_subtree_ids(org), due_on__year=year
    ).aggregate(
        met=Count("pk", filter=Q(status=S.MET)),
        late=Count("pk", filter=Q(status=S.LATE)),
        missing=Count("pk", filter=Q(status=S.MISSING) | Q(status=S.UPCOMING, due_on__lt=today)),
    )
    due = agg["met"] + agg["late"] + agg["missing"]
    if not due:
        return None
    return 100 * (agg["met"] + engine.LATE_WEIGHT * agg["late"]) / due


def nc_figures(org: Organization, year: int) -> tuple[int, int]:
    """(raised, closed) nonconformities of the unit and below raised in ``year``
    (cancelled ones not counted)."""
    from pbqms.improvement.models import Nonconformity as NC

    agg = (
        NC.objects.filter(org_id__in=_subtree_ids(org), raised_on__year=year)
        .exclude(status=NC.Status.CANCELLED)
        .aggregate(raised=Count("pk"), closed=Count("pk", filter=Q(status=NC.Status.CLOSED)))
    )
    return agg["raised"], agg["closed"]


def compute_value(source: str, org: Organization, year: int, today=None) -> float | None:
    if source == Src.CONFORMITY_RATE:
        return conformity_rate(org, year, today)
    if source == Src.NC_CLOSURE_RATE:
        raised, closed = nc_figures(org, year)
        return 100 * closed / raised if raised else None
    if source == Src.NC_COUNT:
        return nc_figures(org, year)[0]
    return None


def refresh_indicator(indicator: Indicator, today=None) -> int:
    """Recompute a computed indicator's values for its unit and the units with a share of
    its target; writes only the values that changed. Returns how many were written."""
    if not indicator.is_computed:
        return 0
    year = indicator.objective.policy.year
    org_ids = units_measured(indicator)
    orgs = Organization.objects.in_bulk(org_ids)
    current = {m.org_id: m for m in indicator.measurements.all()}
    written = 0
    now = timezone.now()
    for org_id in org_ids:
        org = orgs.get(org_id)
        if org is None:
            continue
        raw = compute_value(indicator.source, org, year, today)
        value = None if raw is None else _decimal(raw, "value")
        m = current.get(org_id)
        if m is None:
            Measurement.objects.create(
                indicator=indicator,
                org=org,
                value=value,
                source=Measurement.Source.COMPUTED,
                computed_at=now,
            )
            written += 1
        elif m.value != value or m.source != Measurement.Source.COMPUTED:
            m.value, m.source, m.computed_at = value, Measurement.Source.COMPUTED, now
            m.save()
            written += 1
    return written


@acting
@transaction.atomic
def refresh_policy(*, actor, policy: Policy, today=None) -> int:
    """Recompute every computed indicator of a policy (the committee, or a command)."""
    if actor is not None:
        _require(actor, roles.OBJECTIVE_MANAGE, policy.org)
    written = 0
    for indicator in Indicator.objects.filter(objective__policy=policy).select_related(
        "objective__policy", "org"
    ):
        written += refresh_indicator(indicator, today)
    return written


# ---------------------------------------------------------------- reads


@dataclass
class Row:
    """One indicator as seen by one unit in one year."""

    indicator: Indicator
    org_id: int
    target: Decimal | None
    value: Decimal | None
    measurement: Measurement | None = None
    previous: Decimal | None = None  # the value a year earlier (same code, same owner)
    previous_target: Decimal | None = None

    @property
    def attained(self) -> bool | None:
        return self.indicator.attained(self.value, self.target)

    @property
    def attainment(self) -> float | None:
        return self.indicator.attainment(self.value, self.target)

    @property
    def change(self) -> Decimal | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def improved(self) -> bool | None:
        """Better than a year earlier, in the indicator's direction."""
        change = self.change
        if change is None or change == 0:
            return None
        lower = self.indicator.direction == Indicator.Direction.LOWER
        return (change < 0) if lower else (change > 0)


def breakdown(indicator: Indicator) -> list[Row]:
    """The owning unit and each unit with a share: target, value, attained. Two queries."""
    values = {m.org_id: m for m in indicator.measurements.all()}
    rows = [
        Row(indicator, indicator.org_id, indicator.target, _v(values.get(indicator.org_id)),
            values.get(indicator.org_id))
    ]  # fmt: skip
    for t in indicator.targets.select_related("org").order_by("org__path"):
        m = values.get(t.org_id)
        rows.append(Row(indicator, t.org_id, t.target, _v(m), m))
        rows[-1].unit = t.org
    rows[0].unit = indicator.org
    return rows


def _v(m):
    return None if m is None else m.value


def indicators_for(org: Organization, year: int):
    """The indicators that concern ``org`` in ``year``: those it owns and those it has a
    share of. Returns {indicator_id: (indicator, target)}."""
    own = Indicator.objects.filter(org=org, objective__policy__year=year)
    shared = IndicatorTarget.objects.filter(org=org, indicator__objective__policy__year=year)
    related = ("objective__policy", "org")
    out = {i.pk: (i, i.target) for i in own.select_related(*related)}
    for t in shared.select_related(*(f"indicator__{r}" for r in related)):
        out.setdefault(t.indicator_id, (t.indicator, t.target))
    return out


def attainment(org: Organization, year: int) -> list[Row]:
    """Every indicator that concerns ``org`` in ``year`` with its target, value, whether it
    is attained, and last year's value of the same indicator (same code and owner) for
    the year-over-year comparison. A fixed number of queries."""
    found = indicators_for(org, year)
    values = {
        m.indicator_id: m for m in Measurement.objects.filter(org=org, indicator_id__in=found)
    }
    previous = _values_by_code(org, [i for i, _t in found.values()], [year - 1])
    rows = []
    for indicator, target in found.values():
        m = values.get(indicator.pk)
        prev = previous.get((indicator.org_id, indicator.code, year - 1), (None, None))
        rows.append(
            Row(indicator, org.pk, target, _v(m), m, previous=prev[0], previous_target=prev[1])
        )
    rows.sort(
        key=lambda r: (
            r.indicator.org.path,
            r.indicator.objective.sort_order,
            r.indicator.objective.code,
            r.indicator.sort_order,
            r.indicator.code,
        )
    )
    return rows


def _values_by_code(org: Organization, indicators, years) -> dict:
    """{(owner id, code, year): (value, target)} of ``org`` for indicators with the same
    owner and code as ``indicators`` in ``years``. Three queries."""
    if not indicators:
        return {}
    owners = {i.org_id for i in indicators}
    codes = {i.code for i in indicators}
    same = Indicator.objects.filter(
        org_id__in=owners, code__in=codes, objective__policy__year__in=years
    ).values_list("pk", "org_id", "code", "objective__policy__year", "target")
    meta = {pk: (owner, code, year, target) for pk, owner, code, year, target in same}
    if not meta:
        return {}
    targets = dict(
        IndicatorTarget.objects.filter(indicator_id__in=meta, org=org).values_list(
            "indicator_id", "target"
        )
    )
    values = dict(
        Measurement.objects.filter(indicator_id__in=meta, org=org).values_list(
            "indicator_id", "value"
        )
    )
    out = {}
    for pk, (owner, code, year, own_target) in meta.items():
        target = own_target if owner == org.pk else targets.get(pk)
        out[(owner, code, year)] = (values.get(pk), target)
    return out


def trend(org: Organization, rows: list[Row], year: int, span: int = 5) -> dict:
    """The attainment of each indicator of ``rows`` for ``org`` over the last ``span``
    years (same code and owner): for the line chart and its table."""
    years = list(range(year - span + 1, year + 1))
    data = _values_by_code(org, [r.indicator for r in rows], years)
    series = []
    for r in rows:
        points, table = [], []
        for y in years:
            value, target = data.get((r.indicator.org_id, r.indicator.code, y), (None, None))
            points.append(r.indicator.attainment(value, target))
            table.append({"year": y, "value": value, "target": target})
        if any(p is not None for p in points):
            series.append(
                {
                    "name": f"{r.indicator.code} {r.indicator.name}",
                    "unit": r.indicator.unit_of_measure,
                    "data": points,
                    "table": table,
                }
            )
    shown = [i for i in range(len(years)) if any(s["data"][i] is not None for s in series)]
    first = shown[0] if shown else 0
    if first:
        years = years[first:]
        for s in series:
            s["data"] = s["data"][first:]
            s["table"] = s["table"][first:]
    return {"years": years, "series": series}


def policies_for(user):
    return Policy.objects.visible_to(user, roles.OBJECTIVE_VIEW)


def units_with_policy(user):
    """Units whose policies ``user`` may read (own scope and the committees above)."""
    ids = policies_for(user).values("org_id")
    return Organization.objects.filter(pk__in=ids).order_by("path")


def group_by_objective(rows: list[Row]) -> list[tuple]:
    groups = defaultdict(list)
    order = []
    for r in rows:
        key = r.indicator.objective_id
        if key not in groups:
            order.append(r.indicator.objective)
        groups[key].append(r)
    return [(o, groups[o.pk]) for o in order]
