"""Pages of the quality-system area: the conformity board (heatmap and table), a unit's
board, one cell with its records and exception, the due list, the requirement library
and the obligations."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from pbqms.core import roles, scope
from pbqms.orgs.forms import add_service_errors
from pbqms.orgs.models import Organization
from pbqms.system import coverage, engine, services
from pbqms.system.forms import (
    BoardFilterForm,
    DocumentLinksForm,
    ExceptionForm,
    GapNonconformityForm,
    ObligationForm,
)
from pbqms.system.models import (
    ConformityException,
    ConformityResult,
    ConformityStatus,
    Obligation,
    Requirement,
)

S = ConformityStatus
UNITS_PER_PAGE = 40
STATUS_CSS = {
    S.MET: "pb-cf-met",
    S.LATE: "pb-cf-late",
    S.MISSING: "pb-cf-missing",
    S.UPCOMING: "pb-cf-upcoming",
    S.NOT_APPLICABLE: "pb-cf-na",
    S.EXCEPTED: "pb-cf-excepted",
}
STATUS_CODE = {s: i for i, s in enumerate(services.SEVERITY)}


def _require(user, perm):
    if not scope.has_perm(user, perm):
        raise PermissionDenied


def _cell_url(org_id, ob_id, period_start):
    return reverse("system:cell", args=[org_id, ob_id, period_start.isoformat()])


def _record_url(pk):
    try:
        return reverse("records:detail", args=[pk])
    except NoReverseMatch:
        return None


def _legend():
    return [{"status": s, "label": S(s).label, "css": STATUS_CSS[s]} for s in services.SEVERITY]


@login_required
def board(request):
    """符合性看板: units × months of a year, for one obligation or all."""
    user = request.user
    _require(user, roles.CONFORMITY_VIEW)
    today = timezone.localdate()
    obligations = Obligation.objects.visible_to(user).filter(is_active=True).order_by("name")
    form = BoardFilterForm(request.GET or None, obligations=obligations)
    year, obligation = today.year, None
    if form.is_bound and form.is_valid():
        year = form.cleaned_data.get("year") or today.year
        obligation = form.cleaned_data.get("obligation")
    under = None
    if request.GET.get("under"):
        under = scope.get_visible_or_404(
            Organization.objects.all(), user, roles.CONFORMITY_VIEW, pk=request.GET["under"]
        )
    units = services.units_in_board(user, under)
    page = Paginator(units.only("id", "name", "path", "kind", "depth"), UNITS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    unit_list = list(page.object_list)
    results = services.results_for(user).filter(
        org_id__in=[u.pk for u in unit_list], due_on__year=year
    )
    if obligation is not None:
        results = results.filter(obligation=obligation)
    cells = defaultdict(list)
    for org_id, ob_id, due_on, status, period_start in results.values_list(
        "org_id", "obligation_id", "due_on", "status", "period_start"
    ):
        cells[(org_id, due_on.month)].append(
            (engine.effective_status(status, due_on, today), ob_id, period_start)
        )
    months = list(range(1, 13))
    rows, chart = [], []
    for y, unit in enumerate(unit_list):
        row_cells, statuses = [], []
        for month in months:
            entries = cells.get((unit.pk, month), [])
            statuses += [e[0] for e in entries]
            if not entries:
                row_cells.append(None)
                continue
            done = sum(1 for e in entries if e[0] in (S.MET, S.LATE))
            required = sum(1 for e in entries if e[0] != S.NOT_APPLICABLE)
            if obligation is not None:
                status = entries[0][0]
            else:
                status = services.aggregate_status([e[0] for e in entries])
            if obligation is not None:
                url = _cell_url(unit.pk, entries[0][1], entries[0][2])
                label = S(status).label
            else:
                url = reverse("system:unit", args=[unit.pk]) + f"?year={year}"
                label = f"{done}/{required}"
            row_cells.append(
                {
                    "status": status,
                    "css": STATUS_CSS[status],
                    "label": label,
                    "url": url,
                    "title": S(status).label,
                }
            )
            chart.append([month - 1, y, STATUS_CODE[status], label, url])
        rows.append({"unit": unit, "cells": row_cells, "rate": engine.rate(statuses)})
    view = "table" if request.GET.get("view") == "table" else "chart"
    chart_data = {
        "months": [_("Month %(m)d") % {"m": m} for m in months],
        "units": [u.name for u in unit_list],
        "points": chart,
        "statuses": [{"code": STATUS_CODE[s], "label": str(S(s).label)} for s in services.SEVERITY],
    }
    query = request.GET.copy()
    query.pop("view", None)
    query.pop("page", None)
    return render(
        request,
        "system/board.html",
        {
            "form": form,
            "year": year,
            "obligation": obligation,
            "under": under,
            "rows": rows,
            "months": months,
            "page": page,
            "view": view,
            "chart_data": chart_data,
            "legend": _legend(),
            "qs": query.urlencode(),
        },
    )


@login_required
def unit_board(request, org_id):
    """One unit: its obligations × months of a year."""
    user = request.user
    _require(user, roles.CONFORMITY_VIEW)
    org = scope.get_visible_or_404(
        Organization.objects.all(), user, roles.CONFORMITY_VIEW, pk=org_id
    )
    today = timezone.localdate()
    try:
        year = int(request.GET.get("year") or today.year)
    except ValueError:
        year = today.year
    results = (
        ConformityResult.objects.filter(org=org, due_on__year=year)
        .select_related("obligation")
        .order_by("obligation__name", "period_start")
    )
    by_ob: dict[int, dict] = {}
    statuses = []
    for r in results:
        status = engine.effective_status(r.status, r.due_on, today)
        statuses.append(status)
        entry = by_ob.setdefault(
            r.obligation_id, {"obligation": r.obligation, "cells": [None] * 12, "statuses": []}
        )
        entry["statuses"].append(status)
        entry["cells"][r.due_on.month - 1] = {
            "status": status,
            "css": STATUS_CSS[status],
            "label": S(status).label,
            "url": _cell_url(org.pk, r.obligation_id, r.period_start),
        }
    rows = list(by_ob.values())
    for row in rows:
        row["rate"] = engine.rate(row["statuses"])
    return render(
        request,
        "system/unit.html",
        {
            "org": org,
            "year": year,
            "rows": rows,
            "months": range(1, 13),
            "rate": engine.rate(statuses),
            "legend": _legend(),
        },
    )


def _get_cell(user, org_id, obligation_id, period_start):
    try:
        start = dt.date.fromisoformat(period_start)
    except ValueError as exc:
        raise Http404 from exc
    return scope.get_visible_or_404(
        ConformityResult.objects.select_related(
            "org", "obligation", "obligation__activity", "obligation__requirement"
        ),
        user,
        roles.CONFORMITY_VIEW,
        org_id=org_id,
        obligation_id=obligation_id,
        period_start=start,
    )


def _nc_initial(result):
    title, description = services.gap_description(result)
    return {
        "title": title,
        "description": description,
        "severity": "minor",
        "correction_due": timezone.localdate() + dt.timedelta(days=30),
    }


def _render_cell(request, result, form=None, nc_form=None):
    user = request.user
    org, obligation = result.org, result.obligation
    exception = (
        ConformityException.objects.filter(
            org=org, obligation=obligation, period_start=result.period_start
        )
        .select_related("created_by")
        .first()
    )
    can_except = (
        exception is None
        and result.status != S.MET
        and scope.has_perm(user, roles.CONFORMITY_EXCEPT, org)
    )
    from pbqms.records.models import Record

    ids = list(result.record_ids) + list(result.flagged_ids)
    records = {r.pk: r for r in Record.objects.filter(pk__in=ids).order_by("occurred_at")}
    satisfying = [records[i] for i in result.record_ids if i in records]
    flagged = [records[i] for i in result.flagged_ids if i in records]
    for r in satisfying + flagged:
        r.url = _record_url(r.pk)
    status = engine.effective_status(result.status, result.due_on)
    new_record_url = None
    if scope.has_perm(user, roles.RECORD_ADD, org):
        try:
            new_record_url = (
                reverse("records:create", args=[obligation.activity_id]) + f"?org={org.pk}"
            )
        except NoReverseMatch:
            new_record_url = None
    nonconformities = services.nonconformities_for(user, result)
    for nc in nonconformities:
        nc.url = reverse("improvement:nc_detail", args=[nc.pk])
    # a posted form with errors is shown again whatever the cell's state
    can_raise = nc_form is not None or (exception is None and services.may_raise_from(user, result))
    if can_raise and nc_form is None:
        nc_form = GapNonconformityForm(initial=_nc_initial(result))
    return render(
        request,
        "system/cell.html",
        {
            "result": result,
            "org": org,
            "obligation": obligation,
            "status": status,
            "status_label": S(status).label,
            "status_css": STATUS_CSS[status],
            "satisfying": satisfying,
            "flagged": flagged,
            "exception": exception,
            "can_except": can_except or (form is not None and form.errors),
            "form": form or ExceptionForm(),
            "new_record_url": new_record_url,
            "nonconformities": nonconformities,
            "can_raise": can_raise,
            "nc_form": nc_form,
            "raise_url": reverse(
                "system:cell_raise",
                args=[org.pk, obligation.pk, result.period_start.isoformat()],
            ),
        },
    )


@login_required
def cell(request, org_id, obligation_id, period_start):
    """One cell: status, the records that satisfied it, flagged records, the exception,
    the nonconformities raised from it."""
    user = request.user
    result = _get_cell(user, org_id, obligation_id, period_start)
    org, obligation = result.org, result.obligation
    form = None
    if request.method == "POST":
        if not scope.has_perm(user, roles.CONFORMITY_EXCEPT, org):
            raise PermissionDenied
        form = ExceptionForm(request.POST)
        if form.is_valid():
            try:
                services.note_exception(
                    actor=user,
                    org=org,
                    obligation=obligation,
                    period_start=result.period_start,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("The exception is noted."))
                return redirect(request.path)
    return _render_cell(request, result, form=form)


@login_required
@require_POST
def cell_raise(request, org_id, obligation_id, period_start):
    """Raise an improvement nonconformity from a late or missing cell."""
    user = request.user
    result = _get_cell(user, org_id, obligation_id, period_start)
    if not services.nonconformities_enabled():
        raise Http404
    from pbqms.improvement import services as improvement

    if not improvement.may_raise(user, result.org):
        raise PermissionDenied
    nc_form = GapNonconformityForm(request.POST)
    if nc_form.is_valid():
        data = nc_form.cleaned_data
        try:
            nc = services.raise_nonconformity_from_gap(
                actor=user,
                result=result,
                title=data["title"],
                description=data["description"],
                severity=data["severity"],
                correction_due=data["correction_due"],
            )
        except ValidationError as exc:
            add_service_errors(nc_form, exc)
        else:
            messages.success(
                request, _("Nonconformity %(number)s is raised.") % {"number": nc.number}
            )
            return redirect(_cell_url(result.org_id, result.obligation_id, result.period_start))
    return _render_cell(request, result, nc_form=nc_form)


@login_required
def due(request):
    """What is due this month: for one unit (``?org=``) or every unit in scope."""
    user = request.user
    _require(user, roles.CONFORMITY_VIEW)
    org = None
    if request.GET.get("org"):
        org = scope.get_visible_or_404(
            Organization.objects.all(), user, roles.CONFORMITY_VIEW, pk=request.GET["org"]
        )
    items = services.due_items(user, org=org)
    for item in items:
        r = item["result"]
        item["css"] = STATUS_CSS[item["status"]]
        item["label"] = S(item["status"]).label
        item["url"] = _cell_url(r.org_id, r.obligation_id, r.period_start)
    start, end = services.month_bounds()
    return render(
        request,
        "system/due.html",
        {"items": items, "org": org, "month_start": start, "month_end": end},
    )


# ---------------------------------------------------------------- requirements


@login_required
def requirement_list(request):
    user = request.user
    _require(user, roles.REQUIREMENT_VIEW)
    qs = Requirement.objects.annotate(n_obligations=Count("obligations", distinct=True))
    source = request.GET.get("source") or ""
    if source in Requirement.Source.values:
        qs = qs.filter(source=source)
    q = (request.GET.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(title__icontains=q) | Q(text__icontains=q))
    page = Paginator(qs.order_by("source", "sort_key", "code"), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "system/requirement_list.html",
        {
            "page": page,
            "sources": Requirement.Source.choices,
            "source": source,
            "q": q,
            "gaps": qs.filter(n_obligations=0).count() if not q and not source else None,
        },
    )


@login_required
def requirement_detail(request, pk):
    user = request.user
    _require(user, roles.REQUIREMENT_VIEW)
    requirement = get_object_or_404(Requirement, pk=pk)
    obligations = (
        Obligation.objects.filter(requirement=requirement).select_related("owner", "activity")
        if scope.has_perm(user, roles.OBLIGATION_VIEW)
        else Obligation.objects.none()
    )
    can_link = coverage.documents_enabled() and scope.has_perm(user, roles.REQUIREMENT_MANAGE)
    link_form = None
    if can_link:
        from pbqms.documents.models import Document

        choices = (
            coverage.visible_documents(user)
            .exclude(status=Document.Status.OBSOLETE)
            .order_by("number")
        )
        if request.method == "POST":
            link_form = DocumentLinksForm(request.POST, documents=choices)
            if link_form.is_valid():
                try:
                    added, removed = coverage.set_document_requirements(
                        actor=user,
                        requirement=requirement,
                        documents=link_form.cleaned_data["documents"],
                    )
                except ValidationError as exc:
                    add_service_errors(link_form, exc)
                else:
                    messages.success(
                        request,
                        _("Documents linked: %(added)d added, %(removed)d removed.")
                        % {"added": added, "removed": removed},
                    )
                    return redirect(request.path)
        else:
            link_form = DocumentLinksForm(
                documents=choices,
                initial={"documents": [d.pk for d in coverage.documents_of(user, requirement)]},
            )
    elif request.method == "POST":
        raise PermissionDenied
    processes = []
    if coverage.processes_enabled() and scope.has_perm(user, roles.PROCESS_VIEW):
        from pbqms.processes.models import Process

        processes = list(
            Process.objects.visible_to(user, roles.PROCESS_VIEW)
            .filter(requirements=requirement, is_active=True)
            .order_by("code")
        )
    return render(
        request,
        "system/requirement_detail.html",
        {
            "requirement": requirement,
            "obligations": obligations,
            "documents": coverage.documents_of(user, requirement),
            "processes": processes,
            "link_form": link_form,
        },
    )


@login_required
def coverage_matrix(request):
    """条款覆盖: requirements × the documents, processes and obligations that address them;
    gaps and orphan documents."""
    user = request.user
    _require(user, roles.REQUIREMENT_VIEW)
    source = request.GET.get("source") or ""
    if source not in Requirement.Source.values:
        source = ""
    q = (request.GET.get("q") or "").strip()[:100]
    gaps_only = request.GET.get("gaps") == "1"
    rows = coverage.matrix(user, source=source, q=q)
    totals = coverage.summary(rows)
    if gaps_only:
        rows = [r for r in rows if r.is_gap]
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    orphans = coverage.orphan_documents(user)
    orphan_page = None
    if orphans is not None:
        orphan_page = Paginator(orphans, 20).get_page(request.GET.get("opage"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("opage", None)
    return render(
        request,
        "system/coverage.html",
        {
            "page": page,
            "totals": totals,
            "sources": Requirement.Source.choices,
            "source": source,
            "q": q,
            "gaps_only": gaps_only,
            "orphans": orphan_page,
            "processes_enabled": coverage.processes_enabled(),
            "documents_enabled": coverage.documents_enabled(),
            "qs": query.urlencode(),
        },
    )


# ---------------------------------------------------------------- obligations


def _owners(user):
    return Organization.objects.visible_to(user, roles.OBLIGATION_MANAGE).filter(
        kind__in=[Organization.Kind.COMMITTEE, Organization.Kind.GENERAL_BRANCH]
    )


@login_required
def obligation_list(request):
    user = request.user
    _require(user, roles.OBLIGATION_VIEW)
    obligations = (
        Obligation.objects.visible_to(user)
        .select_related("requirement", "owner", "activity")
        .order_by("-is_active", "name")
    )
    return render(
        request,
        "system/obligation_list.html",
        {
            "obligations": obligations,
            "can_add": scope.has_perm(user, roles.OBLIGATION_MANAGE),
        },
    )


@login_required
def obligation_edit(request, pk=None):
    user = request.user
    _require(user, roles.OBLIGATION_MANAGE)
    if pk is None:
        obligation = Obligation()
    else:
        obligation = scope.get_visible_or_404(Obligation.objects.all(), user, pk=pk)
        if not scope.has_perm(user, roles.OBLIGATION_MANAGE, obligation.owner):
            raise PermissionDenied
    owners = _owners(user)
    units = Organization.objects.visible_to(user, roles.OBLIGATION_MANAGE).only(
        "id", "name", "path"
    )
    if request.method == "POST":
        form = ObligationForm(request.POST, instance=obligation, owners=owners, units=units)
        if form.is_valid():
            ob = form.save(commit=False)
            try:
                services.save_obligation(actor=user, obligation=ob, orgs=form.cleaned_data["orgs"])
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("The obligation is saved and the board updated."))
                return redirect("system:obligation_list")
    else:
        initial = {}
        if pk is None:
            first = owners.order_by("depth", "path").first()
            initial = {"owner": first.pk if first else None, "applies_to_kinds": ["branch"]}
        form = ObligationForm(instance=obligation, owners=owners, units=units, initial=initial)
    return render(request, "system/obligation_form.html", {"form": form, "obligation": obligation})
