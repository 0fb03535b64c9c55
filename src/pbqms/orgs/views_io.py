"""Excel import of units and people, templates, error reports and the people export.

The work itself is in ``pbqms.orgs.xlsx``; these views check permissions, take the upload
and answer. An import runs inside the request (files are limited to
``PBQMS_IMPORT_MAX_ROWS`` rows); the page shows a busy indicator while it runs.
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

from pbqms.core import changelog, roles, scope
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
    """GET: the page with the templates and the upload form. POST: run the import and show
    its result (only the result panel for htmx)."""
    _require_import(request.user)
    result = None
    report_token = None
    form = ImportForm()
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = xlsx.import_workbook(
                    upload, actor=request.user, filename=getattr(upload, "name", "")
                )
            except xlsx.ImportFileError as exc:
                form.add_error("file", exc.message)
            else:
                if not result.ok:
                    report_token = _store_report(request, result)
    context = {
        "form": form,
        "result": result,
        "report_token": report_token,
        "limits": _limits(),
        "kinds": [
            {"kind": xlsx.UNITS, "label": _("Units template")},
            {"kind": xlsx.PEOPLE, "label": _("People template")},
        ],
    }
    if request.method == "POST" and is_htmx(request):
        response = render(request, "orgs/import_result.html", context)
        if result is not None and result.ok:
            # the page clears the file input, so the same file is not imported twice
            response["HX-Trigger"] = "pbqms:import-done"
        return vary_on_htmx(response)
    return vary_on_htmx(render(request, "orgs/import.html", context))


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


def _store_report(request, result: xlsx.ImportResult) -> str | None:
    """Keep the error report for the uploader's session (a day at most) and return its
    token; None if it could not be written (the page still lists the errors)."""
    token = uuid.uuid4().hex
    try:
        _purge_old_reports()
        default_storage.save(
            f"{REPORT_DIR}/{token}.xlsx", ContentFile(xlsx.build_error_report(result))
        )
    except OSError:
        logger.exception("could not store an import error report")
        return None
    tokens = [*request.session.get(REPORT_SESSION_KEY, []), token][-REPORTS_KEPT_PER_SESSION:]
    request.session[REPORT_SESSION_KEY] = tokens
    reports = request.session.get(REPORT_SESSION_KEY + "_names", {})
    reports = {t: n for t, n in reports.items() if t in tokens}
    reports[token] = result.filename
    request.session[REPORT_SESSION_KEY + "_names"] = reports
    return token


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
