"""Pages of management reviews (管理评审). Reads go through ``visible_to`` /
``get_visible_or_404``; every write through ``pbqms.reviews.services``; the buttons a page
shows come from ``workflow.allowed``."""

from __future__ import annotations

import re

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from pbqms.core import roles, scope, workflow
from pbqms.core.changelog import log_security_event
from pbqms.core.history import history_for
from pbqms.core.listing import paginate, pick_template, querystring_without, vary_on_htmx
from pbqms.core.models import ChangeLogEntry
from pbqms.core.scope import get_visible_or_404
from pbqms.core.signatures import signatures_for
from pbqms.reviews import forms, minutes, services
from pbqms.reviews.forms import add_service_errors
from pbqms.reviews.models import ManagementReview, ReviewOutput

R = ManagementReview.Status
O = ReviewOutput.Status  # noqa: E741


def _require_view(user) -> None:
    if not scope.has_perm(user, roles.REVIEW_VIEW) and not _involved(user):
        raise PermissionDenied


def _involved(user) -> bool:
    """Chairs, attendees and output owners without the permission still see their reviews."""
    return ManagementReview.objects.visible_to(user, roles.REVIEW_VIEW).exists()


def _review(request, pk) -> ManagementReview:
    return get_visible_or_404(
        ManagementReview.objects.select_related("org", "chair", "chair__org"),
        request.user,
        roles.REVIEW_VIEW,
        pk=pk,
    )


def _output(request, pk) -> ReviewOutput:
    return get_visible_or_404(
        ReviewOutput.objects.select_related("review", "review__org", "owner", "owner__org"),
        request.user,
        roles.REVIEW_VIEW,
        pk=pk,
    )


# ---------------------------------------------------------------- list


@login_required
def review_list(request):
    user = request.user
    _require_view(user)
    today = timezone.localdate()
    qs = (
        ManagementReview.objects.visible_to(user, roles.REVIEW_VIEW)
        .select_related("org", "chair")
        .annotate(
            n_open=Count("outputs", filter=Q(outputs__status=O.OPEN), distinct=True),
            n_overdue=Count(
                "outputs",
                filter=Q(outputs__status=O.OPEN, outputs__due_on__lt=today),
                distinct=True,
            ),
            n_outputs=Count("outputs", distinct=True),
        )
    )
    q = (request.GET.get("q") or "").strip()[:100]
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(title__icontains=q) | Q(org__name__icontains=q))
    status = request.GET.get("status") or ""
    if status in R.values:
        qs = qs.filter(status=status)
    else:
        status = ""
    page = paginate(request, qs.order_by("-planned_on", "-pk"))
    context = {
        "page": page,
        "reviews": page.object_list,
        "q": q,
        "status": status,
        "statuses": R.choices,
        "qs": querystring_without(request, "page"),
        "can_add": services.may_manage(user),
        "filtered": bool(q or status),
    }
    template = pick_template(request, "reviews/review_list.html", "reviews/_review_table.html")
    return vary_on_htmx(render(request, template, context))


# ---------------------------------------------------------------- create / edit


@login_required
def review_create(request):
    user = request.user
    if not services.may_manage(user):
        raise PermissionDenied
    units = services.manageable_units(user).order_by("path")
    org = None
    org_pk = request.POST.get("org") or request.GET.get("org")
    if org_pk and re.fullmatch(r"[0-9]{1,18}", str(org_pk)):
        org = units.filter(pk=org_pk).first()
    if org is None:
        org = units.first()
    people = services.people_for(org) if org is not None else None
    if request.method == "POST":
        form = forms.ReviewForm(request.POST, units=units, people=people)
        if form.is_valid():
            try:
                review = services.schedule_review(
                    actor=user, org=form.cleaned_data["org"], data=form.service_data()
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request, _("Management review %(n)s scheduled.") % {"n": review.number}
                )
                return redirect("reviews:detail", pk=review.pk)
    else:
        form = forms.ReviewForm(units=units, people=people, initial=_create_initial(org))
    return render(request, "reviews/review_form.html", {"form": form, "review": None})


