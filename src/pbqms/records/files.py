"""Record attachments (photos, scanned sign-in sheets): size limit and type decided by the
content (PNG, JPEG magic bytes; PDF), never by the name. Stored through Django's storage and
served only by a view after a permission check."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MAX_BYTES = getattr(settings, "PBQMS_RECORD_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)

SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
    (b"%PDF-", "pdf", "application/pdf"),
)


@dataclass(frozen=True)
class CheckedFile:
    extension: str
    content_type: str
    sha256: str
    size: int
    name: str


def _safe_name(name: str, extension: str) -> str:
    base = PurePosixPath((name or "").replace("\\", "/")).name.strip()
    stem = PurePosixPath(base).stem[:150] or "attachment"
    return f"{stem}.{extension}"


def check_upload(upload, field: str = "file") -> CheckedFile:
    """Accept PNG, JPEG or PDF by their first bytes; else a field error naming what is
    accepted."""
    size = getattr(upload, "size", None) or 0
    if size > MAX_BYTES:
        raise ValidationError(
            {field: _("The file is larger than %(mb)d MB.") % {"mb": MAX_BYTES // (1024 * 1024)}}
        )
    if size == 0:
        raise ValidationError({field: _("The file is empty.")})
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    match = next((s for s in SIGNATURES if head.startswith(s[0])), None)
    if match is None:
        raise ValidationError(
            {
                field: _(
                    "“%(name)s” is not a PNG or JPEG photo or a PDF file (judged by its "
                    "content, not its name)."
                )
                % {"name": PurePosixPath(getattr(upload, "name", "") or "").name}
            },
            code="file_type",
        )
    _magic, extension, content_type = match
    digest = hashlib.sha256()
    for chunk in upload.chunks() if hasattr(upload, "chunks") else [upload.read()]:
        digest.update(chunk)
    upload.seek(0)
    return CheckedFile(
        extension=extension,
        content_type=content_type,
        sha256=digest.hexdigest(),
        size=size,
        name=_safe_name(getattr(upload, "name", ""), extension),
    )
