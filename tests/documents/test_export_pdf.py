"""PDF export (reportlab, built-in CID font STSong-Light): the text is read back from the
PDF's own content streams (ASCII85 + Flate, UCS-2 strings of the CID font), so the test
checks what a reader would show, without another PDF library."""

from __future__ import annotations

import base64
import contextlib
import re
import zlib

from django.urls import reverse
from django.utils import translation

from pbqms.core.models import ChangeLogEntry
from pbqms.documents import services
from pbqms.documents.export import _marking
from pbqms.documents.models import Document

T = Document.Type
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def url(name, *args):
    return reverse(f"documents:{name}", args=args)


def _streams(data: bytes):
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        raw = m.group(1).strip()
        if raw.endswith(b"~>"):
            raw = base64.a85decode(raw[:-2], adobe=False)
        with contextlib.suppress(zlib.error):
            raw = zlib.decompress(raw)
        yield raw


def _unescape(literal: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(literal):
        c = literal[i : i + 1]
        if c != b"\\":
            out += c
            i += 1
            continue
        nxt = literal[i + 1 : i + 2]
        octal = re.match(rb"[0-7]{1,3}", literal[i + 1 : i + 4])
        if octal:
            out.append(int(octal.group(0), 8) & 0xFF)
            i += 1 + len(octal.group(0))
        else:
            out += _ESCAPES.get(nxt, nxt)
            i += 2
    return bytes(out)


def pdf_text(data: bytes) -> str:
    """Text drawn with the CID font (UCS-2 big-endian strings before ``Tj``)."""
    parts = []
    for stream in _streams(data):
        if b" Tf" not in stream:
            continue
        for body in re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", stream, re.S):
            raw = _unescape(body)
            if len(raw) % 2 == 0:
                parts.append(raw.decode("utf-16-be", errors="replace"))
    return "\n".join(parts)


def page_count(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", data))


def test_version_pdf_has_cover_signatures_history_and_marking(
    make_doc, release, people, users, login
):
    doc = make_doc(
        title="文件控制程序",
        content="# 目的\n\n正文**要点**\n\n- 第一条\n\n| 甲 | 乙 |\n|---|---|\n| 1 | 2 |",
    )
    v = release(doc.latest_version)
    services.start_revision(Document.objects.get(pk=doc.pk), actor=people.author, reason="修订")
    response = login(users.member_a1).get(url("export_version_pdf", v.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    data = response.content
    assert data.startswith(b"%PDF-")
    assert b"/BaseFont /STSong-Light" in data and b"/UniGB-UCS2-H" in data
    assert page_count(data) == 3  # cover, revision history, content
    text = pdf_text(data)
    with translation.override("zh-hans"):
        marking = _marking(users.member_a1)[0]
    for expected in (
        doc.number,
        "文件控制程序",
        "A/0",
        doc.org.name,
        "sec_a1",  # 编制
        "审核人",  # 审核
        "party_admin",  # 批准
        marking,
        "目的",
        "正文",
        "第一条",
        "甲",
    ):
        assert expected in text, expected
    event = ChangeLogEntry.objects.filter(action="export").get()
    assert event.changes["format"] == "pdf" and event.actor_id == users.member_a1.pk


def test_draft_pdf_shows_missing_signatures(make_doc, people, login):
    v = make_doc().latest_version
    response = login(people.author).get(url("export_version_pdf", v.pk))
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert text.count("—") >= 6  # no signer, no time for 编制/审核/批准


def test_pdf_outside_scope_is_404(make_doc, users, login):
    v = make_doc().latest_version
    assert login(users.secretary_b1).get(url("export_version_pdf", v.pk)).status_code == 404
    assert not ChangeLogEntry.objects.filter(action="export").exists()


def test_pdf_of_a_long_document_paginates(make_doc, people, login):
    body = "\n\n".join(f"## 第{i}节\n\n" + "党建质量管理体系文件正文。" * 40 for i in range(30))
    v = make_doc(content=body).latest_version
    data = login(people.author).get(url("export_version_pdf", v.pk)).content
    assert page_count(data) > 5
    assert "第29节" in pdf_text(data)
