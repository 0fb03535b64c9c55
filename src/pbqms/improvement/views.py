"""Pages of nonconformities (不符合项) and corrective actions (纠正措施). Reads go through
``visible_to`` / ``get_visible_or_404``; every write through ``pbqms.improvement.services``;
the buttons a page shows come from ``workflow.allowed``."""

from __future__ import annotations

import contextlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from pbqms.core import roles, scope, workflow
from pbqms.core.changelog import object_type_of
from pbqms.core.listing import (
    PER_PAGE_CHOICES,
    is_htmx,
    paginate,
    pick_template,
    querystring_without,
    vary_on_htmx,
)
from pbqms.core.models import ChangeLogEntry
from pbqms.core.scope import get_visible_or_404
from pbqms.core.views_workflow import confirm_step
from pbqms.improvement import services, stats
from pbqms.improvement.filters import (
    CorrectiveActionFilterSet,
    NonconformityFilterSet,
    unit_options,
)
from pbqms.improvement.forms import (
    ActionForm,
    AnalysisForm,
    CompleteForm,
    RaiseForm,
    ReasonForm,
    StepForm,
    VerifierForm,
    VerifyForm,
    add_service_errors,
)
from pbqms.improvement.models import CorrectiveAction, Nonconformity
from pbqms.orgs.forms import unit_label
from pbqms.orgs.models import Organization

NC = Nonconformity
S = Nonconformity.Status
UNIT_CHOICE_FIELDS = ("pk", "name", "code", "kind", "path", "depth", "dissolved_on")
HISTORY_LIMIT = 100

NC_SORTS = {
    "number": "number",
    "raised": "raised_on",
    "due": "correction_due",
    "severity": "severity",
    "status": "status",
}
NC_COLUMNS = (
    ("number", gettext_lazy("Number")),
    (None, gettext_lazy("Title")),
    (None, gettext_lazy("Unit")),
    (None, gettext_lazy("Source")),
    ("severity", gettext_lazy("Severity")),
    ("status", gettext_lazy("Status")),
    ("due", gettext_lazy("Deadline for correction")),
    ("raised", gettext_lazy("Raised on")),
)
ACTION_SORTS = {"due": "due_on", "verify": "verify_on", "status": "status", "kind": "kind"}
ACTION_COLUMNS = (
    (None, gettext_lazy("Nonconformity")),
    ("kind", gettext_lazy("Kind")),
    (None, pgettext_lazy("corrective action", "Action")),
    (None, gettext_lazy("Unit")),
    (None, gettext_lazy("Owner")),
    ("due", gettext_lazy("Planned completion")),
    ("verify", gettext_lazy("Verify on")),
    ("status", gettext_lazy("Status")),
)


def _require_view(user) -> None:
    if not scope.has_perm(user, roles.NC_VIEW):
        raise PermissionDenied


def _sort(request, queryset, allowed: dict[str, str], default: str):
    key = request.GET.get("sort") or default
    field = allowed.get(key.lstrip("-"))
    if field is None:
        key, field = default, allowed[default.lstrip("-")]
    prefix = "-" if key.startswith("-") else ""
    return queryset.order_by(prefix + field, prefix + "pk"), key


def _columns(request, spec, sort: str) -> list[dict]:
    base_qs = querystring_without(request, "page", "sort")
    columns = []
    for name, label in spec:
        if name is None:
            columns.append({"label": label, "sortable": False})
            continue
        current = sort.lstrip("-") == name
        descending = current and sort.startswith("-")
        next_sort = name if (not current or descending) else f"-{name}"
        columns.append(
            {
                "label": label,
                "sortable": True,
                "sorted": current,
                "descending": descending,
                "qs": (base_qs + "&" if base_qs else "") + f"sort={next_sort}",
            }
        )
    return columns


def _get_nc(request, pk) -> Nonconformity:
    return get_visible_or_404(
        NC.objects.select_related("org", "raised_by", "verifier", "repeat_of"),
        request.user,
        roles.NC_VIEW,
        pk=pk,
    )


def _get_action(request, pk) -> CorrectiveAction:
    action = get_visible_or_404(
        CorrectiveAction.objects.select_related(
            "nonconformity", "nonconformity__org", "owner", "owner__org", "org"
        ),
        request.user,
        roles.NC_VIEW,
        pk=pk,
    )
    # the nonconformity itself must be visible too (its page is where the action lives)
    if (
        not NC.objects.visible_to(request.user, roles.NC_VIEW)
        .filter(pk=action.nonconformity_id)
        .exists()
    ):
        raise Http404
    return action


