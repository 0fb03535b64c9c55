"""Excel import of units and people, templates, error reports and the people export.

The work itself is in ``pbqms.orgs.xlsx``; these views check permissions, take the upload
and start the import as a background job (``pbqms.orgs.jobs``); the page shows its
progress and then the result (files are limited to ``PBQMS_IMPORT_MAX_ROWS`` rows).
"""

from __future__ import annotations

import datetime
import io
import logging
import uuid

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Prefetch
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from pbqms.core import changelog, jobs, roles, scope
from pbqms.core.listing import is_htmx, vary_on_htmx
from pbqms.orgs import xlsx
from pbqms.orgs.filters import PersonFilterSet
from pbqms.orgs.models import Person, Post

# the people list's ordering, so the export lists rows as the page does
from pbqms.orgs.views.people import _sorted as people_sorted

logger = logging.getLogger(__name__)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REPORT_DIR = "import-reports"
REPORT_SESSION_KEY = "pbqms_import_reports"
REPORT_MAX_AGE = datetime.timedelta(hours=24)
REPORTS_KEPT_PER_SESSION = 5
UPLOAD_DIR = "import-uploads"


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("Excel file (.xlsx)"),
        widget=forms.ClearableFileInput(
            attrs={
                "class": "form-control",
                "accept": f".xlsx,{XLSX_TYPE}",
            }
        ),
    )


def _require_import(user) -> None:
    if not scope.has_perm(user, roles.ORGS_IMPORT):
        raise PermissionDenied


def _limits() -> dict:
    from django.conf import settings

    return {
        "max_size": filesizeformat(settings.PBQMS_IMPORT_MAX_BYTES),
        "max_rows": settings.PBQMS_IMPORT_MAX_ROWS,
    }


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request):
    """GET: the page with the templates and the upload form. POST: store the upload and
    start the import as a background job; answer with its progress panel, which polls the
    job and turns into the result (or, when the job already ran, the result itself)."""
    _require_import(request.user)
    form = ImportForm()
    job = None
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            path = default_storage.save(f"{UPLOAD_DIR}/{uuid.uuid4().hex}.xlsx", upload)
            job = jobs.enqueue(
                "orgs.import",
                user=request.user,
                params={"path": path, "filename": getattr(upload, "name", "")},
            )
    outcome = job_result_context(request, job) if job is not None and job.finished else {}
    if outcome.get("refused"):
        form.add_error("file", outcome["refused"])
    context = {**_page_context(form), **result_context(), **outcome, "job": job}
    if request.method == "POST" and is_htmx(request):
        response = render(request, "orgs/import_result.html", context)
        if outcome.get("result") is not None and outcome["result"].ok:
            # the page clears the file input, so the same file is not imported twice
            response["HX-Trigger"] = "pbqms:import-done"
        return vary_on_htmx(response)
    return vary_on_htmx(render(request, "orgs/import.html", context))


def job_result_context(request, job) -> dict:
    """The result panel's context for a finished import job."""
    data = job.result or {}
    if job.status == job.Status.FAILED:
        return result_context(
            refused=str(_("The import could not be completed; nothing was saved. Try again."))
        )
    if data.get("refused"):
        return result_context(refused=data["refused"])
    summary = xlsx.ImportSummary.from_json(data["summary"])
    if summary.report_token:
        remember_report(request, summary.report_token, summary.filename)
    return result_context(summary=summary)


def job_result(request, job):
    """``core:job_status`` shows this once the import job has finished."""
    context = job_result_context(request, job)
    response = render(request, "orgs/import_result.html", context)
    if context["result"] is not None and context["result"].ok:
        response["HX-Trigger"] = "pbqms:import-done"
    return response


def _page_context(form) -> dict:
    return {
        "form": form,
        "limits": _limits(),
        "kinds": [
            {"kind": xlsx.UNITS, "label": _("Units template")},
            {"kind": xlsx.PEOPLE, "label": _("People template")},
        ],
    }


def result_context(*, summary=None, refused: str = "") -> dict:
    """What ``orgs/import_result.html`` shows: a refused file, the errors, or the counts."""
    return {
        "result": summary,
        "report_token": summary.report_token if summary is not None else None,
        "refused": refused,
    }


