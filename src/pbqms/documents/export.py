"""Export controlled documents to .docx (python-docx): a cover page with number, title,
version, effective date and the 编制/审核/批准 signatures (name, time, validity), the
revision history, the content, and the controlled-copy marking in every page header.
``manual_docx`` puts the manual and the effective procedures under it in one file."""

from __future__ import annotations

import io
import re

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from docx import Document as DocxDocument
from docx.enum.section import WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor

from pbqms.core import signatures
from pbqms.core.models import Signature
from pbqms.documents import modes
from pbqms.documents.models import Document, DocumentVersion

FONT = "SimSun"  # 宋体: present on Chinese office PCs; Word substitutes elsewhere
HEADING_FONT = "SimHei"  # 黑体
MEANINGS = [Signature.Meaning.PREPARED, Signature.Meaning.REVIEWED, Signature.Meaning.APPROVED]
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_INLINE = re.compile(r"(\*\*[^*]+\*\*|`[^`]+`)")


def _date(value) -> str:
    return formats.date_format(value, "DATE_FORMAT") if value else "—"


def _datetime(value) -> str:
    if not value:
        return "—"
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def _set_font(run, name: str = FONT, size: float | None = None, bold: bool | None = None):
    run.font.name = name
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), name)
    if size:
        run.font.size = Pt(size)
    if bold is not None:
        run.bold = bold
    return run


def _new_docx():
    doc = DocxDocument()
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(11)
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    return doc


def _para(doc, text: str = "", *, size=None, bold=None, align=None, font=FONT):
    p = doc.add_paragraph()
    if align is not None:
        p.alignment = align
    if text:
        _set_font(p.add_run(text), font, size, bold)
    return p


def _cell(cell, text: str, *, bold: bool = False):
    cell.text = ""
    _set_font(cell.paragraphs[0].add_run(text), FONT, 10.5, bold)


def _header(section, marking: str, line: str) -> None:
    header = section.header
    p = header.paragraphs[0]
    p.text = ""
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = _set_font(p.add_run(marking), HEADING_FONT, 9, True)
    run.font.color.rgb = RGBColor(0xB0, 0x1E, 0x23)
    _set_font(p.add_run("    " + line), FONT, 9)


def _signature_table(doc, version: DocumentVersion) -> None:
    current = version.content_hash
    by_meaning: dict[str, list[Signature]] = {}
    for sig in signatures.signatures_for(version):
        by_meaning.setdefault(sig.meaning, []).append(sig)
    table = doc.add_table(rows=1, cols=4)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(
        table.rows[0].cells,
        (_("Meaning"), _("Signer"), _("Signed at"), _("Validity")),
        strict=True,
    ):
        _cell(cell, text, bold=True)
    for meaning in MEANINGS:
        sigs = by_meaning.get(meaning) or [None]
        for sig in sigs:
            row = table.add_row().cells
            _cell(row[0], str(Signature.Meaning(meaning).label))
            if sig is None:
                _cell(row[1], "—")
                _cell(row[2], "—")
                _cell(row[3], _("not signed"))
                continue
            _cell(row[1], sig.signer_name)
            _cell(row[2], _datetime(sig.signed_at))
            _cell(
                row[3],
                _("valid") if signatures.is_valid(sig, current) else _("invalid: content changed"),
            )