def _nc_url(nc, tab: str = "") -> str:
    url = reverse("improvement:nc_detail", args=[nc.pk])
    return url + (f"?tab={tab}" if tab else "")


# ---------------------------------------------------------------- lists


@login_required
def index(request):
    return redirect("improvement:nc_list")


@login_required
def nc_list(request):
    user = request.user
    _require_view(user)
    base = NC.objects.visible_to(user, roles.NC_VIEW).select_related("org")
    filterset = NonconformityFilterSet(request.GET or None, queryset=base, request=request)
    invalid = filterset.is_bound and not filterset.is_valid()
    queryset = base.none() if invalid else filterset.qs
    queryset, sort = _sort(request, queryset, NC_SORTS, "-raised")
    page = paginate(request, queryset)
    context = {
        "filter": filterset,
        "form": filterset.form,
        "page": page,
        "ncs": page.object_list,
        "columns": _columns(request, NC_COLUMNS, sort),
        "sort": sort,
        "qs": querystring_without(request, "page"),
        "filtered": any(request.GET.get(k) for k in filterset.form.fields),
        "per_page_choices": PER_PAGE_CHOICES,
        "per_page": page.paginator.per_page,
        "can_raise": services.may_raise(user),
        "today": timezone.localdate(),
        "is_htmx": is_htmx(request),
    }
    template = pick_template(request, "improvement/nc_list.html", "improvement/_nc_table.html")
    return vary_on_htmx(render(request, template, context))


@login_required
def action_list(request):
    user = request.user
    # owners of actions (e.g. party members) see their own actions here
    if not (
        scope.has_perm(user, roles.NC_VIEW)
        or CorrectiveAction.objects.filter(owner__user_id=user.pk).exists()
    ):
        raise PermissionDenied
    base = CorrectiveAction.objects.visible_to(user, roles.NC_VIEW).select_related(
        "nonconformity", "owner", "org"
    )
    filterset = CorrectiveActionFilterSet(request.GET or None, queryset=base, request=request)
    invalid = filterset.is_bound and not filterset.is_valid()
    queryset = base.none() if invalid else filterset.qs
    queryset, sort = _sort(request, queryset, ACTION_SORTS, "due")
    page = paginate(request, queryset)
    context = {
        "filter": filterset,
        "form": filterset.form,
        "page": page,
        "actions": page.object_list,
        "columns": _columns(request, ACTION_COLUMNS, sort),
        "sort": sort,
        "qs": querystring_without(request, "page"),
        "filtered": any(request.GET.get(k) for k in filterset.form.fields),
        "per_page_choices": PER_PAGE_CHOICES,
        "per_page": page.paginator.per_page,
        "today": timezone.localdate(),
        "is_htmx": is_htmx(request),
    }
    template = pick_template(
        request, "improvement/action_list.html", "improvement/_action_table.html"
    )
    return vary_on_htmx(render(request, template, context))


# ---------------------------------------------------------------- detail


def _history(nc: Nonconformity, action_ids: list[int]):
    """The change log of the nonconformity and its actions, newest first (one query)."""
    q = Q(object_type=object_type_of(NC), object_id=str(nc.pk))
    if action_ids:
        q |= Q(
            object_type=object_type_of(CorrectiveAction), object_id__in=[str(i) for i in action_ids]
        )
    return list(ChangeLogEntry.objects.filter(q).order_by("-id")[:HISTORY_LIMIT])


def _step_buttons(nc: Nonconformity, user) -> list[dict]:
    buttons = []
    for step in workflow.allowed(nc, user):
        buttons.append(
            {
                "step": step,
                "url": reverse("improvement:nc_step", args=[nc.pk, step.name]),
                # steps that need nothing more are one click (a POST form in the header)
                "direct": not step.signature and not step.reason_required,
            }
        )
    return buttons


def _next_step(nc: Nonconformity) -> str:
    """Who acts next, in one sentence (under the lifecycle steps)."""
    if nc.status == S.VERIFICATION:
        names = [nc.raised_by.name] + ([nc.verifier.name] if nc.verifier_id else [])
        return _(
            "Next: %(names)s verify each action's effectiveness on or after its verification "
            "date (electronic signature)."
        ) % {"names": "、".join(names)}
    return {
        S.OPEN: _("Next: the unit's secretary or party worker accepts it and analyses the cause."),
        S.ROOT_CAUSE_ANALYSIS: _(
            "Next: the unit records the root cause (5 whys or fishbone) and finishes the analysis."
        ),
        S.ACTION_PLANNING: _(
            "Next: the unit plans the actions (owner, due date, success criteria, verification "
            "date) and submits the plan."
        ),
        S.ACTION_APPROVAL: _(
            "Next: the party committee approves the plan with an electronic signature, or sends "
            "it back."
        ),
        S.IMPLEMENTING: _("Next: the owners carry out the actions and mark them done."),
    }.get(nc.status, "")


