"""The Simplified Chinese catalogue: complete, compiled, up to date with the source, and used.

The catalogue is ``src/pbqms/locale/zh_Hans/LC_MESSAGES/django.po`` (+ the compiled
``django.mo``, both committed); ``make messages`` re-extracts and compiles it.
"""

from __future__ import annotations

import ast
import gettext
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

SRC = Path(settings.BASE_DIR)  # src/pbqms
LC_MESSAGES = SRC / "locale" / "zh_Hans" / "LC_MESSAGES"
PO = LC_MESSAGES / "django.po"
MO = LC_MESSAGES / "django.mo"


# --- a small .po reader (the project has no PO library, and needs none) -------------------


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    refs: list[str] = field(default_factory=list)
    line: int = 0

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(s.strip() for s in self.msgstr.values())

    @property
    def where(self) -> str:
        return f"{self.msgid!r} ({', '.join(self.refs[:2]) or f'line {self.line}'})"


_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$')


def read_po(path: Path) -> list[Entry]:
    """Every entry of ``path`` except the header and obsolete (``#~``) entries."""
    entries: list[Entry] = []
    cur: Entry | None = None
    target: tuple[str, int] | None = None

    def close():
        nonlocal cur
        if cur is not None and (cur.msgid or cur.msgctxt is not None):
            entries.append(cur)
        cur = None

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            close()
            continue
        if line.startswith("#"):
            if cur is not None and target is not None:
                close()
            if cur is None:
                cur, target = Entry(line=lineno), None
            if line.startswith("#,"):
                cur.flags.update(f.strip() for f in line[2:].split(","))
            elif line.startswith("#:"):
                cur.refs.extend(line[2:].split())
            continue
        if cur is None:
            cur, target = Entry(line=lineno), None
        m = _KEYWORD.match(line)
        if m:
            keyword, index, value = m.group(1), m.group(2), ast.literal_eval(m.group(3))
            if keyword.startswith("msgstr"):
                target = ("msgstr", int(index or 0))
                cur.msgstr[target[1]] = value
            else:
                target = (keyword, 0)
                setattr(cur, keyword, value)
        elif line.startswith('"') and target is not None:
            value = ast.literal_eval(line)
            if target[0] == "msgstr":
                cur.msgstr[target[1]] += value
            else:
                setattr(cur, target[0], getattr(cur, target[0]) + value)
        else:
            raise AssertionError(f"{path}:{lineno}: cannot read {raw!r}")
    close()
    return entries


@pytest.fixture(scope="module")
def catalogue() -> list[Entry]:
    assert PO.is_file(), f"{PO} is missing: run `make messages`"
    entries = read_po(PO)
    assert len(entries) > 500, "the catalogue looks truncated"
    return entries


# --- (a) complete: every msgid translated, nothing fuzzy ----------------------------------


def test_header_declares_utf8_and_one_plural_form():
    header = PO.read_text(encoding="utf-8").split("\n\n", 1)[0]
    assert "charset=UTF-8" in header
    assert "Plural-Forms: nplurals=1; plural=0;" in header
    assert "#, fuzzy" not in header


def test_every_message_is_translated_and_none_is_fuzzy(catalogue):
    untranslated = [e.where for e in catalogue if not e.translated]
    fuzzy = [e.where for e in catalogue if "fuzzy" in e.flags]
    assert not untranslated, "untranslated: " + "; ".join(untranslated)
    assert not fuzzy, "fuzzy (check, then remove the flag): " + "; ".join(fuzzy)


def test_plural_entries_have_exactly_one_form(catalogue):
    wrong = [e.where for e in catalogue if e.msgid_plural is not None and sorted(e.msgstr) != [0]]
    assert not wrong


_PRINTF = re.compile(r"%(?:\([a-zA-Z_]\w*\))?[-#0 +]*\d*(?:\.\d+)?[sdifr%]")
_BRACES = re.compile(r"\{[a-z_]+(?::[0-9a-z.]+)?\}")


def _placeholders(text: str) -> list[str]:
    return sorted(p for p in _PRINTF.findall(text) if p != "%%") + sorted(_BRACES.findall(text))


