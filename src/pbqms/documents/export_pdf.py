"""Export a controlled document to PDF (reportlab): the same parts as the .docx export —
cover with number, title, type, version, effective date and the 编制/审核/批准 signatures,
revision history, content — with the controlled-copy marking on every page.

Chinese text uses reportlab's built-in CID font ``STSong-Light`` (Adobe-GB1): no font file
is needed on the server and the file stays small; PDF readers render it with their own
Song/Ming typeface (docs/decisions/0009-pdf-export.md)."""

from __future__ import annotations

import io
import re
from xml.sax.saxutils import escape

from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import (
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from pbqms.core import signatures
from pbqms.core.models import Signature
from pbqms.documents import modes
from pbqms.documents.export import (
    _INLINE,
    _TABLE_SEP,
    MEANINGS,
    _date,
    _datetime,
    _marking,
    _table_cells,
)
from pbqms.documents.models import Document, DocumentVersion

FONT = "STSong-Light"
RED = colors.Color(0xB0 / 255, 0x1E / 255, 0x23 / 255)
_registered = False


def _font() -> str:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
    return FONT


def _styles() -> dict[str, ParagraphStyle]:
    font = _font()
    base = ParagraphStyle(
        "body", fontName=font, fontSize=10.5, leading=16, wordWrap="CJK", spaceAfter=4
    )
    return {
        "body": base,
        "cell": ParagraphStyle("cell", parent=base, fontSize=9.5, leading=13, spaceAfter=0),
        "unit": ParagraphStyle("unit", parent=base, fontSize=14, leading=20, alignment=TA_CENTER),
        "title": ParagraphStyle(
            "title", parent=base, fontSize=24, leading=32, alignment=TA_CENTER, spaceAfter=10
        ),
        "type": ParagraphStyle("type", parent=base, fontSize=14, leading=20, alignment=TA_CENTER),
        "mark": ParagraphStyle(
            "mark", parent=base, fontSize=16, leading=22, alignment=TA_CENTER, textColor=RED
        ),
        "h": ParagraphStyle("h", parent=base, fontSize=14, leading=20, spaceBefore=8, spaceAfter=6),
        "h1": ParagraphStyle("h1", parent=base, fontSize=15, leading=22, spaceBefore=10),
        "h2": ParagraphStyle("h2", parent=base, fontSize=13, leading=19, spaceBefore=8),
        "h3": ParagraphStyle("h3", parent=base, fontSize=11.5, leading=17, spaceBefore=6),
        "bullet": ParagraphStyle("bullet", parent=base, leftIndent=14, bulletIndent=4),
    }


def _text(value) -> str:
    return escape(str(value if value is not None else ""))


def _inline(text: str) -> str:
    out = []
    for part in _INLINE.split(text):
        if not part:
            continue
        if part.startswith("**") and part.endswith("**"):
            # the CID font has no bold face: underline the emphasis instead
            out.append(f"<u>{_text(part[2:-2])}</u>")
        elif part.startswith("`") and part.endswith("`"):
            out.append(f'<font color="#555555">{_text(part[1:-1])}</font>')
        else:
            out.append(_text(part))
    return "".join(out)


def _grid(rows, styles, widths=None, header=True) -> Table:
    data = [[Paragraph(_text(c), styles["cell"]) for c in row] for row in rows]
    table = Table(data, colWidths=widths, repeatRows=1 if header else 0)
    commands = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.93, 0.94, 0.96)))
    table.setStyle(TableStyle(commands))
    return table


def _signature_rows(version: DocumentVersion) -> list[list[str]]:
    current = version.content_hash
    by_meaning: dict[str, list[Signature]] = {}
    for sig in signatures.signatures_for(version):
        by_meaning.setdefault(sig.meaning, []).append(sig)
    rows = [[_("Meaning"), _("Signer"), _("Signed at"), _("Validity")]]
    for meaning in MEANINGS:
        for sig in by_meaning.get(meaning) or [None]:
            label = str(Signature.Meaning(meaning).label)
            if sig is None:
                rows.append([label, "—", "—", _("not signed")])
                continue
            valid = signatures.is_valid(sig, current)
            rows.append(
                [
                    label,
                    sig.signer_name,
                    _datetime(sig.signed_at),
                    _("valid") if valid else _("invalid: content changed"),
                ]
            )
    return rows


