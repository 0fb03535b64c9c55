"""A background job's progress panel (polled by htmx) — only for the user who started it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from pbqms.core import jobs
from pbqms.core.models import Job


@login_required
@require_GET
def job_status(request, pk):
    job = get_object_or_404(Job, pk=pk, created_by=request.user)
    if job.finished:
        view = jobs.result_view(job.kind)
        if view is not None:
            return view(request, job)
    return render(
        request, "core/_job_progress.html", {"job": job, "progress": jobs.progress_of(job)}
    )
