from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pbqms.core import scope
from pbqms.core.roles import PERSON_VIEW


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
    from pbqms.orgs.models import Organization, Person

    user = request.user
    cards = []
    if scope.has_perm(user, "orgs.view_organization"):
        cards.append(
            {
                "label": _("Active units"),
                "count": Organization.objects.visible_to(user).active().count(),
                "url": _url("orgs:tree"),
            }
        )
    if scope.has_perm(user, PERSON_VIEW):
        cards.append(
            {
                "label": _("People"),
                "count": Person.objects.visible_to(user).count(),
                "url": _url("orgs:person_list"),
            }
        )
    return render(request, "core/home.html", {"cards": cards})


def _url(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return "#"