def _linked_object(content_type_id, object_id):
    if not content_type_id or not object_id:
        return None
    ct = ContentType.objects.get_for_id(content_type_id)
    return {"type": ct.model_class()._meta.verbose_name if ct.model_class() else ct.model}


@login_required
def nc_detail(request, pk):
    user = request.user
    nc = _get_nc(request, pk)
    actions = list(
        nc.actions.select_related("owner", "owner__org", "verified_by").order_by("cycle", "pk")
    )
    for action in actions:
        action.nonconformity = nc
        action.steps = [
            {
                "step": step,
                "url": reverse(f"improvement:action_{step.name}", args=[action.pk]),
            }
            for step in workflow.allowed(action, user)
        ]
        action.editable = (
            nc.status == S.ACTION_PLANNING
            and action.cycle == nc.cycle
            and action.status == CorrectiveAction.Status.PLANNED
            and services.may_handle(user, nc)
        )
    document_model = services.document_model()
    if document_model is not None:
        doc_ids = [a.document_id for a in actions if a.document_id]
        docs = (
            {str(d.pk): d for d in document_model.objects.visible_to(user).filter(pk__in=doc_ids)}
            if doc_ids
            else {}
        )
        for action in actions:
            action.linked_document = docs.get(action.document_id)
            action.can_revise = services.may_revise_document(user, action, action.linked_document)
    tab = request.GET.get("tab") or "info"
    handler = services.may_handle(user, nc)
    context = {
        "nc": nc,
        "tab": tab,
        "next_step": _next_step(nc),
        "buttons": _step_buttons(nc, user),
        "actions": actions,
        "current_cycle_actions": [a for a in actions if a.cycle == nc.cycle],
        "can_analyse": handler and nc.status in (S.OPEN, S.ROOT_CAUSE_ANALYSIS),
        "can_plan": handler and nc.status == S.ACTION_PLANNING,
        "can_set_verifier": services.may_set_verifier(user, nc),
        "signature_rows": services.signature_rows(nc, actions),
        "history": _history(nc, [a.pk for a in actions]),
        "repeats": list(
            NC.objects.visible_to(user, roles.NC_VIEW)
            .filter(repeat_of=nc)
            .only("pk", "number", "title", "raised_on")[:10]
        ),
        "source_link": _linked_object(nc.source_type_id, nc.source_id),
        "requirement_link": _linked_object(nc.requirement_type_id, nc.requirement_id),
        "today": timezone.localdate(),
        "unit_visible": scope.has_perm(user, roles.ORG_VIEW, nc.org),
        "can_list": scope.has_perm(user, roles.NC_VIEW),
    }
    return render(request, "improvement/nc_detail.html", context)


# ---------------------------------------------------------------- raise


