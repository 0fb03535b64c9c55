"""The confirm page of a lifecycle step, for every area (documents, nonconformities,
corrective actions …): check the step is allowed for this user now, show a form (reason,
password for an e-signature, whatever the area adds), run the step through the area's
service, and come back with a message — or keep the form with the service's field errors.

Areas call ``confirm_step`` from a thin view that finds the object (scoped, 404 outside)
and says how to run the step and what to show."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from pbqms.core import workflow
from pbqms.core.models import Signature


def meaning_label(described: workflow.TransitionInfo) -> str:
    """编制 / 审核 / 批准 / 验证 for a signed step, "" otherwise."""
    return str(Signature.Meaning(described.signature).label) if described.signature else ""


def confirm_step(
    request,
    obj,
    name: str,
    *,
    form_class,
    run: Callable[[dict], Any],
    back_url: str,
    template: str,
    done_message: Callable[[workflow.TransitionInfo], str],
    form_kwargs: Callable[[workflow.TransitionInfo], dict] | None = None,
    context: dict | None = None,
    step_key: str = "step",
):
    """GET: the confirm page. POST: run ``run(cleaned_data)``; on success redirect to
    ``back_url`` with ``done_message(step)``; a refused step (``ValidationError``) keeps the
    form with its errors and what the user typed. A step not allowed now (wrong state,
    unmet condition) sends the user back with the reason."""
    from pbqms.orgs.forms import add_service_errors

    try:
        described = workflow.check(obj, name, request.user)
    except workflow.TransitionNotAllowed as exc:
        messages.error(request, exc.messages[0])
        return redirect(back_url)
    kwargs = form_kwargs(described) if form_kwargs is not None else {}
    form = form_class(request.POST if request.method == "POST" else None, **kwargs)
    if request.method == "POST" and form.is_valid():
        try:
            run(form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            obj.refresh_from_db()
            messages.success(request, done_message(described))
            return redirect(back_url)
    page = {
        "form": form,
        step_key: described,
        "meaning_label": meaning_label(described),
        "cancel_url": back_url,
        **(context or {}),
    }
    return render(request, template, page)