def test_placeholders_are_kept(catalogue):
    """%(name)s, %d, %s and {name} must survive translation unchanged (a lost or renamed
    placeholder raises KeyError or shows raw text at run time)."""
    wrong = []
    for e in catalogue:
        for index, text in e.msgstr.items():
            source = e.msgid if index == 0 or e.msgid_plural is None else e.msgid_plural
            expected = _placeholders(source)
            if e.msgid_plural is not None:
                # one Chinese form serves singular and plural: it may use either's names
                expected = sorted(set(_placeholders(e.msgid) + _placeholders(e.msgid_plural)))
                got = sorted(set(_placeholders(text)))
            else:
                got = _placeholders(text)
            if got != expected:
                wrong.append(f"{e.where}: {got} != {expected}")
    assert not wrong, "\n".join(wrong)


def test_translations_are_chinese(catalogue):
    """A msgstr copied from the msgid (or left in English) is an untranslated string in
    disguise. Messages that are only symbols, names or codes are exempt."""
    han = re.compile(r"[\u4e00-\u9fff]")
    latin_word = re.compile(r"[A-Za-z]{3,}")
    wrong = [
        e.where
        for e in catalogue
        if latin_word.search(e.msgid) and not any(han.search(s) for s in e.msgstr.values())
    ]
    assert not wrong, "; ".join(wrong)


# The glossary (design/REFERENCE.md and the i18n brief): these terms are translated the same
# way everywhere.
GLOSSARY = {
    "Party committee": "党委",
    "General party branch": "党总支",
    "Party branch": "党支部",
    "Joint party branch": "联合党支部",
    "Party group": "党小组",
    "Full party member": "正式党员",
    "Probationary party member": "预备党员",
    "Development candidate": "发展对象",
    "Party membership activist": "入党积极分子",
    "Non-party": "群众",
    "Secretary": "书记",
    "Deputy secretary": "副书记",
    "Organisation committee member": "组织委员",
    "Publicity committee member": "宣传委员",
    "Discipline inspection committee member": "纪检委员",
    "Party group leader": "党小组组长",
    "Change log": "变更日志",
    "Role assignments": "角色授权",
    "Organisation tree": "组织树",
    "People": "人员",
    "Workbench": "工作台",
    "System building": "体系建设",
    "System documents": "体系文件",
    "Plans and records": "计划与记录",
    "Check and improve": "检查与改进",
    "Organisation and people": "组织与人员",
    "System": "系统",
    "System overview": "体系概况",
    "Policy and objectives": "方针目标",
    "Processes": "过程管理",
    "Requirements": "要求与规定",
    "Document tree": "文件树",
    "Controlled document list": "受控文件清单",
    "My document tasks": "我的待办",
    "Periodic review": "定期评审",
    "Work plans": "工作计划",
    "Records": "记录",
    "Calendar": "日历",
    "Conformity board": "符合性看板",
    "Internal audits": "内部审核",
    "Internal auditors": "内审员队伍",
    "Nonconformities": "不符合项",
    "Corrective actions": "纠正措施",
    "Management review": "管理评审",
    "Security settings": "安全设置",
    "User accounts": "用户账号",
    "Party-Building QMS": "党建质量管理体系",
    "Party-Building Quality Management System": "党建质量管理体系",
    "System administrator": "系统管理员",
    "Security administrator": "安全管理员",
    "Audit administrator": "审计管理员",
    "Party committee administrator / management representative": "党委管理员/管理者代表",
    "Branch secretary": "支部书记",
    "Party affairs worker": "党务工作者",
    "Party member": "党员",
    "Internal auditor": "内审员",
    "External expert": "外部专家",
    "soon": "即将上线",
}


def test_glossary_terms(catalogue):
    by_id = {e.msgid: e.msgstr.get(0) for e in catalogue if e.msgctxt is None}
    present = {k: v for k, v in GLOSSARY.items() if k in by_id}
    # the menu, roles and organisation kinds exist from the foundation on
    assert len(present) >= 50, sorted(set(GLOSSARY) - set(present))
    wrong = {k: (by_id[k], v) for k, v in present.items() if by_id[k] != v}
    assert not wrong, wrong
    demo = [e for e in catalogue if e.msgid.startswith("Demo mode")]
    assert demo and all(e.msgstr[0].startswith("演示模式") for e in demo)


# --- (b) the compiled .mo is the .po ------------------------------------------------------