@login_required
@require_GET
def import_template(request):
    _require_import(request.user)
    kind = request.GET.get("kind")
    if kind not in xlsx.KINDS:
        raise Http404
    return FileResponse(
        io.BytesIO(xlsx.build_template(kind)),
        as_attachment=True,
        filename=xlsx.TEMPLATE_FILENAMES[kind],
        content_type=XLSX_TYPE,
    )


def store_report_file(result: xlsx.ImportResult) -> str | None:
    """Write the error report (kept a day at most) and return its token; None if it could
    not be written (the page still lists the errors)."""
    token = uuid.uuid4().hex
    try:
        _purge_old_reports()
        default_storage.save(
            f"{REPORT_DIR}/{token}.xlsx", ContentFile(xlsx.build_error_report(result))
        )
    except OSError:
        logger.exception("could not store an import error report")
        return None
    return token


def remember_report(request, token: str, filename: str) -> None:
    """Let this session download the report (the uploader's session only)."""
    tokens = request.session.get(REPORT_SESSION_KEY, [])
    if token in tokens:
        return
    tokens = [*tokens, token][-REPORTS_KEPT_PER_SESSION:]
    request.session[REPORT_SESSION_KEY] = tokens
    reports = request.session.get(REPORT_SESSION_KEY + "_names", {})
    reports = {t: n for t, n in reports.items() if t in tokens}
    reports[token] = filename
    request.session[REPORT_SESSION_KEY + "_names"] = reports


def _purge_old_reports() -> None:
    try:
        _dirs, files = default_storage.listdir(REPORT_DIR)
    except (OSError, NotImplementedError):
        return
    cutoff = timezone.now() - REPORT_MAX_AGE
    for name in files:
        path = f"{REPORT_DIR}/{name}"
        try:
            if default_storage.get_modified_time(path) < cutoff:
                default_storage.delete(path)
        except (OSError, NotImplementedError):
            continue


@login_required
@require_GET
def import_report(request, token: str):
    """The error report of an import made in this session."""
    _require_import(request.user)
    if token not in request.session.get(REPORT_SESSION_KEY, []):
        raise Http404
    path = f"{REPORT_DIR}/{token}.xlsx"
    try:
        handle = default_storage.open(path, "rb")
    except (OSError, FileNotFoundError) as exc:
        raise Http404 from exc
    source = request.session.get(REPORT_SESSION_KEY + "_names", {}).get(token, "")
    stem = source.rsplit(".", 1)[0] if source else ""
    return FileResponse(
        handle,
        as_attachment=True,
        filename=f"导入错误报告_{stem}.xlsx" if stem else "导入错误报告.xlsx",
        content_type=XLSX_TYPE,
    )


@login_required
@require_GET
def person_export(request):
    """The people list as .xlsx: the list page's filters, scope and order; every export is
    a security event with the filter and the row count (SECURITY.md item 12)."""
    user = request.user
    if not scope.has_perm(user, roles.PERSON_EXPORT):
        raise PermissionDenied
    base = Person.objects.visible_to(user, roles.PERSON_VIEW).select_related("org")
    filterset = PersonFilterSet(request.GET or None, queryset=base, request=request, options=False)
    invalid = filterset.is_bound and not filterset.is_valid()
    queryset = base.none() if invalid else filterset.qs
    queryset, _sort = people_sorted(request, queryset)
    queryset = queryset.prefetch_related(
        Prefetch("posts", queryset=Post.objects.filter(ended_on__isnull=True).order_by("title"))
    )
    out = xlsx.spooled_file()
    count = xlsx.export_people(queryset.iterator(chunk_size=2000), user=user, out=out)
    used = {
        key: request.GET.getlist(key)[0] if len(request.GET.getlist(key)) == 1 else value
        for key, value in request.GET.lists()
        if key not in {"page", "per_page"} and any(value)
    }
    changelog.log_security_event(
        "export",
        user=user,
        details={"what": "people", "filter": used, "rows": count, "invalid_filter": invalid},
    )
    out.seek(0)
    return FileResponse(
        out,
        as_attachment=True,
        filename=xlsx.export_filename(),
        content_type=XLSX_TYPE,
    )
