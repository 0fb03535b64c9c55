"""Document content as HTML: Markdown (Python-Markdown, tables) and .docx (mammoth), always
sanitised with nh3 (an allow-list), and the difference between two versions (difflib)."""

from __future__ import annotations

import difflib
import html

import markdown
import nh3

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align"},
    "*": {"id"},
}
# images only as data: URIs (an embedded picture from a .docx) or relative; links http(s)
URL_SCHEMES = {"http", "https", "mailto", "data"}
MAX_RENDER_CHARS = 500_000


def sanitise(raw_html: str) -> str:
    return nh3.clean(
        raw_html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


def render_markdown(text: str) -> str:
    """Markdown (tables, fenced code, lists) → sanitised HTML. Raw HTML in the source is
    escaped by the sanitiser, never executed."""
    source = (text or "")[:MAX_RENDER_CHARS]
    raw = markdown.markdown(
        source,
        extensions=["tables", "fenced_code", "sane_lists", "toc"],
        output_format="html",
    )
    return sanitise(raw)


def docx_to_html(fileobj) -> str:
    """A .docx file → sanitised HTML (mammoth keeps structure: headings, lists, tables)."""
    import mammoth

    result = mammoth.convert_to_html(fileobj)
    return sanitise(result.value)


# ---------------------------------------------------------------- diff


def _lines(text: str) -> list[str]:
    return (text or "").replace("\r\n", "\n").split("\n")


def diff_inline(old: str, new: str) -> str:
    """Inline diff: one column, removed lines struck through, added lines marked."""
    rows = []
    matcher = difflib.SequenceMatcher(None, _lines(old), _lines(new), autojunk=False)
    a, b = _lines(old), _lines(new)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend(
                f'<div class="pb-diff-line">{html.escape(line) or "&nbsp;"}</div>'
                for line in a[i1:i2]
            )
            continue
        if tag in ("delete", "replace"):
            rows.extend(
                f'<div class="pb-diff-line pb-diff-del"><del>{html.escape(line) or "&nbsp;"}'
                "</del></div>"
                for line in a[i1:i2]
            )
        if tag in ("insert", "replace"):
            rows.extend(
                f'<div class="pb-diff-line pb-diff-ins"><ins>{html.escape(line) or "&nbsp;"}'
                "</ins></div>"
                for line in b[j1:j2]
            )
    return '<div class="pb-diff-inline">' + "\n".join(rows) + "</div>"


def diff_side_by_side(old: str, new: str, old_label: str, new_label: str) -> str:
    """Side-by-side diff table (difflib.HtmlDiff; it escapes the text)."""
    table = difflib.HtmlDiff(tabsize=4, wrapcolumn=60).make_table(
        _lines(old), _lines(new), html.escape(old_label), html.escape(new_label), context=False
    )
    # HtmlDiff writes presentational attributes; the sanitiser-free output is ours, but the
    # page's CSS styles it: give the table our classes
    return table.replace('class="diff"', 'class="table table-sm pb-diff-table"', 1)


def diff_stats(old: str, new: str) -> dict[str, int]:
    added = removed = 0
    for line in difflib.unified_diff(_lines(old), _lines(new), lineterm="", n=0):
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return {"added": added, "removed": removed}