def test_compiled_catalogue_matches_the_po(catalogue):
    assert MO.is_file(), f"{MO} is missing: run `make messages`"
    with MO.open("rb") as fh:
        mo = gettext.GNUTranslations(fh)
    assert mo.info().get("plural-forms", "").startswith("nplurals=1")
    stale = []
    for e in catalogue:
        if e.msgid_plural is not None:
            got = (
                mo.npgettext(e.msgctxt, e.msgid, e.msgid_plural, 2)
                if e.msgctxt is not None
                else mo.ngettext(e.msgid, e.msgid_plural, 2)
            )
        elif e.msgctxt is not None:
            got = mo.pgettext(e.msgctxt, e.msgid)
        else:
            got = mo.gettext(e.msgid)
        if got != e.msgstr[0]:
            stale.append(f"{e.where}: .mo has {got!r}, .po has {e.msgstr[0]!r}")
    assert not stale, "the .mo is stale: run `make messages`\n" + "\n".join(stale[:20])
    # nothing in the .mo that the .po no longer has (the header counts once)
    assert len(mo._catalog) - 1 <= len(catalogue) + sum(1 for e in catalogue if e.msgid_plural)


# --- (c) every string in the source is in the catalogue -----------------------------------


MAKEMESSAGES = [sys.executable, "-m", "django", "makemessages", "-l", "zh_Hans", "--no-obsolete"]
MAKEMESSAGES += ["-i", "static/*"]  # as `make messages`


@pytest.mark.skipif(
    shutil.which("xgettext") is None or shutil.which("msgmerge") is None,
    reason="gettext tools (xgettext, msgmerge) are not installed",
)
def test_catalogue_covers_every_string_in_the_source(tmp_path):
    """Extract the messages again, into a copy of the source tree (so the committed catalogue
    is never touched), and require that nothing new comes out untranslated or fuzzy."""
    copy = tmp_path / "src" / "pbqms"
    skip = shutil.ignore_patterns("static", "__pycache__", "*.pyc", "*.mo")
    shutil.copytree(SRC, copy, ignore=skip)
    env = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": str(tmp_path / "src"),
        "DJANGO_SETTINGS_MODULE": "pbqms.settings",
        "PBQMS_VAR_DIR": str(tmp_path / "var"),
        "LANG": "C.UTF-8",
    }
    run = subprocess.run(
        MAKEMESSAGES,
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    fresh = copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    assert fresh.read_text(encoding="utf-8") != "", "makemessages wrote nothing"
    # it really read our sources from the copy
    assert str(tmp_path) not in str(SRC)
    entries = read_po(fresh)
    new = [e.where for e in entries if "fuzzy" in e.flags or not e.translated]
    hint = "strings missing from the catalogue (run `make messages`, translate them):\n"
    assert not new, hint + "\n".join(new)


# --- (d) the catalogue is what users see -------------------------------------------------


@pytest.mark.django_db
def test_login_page_is_chinese_by_default_and_english_on_request(client):
    url = reverse("accounts:login")
    zh = client.get(url).content.decode()
    assert "登录" in zh and "党建质量管理体系" in zh
    assert "Sign in" not in zh
    en = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Sign in" in en and "登录" not in en
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "Sign in" in client.get(url).content.decode()


def test_home_page_follows_the_language(users, login):
    client = login(users.secretary_a1)
    zh = client.get(reverse("core:home")).content.decode()
    for text in ("工作台", "组织与人员", "组织树", "支部书记", "退出登录"):
        assert text in zh, text
    assert "Workbench" not in zh
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    en = client.get(reverse("core:home")).content.decode()
    assert "Workbench" in en and "Organisation tree" in en
    assert "工作台" not in en
    en = client.get(reverse("core:home"), HTTP_ACCEPT_LANGUAGE="en")
    assert "Workbench" in en.content.decode()


def test_model_labels_and_choices_are_translated():
    from pbqms.orgs.models import Organization, Person

    with translation.override("zh-hans"):
        assert str(Organization._meta.verbose_name) == "党组织"
        assert str(Organization.Kind.JOINT_BRANCH.label) == "联合党支部"
        assert str(Person._meta.get_field("birth_date").verbose_name) == "出生日期"
    with translation.override("en"):
        assert str(Organization.Kind.JOINT_BRANCH.label) == "Joint party branch"
