"""Internal-audit pages. Reads go through ``visible_to``/``get_visible_or_404``; writes
through ``pbqms.audits.services`` and ``pbqms.core.workflow``."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from pbqms.audits import assignment, forms, report, risk, services
from pbqms.audits.models import (
    Audit,
    AuditorQualification,
    AuditProgramme,
    ChecklistItem,
    ChecklistTemplate,
)
from pbqms.core import roles, scope, workflow
from pbqms.core.history import history_for
from pbqms.core.ids import is_id
from pbqms.core.listing import paginate, pick_template, querystring_without, vary_on_htmx
from pbqms.core.scope import get_visible_or_404
from pbqms.orgs.forms import add_service_errors
from pbqms.orgs.models import Organization, Person

EXPIRING_DAYS = 90
UNIT_FIELDS = ("pk", "name", "path", "depth", "kind", "dissolved_on")


def _done_count_subquery():
    """Reported or closed audits a person led or was a member of."""
    finished = [Audit.Status.REPORTED, Audit.Status.CLOSED]
    led = (
        Audit.objects.filter(lead_auditor=OuterRef("pk"), status__in=finished)
        .order_by()
        .values("lead_auditor")
        .annotate(n=Count("pk"))
        .values("n")
    )
    through = Audit.team.through
    joined = (
        through.objects.filter(person=OuterRef("pk"), audit__status__in=finished)
        .order_by()
        .values("person")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Coalesce(Subquery(led, output_field=IntegerField()), 0),
        Coalesce(Subquery(joined, output_field=IntegerField()), 0),
    )


def validity_badge(valid_until, today=None) -> str:
    today = today or timezone.localdate()
    if valid_until is None or valid_until < today:
        return "expired"
    if valid_until <= today + datetime.timedelta(days=EXPIRING_DAYS):
        return "expiring"
    return "valid"


# --- auditor team ------------------------------------------------------------------------


@login_required
def auditor_list(request):
    user = request.user
    if not scope.has_perm(user, roles.AUDITOR_VIEW):
        raise PermissionDenied
    led, joined = _done_count_subquery()
    qs = (
        Person.objects.visible_to(user, roles.AUDITOR_VIEW)
        .filter(pk__in=AuditorQualification.objects.values("person_id"))
        .select_related("org")
        .annotate(valid_until=Max("auditor_qualifications__valid_until"), led=led, joined=joined)
    )
    q = (request.GET.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(org__name__icontains=q))
    status = request.GET.get("validity") or ""
    today = timezone.localdate()
    soon = today + datetime.timedelta(days=EXPIRING_DAYS)
    if status == "valid":
        qs = qs.filter(valid_until__gte=today)
    elif status == "expiring":
        qs = qs.filter(valid_until__gte=today, valid_until__lte=soon)
    elif status == "expired":
        qs = qs.filter(valid_until__lt=today)
    page = paginate(request, qs.order_by("org__path", "name", "pk"))
    rows = [
        {
            "person": p,
            "badge": validity_badge(p.valid_until, today),
            "done": p.led + p.joined,
        }
        for p in page.object_list
    ]
    context = {
        "page": page,
        "rows": rows,
        "q": q,
        "validity": status,
        "qs": querystring_without(request, "page"),
        "can_add": scope.has_perm(user, roles.AUDITOR_MANAGE),
        "filtered": bool(q or status),
    }
    template = pick_template(request, "audits/auditor_list.html", "audits/_auditor_table.html")
    return vary_on_htmx(render(request, template, context))


def _auditor(request, pk) -> Person:
    person = get_visible_or_404(
        Person.objects.select_related("org"), request.user, roles.AUDITOR_VIEW, pk=pk
    )
    return person


@login_required
def auditor_detail(request, pk):
    user = request.user
    person = _auditor(request, pk)
    quals = list(person.auditor_qualifications.order_by("-valid_until", "-pk"))
    if not quals:
        raise Http404
    today = timezone.localdate()
    audits = (
        Audit.objects.visible_to(user)
        .filter(Q(lead_auditor=person) | Q(team=person))
        .distinct()
        .select_related("programme")
        .prefetch_related("audited_units")
        .order_by("-programme__year", "planned_month", "number")
    )
    context = {
        "person": person,
        "qualifications": [
            (q, validity_badge(q.valid_until, today), q.covers(today)) for q in quals
        ],
        "audits": list(audits[:200]),
        "can_manage": scope.has_perm(user, roles.AUDITOR_MANAGE, person.org),
    }
    return render(request, "audits/auditor_detail.html", context)


@login_required
def qualification_create(request):
    user = request.user
    if not scope.has_perm(user, roles.AUDITOR_MANAGE):
        raise PermissionDenied
    # the person select lists one unit's people (a large enterprise has 100,000 people)
    units = (
        Organization.objects.visible_to(user, roles.AUDITOR_MANAGE)
        .filter(dissolved_on__isnull=True)
        .only(*UNIT_FIELDS)
        .order_by("path")
    )
    initial = {}
    org = None
    if request.GET.get("person"):
        initial["person"] = get_visible_or_404(
            Person.objects.select_related("org"),
            user,
            roles.AUDITOR_MANAGE,
            pk=request.GET["person"],
        )
        org = initial["person"].org
    org_id = request.GET.get("org") or request.POST.get("org")
    if org is None and org_id:
        org = get_visible_or_404(Organization.objects.all(), user, roles.AUDITOR_MANAGE, pk=org_id)
    people = (
        Person.objects.visible_to(user, roles.AUDITOR_MANAGE)
        .filter(org=org)
        .select_related("org")
        .order_by("name")
        if org is not None
        else Person.objects.none()
    )
    form = forms.QualificationForm(request.POST or None, people=people, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            qual = services.add_qualification(
                actor=user, person=form.cleaned_data["person"], data=form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Qualification recorded."))
            return redirect("audits:auditor_detail", pk=qual.person_id)
    context = {"form": form, "qualification": None, "units": units, "org": org}
    return render(request, "audits/qualification_form.html", context)


@login_required
def qualification_edit(request, pk):
    user = request.user
    qual = get_visible_or_404(
        AuditorQualification.objects.select_related("person__org"),
        user,
        roles.AUDITOR_VIEW,
        pk=pk,
    )
    if not scope.has_perm(user, roles.AUDITOR_MANAGE, qual.person.org):
        raise PermissionDenied
    form = forms.QualificationForm(request.POST or None, instance=qual)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_qualification(
                actor=user,
                qualification=qual,
                data=form.cleaned_data,
                version=form.cleaned_data.get("version"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("audits:auditor_detail", pk=qual.person_id)
    return render(request, "audits/qualification_form.html", {"form": form, "qualification": qual})


# --- programmes ----------------------------------------------------------------------------


@login_required
def programme_list(request):
    user = request.user
    if not (scope.has_perm(user, roles.AUDIT_VIEW) or scope.has_perm(user, roles.AUDIT_PERFORM)):
        raise PermissionDenied
    programmes = (
        AuditProgramme.objects.visible_to(user, roles.AUDIT_VIEW)
        .select_related("org")
        .annotate(n_audits=Count("audits"))
        .order_by("-year", "title", "pk")
    )
    audits = (
        Audit.objects.visible_to(user)
        .select_related("programme", "lead_auditor")
        .prefetch_related("audited_units")
        .order_by("-programme__year", "planned_month", "number")
    )
    page = paginate(request, audits)
    context = {
        "programmes": list(programmes[:100]),
        "page": page,
        "audits": page.object_list,
        "qs": querystring_without(request, "page"),
        "can_add": scope.has_perm(user, roles.AUDIT_MANAGE),
    }
    return render(request, "audits/programme_list.html", context)


def _committees(user):
    return (
        Organization.objects.visible_to(user, roles.AUDIT_MANAGE)
        .filter(dissolved_on__isnull=True)
        .filter(kind__in=[Organization.Kind.COMMITTEE, Organization.Kind.GENERAL_BRANCH])
        .only(*UNIT_FIELDS)
        .order_by("path")
    )


def _units_under(org):
    return (
        Organization.objects.filter(path__startswith=org.path, dissolved_on__isnull=True)
        .only(*UNIT_FIELDS)
        .order_by("path")
    )


@login_required
def programme_create(request):
    user = request.user
    if not scope.has_perm(user, roles.AUDIT_MANAGE):
        raise PermissionDenied
    committees = _committees(user)
    org = None
    org_id = request.POST.get("org") or request.GET.get("org")
    if org_id:
        org = committees.filter(pk=org_id).first() if is_id(str(org_id)) else None
    if org is None:
        org = committees.first()
    units = _units_under(org) if org is not None else Organization.objects.none()
    form = forms.ProgrammeForm(
        request.POST or None,
        committees=committees,
        units=units,
        initial={
            "org": org,
            "year": timezone.localdate().year,
            "team_size": 2,
            "no_reciprocal": True,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            programme = services.create_programme(
                actor=user, org=data["org"], data=data, scope_units=list(data["scope_units"])
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Audit programme created."))
            return redirect("audits:programme_detail", pk=programme.pk)
    context = {"form": form, "programme": None}
    if org is not None:
        # drafting: which units of the committee to audit first
        ranked = risk.rank_units(org=org)
        context.update(
            show_risk=True, risk_total=len(ranked), risk_rows=_risk_rows(ranked[:RISK_TOP])
        )
    return render(request, "audits/programme_form.html", context)


def _programme(request, pk, perm=roles.AUDIT_VIEW) -> AuditProgramme:
    return get_visible_or_404(
        AuditProgramme.objects.select_related("org"), request.user, perm, pk=pk
    )


@login_required
def programme_edit(request, pk):
    user = request.user
    programme = _programme(request, pk)
    if not scope.has_perm(user, roles.AUDIT_MANAGE, programme.org):
        raise PermissionDenied
    form = forms.ProgrammeForm(
        request.POST or None, units=_units_under(programme.org), instance=programme
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_programme(
                actor=user,
                programme=programme,
                data=data,
                scope_units=list(data["scope_units"]),
                version=data.get("version"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("audits:programme_detail", pk=programme.pk)
    return render(request, "audits/programme_form.html", {"form": form, "programme": programme})


@login_required
def programme_detail(request, pk):
    user = request.user
    programme = _programme(request, pk)
    # a large programme has an audit per unit (thousands): one page of them at a time
    page = paginate(
        request,
        programme.audits.select_related("lead_auditor__org")
        .prefetch_related("audited_units", "team")
        .order_by("planned_month", "number", "pk"),
        per_page=50,
    )
    audits = list(page.object_list)
    can_manage = scope.has_perm(user, roles.AUDIT_MANAGE, programme.org)
    context = {
        "programme": programme,
        "audits": audits,
        "page": page,
        "qs": querystring_without(request, "page"),
        "scope_units": list(programme.scope_units.only(*UNIT_FIELDS).order_by("path")),
        "can_manage": can_manage,
        "can_propose": can_manage
        and programme.audits.filter(
            status=Audit.Status.PLANNED, lead_auditor__isnull=True
        ).exists(),
        "transitions": workflow.allowed(programme, user),
        "history": history_for(programme),
    }
    if can_manage:
        ranked = risk.rank_units(programme)
        context["show_risk"] = True
        context["risk_total"] = len(ranked)
        context["risk_rows"] = _risk_rows(ranked[:RISK_TOP])
    return render(request, "audits/programme_detail.html", context)


RISK_TOP = 8


def _risk_rows(ranked):
    return [
        {
            "r": r,
            "parts": [(name, r.contributions[name]) for name in risk.FACTORS],
            "reasons": risk.explain(r),
        }
        for r in ranked
    ]


@login_required
def programme_risk(request, pk):
    """Every unit of the programme ranked by risk (risk-based programme), riskiest first;
    each row explains its score factor by factor."""
    user = request.user
    programme = _programme(request, pk)
    if not scope.has_perm(user, roles.AUDIT_MANAGE, programme.org):
        raise PermissionDenied
    plan_form = forms.PlanFromRankingForm(
        request.POST or None,
        initial={"first_month": max(timezone.localdate().month, 1)}
        if programme.year == timezone.localdate().year
        else {"first_month": 1},
    )
    if request.method == "POST" and plan_form.is_valid():
        try:
            created = services.plan_from_ranking(
                actor=user,
                programme=programme,
                count=plan_form.cleaned_data["count"],
                first_month=plan_form.cleaned_data["first_month"],
            )
        except ValidationError as exc:
            add_service_errors(plan_form, exc)
        else:
            messages.success(
                request, _("%(n)s audits added from the ranking.") % {"n": len(created)}
            )
            return redirect("audits:programme_detail", pk=programme.pk)
    ranked = risk.rank_units(programme)
    hide_planned = request.GET.get("unplanned") == "1"
    if hide_planned:
        ranked = [r for r in ranked if not r.planned]
    page = paginate(request, ranked)
    context = {
        "programme": programme,
        "plan_form": plan_form if programme.status != AuditProgramme.Status.COMPLETED else None,
        "page": page,
        "rows": _risk_rows(page.object_list),
        "offset": page.start_index() - 1 if page.paginator.count else 0,
        "unplanned": hide_planned,
        "qs": querystring_without(request, "page"),
        "weights": {
            "conformity": risk.fmt_points(risk.W_CONFORMITY),
            "open": risk.fmt_points(risk.W_OPEN),
            "repeat": risk.fmt_points(risk.W_REPEAT),
            "since": risk.fmt_points(risk.W_SINCE),
        },
    }
    return render(request, "audits/programme_risk.html", context)


@login_required
@require_POST
def programme_transition(request, pk):
    programme = _programme(request, pk)
    name = request.POST.get("transition") or ""
    if name not in workflow.transition_names(AuditProgramme):
        raise Http404
    try:
        workflow.fire(programme, name, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Status changed."))
    return redirect("audits:programme_detail", pk=programme.pk)


def _proposal_rows(programme, proposal, audits, people, posted=None):
    units = {a.pk: a.unit_names for a in audits}
    pool = sorted(people.values(), key=lambda p: (p.org.path, p.name, p.pk))
    rows = []
    for audit in audits:
        ap = proposal.audits[audit.pk]
        chosen = [people[i] for i in ap.auditor_ids]
        reasons = []
        for pid in ap.auditor_ids:
            p = people[pid]
            reasons.append(
                _(
                    "%(name)s (%(home)s): independent of the audited units, qualified, "
                    "%(n)s other audits in this round"
                )
                % {"name": p.name, "home": p.org.name, "n": ap.chosen_load[pid]}
            )
        excluded = []
        labels = {
            assignment.OWN_UNIT: _("own unit"),
            assignment.ANCESTOR: _("their unit is below the audited unit"),
            assignment.DESCENDANT: _("their unit is above the audited unit"),
            assignment.NOT_QUALIFIED: _("not qualified on the audit date"),
            assignment.RECIPROCAL: _("reciprocal audit in this round"),
            assignment.LOAD_LIMIT: _("workload limit reached"),
            assignment.NOT_NEEDED: _("eligible, but others have fewer audits"),
        }
        for reason, ids in ap.excluded.items():
            excluded.append(
                {
                    "label": labels.get(reason, reason),
                    "names": "、".join(people[i].name for i in ids[:20])
                    + ("…" if len(ids) > 20 else ""),
                    "count": len(ids),
                }
            )
        shortfall = {
            assignment.NO_ELIGIBLE: _(
                "No eligible auditor: add qualified auditors from other units."
            ),
            assignment.TOO_FEW: _("Fewer eligible auditors than the team size."),
            assignment.NO_UNITS: _("The audit has no audited unit."),
        }.get(ap.shortfall or "", "")
        selected = posted.get(audit.pk, []) if posted is not None else [p.pk for p in chosen]
        rows.append(
            {
                "audit": audit,
                "units": units[audit.pk],
                "chosen": chosen,
                "selected": selected,
                "lead": selected[0] if selected else None,
                # one select per further seat (at least the team size), in order
                "seats": (selected[1:] + [None] * programme.team_size)[
                    : max(programme.team_size - 1, len(selected) - 1, 0)
                ],
                "reasons": reasons,
                "excluded": excluded,
                "shortfall": shortfall,
            }
        )
    return rows, pool


@login_required
def programme_propose(request, pk):
    """Propose cross-audit teams (交叉互审); the table is editable before accepting."""
    user = request.user
    programme = _programme(request, pk)
    if not scope.has_perm(user, roles.AUDIT_MANAGE, programme.org):
        raise PermissionDenied
    proposal, audits, people = services.propose_teams(programme)
    errors = {}
    posted = None
    if request.method == "POST":
        posted = {}
        for audit in audits:
            lead = request.POST.get(f"lead_{audit.pk}") or ""
            members = request.POST.getlist(f"team_{audit.pk}")
            ids = []
            for value in [lead, *members]:
                if is_id(value) and int(value) not in ids:
                    ids.append(int(value))
            posted[audit.pk] = ids
        try:
            done = services.accept_proposal(actor=user, programme=programme, teams=posted)
        except ValidationError as exc:
            errors = {
                int(k.split("_")[1]): v
                for k, v in exc.message_dict.items()
                if k.startswith("team_")
            }
            messages.error(request, _("Some teams could not be accepted; see the reasons below."))
        else:
            messages.success(request, _("Teams accepted for %(n)s audits.") % {"n": len(done)})
            return redirect("audits:programme_detail", pk=programme.pk)
    rows, pool = _proposal_rows(programme, proposal, audits, people, posted)
    for row in rows:
        row["errors"] = errors.get(row["audit"].pk, [])
    context = {
        "programme": programme,
        "rows": rows,
        "pool": pool,
        "load": sorted(
            ((people[i], n) for i, n in proposal.load.items()),
            key=lambda t: (-t[1], t[0].name),
        ),
        "unstaffed": len(proposal.unstaffed),
    }
    return render(request, "audits/programme_propose.html", context)


# --- audits ------------------------------------------------------------------------------


@login_required
def audit_create(request, pk):
    user = request.user
    programme = _programme(request, pk)
    if not scope.has_perm(user, roles.AUDIT_MANAGE, programme.org):
        raise PermissionDenied
    units = _units_under(programme.org)
    initial = {}
    wanted = [v for v in request.GET.getlist("unit") if is_id(v)]
    if wanted:
        # "plan an audit" from the risk ranking: the chosen units preselected
        initial["audited_units"] = list(units.filter(pk__in=wanted))
    form = forms.AuditForm(request.POST or None, units=units, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            audit = services.create_audit(
                actor=user,
                programme=programme,
                data=form.service_data(),
                audited_units=list(form.cleaned_data["audited_units"]),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Audit %(number)s added.") % {"number": audit.number})
            if "add_another" in request.POST:
                return redirect("audits:audit_create", pk=programme.pk)
            return redirect("audits:audit_detail", pk=audit.pk)
    return render(
        request,
        "audits/audit_form.html",
        {"form": form, "programme": programme, "audit": None},
    )


def _audit(request, pk) -> Audit:
    return get_visible_or_404(
        Audit.objects.select_related("programme__org", "lead_auditor__org"),
        request.user,
        roles.AUDIT_VIEW,
        pk=pk,
    )


@login_required
def audit_edit(request, pk):
    user = request.user
    audit = _audit(request, pk)
    if not scope.has_perm(user, roles.AUDIT_MANAGE, audit.programme.org):
        raise PermissionDenied
    form = forms.AuditForm(
        request.POST or None, units=_units_under(audit.programme.org), instance=audit
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_audit(
                actor=user,
                audit=audit,
                data=form.service_data(),
                audited_units=list(form.cleaned_data["audited_units"]),
                version=form.cleaned_data.get("version"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("audits:audit_detail", pk=audit.pk)
    return render(
        request,
        "audits/audit_form.html",
        {"form": form, "programme": audit.programme, "audit": audit},
    )


def _team_people(audit):
    _pool, people = services.auditor_pool(audit.programme)
    return (
        Person.objects.filter(pk__in=list(people))
        .select_related("org")
        .order_by("org__path", "name")
    )


def _audit_context(request, audit, team_form=None, report_form=None):
    user = request.user
    can_manage = scope.has_perm(user, roles.AUDIT_MANAGE, audit.programme.org)
    is_lead = services._is_lead_user(audit, user)
    if (
        team_form is None
        and can_manage
        and audit.status
        in (
            Audit.Status.PLANNED,
            Audit.Status.IN_PROGRESS,
        )
    ):
        team_form = forms.TeamForm(
            people=_team_people(audit),
            initial={
                "lead_auditor": audit.lead_auditor,
                "team": list(audit.team.all()),
                "version": audit.version,
            },
        )
    team_seats = team_pool = None
    if team_form is not None:
        # one select per seat (UI.md: no multi-select to ctrl-click): the chosen members,
        # padded to the programme's team size, plus one empty seat to add someone
        value = team_form["team"].value() or []
        chosen = [int(getattr(v, "pk", v)) for v in value if is_id(str(getattr(v, "pk", v)))]
        size = max(audit.programme.team_size - 1, len(chosen) + 1, 1)
        team_seats = (chosen + [None] * size)[:size]
        team_pool = list(team_form.fields["team"].queryset)
    if report_form is None and (is_lead or can_manage) and audit.status == Audit.Status.IN_PROGRESS:
        report_form = forms.ReportForm(
            initial={"report_summary": audit.report_summary, "version": audit.version}
        )
    counts = {
        r["result"]: r["n"]
        for r in audit.checklist.order_by().values("result").annotate(n=Count("pk"))
    }
    from pbqms.core import signatures

    return {
        "audit": audit,
        "programme": audit.programme,
        "units": list(audit.audited_units.only(*UNIT_FIELDS).order_by("path")),
        "team": list(audit.team.select_related("org").order_by("name")),
        "can_manage": can_manage,
        "programme_visible": AuditProgramme.objects.visible_to(user, roles.AUDIT_VIEW)
        .filter(pk=audit.programme_id)
        .exists(),
        "team_form": team_form,
        "team_seats": team_seats,
        "team_pool": team_pool,
        "report_form": report_form,
        "transitions": workflow.allowed(audit, user),
        "counts": [(label, counts.get(value, 0)) for value, label in ChecklistItem.Result.choices],
        "checklist_total": sum(counts.values()),
        "signatures": list(signatures.signatures_for(audit)),
        "open_ncs": services_open_ncs(audit),
        "nonconformities": report._nonconformities(audit),
        "history": history_for(audit),
    }


def services_open_ncs(audit):
    from pbqms.audits.models import open_nonconformities

    return len(open_nonconformities(audit))


@login_required
def audit_detail(request, pk):
    audit = _audit(request, pk)
    return render(request, "audits/audit_detail.html", _audit_context(request, audit))


@login_required
@require_POST
def audit_team(request, pk):
    user = request.user
    audit = _audit(request, pk)
    if not scope.has_perm(user, roles.AUDIT_MANAGE, audit.programme.org):
        raise PermissionDenied
    data = request.POST.copy()
    data.setlist("team", [v for v in request.POST.getlist("team") if v])
    form = forms.TeamForm(data, people=_team_people(audit))
    if form.is_valid():
        try:
            services.assign_team(
                actor=user,
                audit=audit,
                lead=form.cleaned_data["lead_auditor"],
                members=list(form.cleaned_data["team"]),
                version=form.cleaned_data.get("version"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Audit team saved."))
            return redirect("audits:audit_detail", pk=audit.pk)
    context = _audit_context(request, audit, team_form=form)
    return render(request, "audits/audit_detail.html", context, status=200)


@login_required
@require_POST
def audit_report(request, pk):
    user = request.user
    audit = _audit(request, pk)
    form = forms.ReportForm(request.POST)
    if form.is_valid():
        try:
            services.save_report_summary(
                actor=user,
                audit=audit,
                summary=form.cleaned_data["report_summary"],
                version=form.cleaned_data.get("version"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Report summary saved."))
            return redirect("audits:audit_detail", pk=audit.pk)
    elif not (
        services._is_lead_user(audit, user)
        or scope.has_perm(user, roles.AUDIT_MANAGE, audit.programme.org)
    ):
        raise PermissionDenied
    return render(
        request, "audits/audit_detail.html", _audit_context(request, audit, report_form=form)
    )


@login_required
@require_POST
def audit_transition(request, pk):
    audit = _audit(request, pk)
    name = request.POST.get("transition") or ""
    if name not in workflow.transition_names(Audit):
        raise Http404
    try:
        workflow.fire(
            audit,
            name,
            actor=request.user,
            password=request.POST.get("password") or None,
            reason=request.POST.get("reason") or "",
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Status changed."))
    return redirect("audits:audit_detail", pk=audit.pk)


# --- checklist ---------------------------------------------------------------------------


def _checklist_context(request, audit, *, add_form=None, bound=None):
    """The checklist page; ``bound`` is ``(item pk, kind, form)`` for a form that failed."""
    user = request.user
    may_fill = services.may_fill_checklist(audit, user)
    editable = audit.status in (Audit.Status.PLANNED, Audit.Status.IN_PROGRESS)
    if add_form is None and may_fill and editable:
        add_form = forms.ChecklistItemForm(units=audit.audited_units.all())
    can_record = may_fill and audit.status == Audit.Status.IN_PROGRESS
    can_raise = can_record and services.improvement_raise() is not None
    units = list(audit.audited_units.only(*UNIT_FIELDS))
    items = list(
        audit.checklist.select_related("unit")
        .prefetch_related("attachments")
        .order_by("position", "pk")
    )
    rows = []
    for item in items:
        result_form = raise_form = None
        if can_record:
            if bound and bound[0] == item.pk and bound[1] == "result":
                result_form = bound[2]
            else:
                result_form = forms.ResultForm(
                    prefix=f"i{item.pk}",
                    initial={
                        "result": item.result,
                        "evidence": item.evidence,
                        "version": item.version,
                    },
                )
        if can_raise and item.result in ChecklistItem.NONCONFORMING and not item.nonconformity_id:
            if bound and bound[0] == item.pk and bound[1] == "raise":
                raise_form = bound[2]
            else:
                raise_form = forms.RaiseForm(
                    prefix=f"nc{item.pk}",
                    units=units,
                    initial={"title": item.criterion[:200], "unit": item.unit_id},
                )
        rows.append({"item": item, "form": result_form, "raise_form": raise_form})
    templates = ChecklistTemplate.objects.visible_to(user).order_by("name", "pk")
    return {
        "audit": audit,
        "rows": rows,
        "add_form": add_form,
        "can_record": can_record,
        "can_edit": may_fill and editable,
        "many_units": len(units) > 1,
        "apply_form": forms.ApplyTemplateForm(templates=templates)
        if may_fill and editable
        else None,
        "save_form": forms.SaveTemplateForm() if may_fill and items else None,
        "template_count": templates.count() if may_fill and editable else 0,
    }


@login_required
def checklist(request, pk):
    user = request.user
    audit = _audit(request, pk)
    add_form = None
    if request.method == "POST":
        if not services.may_fill_checklist(audit, user):
            raise PermissionDenied
        add_form = forms.ChecklistItemForm(request.POST, units=audit.audited_units.all())
        if add_form.is_valid():
            try:
                services.add_checklist_item(actor=user, audit=audit, data=add_form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(add_form, exc)
            else:
                messages.success(request, _("Checklist item added."))
                return redirect("audits:checklist", pk=audit.pk)
    context = _checklist_context(request, audit, add_form=add_form)
    return render(request, "audits/checklist.html", context)


def _item(audit, item_pk) -> ChecklistItem:
    item = audit.checklist.select_related("audit__programme__org").filter(pk=item_pk).first()
    if item is None:
        raise Http404
    return item


@login_required
@require_POST
def checklist_result(request, pk, item_pk):
    user = request.user
    audit = _audit(request, pk)
    item = _item(audit, item_pk)
    if not services.may_fill_checklist(audit, user):
        raise PermissionDenied
    form = forms.ResultForm(request.POST, prefix=f"i{item.pk}")
    if form.is_valid():
        try:
            services.record_result(
                actor=user,
                item=item,
                result=form.cleaned_data["result"],
                evidence=form.cleaned_data["evidence"],
                version=form.cleaned_data.get("version"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Result saved."))
            return redirect(f"{_checklist_url(audit)}#item-{item.pk}")
    context = _checklist_context(request, audit, bound=(item.pk, "result", form))
    if not any(r["form"] is form for r in context["rows"]):
        messages.error(request, " ".join(m for e in form.errors.values() for m in e))
    return render(request, "audits/checklist.html", context)


@login_required
@require_POST
def checklist_raise(request, pk, item_pk):
    user = request.user
    audit = _audit(request, pk)
    item = _item(audit, item_pk)
    if not services.may_fill_checklist(audit, user):
        raise PermissionDenied
    form = forms.RaiseForm(
        request.POST, prefix=f"nc{item.pk}", units=list(audit.audited_units.only(*UNIT_FIELDS))
    )
    if form.is_valid():
        try:
            nc = services.raise_from_item(
                actor=user,
                item=item,
                title=form.cleaned_data["title"],
                correction_due=form.cleaned_data["correction_due"],
                unit=form.cleaned_data.get("unit"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Nonconformity %(number)s raised.") % {"number": nc.number})
            return redirect(f"{_checklist_url(audit)}#item-{item.pk}")
    context = _checklist_context(request, audit, bound=(item.pk, "raise", form))
    if not any(r["raise_form"] is form for r in context["rows"]):
        messages.error(request, " ".join(m for e in form.errors.values() for m in e))
    return render(request, "audits/checklist.html", context)


def _checklist_url(audit):
    from django.urls import reverse

    return reverse("audits:checklist", kwargs={"pk": audit.pk})


@login_required
@require_POST
def checklist_generate(request, pk):
    """Generate checklist items from the audit's criteria (obligations, documents and the
    conformity gaps of the audited units); only what is not on the checklist yet."""
    user = request.user
    audit = _audit(request, pk)
    try:
        added = services.generate_checklist(actor=user, audit=audit)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if added:
            messages.success(request, _("%(n)s checklist items generated.") % {"n": len(added)})
        else:
            messages.info(request, _("Nothing new to add from the audit's criteria."))
    return redirect("audits:checklist", pk=audit.pk)


@login_required
@require_POST
def checklist_apply_template(request, pk):
    user = request.user
    audit = _audit(request, pk)
    if not services.may_fill_checklist(audit, user):
        raise PermissionDenied
    form = forms.ApplyTemplateForm(
        request.POST, templates=ChecklistTemplate.objects.visible_to(user)
    )
    if not form.is_valid():
        messages.error(request, " ".join(m for e in form.errors.values() for m in e))
        return redirect("audits:checklist", pk=audit.pk)
    try:
        added = services.apply_template(
            actor=user, audit=audit, template=form.cleaned_data["template"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(n)s checklist items added.") % {"n": len(added)})
    return redirect("audits:checklist", pk=audit.pk)


@login_required
def checklist_save_template(request, pk):
    user = request.user
    audit = _audit(request, pk)
    if not services.may_fill_checklist(audit, user):
        raise PermissionDenied
    form = forms.SaveTemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            template = services.save_as_template(
                actor=user,
                audit=audit,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, _("Checklist saved as the template “%(name)s”.") % {"name": template.name}
            )
            return redirect("audits:checklist", pk=audit.pk)
    return render(
        request,
        "audits/checklist_template_form.html",
        {"audit": audit, "form": form},
    )


@login_required
def checklist_item_edit(request, pk, item_pk):
    user = request.user
    audit = _audit(request, pk)
    item = _item(audit, item_pk)
    if not services.may_fill_checklist(audit, user):
        raise PermissionDenied
    units = audit.audited_units.all()
    if request.method == "POST" and "delete" in request.POST:
        try:
            services.delete_checklist_item(actor=user, item=item)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Checklist item deleted."))
        return redirect("audits:checklist", pk=audit.pk)
    form = forms.ChecklistItemEditForm(
        request.POST or None,
        units=units,
        initial={
            "criterion": item.criterion,
            "question": item.question,
            "unit": item.unit_id,
            "version": item.version,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_checklist_item(
                actor=user,
                item=item,
                data=form.cleaned_data,
                version=form.cleaned_data.get("version"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect(f"{_checklist_url(audit)}#item-{item.pk}")
    return render(
        request,
        "audits/checklist_item_form.html",
        {"audit": audit, "item": item, "form": form, "many_units": units.count() > 1},
    )


@login_required
def audit_report_docx(request, pk):
    """The audit report as .docx: plan, checklist results, nonconformities, conclusion and
    the lead auditor's signature. Whoever sees the audit may download it."""
    from django.http import HttpResponse

    audit = _audit(request, pk)
    data = report.report_docx(audit)
    from pbqms.core.changelog import log_security_event
    from pbqms.core.models import ChangeLogEntry

    log_security_event(
        ChangeLogEntry.Action.EXPORT, user=request.user, instance=audit, details={"format": "docx"}
    )
    response = HttpResponse(
        data,
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    response["Content-Disposition"] = f'attachment; filename="{audit.number}-report.docx"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def checklist_attach(request, pk, item_pk):
    """Attach evidence files to a checklist result (the audit team, while auditing)."""
    user = request.user
    audit = _audit(request, pk)
    item = _item(audit, item_pk)
    if not services.may_fill_checklist(audit, user):
        raise PermissionDenied
    try:
        added = services.attach_evidence(
            actor=user, item=item, uploads=request.FILES.getlist("files")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(n)s files attached.") % {"n": len(added)})
    return redirect(f"{_checklist_url(audit)}#item-{item.pk}")


@login_required
def checklist_file(request, pk, item_pk, file_pk):
    """An evidence file, after the audit's visibility check: images inline, PDFs as
    downloads."""
    from django.http import FileResponse

    audit = _audit(request, pk)
    item = _item(audit, item_pk)
    attachment = item.attachments.filter(pk=file_pk).first()
    if attachment is None:
        raise Http404
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=not attachment.is_image,
        filename=attachment.file_name,
        content_type=attachment.content_type,
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- checklist templates -----------------------------------------------------------------


@login_required
def template_list(request):
    user = request.user
    templates = ChecklistTemplate.objects.visible_to(user)
    if not (scope.has_perm(user, roles.AUDIT_VIEW) or scope.has_perm(user, roles.AUDIT_PERFORM)):
        raise PermissionDenied
    q = (request.GET.get("q") or "").strip()[:100]
    if q:
        templates = templates.filter(Q(name__icontains=q) | Q(description__icontains=q))
    templates = templates.select_related("org", "created_from").annotate(n_items=Count("items"))
    page = paginate(request, templates.order_by("name", "pk"))
    return render(
        request,
        "audits/template_list.html",
        {"page": page, "q": q, "qs": querystring_without(request, "page")},
    )


@login_required
def template_detail(request, pk):
    user = request.user
    template = get_object_or_404(
        ChecklistTemplate.objects.visible_to(user).select_related("org", "created_from"), pk=pk
    )
    may_manage = services.may_manage_template(user, template)
    form = forms.TemplateEditForm(
        request.POST or None,
        initial={
            "name": template.name,
            "description": template.description,
            "version": template.version,
        },
    )
    if request.method == "POST":
        if not may_manage:
            raise PermissionDenied
        if form.is_valid():
            try:
                services.update_template(
                    actor=user,
                    template=template,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    version=form.cleaned_data["version"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Template saved."))
                return redirect("audits:template_detail", pk=template.pk)
    context = {
        "template": template,
        "items": list(template.items.order_by("position", "pk")),
        "form": form,
        "may_manage": may_manage,
        "history": history_for(template),
    }
    return render(request, "audits/template_detail.html", context)


@login_required
@require_POST
def template_delete(request, pk):
    user = request.user
    template = get_object_or_404(ChecklistTemplate.objects.visible_to(user), pk=pk)
    version = request.POST.get("version")
    try:
        services.delete_template(
            actor=user, template=template, version=int(version) if is_id(version or "") else None
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("audits:template_detail", pk=template.pk)
    messages.success(request, _("Template “%(name)s” deleted.") % {"name": template.name})
    return redirect("audits:template_list")
