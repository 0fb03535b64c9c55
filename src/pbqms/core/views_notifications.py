"""The in-app inbox: a user's own notifications (nobody else's, whatever their role)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from pbqms.core import notify
from pbqms.core.listing import paginate, pick_template
from pbqms.core.models import Notification


@login_required
def inbox(request):
    qs = Notification.objects.filter(recipient=request.user)
    show = request.GET.get("show", "")
    if show == "unread":
        qs = qs.filter(read_at__isnull=True)
    page = paginate(request, qs)
    context = {"page": page, "show": show, "unread": notify.unread_count(request.user)}
    template = pick_template(request, "core/notifications.html", "core/_notification_table.html")
    return render(request, template, context)


@login_required
@require_POST
def open_notification(request, pk: int):
    """Mark one message read and go to what it is about."""
    note = get_object_or_404(Notification, pk=pk, recipient=request.user)
    notify.mark_read(request.user, [note.pk])
    target = note.url
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("core:notifications")


@login_required
@require_POST
def mark_all_read(request):
    notify.mark_read(request.user)
    return redirect("core:notifications")
