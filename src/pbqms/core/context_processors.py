from __future__ import annotations

from django.conf import settings

from pbqms.core import scope
from pbqms.core.menu import menu_for
from pbqms.core.notify import unread_count
from pbqms.core.roles import Role


def pbqms(request):
    user = getattr(request, "user", None)
    data = {"demo_mode": settings.DEMO_MODE}
    if user is not None and user.is_authenticated:
        grants = scope._assignments(user)
        labels = dict(Role.choices)
        data["menu"] = menu_for(user, request.path)
        data["user_roles"] = [
            {"role": labels.get(g.role, g.role), "org_id": g.org_id} for g in grants
        ]
        data["unread_notifications"] = unread_count(user)
        data["user_role_labels"] = sorted({labels.get(g.role, g.role) for g in grants})
    return data
