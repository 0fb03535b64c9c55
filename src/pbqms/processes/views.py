"""Pages of the process map (党建工作主要过程): the map of a committee's processes, one
process with its whole chain (rule → plan → records → checks → findings), the form, and
the starter map. Reads through ``visible_to``; writes through ``services``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from pbqms.core import roles, scope
from pbqms.core.history import history_for
from pbqms.core.scope import get_visible_or_404
from pbqms.orgs.forms import add_service_errors
from pbqms.orgs.models import Organization
from pbqms.processes import chain as chain_mod
from pbqms.processes import services
from pbqms.processes.forms import ProcessForm
from pbqms.processes.models import Process

V = roles.PROCESS_VIEW
K = Process.Kind


def _require(user, perm=V):
    if not scope.has_perm(user, perm):
        raise PermissionDenied


def _map_units(user):
    """Units whose map the user may read, plus the units they may draw a map for."""
    with_map = Process.objects.visible_to(user, V).values("org_id")
    ids = set(Organization.objects.filter(pk__in=with_map).values_list("pk", flat=True))
    managed = (
        Organization.objects.visible_to(user, roles.PROCESS_MANAGE)
        .filter(kind__in=[Organization.Kind.COMMITTEE, Organization.Kind.GENERAL_BRANCH])
        .active()
        .values_list("pk", flat=True)[:200]
    )
    ids.update(managed)
    return list(Organization.objects.filter(pk__in=ids).order_by("path"))


@login_required
def process_map(request):
    user = request.user
    _require(user)
    units = _map_units(user)
    org = None
    if request.GET.get("org"):
        org = next((u for u in units if str(u.pk) == request.GET["org"]), None)
        if org is None:
            raise Http404
    elif units:
        with_map = set(
            Process.objects.visible_to(user, V).values_list("org_id", flat=True).distinct()
        )
        org = next((u for u in units if u.pk in with_map), units[0])
    processes = []
    if org is not None:
        processes = list(
            Process.objects.visible_to(user, V)
            .filter(org=org)
            .annotate(
                n_documents=Count("documents", distinct=True),
                n_templates=Count("record_templates", distinct=True),
                n_indicators=Count("indicators", distinct=True),
                n_requirements=Count("requirements", distinct=True),
            )
            .order_by("sort_order", "code")
        )
    lanes = [
        {"kind": kind, "label": label, "processes": [p for p in processes if p.kind == kind]}
        for kind, label in K.choices
    ]
    may_manage = org is not None and scope.has_perm(user, roles.PROCESS_MANAGE, org)
    return render(
        request,
        "processes/map.html",
        {
            "units": units,
            "org": org,
            "lanes": lanes,
            "processes": processes,
            "may_manage": may_manage,
        },
    )


@login_required
def process_detail(request, pk):
    user = request.user
    _require(user)
    process = get_visible_or_404(Process.objects.select_related("org"), user, V, pk=pk)
    today = timezone.localdate()
    try:
        year = int(request.GET.get("year") or today.year)
    except ValueError:
        year = today.year
    if not 2000 <= year <= 2100:
        year = today.year
    chain = chain_mod.build(user, process, year, today)
    return render(
        request,
        "processes/detail.html",
        {
            "process": process,
            "chain": chain,
            "year": year,
            "years": list(range(today.year, today.year - 5, -1)),
            "requirements": list(process.requirements.all()),
            "templates": list(process.record_templates.all()),
            "may_manage": scope.has_perm(user, roles.PROCESS_MANAGE, process.org),
            "history": history_for(process),
        },
    )


@login_required
def process_edit(request, pk=None):
    user = request.user
    _require(user, roles.PROCESS_MANAGE)
    process = None
    if pk is not None:
        process = get_visible_or_404(Process.objects.select_related("org"), user, V, pk=pk)
        org = process.org
    else:
        org = get_visible_or_404(
            Organization.objects.all(), user, roles.PROCESS_MANAGE, pk=request.GET.get("org")
        )
    if not scope.has_perm(user, roles.PROCESS_MANAGE, org):
        raise PermissionDenied
    links = services.allowed_links(user, org)
    if request.method == "POST":
        form = ProcessForm(request.POST, instance=process or Process(org=org), links=links)
        if form.is_valid():
            data = dict(form.cleaned_data)
            version = data.pop("version", None)
            try:
                process = services.save_process(
                    actor=user, org=org, data=data, process=process, version=version
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("The process was saved."))
                return redirect("processes:detail", process.pk)
    else:
        form = ProcessForm(instance=process, links=links)
        if process is not None:
            form.initial["version"] = process.version
    back = (
        reverse("processes:detail", args=[process.pk])
        if process
        else f"{reverse('processes:map')}?org={org.pk}"
    )
    return render(
        request,
        "processes/form.html",
        {"form": form, "process": process, "org": org, "back": back},
    )


@login_required
@require_POST
def starter(request):
    user = request.user
    _require(user, roles.PROCESS_MANAGE)
    org = get_visible_or_404(
        Organization.objects.all(), user, roles.PROCESS_MANAGE, pk=request.POST.get("org")
    )
    made = services.ensure_starter_processes(actor=user, org=org)
    messages.success(
        request, _("%(n)d processes of the starter map were created.") % {"n": len(made)}
    )
    return redirect(f"{reverse('processes:map')}?org={org.pk}")
