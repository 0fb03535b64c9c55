"""The audit report (审核报告): compiled from the plan, the checklist results and the
nonconformities raised, signed by the lead auditor (the ``report`` transition) and
exported to .docx (python-docx)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from django.db.models import Count
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from docx import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from pbqms.audits.models import Audit, ChecklistItem
from pbqms.core import signatures
from pbqms.core.models import Signature

FONT = "SimSun"  # 宋体
HEADING_FONT = "SimHei"  # 黑体


@dataclass
class Report:
    audit: Audit
    units: list
    team: list
    counts: list[tuple[str, str, int]]  # (result value, label, count)
    total: int
    unanswered: int
    findings: list  # checklist items with an observation or a nonconformity
    nonconformities: list
    signatures: list = field(default_factory=list)
    signature_valid: dict = field(default_factory=dict)


def _nonconformities(audit) -> list:
    from django.apps import apps

    if not apps.is_installed("pbqms.improvement"):
        return []
    model = apps.get_model("improvement", "Nonconformity")
    return list(model.objects.for_source(audit).select_related("org").order_by("number"))


def compile_report(audit: Audit) -> Report:
    counts = {
        r["result"]: r["n"]
        for r in audit.checklist.order_by().values("result").annotate(n=Count("pk"))
    }
    findings = list(
        audit.checklist.filter(
            result__in=[ChecklistItem.Result.OBSERVATION, *ChecklistItem.NONCONFORMING]
        )
        .select_related("unit")
        .order_by("position", "pk")
    )
    sigs = list(signatures.signatures_for(audit))
    current = audit.signed_content_hash() if sigs else ""
    return Report(
        audit=audit,
        units=list(audit.audited_units.order_by("path")),
        team=list(audit.team.select_related("org").order_by("name")),
        counts=[(v, str(label), counts.get(v, 0)) for v, label in ChecklistItem.Result.choices],
        total=sum(counts.values()),
        unanswered=counts.get("", 0),
        findings=findings,
        nonconformities=_nonconformities(audit),
        signatures=sigs,
        signature_valid={s.pk: signatures.is_valid(s, current) for s in sigs},
    )


# ---------------------------------------------------------------- .docx


def _date(value) -> str:
    return formats.date_format(value, "DATE_FORMAT") if value else "—"


def _datetime(value) -> str:
    if not value:
        return "—"
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def _font(run, name=FONT, size=None, bold=None):
    run.font.name = name
    rpr = run._element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), name)
    if size:
        run.font.size = Pt(size)
    if bold is not None:
        run.bold = bold
    return run


def _para(doc, text="", *, size=None, bold=None, align=None, font=FONT):
    p = doc.add_paragraph()
    if align is not None:
        p.alignment = align
    if text:
        _font(p.add_run(text), font, size, bold)
    return p


def _heading(doc, text):
    return _para(doc, text, size=14, bold=True, font=HEADING_FONT)


def _table(doc, header, rows):
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = ""
        _font(cell.paragraphs[0].add_run(str(text)), FONT, 10.5, True)
    for values in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, values, strict=True):
            cell.text = ""
            _font(cell.paragraphs[0].add_run(str(text)), FONT, 10.5)
    return table


def report_docx(audit: Audit) -> bytes:
    report = compile_report(audit)
    programme = audit.programme
    doc = DocxDocument()
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(11)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)

    _para(doc, programme.org.name, size=12, align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(
        doc,
        _("Internal audit report"),
        size=20,
        bold=True,
        align=WD_ALIGN_PARAGRAPH.CENTER,
        font=HEADING_FONT,
    )
    _para(doc, audit.number, size=12, align=WD_ALIGN_PARAGRAPH.CENTER)

    _heading(doc, _("1. Audit plan"))
    lead = audit.lead_auditor
    plan = doc.add_table(rows=0, cols=2)
    plan.style = "Table Grid"
    for label, value in (
        (_("Audit number"), audit.number),
        (_("Audit programme"), programme.title),
        (_("Audited units"), "、".join(u.name for u in report.units) or "—"),
        (_("Planned month"), f"{programme.year}-{audit.planned_month:02d}"),
        (_("Dates"), f"{_date(audit.start_date)} – {_date(audit.end_date)}"),
        (_("Lead auditor"), f"{lead.name}（{lead.org.name}）" if lead else "—"),
        (
            _("Audit team members"),
            "、".join(f"{p.name}（{p.org.name}）" for p in report.team) or "—",
        ),
        (_("Audit criteria"), audit.criteria or programme.criteria or "—"),
        (_("Agenda"), audit.agenda or "—"),
    ):
        cells = plan.add_row().cells
        cells[0].text = ""
        _font(cells[0].paragraphs[0].add_run(str(label)), FONT, 10.5, True)
        cells[1].text = ""
        _font(cells[1].paragraphs[0].add_run(str(value)), FONT, 10.5)

    _heading(doc, _("2. Checklist results"))
    _table(
        doc,
        [_("Result"), _("Items")],
        [(label, n) for _v, label, n in report.counts]
        + [(_("Not yet assessed"), report.unanswered), (_("Total"), report.total)],
    )
    if report.findings:
        _para(doc, _("Observations and nonconforming results:"), bold=True)
        _table(
            doc,
            ["#", _("Criterion"), _("Audited unit"), _("Result"), _("Evidence")],
            [
                (
                    i.position,
                    i.criterion,
                    i.unit.name if i.unit else "—",
                    i.get_result_display(),
                    i.evidence or "—",
                )
                for i in report.findings
            ],
        )

    _heading(doc, _("3. Nonconformities"))
    if report.nonconformities:
        _table(
            doc,
            [_("Number"), _("Title"), _("Unit concerned"), _("Severity"), _("Status")],
            [
                (
                    nc.number,
                    nc.title,
                    nc.org.name,
                    nc.get_severity_display(),
                    nc.get_status_display(),
                )
                for nc in report.nonconformities
            ],
        )
    else:
        _para(doc, _("No nonconformity was raised."))

    _heading(doc, _("4. Conclusion"))
    for line in (audit.report_summary or "—").splitlines() or ["—"]:
        _para(doc, line)

    _heading(doc, _("5. Signature"))
    prepared = [s for s in report.signatures if s.meaning == Signature.Meaning.PREPARED]
    if prepared:
        _table(
            doc,
            [_("Meaning"), _("Signer"), _("Signed at"), _("Validity")],
            [
                (
                    _("Signed by the lead auditor"),
                    s.signer_name,
                    _datetime(s.signed_at),
                    _("valid") if report.signature_valid[s.pk] else _("invalid: content changed"),
                )
                for s in prepared
            ],
        )
    else:
        _para(doc, _("Not signed yet: this is a draft of the report."))

    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
