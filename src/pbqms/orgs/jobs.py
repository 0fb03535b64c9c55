"""The Excel import as a background job: the upload is stored, the job imports it with
progress reports, the import page polls the job and then shows the usual result panel."""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage

from pbqms.core import jobs
from pbqms.orgs import xlsx

logger = logging.getLogger(__name__)


def _result_view(request, job):
    from pbqms.orgs.views_io import job_result

    return job_result(request, job)


@jobs.task("orgs.import", result_view=_result_view)
def run_import(job, progress, *, path: str, filename: str) -> dict:
    from pbqms.orgs.views_io import store_report_file

    try:
        with default_storage.open(path, "rb") as upload:
            try:
                result = xlsx.import_workbook(
                    upload, actor=job.created_by, filename=filename, progress=progress
                )
            except xlsx.ImportFileError as exc:
                return {"refused": str(exc.message)}
    finally:
        try:
            default_storage.delete(path)
        except OSError:
            logger.warning("could not delete the import upload %s", path)
    token = None if result.ok else store_report_file(result)
    return {"summary": xlsx.ImportSummary.of(result, token).as_json()}
