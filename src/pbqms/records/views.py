"""Pages of the records area. Reads go through ``services.visible_records`` (outside the
scope: 404); every write calls ``pbqms.records.services``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from pbqms.core import roles, scope, workflow
from pbqms.core.changelog import log_security_event
from pbqms.core.history import history_for
from pbqms.core.ids import is_id
from pbqms.core.listing import (
    PER_PAGE_CHOICES,
    is_htmx,
    paginate,
    pick_template,
    querystring_without,
    vary_on_htmx,
)
from pbqms.core.models import ChangeLogEntry
from pbqms.records import builtin, exporting, forms, services
from pbqms.records.models import Record, RecordTemplate, committee_quorum_met
from pbqms.records.schema import data_fields

S = Record.Status


def _require_reader(user) -> None:
    if not scope.has_perm(user, roles.RECORD_VIEW):
        raise PermissionDenied


# ---------------------------------------------------------------- list


def _filtered(user, form):
    qs = services.visible_records(user).select_related("template", "org")
    if form.is_valid():
        data = form.cleaned_data
        if data.get("template"):
            qs = qs.filter(template=data["template"])
        if data.get("status"):
            qs = qs.filter(status=data["status"])
        if data.get("org"):
            qs = qs.filter(org__path__startswith=data["org"].path)
        if data.get("date_from"):
            qs = qs.filter(occurred_at__date__gte=data["date_from"])
        if data.get("date_to"):
            qs = qs.filter(occurred_at__date__lte=data["date_to"])
        q = (data.get("q") or "").strip()
        if q:
            qs = qs.filter(title__icontains=q)
    elif form.is_bound:
        return qs.none()
    return qs.annotate(
        present_count=Count("attendance", filter=Q(attendance__present=True)),
        total_count=Count("attendance"),
    ).order_by("-occurred_at", "-id")


@login_required
def record_list(request):
    user = request.user
    _require_reader(user)
    units = services.Organization.objects.visible_to(user, roles.RECORD_VIEW)
    form = forms.RecordFilterForm(request.GET or None, units=units)
    page = paginate(request, _filtered(user, form))
    context = {
        "form": form,
        "page": page,
        "records": page.object_list,
        "qs": querystring_without(request, "page"),
        "filtered": any(
            request.GET.get(k) for k in ("q", "template", "org", "status", "date_from", "date_to")
        ),
        "per_page_choices": PER_PAGE_CHOICES,
        "per_page": page.paginator.per_page,
        "can_add": scope.has_perm(user, roles.RECORD_ADD),
        "is_htmx": is_htmx(request),
    }
    template = pick_template(request, "records/list.html", "records/_list_table.html")
    return vary_on_htmx(render(request, template, context))


# ---------------------------------------------------------------- form helpers


def _attendance_from_post(post) -> list[dict]:
    rows = []
    for raw in post.getlist("att_person"):
        try:
            pid = int(raw)
        except ValueError:
            continue
        rows.append(
            {
                "person": pid,
                "present": bool(post.get(f"att_present_{pid}")),
                "reason": (post.get(f"att_reason_{pid}") or "").strip(),
            }
        )
    return rows


def _attendance_rows(people, record=None, posted=None, errors=None) -> list[dict]:
    """Rows of the attendance table: posted values (after an error), else the record's,
    else everyone present; people of the unit not yet listed are added as present."""
    errors = errors or {}
    names = {p.pk: p.name for p in people}
    rows: dict[int, dict] = {}
    if posted is not None:
        for row in posted:
            rows[row["person"]] = {
                "present": row["present"],
                "reason": row["reason"],
            }
    elif record is not None:
        for a in record.attendance.all():
            names.setdefault(a.person_id, a.person_name)
            rows[a.person_id] = {"present": a.present, "reason": a.absence_reason}
    result = []
    for pid, name in names.items():
        row = rows.get(pid, {"present": True, "reason": ""})
        result.append(
            {
                "person": pid,
                "name": name,
                "present": row["present"],
                "reason": row["reason"],
                "error": " ".join(str(e) for e in errors.get(f"attendance-{pid}", [])),
            }
        )
    return result


def _uploads(request, form) -> list:
    uploads = []
    for spec in form.file_specs:
        for upload in request.FILES.getlist(forms.PREFIX + spec["name"]):
            uploads.append((spec["name"], upload))
    return uploads


def _form_context(form, template, org, people, attendance, errors, record=None, **extra):
    attachments = []
    if record is not None:
        attachments = list(record.attachments.filter(removed_at__isnull=True))
    file_inputs = [
        {
            "spec": spec,
            "error": " ".join(str(e) for e in errors.get(spec["name"], [])),
            "attachments": [a for a in attachments if a.field == spec["name"]],
        }
        for spec in form.file_specs
    ]
    return {
        "form": form,
        "template": template,
        "org": org,
        "people": people,
        "attendance": attendance,
        "attendance_error": " ".join(str(e) for e in errors.get("attendance", [])),
        "file_inputs": file_inputs,
        "has_file_errors": any(fi["error"] for fi in file_inputs),
        "record": record,
        **extra,
    }


def _errors_of(exc: ValidationError) -> dict:
    return exc.message_dict if hasattr(exc, "error_dict") else {}


# ---------------------------------------------------------------- create / edit


@login_required
def record_new(request):
    """Step one: choose the template and the unit (skipped when the link names both)."""
    user = request.user
    units = services.units_for_new_record(user)
    if not units.exists():
        raise PermissionDenied
    params = request.GET if "template" in request.GET else None
    form = forms.NewRecordForm(params, units=units)
    if params is not None and form.is_valid():
        return redirect(
            reverse("records:create", args=[form.cleaned_data["template"].pk])
            + f"?org={form.cleaned_data['org'].pk}"
        )
    if params is None:
        # the user's own unit (the top of their grant) is the usual choice
        own = units.order_by("depth", "path").values_list("pk", flat=True).first()
        form = forms.NewRecordForm(initial={"org": own}, units=units)
    order = {spec["code"]: i for i, spec in enumerate(builtin.BUILTIN_TEMPLATES)}
    templates = sorted(
        RecordTemplate.objects.filter(is_active=True),
        key=lambda t: (order.get(t.code, len(order)), t.name),
    )
    return render(request, "records/new.html", {"form": form, "templates": templates})


@login_required
def record_create(request, template_pk):
    user = request.user
    try:
        template = RecordTemplate.objects.get(pk=template_pk, is_active=True)
    except (RecordTemplate.DoesNotExist, ValueError):
        raise Http404 from None
    units = services.units_for_new_record(user)
    org_id = request.POST.get("org") or request.GET.get("org")
    try:
        org = units.get(pk=org_id)
    except (services.Organization.DoesNotExist, ValueError, TypeError):
        if not units.exists():
            raise PermissionDenied from None
        return redirect(reverse("records:new") + f"?template={template.pk}")
    people = list(services.unit_people(org)) if template.has_attendance else []
    errors: dict = {}
    posted = None
    if request.method == "POST":
        form = forms.RecordForm(request.POST, template=template, people=people)
        posted = _attendance_from_post(request.POST) if template.has_attendance else None
        if form.is_valid():
            try:
                record = services.create_record(
                    actor=user,
                    org=org,
                    template=template,
                    title=form.cleaned_data["title"],
                    occurred_at=form.cleaned_data["occurred_at"],
                    data=form.cleaned_payload(),
                    attendance=posted,
                    uploads=_uploads(request, form),
                )
            except ValidationError as exc:
                errors = _errors_of(exc)
                form.add_service_errors(exc)
            else:
                messages.success(request, _("The draft record was saved."))
                return redirect("records:detail", record.pk)
    else:
        now = timezone.localtime()
        form = forms.RecordForm(
            initial={
                "title": f"{org.short_name or org.name}{template.name}",
                "occurred_at": now.strftime("%Y-%m-%dT%H:%M"),
            },
            template=template,
            people=people,
        )
    context = _form_context(
        form,
        template,
        org,
        people,
        _attendance_rows(people, posted=posted, errors=errors),
        errors,
        mode="create",
    )
    failed = request.method == "POST"  # reaching here after a POST means it failed
    return render(request, "records/form.html", context, status=400 if failed else 200)


def _edit(request, pk, *, amend: bool):
    user = request.user
    record = services.get_record_or_404(user, pk)
    allowed = services.may_amend(user, record) if amend else services.may_edit(user, record)
    if not allowed:
        if record.status == S.SUBMITTED and not amend:
            messages.info(request, _("This record is submitted; changes are made by an amendment."))
            return redirect("records:detail", record.pk)
        raise PermissionDenied
    template = record.template
    people = list(services.unit_people(record.org)) if template.has_attendance else []
    errors: dict = {}
    posted = None
    if request.method == "POST":
        form = forms.RecordForm(request.POST, template=template, people=people, amend=amend)
        posted = _attendance_from_post(request.POST) if template.has_attendance else None
        if form.is_valid():
            kwargs = {
                "actor": user,
                "expected_version": request.POST.get("version"),
                "title": form.cleaned_data["title"],
                "occurred_at": form.cleaned_data["occurred_at"],
                "data": form.cleaned_payload(),
                "attendance": posted,
                "uploads": _uploads(request, form),
                "remove_attachments": [
                    int(v) for v in request.POST.getlist("remove_attachment") if is_id(v)
                ],
            }
            try:
                if amend:
                    services.amend_record(record, reason=form.cleaned_data["reason"], **kwargs)
                else:
                    services.update_draft(record, **kwargs)
            except ValidationError as exc:
                errors = _errors_of(exc)
                form.add_service_errors(exc)
            else:
                if amend:
                    messages.success(request, _("The amendment was saved."))
                else:
                    messages.success(request, _("The draft was saved."))
                return redirect("records:detail", record.pk)
    else:
        form = forms.RecordForm(
            initial=forms.initial_for(record), template=template, people=people, amend=amend
        )
    context = _form_context(
        form,
        template,
        record.org,
        people,
        _attendance_rows(people, record=record, posted=posted, errors=errors),
        errors,
        record=record,
        mode="amend" if amend else "edit",
        version=request.POST.get("version") or record.version,
    )
    failed = request.method == "POST"  # reaching here after a POST means it failed
    return render(request, "records/form.html", context, status=400 if failed else 200)


@login_required
def record_edit(request, pk):
    return _edit(request, pk, amend=False)


@login_required
def record_amend(request, pk):
    return _edit(request, pk, amend=True)


@login_required
def record_submit(request, pk):
    """Confirmation page (GET) and the submit itself (POST)."""
    user = request.user
    record = services.get_record_or_404(user, pk)
    if record.status != S.DRAFT:
        messages.info(request, _("This record is already submitted."))
        return redirect("records:detail", record.pk)
    if not workflow.can(record, "submit", user):
        raise PermissionDenied
    problems: list[str] = []
    if request.method == "POST":
        try:
            services.submit_record(record, actor=user, expected_version=request.POST.get("version"))
        except ValidationError as exc:
            labels = {f["name"]: f.get("label") for f in record.template.fields}
            labels["attendance"] = _("Attendance")
            if hasattr(exc, "error_dict"):
                for key, errs in exc.message_dict.items():
                    if key.startswith("attendance-"):
                        continue
                    label = labels.get(key, "")
                    problems.extend(f"{label}: {e}" if label else e for e in errs)
            else:
                problems.extend(exc.messages)
        else:
            messages.success(request, _("The record was submitted; it is now locked."))
            return redirect("records:detail", record.pk)
    present, total = record.attendance_summary()
    context = {
        "record": record,
        "problems": problems,
        "present": present,
        "total": total,
    }
    return render(request, "records/submit.html", context, status=400 if problems else 200)


# ---------------------------------------------------------------- detail


def field_rows(record: Record, people_names: dict[int, str]) -> list[dict]:
    rows = []
    for spec in data_fields(record.template.fields):
        value = (record.data or {}).get(spec["name"])
        if spec.get("type") == "people" and isinstance(value, list):
            value = "、".join(people_names.get(v, str(v)) for v in value)
        rows.append(
            {
                "name": spec["name"],
                "label": spec.get("label") or spec["name"],
                "value": value,
                "long": spec.get("type") == "textarea",
            }
        )
    return rows


def _label_map(record: Record) -> dict[str, str]:
    return {f["name"]: f.get("label") or f["name"] for f in record.template.fields}


def amendment_changes(amendment, labels: dict[str, str]) -> list[dict]:
    """What an amendment changed: one row per changed item, before → after."""
    before, after = amendment.data_before or {}, amendment.data_after or {}
    changes = []
    for key, label in (("title", _("Title")), ("occurred_at", _("Held at"))):
        if before.get(key) != after.get(key):
            changes.append({"label": label, "before": before.get(key), "after": after.get(key)})
    b_data, a_data = before.get("data") or {}, after.get("data") or {}
    for key in sorted(
        set(b_data) | set(a_data), key=lambda k: list(labels).index(k) if k in labels else 999
    ):
        if b_data.get(key) != a_data.get(key):
            changes.append(
                {"label": labels.get(key, key), "before": b_data.get(key), "after": a_data.get(key)}
            )

    def one(row) -> str:
        if row.get("present"):
            return str(row.get("name"))
        return f"{row.get('name')}（{_('absent')}：{row.get('reason') or ''}）"

    def attendance_text(rows):
        return "；".join(one(r) for r in rows or [])

    if before.get("attendance") != after.get("attendance"):
        changes.append(
            {
                "label": _("Attendance"),
                "before": attendance_text(before.get("attendance")),
                "after": attendance_text(after.get("attendance")),
            }
        )
    if before.get("attachments") != after.get("attachments"):
        changes.append(
            {
                "label": _("Attachments"),
                "before": "、".join(a["name"] for a in before.get("attachments") or []),
                "after": "、".join(a["name"] for a in after.get("attachments") or []),
            }
        )
    return changes


@login_required
def record_detail(request, pk):
    user = request.user
    record = services.get_record_or_404(user, pk)
    attendance = list(record.attendance.all())
    present = sum(1 for a in attendance if a.present)
    people_names = {a.person_id: a.person_name for a in attendance}
    if any(f.get("type") == "people" for f in record.template.fields):
        ids = {
            v
            for f in record.template.fields
            if f.get("type") == "people"
            for v in (record.data.get(f["name"]) or [])
        }
        people_names.update(
            dict(services.Person.objects.filter(pk__in=ids).values_list("id", "name"))
        )
    is_committee = record.template.kind == RecordTemplate.Kind.COMMITTEE_MEETING
    amendments = list(record.amendments.select_related("author").order_by("-number"))
    labels = _label_map(record)
    for amendment in amendments:
        amendment.changes = amendment_changes(amendment, labels)
    attachments = list(
        record.attachments.filter(removed_at__isnull=True).select_related("uploaded_by")
    )
    files_by_field = {}
    for a in attachments:
        files_by_field.setdefault(a.field, []).append(a)
    file_sections = [
        {"label": f.get("label") or f["name"], "files": files_by_field.pop(f["name"], [])}
        for f in record.template.fields
        if f.get("type") == "file"
    ]
    leftover = [a for files in files_by_field.values() for a in files]
    if leftover:
        file_sections.append({"label": _("Other attachments"), "files": leftover})
    tab = request.GET.get("tab") or "content"
    context = {
        "record": record,
        "fields": field_rows(record, people_names),
        "attendance": attendance,
        "present": present,
        "total": len(attendance),
        "is_committee": is_committee,
        "quorum_met": committee_quorum_met(record) if is_committee else None,
        "amendments": amendments,
        "file_sections": file_sections,
        "attachment_count": len(attachments),
        "history": history_for(record),
        "tab": tab,
        "can": {
            "edit": services.may_edit(user, record),
            "submit": record.status == S.DRAFT and workflow.can(record, "submit", user),
            "amend": services.may_amend(user, record),
        },
    }
    return render(request, "records/detail.html", context)


@login_required
def attachment(request, pk, attachment_pk):
    """An attachment, after the visibility check: images inline, PDFs as downloads."""
    item = services.get_attachment_or_404(request.user, pk, attachment_pk)
    response = FileResponse(
        item.file.open("rb"),
        as_attachment=not item.is_image,
        filename=item.file_name,
        content_type=item.content_type,
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def record_docx(request, pk):
    record = services.get_record_or_404(request.user, pk)
    content = exporting.record_docx(record)
    log_security_event(
        ChangeLogEntry.Action.EXPORT,
        user=request.user,
        instance=record,
        details={"format": "docx"},
    )
    response = HttpResponse(
        content,
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    filename = f"record-{record.pk}.docx"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------- template editor


@login_required
def template_list(request):
    """记录模板: every template with its fields; managers create, copy and edit."""
    from pbqms.records import templates_admin

    _require_reader(request.user)
    templates = list(RecordTemplate.objects.order_by("-is_active", "kind", "code"))
    for t in templates:
        t.field_count = len(t.fields or [])
    return render(
        request,
        "records/template_list.html",
        {"templates": templates, "can_manage": templates_admin.may_manage(request.user)},
    )


@login_required
def template_edit(request, pk=None):
    """Create a template (optionally ``?copy=<pk>`` of another) or edit a user-made one."""
    from pbqms.records import templates_admin

    user = request.user
    if not templates_admin.may_manage(user):
        raise PermissionDenied
    if pk is not None:
        template = RecordTemplate.objects.filter(pk=pk).first()
        if template is None:
            raise Http404
        if template.is_builtin:
            messages.info(request, _("A built-in template is copied, then the copy is edited."))
            return redirect(reverse("records:template_create") + f"?copy={template.pk}")
    else:
        template = RecordTemplate(kind=RecordTemplate.Kind.OTHER, has_attendance=True)
        source_id = request.GET.get("copy")
        if source_id and is_id(str(source_id)):
            source = RecordTemplate.objects.filter(pk=int(source_id)).first()
            if source is not None:
                template = templates_admin.copy_of(source)
    if request.method == "POST":
        form = forms.TemplateForm(request.POST)
        formset = forms.FieldFormSet(request.POST, prefix="fields")
        if form.is_valid() and formset.is_valid():
            rows = [f for f in formset.ordered_forms if f not in formset.deleted_forms]
            rows += [
                f
                for f in formset.forms
                if f not in rows and f not in formset.deleted_forms and f.cleaned_data
            ]
            specs = [s for s in (f.spec() for f in rows) if s]
            data = form.cleaned_data
            try:
                saved = templates_admin.save_template(
                    actor=user,
                    template=template,
                    name=data["name"],
                    code=data["code"],
                    kind=data["kind"],
                    description=data["description"],
                    has_attendance=data["has_attendance"],
                    is_active=data["is_active"],
                    fields=specs,
                    expected_version=data.get("version") if template.pk else None,
                )
            except ValidationError as exc:
                from pbqms.orgs.forms import add_service_errors

                if hasattr(exc, "error_dict") and "fields" in exc.error_dict:
                    formset_errors = exc.error_dict.pop("fields")
                    form.add_error(None, [e.message % (e.params or {}) for e in formset_errors])
                add_service_errors(form, exc)
            else:
                messages.success(request, _("The record template is saved."))
                return redirect(reverse("records:templates") + f"#t{saved.pk}")
    else:
        form = forms.TemplateForm(
            initial={
                "version": template.version if template.pk else None,
                "name": template.name,
                "code": template.code,
                "kind": template.kind,
                "description": template.description,
                "has_attendance": template.has_attendance,
                "is_active": template.is_active if template.pk else True,
            }
        )
        formset = forms.FieldFormSet(
            prefix="fields", initial=forms.field_initial(template.fields or [])
        )
    has_records = template.pk is not None and Record.objects.filter(template=template).exists()
    return render(
        request,
        "records/template_form.html",
        {"form": form, "formset": formset, "template": template, "has_records": has_records},
    )
