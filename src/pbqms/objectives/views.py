"""Pages of policy and objectives (方针目标): the policy of a unit and year with its
objectives and indicators; forms to state them; an indicator's breakdown to subordinate
units and its values; the attainment of a unit in a year with a chart and the year-over-
year trend. Reads go through ``visible_to``; writes through ``services``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from pbqms.core import roles, scope
from pbqms.core.history import history_for
from pbqms.core.scope import get_visible_or_404
from pbqms.objectives import services
from pbqms.objectives.forms import (
    CopyForm,
    IndicatorForm,
    ObjectiveForm,
    PolicyForm,
    TargetsForm,
    ValueForm,
)
from pbqms.objectives.models import Indicator, Measurement, Objective, Policy
from pbqms.orgs.forms import add_service_errors
from pbqms.orgs.models import Organization

V = roles.OBJECTIVE_VIEW
UNIT_OPTIONS_LIMIT = 500


def _require(user, perm=V):
    if not scope.has_perm(user, perm):
        raise PermissionDenied


def _int(value, default, low=2000, high=2100):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if low <= number <= high else default


def _policy(user, pk) -> Policy:
    return get_visible_or_404(Policy.objects.select_related("org"), user, V, pk=pk)


def _objective(user, pk) -> Objective:
    return get_visible_or_404(Objective.objects.select_related("policy", "org"), user, V, pk=pk)


def _indicator(user, pk) -> Indicator:
    return get_visible_or_404(
        Indicator.objects.select_related("objective__policy", "org"), user, V, pk=pk
    )


def _manageable_units(user):
    return (
        Organization.objects.visible_to(user, roles.OBJECTIVE_MANAGE)
        .active()
        .exclude(kind=Organization.Kind.GROUP)
    )


# ---------------------------------------------------------------- policy page


@login_required
def index(request):
    """方针目标: the policy of one unit for one year, its objectives and indicators."""
    user = request.user
    _require(user)
    units = list(services.units_with_policy(user)[:UNIT_OPTIONS_LIMIT])
    org = None
    if request.GET.get("org"):
        org = next((u for u in units if str(u.pk) == request.GET["org"]), None)
        if org is None:
            raise Http404
    elif units:
        org = units[0]
    years = []
    if org is not None:
        years = list(
            services.policies_for(user)
            .filter(org=org)
            .order_by("-year")
            .values_list("year", flat=True)
        )
    today = timezone.localdate()
    year = _int(request.GET.get("year"), years[0] if years else today.year)
    policy = None
    if org is not None:
        policy = (
            services.policies_for(user).filter(org=org, year=year).select_related("org").first()
        )
    groups = []
    if policy is not None:
        indicators = (
            Indicator.objects.filter(objective__policy=policy)
            .select_related("objective", "org")
            .prefetch_related("targets")
        )
        own = {
            m.indicator_id: m
            for m in Measurement.objects.filter(indicator__objective__policy=policy, org=policy.org)
        }
        by_objective = {o.pk: (o, []) for o in policy.objectives.all()}
        for ind in indicators:
            m = own.get(ind.pk)
            value = None if m is None else m.value
            by_objective[ind.objective_id][1].append(
                {
                    "indicator": ind,
                    "value": value,
                    "attained": ind.attained(value, ind.target),
                    "shares": len(ind.targets.all()),
                }
            )
        groups = list(by_objective.values())
    may_manage = org is not None and scope.has_perm(user, roles.OBJECTIVE_MANAGE, org)
    return render(
        request,
        "objectives/index.html",
        {
            "units": units,
            "org": org,
            "years": years,
            "year": year,
            "policy": policy,
            "groups": groups,
            "may_manage": may_manage,
            "may_create": scope.has_perm(user, roles.OBJECTIVE_MANAGE),
            "copy_form": CopyForm(initial={"year": year + 1}),
        },
    )


def _policy_redirect(policy):
    return redirect(f"{reverse('objectives:index')}?org={policy.org_id}&year={policy.year}")


@login_required
def policy_edit(request, pk=None):
    user = request.user
    _require(user, roles.OBJECTIVE_MANAGE)
    policy = _policy(user, pk) if pk else None
    if policy is not None and not scope.has_perm(user, roles.OBJECTIVE_MANAGE, policy.org):
        raise PermissionDenied
    units = _manageable_units(user)
    if request.method == "POST":
        form = PolicyForm(request.POST, units=units)
        if form.is_valid():
            d = form.cleaned_data
            try:
                policy = services.save_policy(
                    actor=user,
                    org=d["org"],
                    year=d["year"],
                    title=d["title"],
                    statement=d["statement"],
                    notes=d["notes"],
                    policy=policy,
                    version=d.get("version"),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("The policy was saved."))
                return _policy_redirect(policy)
    else:
        initial = {"year": timezone.localdate().year}
        if policy is not None:
            initial = {
                "org": policy.org,
                "year": policy.year,
                "title": policy.title,
                "statement": policy.statement,
                "notes": policy.notes,
                "version": policy.version,
            }
        elif request.GET.get("org"):
            initial["org"] = request.GET["org"]
        form = PolicyForm(initial=initial, units=units)
    return render(
        request,
        "objectives/form.html",
        {
            "form": form,
            "title": policy.title if policy else _("State the policy"),
            "back": reverse("objectives:index"),
            "history": history_for(policy) if policy else None,
        },
    )


@login_required
def objective_edit(request, policy_pk=None, pk=None):
    user = request.user
    _require(user, roles.OBJECTIVE_MANAGE)
    objective = _objective(user, pk) if pk else None
    policy = objective.policy if objective else _policy(user, policy_pk)
    if not scope.has_perm(user, roles.OBJECTIVE_MANAGE, policy.org):
        raise PermissionDenied
    if request.method == "POST":
        form = ObjectiveForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            try:
                services.save_objective(
                    actor=user,
                    policy=policy,
                    code=d["code"],
                    title=d["title"],
                    description=d["description"],
                    sort_order=d["sort_order"],
                    objective=objective,
                    version=d.get("version"),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("The objective was saved."))
                return _policy_redirect(policy)
    else:
        initial = {"sort_order": (policy.objectives.count() + 1) * 10}
        if objective is not None:
            initial = {
                k: getattr(objective, k)
                for k in ("code", "title", "description", "sort_order", "version")
            }
        form = ObjectiveForm(initial=initial)
    return render(
        request,
        "objectives/form.html",
        {
            "form": form,
            "title": str(objective) if objective else _("New objective"),
            "subtitle": str(policy),
            "back": _policy_redirect(policy).url,
            "history": history_for(objective) if objective else None,
            "delete_url": reverse("objectives:objective_delete", args=[objective.pk])
            if objective
            else None,
            "delete_note": _("Its indicators, their shares and values are removed with it."),
            "item": objective,
        },
    )


@login_required
def indicator_edit(request, objective_pk=None, pk=None):
    user = request.user
    _require(user, roles.OBJECTIVE_MANAGE)
    indicator = _indicator(user, pk) if pk else None
    objective = indicator.objective if indicator else _objective(user, objective_pk)
    if not scope.has_perm(user, roles.OBJECTIVE_MANAGE, objective.org):
        raise PermissionDenied
    if request.method == "POST":
        form = IndicatorForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            try:
                indicator = services.save_indicator(
                    actor=user,
                    objective=objective,
                    code=d["code"],
                    name=d["name"],
                    unit_of_measure=d["unit_of_measure"],
                    direction=d["direction"],
                    target=d["target"],
                    source=d["source"],
                    description=d["description"],
                    sort_order=d["sort_order"],
                    indicator=indicator,
                    version=d.get("version"),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("The indicator was saved."))
                return redirect("objectives:indicator", indicator.pk)
    else:
        initial = {"sort_order": (objective.indicators.count() + 1) * 10}
        if indicator is not None:
            initial = {
                k: getattr(indicator, k)
                for k in (
                    "code",
                    "name",
                    "source",
                    "unit_of_measure",
                    "direction",
                    "target",
                    "description",
                    "sort_order",
                    "version",
                )
            }
        form = IndicatorForm(initial=initial)
    return render(
        request,
        "objectives/form.html",
        {
            "form": form,
            "title": str(indicator) if indicator else _("New indicator"),
            "subtitle": str(objective),
            "back": _policy_redirect(objective.policy).url,
            "history": history_for(indicator) if indicator else None,
            "delete_url": reverse("objectives:indicator_delete", args=[indicator.pk])
            if indicator
            else None,
            "delete_note": _("Its shares and values are removed with it."),
            "item": indicator,
        },
    )


@login_required
@require_POST
def item_delete(request, kind, pk):
    user = request.user
    _require(user, roles.OBJECTIVE_MANAGE)
    item = _objective(user, pk) if kind == "objective" else _indicator(user, pk)
    policy = item.policy if kind == "objective" else item.objective.policy
    if not scope.has_perm(user, roles.OBJECTIVE_MANAGE, item.org):
        raise PermissionDenied
    try:
        services.delete_item(actor=user, item=item, version=request.POST.get("version"))
    except ValidationError as exc:
        for error in exc.messages:
            messages.error(request, error)
    else:
        messages.success(request, _("%(item)s was removed.") % {"item": item})
    return _policy_redirect(policy)


# ---------------------------------------------------------------- one indicator


def _value_units(user, indicator):
    ids = services.units_measured(indicator)
    return (
        Organization.objects.visible_to(user, roles.MEASUREMENT_ENTER)
        .filter(pk__in=ids)
        .order_by("path")
    )


@login_required
def indicator_detail(request, pk):
    user = request.user
    _require(user)
    indicator = _indicator(user, pk)
    rows = services.breakdown(indicator)
    visible = set(
        Organization.objects.visible_to(user, V)
        .filter(pk__in=[r.org_id for r in rows])
        .values_list("pk", flat=True)
    )
    # a unit sees the owning committee's row and its own; the committee sees every share
    rows = [r for r in rows if r.org_id in visible or r.org_id == indicator.org_id]
    value_units = _value_units(user, indicator)
    value_form = None
    if not indicator.is_computed and value_units.exists():
        value_form = ValueForm(units=value_units, initial={"org": value_units.first()})
    chart = {
        "units": [r.unit.name for r in rows],
        "values": [None if r.value is None else float(r.value) for r in rows],
        "targets": [None if r.target is None else float(r.target) for r in rows],
        "unit": indicator.unit_of_measure,
        "labels": {"value": _("Value"), "target": _("Target")},
    }
    return render(
        request,
        "objectives/indicator.html",
        {
            "indicator": indicator,
            "policy": indicator.objective.policy,
            "rows": rows,
            "value_form": value_form,
            "may_manage": scope.has_perm(user, roles.OBJECTIVE_MANAGE, indicator.org),
            "may_break_down": scope.has_perm(user, roles.OBJECTIVE_MANAGE),
            "chart": chart,
            "history": history_for(indicator),
        },
    )


@login_required
def indicator_targets(request, pk):
    """分解: the targets of the units directly below ``under`` (default: the indicator's
    unit); a subsidiary committee cascades its own share further down."""
    user = request.user
    _require(user, roles.OBJECTIVE_MANAGE)
    indicator = _indicator(user, pk)
    under = indicator.org
    if request.GET.get("under"):
        under = get_visible_or_404(
            Organization.objects.all(), user, roles.OBJECTIVE_MANAGE, pk=request.GET["under"]
        )
        if not under.path.startswith(indicator.org.path):
            raise Http404
    units = [
        u
        for u in Organization.objects.filter(
            path__startswith=under.path, depth=under.depth + 1, dissolved_on__isnull=True
        ).order_by("path")
        if u.kind != Organization.Kind.GROUP
    ]
    allowed = [u for u in units if services.may_break_down(user, indicator, u)]
    if units and not allowed:
        raise PermissionDenied
    units = allowed
    current = dict(indicator.targets.filter(org__in=units).values_list("org_id", "target"))
    if request.method == "POST":
        form = TargetsForm(request.POST, units=units)
        if form.is_valid():
            try:
                changed = services.set_targets(
                    actor=user, indicator=indicator, targets=form.targets()
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Targets saved (%(n)d changed).") % {"n": changed})
                return redirect("objectives:indicator", indicator.pk)
    else:
        form = TargetsForm(units=units, initial_targets=current)
    return render(
        request,
        "objectives/targets.html",
        {"indicator": indicator, "under": under, "form": form},
    )


@login_required
def indicator_value(request, pk):
    user = request.user
    _require(user, roles.MEASUREMENT_ENTER)
    indicator = _indicator(user, pk)
    units = _value_units(user, indicator)
    if indicator.is_computed or not units.exists():
        raise PermissionDenied
    if request.method == "POST":
        form = ValueForm(request.POST, units=units)
        if form.is_valid():
            d = form.cleaned_data
            existing = Measurement.objects.filter(indicator=indicator, org=d["org"]).first()
            try:
                services.enter_value(
                    actor=user,
                    indicator=indicator,
                    org=d["org"],
                    value=d["value"],
                    note=d["note"],
                    version=d.get("version") or (existing.version if existing else None),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("The value was saved."))
                return redirect("objectives:indicator", indicator.pk)
    else:
        form = ValueForm(units=units, initial={"org": units.first()})
    return render(
        request,
        "objectives/form.html",
        {
            "form": form,
            "title": _("Enter a value"),
            "subtitle": f"{indicator} · {indicator.objective.policy.year}",
            "back": reverse("objectives:indicator", args=[indicator.pk]),
        },
    )


# ---------------------------------------------------------------- policy actions


@login_required
@require_POST
def policy_refresh(request, pk):
    user = request.user
    _require(user, roles.OBJECTIVE_MANAGE)
    policy = _policy(user, pk)
    written = services.refresh_policy(actor=user, policy=policy)
    messages.success(request, _("Computed values refreshed (%(n)d changed).") % {"n": written})
    return _policy_redirect(policy)


@login_required
@require_POST
def policy_copy(request, pk):
    user = request.user
    _require(user, roles.OBJECTIVE_MANAGE)
    policy = _policy(user, pk)
    form = CopyForm(request.POST)
    if form.is_valid():
        try:
            new = services.copy_policy(actor=user, policy=policy, year=form.cleaned_data["year"])
        except ValidationError as exc:
            for errors in getattr(exc, "message_dict", {"": exc.messages}).values():
                for error in errors:
                    messages.error(request, error)
        else:
            messages.success(request, _("The policy was copied to %(year)d.") % {"year": new.year})
            return _policy_redirect(new)
    else:
        messages.error(request, _("Enter a year between 2000 and 2100."))
    return _policy_redirect(policy)


# ---------------------------------------------------------------- attainment


@login_required
def attainment(request):
    """目标完成情况: the indicators that concern one unit in one year (its own and its
    share of its committees'), attained or not, with a chart; and the year-over-year
    trend (持续改进, 螺旋上升)."""
    user = request.user
    _require(user)
    units = list(
        Organization.objects.visible_to(user, V)
        .exclude(kind=Organization.Kind.GROUP)
        .order_by("path")[:UNIT_OPTIONS_LIMIT]
    )
    org = None
    if request.GET.get("org"):
        org = get_visible_or_404(Organization.objects.all(), user, V, pk=request.GET["org"])
    elif units:
        org = units[0]
    today = timezone.localdate()
    year = _int(request.GET.get("year"), today.year)
    rows = services.attainment(org, year) if org is not None else []
    trend = services.trend(org, rows, year) if org is not None else {"years": [], "series": []}
    attained = sum(1 for r in rows if r.attained)
    measured = sum(1 for r in rows if r.value is not None)
    improved = sum(1 for r in rows if r.improved)
    chart = {
        "names": [f"{r.indicator.code} {r.indicator.name}" for r in rows],
        "attainment": [r.attainment for r in rows],
        "attained": [r.attained for r in rows],
        "label": _("Attainment (%)"),
        "target_label": _("Target"),
    }
    return render(
        request,
        "objectives/attainment.html",
        {
            "units": units,
            "org": org,
            "year": year,
            "years": list(range(today.year + 1, today.year - 6, -1)),
            "groups": services.group_by_objective(rows),
            "rows": rows,
            "attained": attained,
            "measured": measured,
            "improved": improved,
            "chart": chart,
            "trend": trend,
            "view": request.GET.get("view", "chart"),
        },
    )


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@login_required
def attainment_export(request):
    """The attainment table of one unit and year as .xlsx (the same rows as the page)."""
    import io
    from urllib.parse import quote

    from openpyxl import Workbook
    from openpyxl.styles import Font

    from pbqms.core.changelog import log_security_event
    from pbqms.core.models import ChangeLogEntry

    user = request.user
    _require(user)
    org = get_visible_or_404(Organization.objects.all(), user, V, pk=request.GET.get("org"))
    year = _int(request.GET.get("year"), timezone.localdate().year)
    rows = services.attainment(org, year)
    wb = Workbook()
    ws = wb.active
    ws.title = str(year)
    ws.append([_("Attainment of objectives"), org.name, year])
    ws["A1"].font = Font(bold=True)
    headers = [
        _("Objective"), _("Code"), _("Indicator"), _("Set by"), _("Unit of measure"),
        _("Direction"), _("Target"), _("Value"), _("Attained"), _("Attainment (%)"),
        _("Last year"), _("Compared with last year"),
    ]  # fmt: skip
    ws.append(headers)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for r in rows:
        ind = r.indicator
        attained = {None: _("No value yet"), True: _("Target attained"), False: _("Not attained")}
        improved = {None: "", True: _("better"), False: _("worse")}
        ws.append(
            [
                f"{ind.objective.code} {ind.objective.title}",
                ind.code,
                ind.name,
                ind.org.name,
                ind.unit_of_measure,
                ind.get_direction_display(),
                r.target,
                r.value,
                attained[r.attained],
                r.attainment,
                r.previous,
                improved[r.improved],
            ]
        )
    widths = (24, 8, 32, 24, 8, 12, 10, 10, 10, 12, 10, 12)
    for column, width in zip("ABCDEFGHIJKL", widths, strict=True):
        ws.column_dimensions[column].width = width
    out = io.BytesIO()
    wb.save(out)
    log_security_event(
        ChangeLogEntry.Action.EXPORT,
        user=user,
        details={"what": "objectives.attainment", "org": org.pk, "year": year, "rows": len(rows)},
    )
    name = f"目标完成情况_{org.name}_{year}.xlsx"
    response = HttpResponse(out.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = "attachment; filename*=UTF-8''" + quote(name)
    response["Cache-Control"] = "no-store"
    return response