def _cover(doc, version: DocumentVersion, *, marking: str) -> None:
    document = version.document
    _para(doc, document.org.name, size=14, align=WD_ALIGN_PARAGRAPH.CENTER)
    for _i in range(3):
        _para(doc)
    _para(
        doc,
        version.title,
        size=24,
        bold=True,
        align=WD_ALIGN_PARAGRAPH.CENTER,
        font=HEADING_FONT,
    )
    _para(doc, modes.Resolver().type_label(document), size=14, align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc)
    info = doc.add_table(rows=0, cols=2)
    info.style = "Table Grid"
    info.alignment = WD_TABLE_ALIGNMENT.CENTER
    for label, value in (
        (_("Number"), document.number),
        (_("Version"), version.label),
        (_("Status"), version.get_status_display()),
        (_("Effective date"), _date(version.effective_on)),
        (_("Owner unit"), document.org.name),
        (_("Content hash"), version.content_hash),
    ):
        cells = info.add_row().cells
        _cell(cells[0], str(label), bold=True)
        _cell(cells[1], str(value))
    _para(doc)
    _para(doc, _("Electronic signatures"), size=12, bold=True, font=HEADING_FONT)
    _signature_table(doc, version)
    _para(doc)
    mark = _para(doc, marking, size=16, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    mark.runs[0].font.color.rgb = RGBColor(0xB0, 0x1E, 0x23)


def _history(doc, versions: list[DocumentVersion]) -> None:
    _para(doc, _("Revision history"), size=14, bold=True, font=HEADING_FONT)
    table = doc.add_table(rows=1, cols=5)
    table.style = "Table Grid"
    for cell, text in zip(
        table.rows[0].cells,
        (_("Version"), _("Status"), _("Reason for the change"), _("Author"), _("Effective date")),
        strict=True,
    ):
        _cell(cell, text, bold=True)
    for v in versions:
        row = table.add_row().cells
        _cell(row[0], v.label)
        _cell(row[1], v.get_status_display())
        _cell(row[2], v.change_reason or "—")
        _cell(row[3], v.author.name)
        _cell(row[4], _date(v.effective_on))


def _inline(paragraph, text: str, size=None) -> None:
    for part in _INLINE.split(text):
        if not part:
            continue
        if part.startswith("**") and part.endswith("**"):
            _set_font(paragraph.add_run(part[2:-2]), FONT, size, True)
        elif part.startswith("`") and part.endswith("`"):
            _set_font(paragraph.add_run(part[1:-1]), "Consolas", size)
        else:
            _set_font(paragraph.add_run(part), FONT, size)


def _table_cells(line: str) -> list[str]:
    line = line.strip().strip("|")
    return [c.strip() for c in line.split("|")]


def markdown_to_docx(doc, text: str, heading_offset: int = 0) -> None:
    """The Markdown subset the editor offers: headings, paragraphs, lists, tables, bold,
    code. Anything else is kept as plain text (nothing is lost)."""
    lines = (text or "").replace("\r\n", "\n").split("\n")
    i = 0
    paragraph: list[str] = []

    def flush():
        if paragraph:
            _inline(doc.add_paragraph(), " ".join(s.strip() for s in paragraph))
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        heading = re.match(r"^(#{1,6})\s+(.*)$", stripped)
        if not stripped:
            flush()
        elif heading:
            flush()
            level = min(len(heading.group(1)) + heading_offset, 9)
            h = doc.add_heading(level=level)
            _set_font(h.add_run(heading.group(2)), HEADING_FONT)
        elif stripped.startswith("|") and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1]):
            flush()
            header = _table_cells(stripped)
            rows = []
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_table_cells(lines[i]))
                i += 1
            table = doc.add_table(rows=1, cols=len(header))
            table.style = "Table Grid"
            for cell, value in zip(table.rows[0].cells, header, strict=True):
                _cell(cell, value, bold=True)
            for values in rows:
                cells = table.add_row().cells
                for j, cell in enumerate(cells):
                    _cell(cell, values[j] if j < len(values) else "")
            continue
        elif re.match(r"^[-*+]\s+", stripped):
            flush()
            _inline(doc.add_paragraph(style="List Bullet"), re.sub(r"^[-*+]\s+", "", stripped))
        elif re.match(r"^\d+[.)]\s+", stripped):
            flush()
            _inline(doc.add_paragraph(style="List Number"), re.sub(r"^\d+[.)]\s+", "", stripped))
        else:
            paragraph.append(stripped)
        i += 1
    flush()


def _marking(user) -> tuple[str, str]:
    when = _datetime(timezone.now())
    who = getattr(user, "name", "") or getattr(user, "username", "")
    return (
        _("CONTROLLED COPY"),
        _("Exported by %(name)s on %(when)s; check the system for the current version.")
        % {"name": who, "when": when},
    )


def _add_document(doc, version: DocumentVersion, versions, user, *, first: bool) -> None:
    marking, stamp = _marking(user)
    if not first:
        doc.add_section(WD_SECTION.NEW_PAGE)
    section = doc.sections[-1]
    _header(
        section,
        marking,
        f"{version.document.number} {version.title} {version.label}",
    )
    footer = section.footer.paragraphs[0]
    footer.text = ""
    _set_font(footer.add_run(stamp), FONT, 8)
    _cover(doc, version, marking=marking)
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    _history(doc, versions)
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    markdown_to_docx(doc, version.content)
    if not (version.content or "").strip() and version.file_name:
        _para(
            doc,
            _("The content of this version is the attached controlled file %(name)s.")
            % {"name": version.file_name},
        )


def version_docx(version: DocumentVersion, versions: list[DocumentVersion], user) -> bytes:
    doc = _new_docx()
    _add_document(doc, version, versions, user, first=True)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def manual_docx(parts: list[tuple[DocumentVersion, list[DocumentVersion]]], user) -> bytes:
    """The manual first, then each procedure: each with its cover, history and content."""
    doc = _new_docx()
    for i, (version, versions) in enumerate(parts):
        _add_document(doc, version, versions, user, first=i == 0)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def filename(document: Document, version: DocumentVersion | None = None) -> str:
    label = f"_{version.label.replace('/', '-')}" if version else ""
    safe_title = re.sub(r'[\\/:*?"<>|]+', "", document.title)[:60]
    return f"{document.number}{label}_{safe_title}.docx"


# ---------------------------------------------------------------- master list (.xlsx)


def master_list_xlsx(documents, out) -> int:
    """The controlled document list as .xlsx (write-only workbook, streamed rows)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(str(_("Controlled document list"))[:31])
    headers = [
        _("Number"),
        _("Title"),
        _("Document type"),
        _("Version"),
        _("Effective date"),
        _("Owner unit"),
        _("Next review"),
        _("Status"),
    ]
    bold = Font(bold=True)
    row = []
    for h in headers:
        cell = WriteOnlyCell(sheet, value=str(h))
        cell.font = bold
        row.append(cell)
    sheet.append(row)
    count = 0
    resolver = modes.Resolver()
    for d in documents:
        v = d.effective_version
        sheet.append(
            [
                d.number,
                d.title,
                resolver.type_label(d),
                v.label if v else "",
                v.effective_on if v else None,
                d.org.name,
                d.next_review_on,
                str(d.get_status_display()),
            ]
        )
        count += 1
    workbook.save(out)
    return count