def _cover(version: DocumentVersion, styles, marking: str) -> list:
    document = version.document
    info = [
        [_("Number"), document.number],
        [_("Version"), version.label],
        [_("Status"), version.get_status_display()],
        [_("Effective date"), _date(version.effective_on)],
        [_("Owner unit"), document.org.name],
        [_("Content hash"), version.content_hash],
    ]
    return [
        Paragraph(_text(document.org.name), styles["unit"]),
        Spacer(1, 30 * mm),
        Paragraph(_text(version.title), styles["title"]),
        Paragraph(_text(modes.Resolver().type_label(document)), styles["type"]),
        Spacer(1, 12 * mm),
        _grid(info, styles, widths=[40 * mm, 110 * mm], header=False),
        Spacer(1, 8 * mm),
        Paragraph(_text(_("Electronic signatures")), styles["h"]),
        _grid(_signature_rows(version), styles, widths=[30 * mm, 40 * mm, 45 * mm, 45 * mm]),
        Spacer(1, 10 * mm),
        Paragraph(_text(marking), styles["mark"]),
    ]


def _history(versions: list[DocumentVersion], styles) -> list:
    rows = [
        [_("Version"), _("Status"), _("Reason for the change"), _("Author"), _("Effective date")]
    ]
    for v in versions:
        rows.append(
            [
                v.label,
                v.get_status_display(),
                v.change_reason or "—",
                v.author.name,
                _date(v.effective_on),
            ]
        )
    return [
        Paragraph(_text(_("Revision history")), styles["h"]),
        _grid(rows, styles, widths=[18 * mm, 22 * mm, 70 * mm, 25 * mm, 25 * mm]),
    ]


def markdown_to_flowables(text: str, styles) -> list:
    """The editor's Markdown subset (headings, paragraphs, lists, tables, bold, code);
    anything else as plain text."""
    lines = (text or "").replace("\r\n", "\n").split("\n")
    out: list = []
    paragraph: list[str] = []

    def flush():
        if paragraph:
            out.append(Paragraph(_inline(" ".join(s.strip() for s in paragraph)), styles["body"]))
            paragraph.clear()

    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        heading = re.match(r"^(#{1,6})\s+(.*)$", stripped)
        if not stripped:
            flush()
        elif heading:
            flush()
            level = min(len(heading.group(1)), 3)
            out.append(Paragraph(_inline(heading.group(2)), styles[f"h{level}"]))
        elif stripped.startswith("|") and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1]):
            flush()
            rows = [_table_cells(stripped)]
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_table_cells(lines[i]))
                i += 1
            width = len(rows[0])
            rows = [(r + [""] * width)[:width] for r in rows]
            out.append(_grid(rows, styles))
            out.append(Spacer(1, 4))
            continue
        elif re.match(r"^[-*+]\s+", stripped):
            flush()
            item = re.sub(r"^[-*+]\s+", "", stripped)
            out.append(Paragraph(_inline(item), styles["bullet"], bulletText="•"))
        elif m := re.match(r"^(\d+)[.)]\s+(.*)$", stripped):
            flush()
            out.append(Paragraph(_inline(m.group(2)), styles["bullet"], bulletText=f"{m[1]}."))
        else:
            paragraph.append(stripped)
        i += 1
    flush()
    return out


def version_pdf(version: DocumentVersion, versions: list[DocumentVersion], user) -> bytes:
    styles = _styles()
    marking, stamp = _marking(user)
    header = f"{version.document.number} {version.title} {version.label}"

    def on_page(canvas, doc):
        canvas.saveState()
        width, height = A4
        canvas.setFont(FONT, 9)
        canvas.setFillColor(RED)
        canvas.drawString(20 * mm, height - 12 * mm, marking)
        canvas.setFillColor(colors.black)
        canvas.drawRightString(width - 20 * mm, height - 12 * mm, header[:80])
        canvas.setFont(FONT, 8)
        canvas.drawString(20 * mm, 10 * mm, stamp)
        canvas.drawRightString(width - 20 * mm, 10 * mm, str(doc.page))
        canvas.restoreState()

    story = _cover(version, styles, marking)
    story.append(PageBreak())
    story += _history(versions, styles)
    story.append(PageBreak())
    body = markdown_to_flowables(version.content, styles)
    if not body and version.file_name:
        body = [
            Paragraph(
                _text(
                    _("The content of this version is the attached controlled file %(name)s.")
                    % {"name": version.file_name}
                ),
                styles["body"],
            )
        ]
    story += body or [Spacer(1, 1)]
    out = io.BytesIO()
    pdf = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=18 * mm,
        title=f"{version.document.number} {version.title} {version.label}",
        author=version.document.org.name,
        subject=marking,
        creator="pbqms",
    )
    pdf.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return out.getvalue()


def filename(document: Document, version: DocumentVersion) -> str:
    safe_title = re.sub(r'[\\/:*?"<>|]+', "", document.title)[:60]
    return f"{document.number}_{version.label.replace('/', '-')}_{safe_title}.pdf"
