"""Background jobs: one small interface (ARCHITECTURE.md), three ways to run.

    from pbqms.core import jobs

    @jobs.task("orgs.import")
    def run_import(job, progress, *, path, filename):
        ...
        progress(done, total, "…")
        return {"created": 12}          # stored as job.result (JSON)

    job = jobs.enqueue("orgs.import", user=request.user, params={...})

``PBQMS_JOBS`` chooses how jobs run:
- ``thread`` (default, embedded topology): in a thread of the web process once the
  request's transaction has committed; nothing else to run.
- ``worker``: queued in the database; ``pbqms run_worker`` (one or more processes, e.g. a
  systemd service) takes them one by one (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL).
- ``sync``: at once, inside ``enqueue`` (tests, commands).

Progress lives in the cache (Redis in production, so the web process sees the worker's);
the outcome is saved on the ``core.Job`` row. A job runs with its creator as the actor of
the action context, so everything it changes is attributed in the change log."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from pbqms.core.context import action_context
from pbqms.core.models import Job

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
Task = Callable[..., dict]
_TASKS: dict[str, Task] = {}
_RESULT_VIEWS: dict[str, Callable] = {}
PROGRESS_TTL = 24 * 3600


def task(kind: str, *, result_view: Callable | None = None) -> Callable[[Task], Task]:
    """Register a job function; ``result_view(request, job)`` renders its outcome in the
    progress panel once it is finished (default: a plain "done" / "failed" message)."""

    def register(func: Task) -> Task:
        _TASKS[kind] = func
        if result_view is not None:
            _RESULT_VIEWS[kind] = result_view
        return func

    return register


def result_view(kind: str) -> Callable | None:
    return _RESULT_VIEWS.get(kind)


def backend() -> str:
    return getattr(settings, "PBQMS_JOBS", "thread")


def _progress_key(job_id) -> str:
    return f"pbqms:job-progress:{job_id}"


def progress_of(job: Job) -> dict[str, Any]:
    """``{"done", "total", "message", "percent"}`` of a running job (or of a finished one)."""
    data = cache.get(_progress_key(job.pk)) or {}
    done, total = int(data.get("done", 0)), int(data.get("total", 0))
    if job.status == Job.Status.DONE:
        done = total = max(total, 1)
    percent = int(done * 100 / total) if total else 0
    return {"done": done, "total": total, "message": data.get("message", ""), "percent": percent}


def enqueue(kind: str, *, user=None, params: dict | None = None) -> Job:
    if kind not in _TASKS:
        raise KeyError(f"unknown job kind {kind!r}")
    job = Job.objects.create(kind=kind, created_by=user, params=params or {})
    mode = backend()
    if mode == "sync":
        run(job)
        job.refresh_from_db()
    elif mode == "thread":
        transaction.on_commit(lambda: _start_thread(job.pk))
    return job


def _start_thread(job_id) -> None:
    def target():
        try:
            job = Job.objects.get(pk=job_id)
            run(job)
        finally:
            connection.close()

    threading.Thread(target=target, name=f"pbqms-job-{job_id}", daemon=True).start()


def run(job: Job) -> None:
    """Run one job to its end, recording the outcome (never raises)."""
    func = _TASKS.get(job.kind)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, started_at=timezone.now())
    key = _progress_key(job.pk)

    def progress(done: int, total: int, message: str = "") -> None:
        cache.set(key, {"done": done, "total": total, "message": message}, PROGRESS_TTL)

    try:
        if func is None:
            raise KeyError(f"unknown job kind {job.kind!r}")
        with action_context(actor=job.created_by, source="job", reason=""):
            result = func(job, progress, **job.params) or {}
    except Exception as exc:
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        return
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.DONE, result=result, finished_at=timezone.now()
    )


def claim_next() -> Job | None:
    """The worker's step: take the oldest queued job (safe with several workers)."""
    with transaction.atomic():
        qs = Job.objects.filter(status=Job.Status.QUEUED).order_by("created_at")
        if connection.vendor == "postgresql":
            qs = qs.select_for_update(skip_locked=True)
        job = qs.first()
        if job is None:
            return None
        claimed = Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
            status=Job.Status.RUNNING, started_at=timezone.now()
        )
    return job if claimed else None


def work(*, once: bool = False, idle_sleep: float = 1.0, stop: threading.Event | None = None):
    """Run queued jobs until stopped (``once``: until the queue is empty)."""
    import time

    ran = 0
    while stop is None or not stop.is_set():
        if not connection.in_atomic_block:  # a long-running worker drops stale connections
            close_old_connections()
        job = claim_next()
        if job is None:
            if once:
                return ran
            time.sleep(idle_sleep)
            continue
        run(job)
        ran += 1
    return ran