@login_required
def nc_create(request):
    user = request.user
    if not services.may_raise(user):
        raise PermissionDenied
    units = services.raisable_units(user).only(*UNIT_CHOICE_FIELDS)
    initial = {}
    if request.GET.get("org"):
        with contextlib.suppress(ValueError, Organization.DoesNotExist):
            initial["org"] = units.get(pk=int(request.GET["org"]))
    form = RaiseForm(
        request.POST or None,
        units=units,
        sources=services.raisable_sources(user),
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        data = form.service_data()
        try:
            nc = services.raise_nonconformity(
                actor=user,
                org=data["org"],
                title=data["title"],
                source_kind=data["source_kind"],
                source_ref=data.get("source_ref", ""),
                severity=data["severity"],
                requirement=data["requirement"],
                description=data["description"],
                raised_on=data["raised_on"],
                correction_due=data["correction_due"],
                repeat_of=data.get("repeat_of") or None,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Nonconformity %(number)s raised.") % {"number": nc.number})
            return redirect(_nc_url(nc))
    return render(request, "improvement/nc_form.html", {"form": form})


# ---------------------------------------------------------------- analysis


@login_required
def nc_analysis(request, pk):
    user = request.user
    nc = _get_nc(request, pk)
    if not services.may_handle(user, nc):
        raise PermissionDenied
    if nc.status not in (S.OPEN, S.ROOT_CAUSE_ANALYSIS):
        messages.error(
            request,
            _(
                "The analysis can only be changed during root cause analysis; the status "
                "is “%(state)s”."
            )
            % {"state": nc.get_status_display()},
        )
        return redirect(_nc_url(nc, "analysis"))
    form = AnalysisForm(request.POST or None, initial=AnalysisForm.initial_for(nc))
    if request.method == "POST" and form.is_valid():
        finish = "finish" in request.POST
        try:
            services.save_analysis(
                nc,
                actor=user,
                expected_version=form.cleaned_data.get("version"),
                **form.service_data(),
            )
            if finish:
                nc.refresh_from_db()
                services.submit_analysis(nc, actor=user)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            if finish:
                messages.success(request, _("Analysis finished. Now plan the actions."))
                return redirect(_nc_url(nc, "actions"))
            messages.success(request, _("Analysis saved."))
            return redirect(_nc_url(nc, "analysis"))
    return render(request, "improvement/analysis_form.html", {"form": form, "nc": nc})


# ---------------------------------------------------------------- lifecycle steps


NC_STEPS = {
    "start_analysis",
    "submit_analysis",
    "submit_plan",
    "approve_plan",
    "return_plan",
    "cancel",
}
REASON_LABELS = {
    "return_plan": gettext_lazy("Comments for the unit"),
    "cancel": gettext_lazy("Reason for cancelling"),
}


def _run_step(name: str, nc: Nonconformity, user, data) -> None:
    if name == "start_analysis":
        services.start_analysis(nc, actor=user)
    elif name == "submit_analysis":
        services.submit_analysis(nc, actor=user)
    elif name == "submit_plan":
        services.submit_plan(nc, actor=user)
    elif name == "approve_plan":
        services.approve_plan(
            nc, actor=user, password=data.get("password"), comment=data.get("comment", "")
        )
    elif name == "return_plan":
        services.return_plan(nc, actor=user, reason=data.get("reason", ""))
    else:
        services.cancel_nonconformity(nc, actor=user, reason=data.get("reason", ""))


@login_required
def nc_step(request, pk, name):
    """The confirm step of a lifecycle step; e-signatures ask for the password here."""
    if name not in NC_STEPS:
        raise Http404
    user = request.user
    nc = _get_nc(request, pk)

    def context():
        plan = []
        if name in ("approve_plan", "return_plan"):
            plan = list(
                nc.current_actions()
                .exclude(status=CorrectiveAction.Status.CANCELLED)
                .select_related("owner")
            )
        return {"nc": nc, "plan": plan}

    return confirm_step(
        request,
        nc,
        name,
        form_class=StepForm,
        form_kwargs=lambda step: {
            "signature": bool(step.signature),
            "reason": step.reason_required,
            "reason_label": REASON_LABELS.get(name),
        },
        run=lambda data: _run_step(name, nc, user, data),
        back_url=_nc_url(nc),
        template="improvement/step.html",
        done_message=lambda step: (
            _("Done: %(step)s. The nonconformity is now “%(state)s”.")
            % {"step": step.label, "state": nc.get_status_display()}
        ),
        context={
            **context(),
            "signed_hash": nc.signed_content_hash() if workflow.info(nc, name).signature else "",
        },
    )


@login_required
def nc_verifier(request, pk):
    user = request.user
    nc = _get_nc(request, pk)
    if not services.may_set_verifier(user, nc):
        raise PermissionDenied
    form = VerifierForm(
        request.POST or None,
        verifiers=services.eligible_verifiers(nc.org).exclude(pk=nc.raised_by_id),
        initial={"verifier": nc.verifier_id, "version": nc.version},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.set_verifier(
                nc,
                actor=user,
                verifier=form.cleaned_data.get("verifier"),
                expected_version=form.cleaned_data.get("version"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Verifier saved."))
            return redirect(_nc_url(nc))
    context = {
        "form": form,
        "nc": nc,
        "title": _("Designate the verifier"),
        "cancel_url": _nc_url(nc),
    }
    return render(request, "improvement/simple_form.html", context)


# ---------------------------------------------------------------- actions


def _action_form(request, nc, *, initial=None, instance=None):
    return ActionForm(
        request.POST or None,
        owners=services.owner_options(nc),
        documents=services.document_options(request.user),
        limit=services.OWNER_OPTIONS_LIMIT,
        initial=initial,
    )


@login_required
def action_create(request, pk):
    user = request.user
    nc = _get_nc(request, pk)
    if not services.may_handle(user, nc):
        raise PermissionDenied
    if nc.status != S.ACTION_PLANNING:
        messages.error(
            request,
            _("Actions are planned while the status is “%(planning)s”; it is “%(state)s”.")
            % {"planning": S.ACTION_PLANNING.label, "state": nc.get_status_display()},
        )
        return redirect(_nc_url(nc, "actions"))
    initial = {"due_on": nc.correction_due}
    form = _action_form(request, nc, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.plan_action(nc, actor=user, data=form.service_data())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Action added to the plan."))
            if "add_another" in request.POST:
                return redirect("improvement:action_create", pk=nc.pk)
            return redirect(_nc_url(nc, "actions"))
    return render(request, "improvement/action_form.html", {"form": form, "nc": nc, "action": None})


@login_required
def action_edit(request, pk):
    user = request.user
    action = _get_action(request, pk)
    nc = action.nonconformity
    if not services.may_handle(user, nc):
        raise PermissionDenied
    form = _action_form(request, nc, initial=ActionForm.initial_for(action))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_action(
                action,
                actor=user,
                data=form.service_data(),
                expected_version=form.cleaned_data.get("version"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect(_nc_url(nc, "actions"))
    return render(
        request, "improvement/action_form.html", {"form": form, "nc": nc, "action": action}
    )


def _action_step(request, pk, name: str, form_class, run, title):
    user = request.user
    action = _get_action(request, pk)
    nc = action.nonconformity

    def done(step):
        nc.refresh_from_db()
        return _(
            "Done: %(step)s. The action is now “%(state)s”; the nonconformity “%(nc_state)s”."
        ) % {
            "step": step.label,
            "state": action.get_status_display(),
            "nc_state": nc.get_status_display(),
        }

    return confirm_step(
        request,
        action,
        name,
        form_class=form_class,
        run=lambda data: run(action, user, data),
        back_url=_nc_url(nc, "actions"),
        template="improvement/step.html",
        done_message=done,
        context={"nc": nc, "action": action, "title": title, "signed_hash": ""},
    )


@login_required
def action_complete(request, pk):
    return _action_step(
        request,
        pk,
        "complete",
        CompleteForm,
        lambda a, u, d: services.complete_action(
            a, actor=u, completed_on=d.get("completed_on"), note=d.get("note", "")
        ),
        _("Mark the action as done"),
    )


@login_required
def action_verify(request, pk):
    return _action_step(
        request,
        pk,
        "verify",
        VerifyForm,
        lambda a, u, d: services.verify_action(
            a,
            actor=u,
            password=d.get("password"),
            result=d.get("result"),
            comment=d.get("comment", ""),
        ),
        _("Verify the effectiveness"),
    )


@login_required
@require_POST
def action_revise_document(request, pk):
    """Open a revision of the document the action concerns (documents app rules)."""
    action = _get_action(request, pk)
    try:
        version = services.revise_document(action, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("improvement:nc_detail", pk=action.nonconformity_id)
    messages.success(request, _("Revision %(label)s started.") % {"label": version.label})
    return redirect("documents:version_edit", version.pk)


@login_required
def action_cancel(request, pk):
    return _action_step(
        request,
        pk,
        "cancel",
        ReasonForm,
        lambda a, u, d: services.cancel_action(a, actor=u, reason=d.get("reason", "")),
        _("Cancel the action"),
    )


# ---------------------------------------------------------------- at a glance


@login_required
def glance(request):
    user = request.user
    _require_view(user)
    org = None
    if request.GET.get("org"):
        org = get_visible_or_404(
            Organization.objects.all(), user, roles.NC_VIEW, pk=request.GET["org"]
        )
    today = timezone.localdate()
    years = list(range(today.year, today.year - 6, -1))
    try:
        year = int(request.GET.get("year") or today.year)
    except ValueError:
        year = today.year
    if year not in years:
        year = today.year
    data = stats.glance(user, org=org, year=year)
    units = unit_options(user, org)
    base_depth = min((u.depth for u in units), default=1)
    context = {
        "g": data,
        "org": org,
        "years": years,
        "year": year,
        "unit_choices": [(u.pk, unit_label(u, base_depth)) for u in units],
        "chart": data.chart(),
        "view": request.GET.get("view") or "chart",
    }
    return render(request, "improvement/glance.html", context)
