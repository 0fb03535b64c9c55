"""Controlled-file uploads (SECURITY.md item 13): size limit, type decided by content (not by
the name), checksum kept; files are stored under MEDIA_ROOT (outside the web root) and served
only by a view after a permission check, as attachments."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MAX_BYTES = getattr(settings, "PBQMS_DOCUMENT_MAX_BYTES", 20 * 1024 * 1024)
# zip members an Office file must contain, and how much may unpack from it (zip bombs)
MAX_UNPACKED = 200 * 1024 * 1024
MAX_MEMBERS = 5000

KINDS = {
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "word/document.xml",
    ),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xl/workbook.xml",
    ),
    "pdf": ("application/pdf", None),
}


@dataclass(frozen=True)
class CheckedFile:
    kind: str  # docx / xlsx / pdf
    content_type: str
    sha256: str
    size: int
    name: str


def _safe_name(name: str, kind: str) -> str:
    base = PurePosixPath((name or "").replace("\\", "/")).name.strip() or f"document.{kind}"
    stem = PurePosixPath(base).stem[:150] or "document"
    return f"{stem}.{kind}"


def check_upload(upload) -> CheckedFile:
    """Accept .docx, .xlsx and .pdf by their content; raise a ``file`` field error else."""
    size = getattr(upload, "size", None) or 0
    if size > MAX_BYTES:
        raise ValidationError(
            {"file": _("The file is larger than %(mb)d MB.") % {"mb": MAX_BYTES // (1024 * 1024)}}
        )
    if size == 0:
        raise ValidationError({"file": _("The file is empty.")})
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    kind = None
    if head.startswith(b"%PDF-"):
        kind = "pdf"
    elif head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(upload) as archive:
                members = archive.infolist()
                names = {m.filename for m in members}
                if len(members) > MAX_MEMBERS or sum(m.file_size for m in members) > MAX_UNPACKED:
                    raise ValidationError({"file": _("The file unpacks to too much data.")})
                if any(n.startswith("/") or ".." in PurePosixPath(n).parts for n in names):
                    raise ValidationError({"file": _("The file contains unsafe paths.")})
                for candidate in ("docx", "xlsx"):
                    if KINDS[candidate][1] in names:
                        kind = candidate
                        break
        except zipfile.BadZipFile:
            kind = None
        upload.seek(0)
    if kind is None:
        raise ValidationError(
            {"file": _("Upload a Word (.docx), Excel (.xlsx) or PDF file.")}, code="file_type"
        )
    digest = hashlib.sha256()
    for chunk in upload.chunks() if hasattr(upload, "chunks") else [upload.read()]:
        digest.update(chunk)
    upload.seek(0)
    return CheckedFile(
        kind=kind,
        content_type=KINDS[kind][0],
        sha256=digest.hexdigest(),
        size=size,
        name=_safe_name(getattr(upload, "name", ""), kind),
    )


def content_type_for(file_name: str) -> str:
    suffix = PurePosixPath(file_name or "").suffix.lower().lstrip(".")
    return KINDS.get(suffix, ("application/octet-stream", None))[0]
