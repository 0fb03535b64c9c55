from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pbqms.core import roles, scope


@require_GET
@never_cache
def healthz(request):
    """200 when the database answers; 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@login_required
def home(request):
    from pbqms.core import workbench

    user = request.user
    context = {
        "cards": workbench.cards(user),
        "due_items": workbench.due_this_month(user),
        "due_url": _url("system:due") if scope.has_perm(user, roles.CONFORMITY_VIEW) else "",
        "doc_tasks": workbench.document_tasks(user),
    }
    return render(request, "core/home.html", context)


def _url(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return "#"


@login_required
def overview(request):
    """体系概况: the PDCA cycle and the elements of the quality system for the user's top
    unit and a year."""
    from django.utils import timezone

    from pbqms.core import overview as system_overview

    today = timezone.localdate()
    raw = request.GET.get("year") or ""
    year = int(raw) if re.fullmatch(r"20[0-9]{2}", raw) else today.year
    org = system_overview.top_unit(request.user)
    context = {
        "org": org,
        "year": year,
        "years": list(range(today.year - 4, today.year + 1)),
        "pdca": system_overview.pdca(request.user, org, year) if org else None,
        "cards": system_overview.cards(request.user, org, year) if org else [],
    }
    return render(request, "core/overview.html", context)
