"""Background jobs (pbqms.core.jobs): the three run modes, progress, failures, the status
panel's scope, and the Excel import running as a job with progress."""

from __future__ import annotations

import datetime
import io
import time

import pytest
from django.core.management import call_command
from django.urls import reverse

from pbqms.core import jobs
from pbqms.core.models import Job
from pbqms.orgs.models import Person
from tests.factories import make_user
from tests.orgs.test_import_export import people_file, person_row, upload


@pytest.fixture
def echo_task():
    @jobs.task("test.echo")
    def echo(job, progress, *, n: int, fail: bool = False):
        for i in range(n):
            progress(i + 1, n, "counting")
        if fail:
            raise ValueError("bad input for the job")
        return {"n": n, "actor": job.created_by.username if job.created_by else ""}

    yield
    jobs._TASKS.pop("test.echo", None)


def _wait(job: Job, seconds: float = 30) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.finished:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job.pk} did not finish: {job.status}")


@pytest.mark.django_db
def test_sync_mode_runs_at_once_with_progress(echo_task):
    user = make_user("runner")
    job = jobs.enqueue("test.echo", user=user, params={"n": 3})
    assert job.status == Job.Status.DONE
    assert job.result == {"n": 3, "actor": "runner"}
    assert jobs.progress_of(job)["percent"] == 100
    assert job.started_at and job.finished_at


@pytest.mark.django_db
def test_failure_is_recorded_not_raised(echo_task):
    job = jobs.enqueue("test.echo", params={"n": 2, "fail": True})
    assert job.status == Job.Status.FAILED
    assert "bad input for the job" in job.error
    assert jobs.progress_of(job)["done"] == 2


@pytest.mark.django_db
def test_unknown_kind_is_refused():
    with pytest.raises(KeyError):
        jobs.enqueue("no.such.job")
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_worker_mode_queues_and_worker_runs(echo_task, settings):
    settings.PBQMS_JOBS = "worker"
    first = jobs.enqueue("test.echo", params={"n": 1})
    second = jobs.enqueue("test.echo", params={"n": 2})
    assert first.status == Job.Status.QUEUED
    out = io.StringIO()
    call_command("run_worker", "--once", stdout=out)
    assert "2 job(s) run" in out.getvalue()
    assert _wait(first).result["n"] == 1 and _wait(second).result["n"] == 2
    assert jobs.claim_next() is None


@pytest.mark.django_db(transaction=True)
def test_thread_mode_runs_after_commit(echo_task, settings):
    settings.PBQMS_JOBS = "thread"
    job = jobs.enqueue("test.echo", params={"n": 5})
    assert _wait(job).status == Job.Status.DONE
    assert job.result["n"] == 5


@pytest.mark.django_db
def test_status_panel_only_for_the_starter(echo_task, client, login, users, settings):
    settings.PBQMS_JOBS = "worker"
    job = jobs.enqueue("test.echo", user=users.party_admin, params={"n": 1})
    url = reverse("core:job_status", args=[job.pk])
    login(users.secretary_a1)
    assert client.get(url).status_code == 404
    login(users.party_admin)
    page = client.get(url)
    assert page.status_code == 200
    assert b'data-testid="job-progress"' in page.content and b"hx-get" in page.content
    jobs.run(job)
    done = client.get(url)
    assert b"hx-get" not in done.content  # finished: stops polling


@pytest.mark.django_db(transaction=True)
def test_import_runs_as_job_with_progress_then_result(client, login, users, tree, settings):
    """With the embedded thread mode, the upload answers at once with a progress panel that
    polls the job; the panel turns into the usual result once the import is done."""
    settings.PBQMS_JOBS = "thread"
    login(users.party_admin)
    rows = [
        person_row(
            f"导入人员{i:03d}",
            org="A1",
            birth=datetime.date(1990, 1, 1) + datetime.timedelta(days=i),
        )
        for i in range(120)
    ]
    response = client.post(
        reverse("orgs:import"),
        {"file": upload(people_file(rows), "人员.xlsx")},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert 'data-testid="job-progress"' in response.content.decode()  # answered at once
    job = Job.objects.get(kind="orgs.import")
    url = reverse("core:job_status", args=[job.pk])
    _wait(job)
    assert job.status == Job.Status.DONE, job.error
    result = client.get(url, headers={"HX-Request": "true"})
    body = result.content.decode()
    assert 'data-testid="import-success"' in body, body[:2000]
    assert result.headers.get("HX-Trigger") == "pbqms:import-done"
    assert Person.objects.filter(name__startswith="导入人员").count() == 120
    # another user cannot see the job or its result
    login(users.secretary_a1)
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_import_with_errors_via_job_keeps_report_for_the_uploader(client, login, users, tree):
    login(users.party_admin)
    rows = [person_row("好人", org="A1"), person_row("", org="NOPE")]
    response = client.post(reverse("orgs:import"), {"file": upload(people_file(rows), "x.xlsx")})
    body = response.content.decode()
    assert 'data-testid="import-errors"' in body
    job = Job.objects.get(kind="orgs.import")
    token = job.result["summary"]["report_token"]
    assert token and not Person.objects.filter(name="好人").exists()
    report = client.get(reverse("orgs:import_report", args=[token]))
    assert report.status_code == 200
