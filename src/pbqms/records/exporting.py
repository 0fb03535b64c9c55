"""Export of a record to Word (.docx) with python-docx: title, unit, time, fields,
attendance table, attachments list and amendments."""

from __future__ import annotations

import io

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from docx import Document
from docx.shared import Pt

from pbqms.records.models import Record
from pbqms.records.schema import data_fields


def _text(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


def record_docx(record: Record) -> bytes:
    from pbqms.records.views import _label_map, amendment_changes

    doc = Document()
    style = doc.styles["Normal"]
    style.font.size = Pt(11)
    doc.add_heading(record.title, level=1)
    meta = doc.add_table(rows=0, cols=2)
    meta.style = "Table Grid"
    held = formats.date_format(timezone.localtime(record.occurred_at), "DATETIME_FORMAT")
    for label, value in (
        (_("Record template"), record.template.name),
        (_("Unit"), record.org.name),
        (_("Held at"), held),
        (_("Status"), record.get_status_display()),
    ):
        cells = meta.add_row().cells
        cells[0].text, cells[1].text = str(label), value
    attendance = list(record.attendance.all())
    names = {a.person_id: a.person_name for a in attendance}
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for spec in data_fields(record.template.fields):
        value = (record.data or {}).get(spec["name"])
        if spec.get("type") == "people" and isinstance(value, list):
            value = [names.get(v, str(v)) for v in value]
        cells = table.add_row().cells
        cells[0].text = spec.get("label") or spec["name"]
        cells[1].text = _text(value)
    if record.template.has_attendance:
        present = sum(1 for a in attendance if a.present)
        doc.add_heading(
            _("Attendance (%(present)d of %(total)d present)")
            % {"present": present, "total": len(attendance)},
            level=2,
        )
        att = doc.add_table(rows=1, cols=3)
        att.style = "Table Grid"
        head = att.rows[0].cells
        head[0].text, head[1].text, head[2].text = _("Name"), _("Present"), _("Reason for absence")
        for a in attendance:
            cells = att.add_row().cells
            cells[0].text = a.person_name
            cells[1].text = _("yes") if a.present else _("no")
            cells[2].text = a.absence_reason
    files = list(record.attachments.filter(removed_at__isnull=True))
    if files:
        doc.add_heading(_("Attachments"), level=2)
        for f in files:
            doc.add_paragraph(f.file_name, style="List Bullet")
    amendments = list(record.amendments.select_related("author").order_by("number"))
    if amendments:
        doc.add_heading(_("Amendments"), level=2)
        labels = _label_map(record)
        for amendment in amendments:
            when = formats.date_format(timezone.localtime(amendment.created_at), "DATETIME_FORMAT")
            author = getattr(amendment.author, "display_name", "") or getattr(
                amendment.author, "username", ""
            )
            doc.add_paragraph(
                _("Amendment %(n)d, %(when)s, %(author)s: %(reason)s")
                % {
                    "n": amendment.number,
                    "when": when,
                    "author": author,
                    "reason": amendment.reason,
                }
            )
            for change in amendment_changes(amendment, labels):
                doc.add_paragraph(
                    f"{change['label']}: {_text(change['before'])} → {_text(change['after'])}",
                    style="List Bullet",
                )
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
