"""Minutes of a management review (管理评审会议纪要) as .docx (python-docx): the meeting
facts, a summary of the frozen inputs, the conclusions on suitability, adequacy and
effectiveness, the decisions, the output actions and the chair's signature."""

from __future__ import annotations

import io

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from docx import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from pbqms.core.signatures import signatures_for
from pbqms.reviews.models import ReviewOutput

FONT = "SimSun"


def _date(day) -> str:
    return formats.date_format(day, "DATE_FORMAT") if day else "—"


def _new_docx():
    doc = DocxDocument()
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(11)
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    return doc


def _table(doc, header: list[str], rows: list[list[str]]):
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = str(text)
    return table


def _inputs_summary(doc, data: dict) -> None:
    ncs = data.get("nonconformities") or {}
    audits = data.get("audits") or {}
    conformity = data.get("conformity") or {}
    objectives = data.get("objectives") or {}
    previous = data.get("previous") or {}
    lines = []
    if audits.get("available"):
        lines.append(_("Internal audits in the period: %(n)d.") % {"n": audits.get("total", 0)})
    if ncs.get("available"):
        lines.append(
            _(
                "Nonconformities raised in the period: %(raised)d; closed in the period: "
                "%(closed)d; open now: %(open)d, of which overdue: %(overdue)d."
            )
            % {
                "raised": ncs.get("raised", 0),
                "closed": ncs.get("closed_in_period", 0),
                "open": ncs.get("open_now", 0),
                "overdue": ncs.get("overdue_now", 0),
            }
        )
    if conformity.get("available") and conformity.get("rate") is not None:
        lines.append(_("Conformity rate: %(rate)s%%.") % {"rate": conformity["rate"]})
    plans = data.get("plans") or {}
    if plans.get("available"):
        lines.append(
            _("Work plan tasks due in the period: %(done)d of %(total)d done (%(rate)s%%).")
            % {"done": plans["done"], "total": plans["total"], "rate": plans["rate"]}
        )
    if objectives.get("available"):
        lines.append(
            _("Objective indicators attained: %(a)d of %(n)d.")
            % {"a": objectives.get("attained", 0), "n": objectives.get("total", 0)}
        )
    else:
        lines.append(_("Objective attainment: not available."))
    lines.append(_("Satisfaction results: not available yet."))
    if previous.get("available"):
        done = (previous.get("by_status") or {}).get(ReviewOutput.Status.DONE, 0)
        total = sum((previous.get("by_status") or {}).values())
        lines.append(
            _("Previous review %(number)s: %(done)d of %(total)d output actions done.")
            % {"number": previous["review"]["number"], "done": done, "total": total}
        )
    for line in lines:
        doc.add_paragraph(line, style="List Bullet")
    rows = ncs.get("rows") or []
    if rows:
        from pbqms.improvement.models import Nonconformity

        labels = dict(Nonconformity.Status.choices)
        _table(
            doc,
            [_("Number"), _("Title"), _("Unit"), _("Status")],
            [
                [r["number"], r["title"], r["unit"], str(labels.get(r["status"], r["status"]))]
                for r in rows
            ],
        )


def minutes_docx(review) -> bytes:
    doc = _new_docx()
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(_("Minutes of the management review"))
    run.bold = True
    run.font.size = Pt(18)
    sub = doc.add_paragraph(f"{review.number}  {review.title}")
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER

    attendees = "、".join(p.name for p in review.attendees.order_by("org__path", "name"))
    _table(
        doc,
        [_("Item"), _("Content")],
        [
            [_("Unit reviewed"), review.org.name],
            [
                _("Period"),
                f"{_date(review.period_start)} – {_date(review.period_end)}",
            ],
            [_("Held on"), _date(review.held_on)],
            [_("Location"), review.location or "—"],
            [_("Chair"), review.chair.name],
            [_("Attendees"), attendees or "—"],
            [_("Status"), str(review.get_status_display())],
        ],
    )

    doc.add_heading(_("Inputs"), level=2)
    snapshot = getattr(review, "snapshot", None)
    if snapshot is not None:
        doc.add_paragraph(
            _("Compiled and frozen on %(date)s.")
            % {"date": _date(timezone.localtime(snapshot.compiled_at).date())}
        )
        _inputs_summary(doc, snapshot.data)
    else:
        doc.add_paragraph(_("The inputs have not been compiled."))

    doc.add_heading(_("Conclusions"), level=2)
    for label, text in (
        (_("Suitability"), review.suitability),
        (_("Adequacy"), review.adequacy),
        (_("Effectiveness"), review.effectiveness),
    ):
        p = doc.add_paragraph()
        p.add_run(f"{label}：").bold = True
        p.add_run(text or "—")

    doc.add_heading(_("Decisions"), level=2)
    doc.add_paragraph(review.decisions or "—")

    doc.add_heading(_("Output actions"), level=2)
    outputs = list(review.outputs.select_related("owner").order_by("due_on", "pk"))
    if outputs:
        _table(
            doc,
            [
                pgettext("corrective action", "Action"),
                _("Kind"),
                _("Owner"),
                _("Due date"),
                _("Status"),
            ],
            [
                [
                    o.description,
                    str(o.get_kind_display()),
                    o.owner.name,
                    _date(o.due_on),
                    str(o.get_status_display()),
                ]
                for o in outputs
            ],
        )
    else:
        doc.add_paragraph(_("No output actions."))

    doc.add_heading(_("Signatures"), level=2)
    sigs = list(signatures_for(review))
    if sigs:
        for sig in sigs:
            doc.add_paragraph(
                f"{sig.get_meaning_display()}：{sig.signer_name}  "
                f"{timezone.localtime(sig.signed_at):%Y-%m-%d %H:%M}"
            )
    else:
        doc.add_paragraph(_("Chair: ____________  Date: ____________"))

    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