def _create_initial(org):
    from pbqms.orgs.models import Post

    form = forms.ReviewForm()
    initial = dict(form.initial)
    if org is not None:
        initial["org"] = org.pk
        # the unit's secretary (书记) usually chairs
        secretary = (
            Post.objects.filter(org=org, title=Post.Title.SECRETARY, ended_on__isnull=True)
            .order_by("-started_on")
            .values_list("person_id", flat=True)
            .first()
        )
        if secretary:
            initial["chair"] = secretary
            initial["attendees"] = [secretary]
        initial["title"] = _("%(year)s management review of %(unit)s") % {
            "year": timezone.localdate().year,
            "unit": org.name,
        }
    return initial


@login_required
def review_edit(request, pk):
    review = _review(request, pk)
    user = request.user
    if not services.may_manage(user, review.org) or review.status == R.CLOSED:
        raise PermissionDenied
    people = services.people_for(review.org)
    if request.method == "POST":
        form = forms.ReviewForm(request.POST, people=people, review=review)
        if form.is_valid():
            try:
                services.update_review(
                    review,
                    actor=user,
                    data=form.service_data(),
                    expected_version=form.cleaned_data.get("version"),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("reviews:detail", pk=review.pk)
    else:
        form = forms.ReviewForm(people=people, review=review)
    return render(request, "reviews/review_form.html", {"form": form, "review": review})


# ---------------------------------------------------------------- detail


def _labelled(counts: dict, choices) -> list[dict]:
    """``{code: n}`` → rows in the order of ``choices`` with the reader's labels."""
    rows = [{"code": c, "label": str(label), "n": counts.get(c, 0)} for c, label in choices]
    known = {c for c, _label in choices}
    rows += [{"code": c, "label": c, "n": n} for c, n in counts.items() if c not in known]
    return rows


def present(data: dict) -> dict:
    """The snapshot with labels in the reader's language, and the charts' data."""
    from pbqms.audits.models import Audit, ChecklistItem
    from pbqms.improvement.models import CorrectiveAction, Nonconformity

    out = {"raw": data}
    audits = data.get("audits") or {}
    if audits.get("available"):
        status_labels = dict(Audit.Status.choices)
        results = _labelled(audits.get("results") or {}, ChecklistItem.Result.choices)
        out["audits"] = {
            **audits,
            "by_status": _labelled(audits.get("by_status") or {}, Audit.Status.choices),
            "results": results,
            "rows": [
                {
                    **r,
                    "status_label": str(status_labels.get(r["status"], r["status"])),
                    "results": [
                        x
                        for x in _labelled(r.get("results") or {}, ChecklistItem.Result.choices)
                        if x["n"]
                    ],
                }
                for r in audits.get("rows") or []
            ],
        }
    ncs = data.get("nonconformities") or {}
    if ncs.get("available"):
        nc_status = dict(Nonconformity.Status.choices)
        out["nonconformities"] = {
            **ncs,
            "by_status": _labelled(ncs.get("by_status") or {}, Nonconformity.Status.choices),
            "by_severity": _labelled(ncs.get("by_severity") or {}, Nonconformity.Severity.choices),
            "by_source": [
                r
                for r in _labelled(ncs.get("by_source") or {}, Nonconformity.Source.choices)
                if r["n"]
            ],
            "actions_by_status": _labelled(
                ncs.get("actions_by_status") or {}, CorrectiveAction.Status.choices
            ),
            "rows": [
                {
                    **r,
                    "status_label": str(nc_status.get(r["status"], r["status"])),
                    "severity_label": str(
                        dict(Nonconformity.Severity.choices).get(r["severity"], r["severity"])
                    ),
                }
                for r in ncs.get("rows") or []
            ],
        }
    prev = data.get("previous") or {}
    if prev.get("available"):
        labels = dict(O.choices)
        out["previous"] = {
            **prev,
            "by_status": _labelled(prev.get("by_status") or {}, O.choices),
            "rows": [
                {**r, "status_label": str(labels.get(r["status"], r["status"]))}
                for r in prev.get("rows") or []
            ],
        }
    for key in ("objectives", "conformity", "plans", "changes", "satisfaction"):
        out[key] = data.get(key) or {"available": False}
    charts = {}
    if "nonconformities" in out:
        rows = [r for r in out["nonconformities"]["by_status"] if r["n"]]
        charts["nc"] = {
            "title": _("Nonconformities raised in the period, by status"),
            "categories": [r["label"] for r in rows],
            "values": [r["n"] for r in rows],
        }
    if "audits" in out:
        rows = [r for r in out["audits"]["results"] if r["n"]]
        charts["audit"] = {
            "title": _("Checklist results"),
            "pie": [{"name": r["label"], "value": r["n"]} for r in rows],
        }
    conformity = out["conformity"]
    if conformity.get("available") and conformity.get("units"):
        charts["conformity"] = {
            "title": _("Conformity rate by unit (%)"),
            "categories": [u["name"] for u in conformity["units"]],
            "values": [u["rate"] for u in conformity["units"]],
        }
    out["charts"] = charts
    return out


def _detail_context(request, review, **overrides):
    user = request.user
    manage = services.may_manage(user, review.org)
    today = timezone.localdate()
    see_inputs = services.may_see_inputs(user, review)
    snapshot = review.snapshot if see_inputs and _has_snapshot(review) else None
    editable = review.status in (R.INPUTS_FROZEN, R.HELD)
    people = services.people_for(review.org) if manage and editable else None
    outputs = list(review.outputs.select_related("owner", "owner__org").order_by("due_on", "pk"))
    nc_numbers = {}
    ids = [o.nonconformity_id for o in outputs if o.nonconformity_id]
    if ids and apps.is_installed("pbqms.improvement"):
        from pbqms.improvement.models import Nonconformity

        nc_numbers = dict(
            Nonconformity.objects.visible_to(user, roles.NC_VIEW)
            .filter(pk__in=ids)
            .values_list("pk", "number")
        )
    rows = [
        {
            "output": o,
            "overdue": o.is_overdue(today),
            "may_complete": services.may_complete(user, o),
            "may_cancel": manage and o.status == O.OPEN,
            "may_raise": manage and o.status == O.OPEN and not o.nonconformity_id and editable,
            "nc_number": nc_numbers.get(o.nonconformity_id),
        }
        for o in outputs
    ]
    transitions = workflow.allowed(review, user)
    context = {
        "review": review,
        "attendees": list(review.attendees.select_related("org").order_by("org__path", "name")),
        "can_manage": manage,
        "can_compile": manage and workflow.can(review, "freeze_inputs", user),
        "see_inputs": see_inputs,
        "snapshot": snapshot,
        "inputs": present(snapshot.data) if snapshot else None,
        "meeting_form": None,
        "output_form": None,
        "rows": rows,
        "n_open": sum(1 for o in outputs if o.status == O.OPEN),
        "n_overdue": sum(1 for r in rows if r["overdue"]),
        "transitions": transitions,
        "signatures": list(signatures_for(review)),
        "history": history_for(review),
    }
    if manage and editable:
        context["meeting_form"] = forms.MeetingForm(people=people, review=review)
        context["output_form"] = forms.OutputForm(people=people)
    context.update(overrides)
    tabs = ["history"]
    if see_inputs:
        tabs.append("inputs")
    if review.status != R.PLANNED:
        tabs += ["meeting", "outputs"]
    tab = context.get("tab") or request.GET.get("tab") or ""
    if tab not in tabs:
        # held and closed reviews open on their outputs; earlier ones on their inputs
        if "outputs" in tabs and (review.status in (R.HELD, R.CLOSED) or not see_inputs):
            tab = "outputs"
        else:
            tab = "inputs" if see_inputs else "history"
    context["tab"] = tab
    return context


def _has_snapshot(review) -> bool:
    try:
        review.snapshot  # noqa: B018
    except ManagementReview.snapshot.RelatedObjectDoesNotExist:
        return False
    return True


@login_required
def review_detail(request, pk):
    review = _review(request, pk)
    return render(request, "reviews/review_detail.html", _detail_context(request, review))


@login_required
@require_POST
def review_compile(request, pk):
    review = _review(request, pk)
    try:
        services.compile_inputs(review, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The inputs are compiled and frozen."))
    return redirect(reverse("reviews:detail", args=[review.pk]) + "?tab=inputs")


@login_required
@require_POST
def review_meeting(request, pk):
    review = _review(request, pk)
    if not services.may_manage(request.user, review.org):
        raise PermissionDenied
    form = forms.MeetingForm(request.POST, people=services.people_for(review.org), review=review)
    if form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version", None)
        try:
            services.record_meeting(review, actor=request.user, data=data, expected_version=version)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Meeting record saved."))
            return redirect(reverse("reviews:detail", args=[review.pk]) + "?tab=meeting")
    context = _detail_context(request, review, meeting_form=form, tab="meeting")
    return render(request, "reviews/review_detail.html", context)


@login_required
@require_POST
def review_transition(request, pk):
    review = _review(request, pk)
    name = request.POST.get("transition") or ""
    if name not in ("hold", "close"):
        raise Http404
    try:
        workflow.fire(
            review, name, actor=request.user, password=request.POST.get("password") or None
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Status changed."))
    return redirect("reviews:detail", pk=review.pk)


# ---------------------------------------------------------------- outputs


@login_required
@require_POST
def output_add(request, pk):
    review = _review(request, pk)
    if not services.may_manage(request.user, review.org):
        raise PermissionDenied
    form = forms.OutputForm(request.POST, people=services.people_for(review.org))
    if form.is_valid():
        try:
            services.add_output(review, actor=request.user, data=form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Output action added."))
            return redirect(reverse("reviews:detail", args=[review.pk]) + "?tab=outputs")
    context = _detail_context(request, review, output_form=form, tab="outputs")
    return render(request, "reviews/review_detail.html", context)


def _output_page(request, output, form, kind):
    return render(
        request,
        "reviews/output_form.html",
        {"output": output, "review": output.review, "form": form, "kind": kind},
    )


@login_required
def output_complete(request, pk):
    output = _output(request, pk)
    if not services.may_complete(request.user, output):
        raise PermissionDenied
    if request.method == "POST":
        form = forms.CompleteOutputForm(request.POST)
        if form.is_valid():
            try:
                services.complete_output(
                    output,
                    actor=request.user,
                    result=form.cleaned_data["result"],
                    done_on=form.cleaned_data.get("done_on"),
                    expected_version=form.cleaned_data.get("version"),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Action marked done."))
                return redirect(reverse("reviews:detail", args=[output.review_id]) + "?tab=outputs")
    else:
        form = forms.CompleteOutputForm(
            initial={"done_on": timezone.localdate(), "version": output.version}
        )
    return _output_page(request, output, form, "complete")


@login_required
def output_cancel(request, pk):
    output = _output(request, pk)
    if not services.may_manage(request.user, output.review.org) or output.status != O.OPEN:
        raise PermissionDenied
    if request.method == "POST":
        form = forms.ReasonForm(request.POST)
        if form.is_valid():
            try:
                services.cancel_output(
                    output, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Action cancelled."))
                return redirect(reverse("reviews:detail", args=[output.review_id]) + "?tab=outputs")
    else:
        form = forms.ReasonForm()
    return _output_page(request, output, form, "cancel")


@login_required
def output_raise(request, pk):
    output = _output(request, pk)
    review = output.review
    if not services.may_manage(request.user, review.org) or output.nonconformity_id:
        raise PermissionDenied
    from pbqms.improvement import services as improvement

    units = (
        improvement.raisable_units(request.user)
        .filter(path__startswith=review.org.path)
        .order_by("path")
    )
    if request.method == "POST":
        form = forms.RaiseForm(request.POST, units=units)
        if form.is_valid():
            try:
                nc = services.raise_nonconformity(
                    output,
                    actor=request.user,
                    org=form.cleaned_data["org"],
                    requirement=form.cleaned_data["requirement"],
                    severity=form.cleaned_data["severity"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Nonconformity %(n)s raised.") % {"n": nc.number})
                return redirect("improvement:nc_detail", pk=nc.pk)
    else:
        form = forms.RaiseForm(units=units, initial={"org": review.org_id})
    return _output_page(request, output, form, "raise")


# ---------------------------------------------------------------- minutes


@login_required
def review_minutes(request, pk):
    review = _review(request, pk)
    if review.status in (R.PLANNED,):
        raise Http404
    if not services.may_see_inputs(request.user, review):
        raise PermissionDenied
    content = minutes.minutes_docx(review)
    log_security_event(
        ChangeLogEntry.Action.EXPORT,
        user=request.user,
        details={"what": "management review minutes", "review": review.number},
    )
    response = HttpResponse(
        content,
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    response["Content-Disposition"] = f'attachment; filename="{review.number}-minutes.docx"'
    return response
