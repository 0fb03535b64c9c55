"""Excel (.xlsx) import and export of units and people.

The file format is fixed and Chinese (the column headings below); choices are written as
their Chinese names. Every write goes through ``pbqms.orgs.services``, so an imported row
obeys exactly the rules of the forms and the API.

Import is all-or-nothing (SECURITY.md item 16): every row is validated and created inside
one transaction; if any row fails, the transaction is rolled back and the caller gets a
row-by-row report. Uploads are checked by content (SECURITY.md item 13): size, zip
structure, unpacked size, no XML DTDs, and openpyxl must open the workbook.

Export writes people in openpyxl's write-only mode to a temporary file, so memory stays
bounded whatever the number of rows.
"""

from __future__ import annotations

import datetime
import io
import re
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import openpyxl
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, transaction
from django.http import Http404
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from openpyxl.worksheet.datavalidation import DataValidation

from pbqms.core import changelog, roles, scope
from pbqms.core.context import action_context
from pbqms.orgs import services
from pbqms.orgs.models import Organization, Person, Post

UNITS = "units"
PEOPLE = "people"
KINDS = (UNITS, PEOPLE)

DATE_FORMAT = "yyyy-mm-dd"
# rows pre-formatted (dates, text) and covered by the drop-down lists in a template
TEMPLATE_ROWS = 5000
# the unpacked workbook may be this many times the upload limit (zip bombs)
MAX_UNPACKED_FACTOR = 20
MAX_ZIP_MEMBERS = 2000
# the page lists this many errors; the downloadable report has all of them
PAGE_ERROR_LIMIT = 200
PROGRESS_EVERY = 50  # rows between two progress reports of a running import

# ---------------------------------------------------------------- the file format

# Chinese names of the choices, as written in files (the format does not follow the UI
# language: a file made in one language must import in the other).
KIND_NAMES = {
    Organization.Kind.COMMITTEE: "党委",
    Organization.Kind.GENERAL_BRANCH: "党总支",
    Organization.Kind.BRANCH: "党支部",
    Organization.Kind.JOINT_BRANCH: "联合党支部",
    Organization.Kind.GROUP: "党小组",
}
GENDER_NAMES = {Person.Gender.MALE: "男", Person.Gender.FEMALE: "女"}
STATUS_NAMES = {
    Person.MemberStatus.FULL: "正式党员",
    Person.MemberStatus.PROBATIONARY: "预备党员",
    Person.MemberStatus.CANDIDATE: "发展对象",
    Person.MemberStatus.ACTIVIST: "入党积极分子",
    Person.MemberStatus.MASSES: "群众",
}
POST_NAMES = {
    Post.Title.SECRETARY: "书记",
    Post.Title.DEPUTY_SECRETARY: "副书记",
    Post.Title.ORGANIZATION: "组织委员",
    Post.Title.PUBLICITY: "宣传委员",
    Post.Title.DISCIPLINE: "纪检委员",
    Post.Title.YOUTH: "青年委员",
    Post.Title.WOMEN: "妇女委员",
    Post.Title.COMMITTEE_MEMBER: "委员",
    Post.Title.GROUP_LEADER: "党小组组长",
}
POST_SEPARATORS = re.compile(r"[,，、;；/\s]+")


@dataclass(frozen=True)
class Column:
    key: str  # the service's field name
    header: str  # the fixed Chinese heading
    help: Any  # lazy, shown in the template's comments and 说明 sheet
    type: str = "text"  # text, date, int, choice, posts
    required: bool = False
    choices: dict[str, str] | None = None  # value -> Chinese name
    width: int = 14
    max_length: int | None = None


UNIT_COLUMNS = (
    Column(
        "parent_code",
        "上级组织编码",
        gettext_lazy(
            "Code of the unit above: an existing unit you may import into, or a unit "
            "listed in this file. Empty only for a top-level party committee."
        ),
        width=16,
        max_length=40,
    ),
    Column(
        "code",
        "组织编码",
        gettext_lazy(
            "Unique code of the unit. Left empty, the next number is assigned (other rows "
            "cannot then refer to it)."
        ),
        max_length=40,
    ),
    Column(
        "name",
        "组织名称",
        gettext_lazy("Full name of the unit."),
        required=True,
        width=28,
        max_length=200,
    ),
    Column("short_name", "简称", gettext_lazy("Short name (optional)."), max_length=60),
    Column(
        "kind",
        "组织类别",
        gettext_lazy("Choose from the list."),
        type="choice",
        required=True,
        choices=KIND_NAMES,
    ),
    Column("founded_on", "成立日期", gettext_lazy("A date such as 2020-07-01."), type="date"),
    Column(
        "term_years",
        "任期(年)",
        gettext_lazy("Whole years; empty: 5 for committees, 3 for general branches and branches."),
        type="int",
        width=10,
    ),
    Column(
        "term_started_on",
        "本届任期开始",
        gettext_lazy("Date the current term started, such as 2023-07-01."),
        type="date",
    ),
)

PERSON_COLUMNS = (
    Column("name", "姓名", gettext_lazy("Full name."), required=True, max_length=60),
    Column(
        "gender",
        "性别",
        gettext_lazy("Choose from the list."),
        type="choice",
        required=True,
        choices=GENDER_NAMES,
        width=8,
    ),
    Column("birth_date", "出生日期", gettext_lazy("A date such as 1985-03-12."), type="date"),
    Column("phone", "手机号", gettext_lazy("Digits only, 7 to 15 of them."), width=16),
    Column(
        "org_code",
        "所在组织编码",
        gettext_lazy("Code of the person's unit (see the organisation tree)."),
        required=True,
        width=16,
        max_length=40,
    ),
    Column(
        "member_status",
        "党员状态",
        gettext_lazy("Choose from the list."),
        type="choice",
        required=True,
        choices=STATUS_NAMES,
    ),
    Column(
        "joined_on",
        "入党日期",
        gettext_lazy(
            "Required for full and probationary members: the date admitted as probationary member."
        ),
        type="date",
    ),
    Column(
        "posts",
        "职务",
        format_lazy(
            gettext_lazy(
                "Posts in the unit, separated by commas, e.g. 书记,组织委员. Allowed: {allowed}."
            ),
            allowed="、".join(POST_NAMES.values()),
        ),
        type="posts",
        width=22,
    ),
)

COLUMNS = {UNITS: UNIT_COLUMNS, PEOPLE: PERSON_COLUMNS}
SHEET_TITLES = {UNITS: "组织", PEOPLE: "人员"}
TEMPLATE_FILENAMES = {UNITS: "组织导入模板.xlsx", PEOPLE: "人员导入模板.xlsx"}

# service field name -> the column its errors belong to
UNIT_ERROR_COLUMNS = {
    "parent": "上级组织编码",
    "code": "组织编码",
    "name": "组织名称",
    "short_name": "简称",
    "kind": "组织类别",
    "founded_on": "成立日期",
    "term_years": "任期(年)",
    "term_started_on": "本届任期开始",
}
PERSON_ERROR_COLUMNS = {
    "name": "姓名",
    "gender": "性别",
    "birth_date": "出生日期",
    "phone": "手机号",
    "org": "所在组织编码",
    "member_status": "党员状态",
    "joined_on": "入党日期",
    "probation_until": "入党日期",
    "posts": "职务",
}

EXPORT_HEADERS = (
    "姓名",
    "性别",
    "出生日期",
    "手机号",
    "所在组织编码",
    "所在组织",
    "党员状态",
    "入党日期",
    "职务",
)


def _normalise_header(value: Any) -> str:
    text = "" if value is None else str(value)
    text = text.replace("（", "(").replace("）", ")").replace("*", "")
    return re.sub(r"\s+", "", text)


# ---------------------------------------------------------------- results


class ImportFileError(Exception):
    """The whole file is refused (wrong type, too big, too many rows, wrong columns)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class RowError:
    row: int  # row number as Excel shows it
    column: str  # column heading, "" for the whole row
    value: str
    message: str


@dataclass
class ImportResult:
    kind: str
    filename: str
    headers: list[str]
    rows: list[tuple[int, list[Any]]]  # (excel row number, cell values)
    created: int = 0
    errors: list[RowError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def failed_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors})

    @property
    def page_errors(self) -> list[RowError]:
        return self.errors[:PAGE_ERROR_LIMIT]

    @property
    def more_errors(self) -> int:
        return max(0, len(self.errors) - PAGE_ERROR_LIMIT)


@dataclass
class ImportSummary:
    """What the result page needs of an import that ran as a background job (stored as
    JSON on the job): counts and the first errors; the rest is in the error report."""

    kind: str
    filename: str
    row_count: int
    created: int
    seconds: float
    failed_row_count: int
    error_count: int
    page_errors: list[RowError]
    report_token: str | None = None

    @property
    def ok(self) -> bool:
        return not self.error_count

    @property
    def failed_rows(self) -> range:
        return range(self.failed_row_count)

    @property
    def more_errors(self) -> int:
        return max(0, self.error_count - len(self.page_errors))

    @classmethod
    def of(cls, result: ImportResult, report_token: str | None = None) -> ImportSummary:
        return cls(
            kind=result.kind,
            filename=result.filename,
            row_count=result.row_count,
            created=result.created,
            seconds=round(result.seconds, 2),
            failed_row_count=len(result.failed_rows),
            error_count=len(result.errors),
            page_errors=list(result.page_errors),
            report_token=report_token,
        )

    def as_json(self) -> dict:
        data = dict(self.__dict__)
        data["page_errors"] = [e.__dict__ for e in self.page_errors]
        return data

    @classmethod
    def from_json(cls, data: dict) -> ImportSummary:
        data = dict(data)
        data["page_errors"] = [RowError(**e) for e in data.get("page_errors", [])]
        return cls(**data)


# ---------------------------------------------------------------- reading a workbook


def _check_archive(data: io.BytesIO, max_bytes: int) -> None:
    not_xlsx = _(
        "This is not an Excel workbook (.xlsx). Old .xls files: open them in Excel and save "
        "them as .xlsx first."
    )
    head = data.read(4)
    data.seek(0)
    if head != b"PK\x03\x04":
        raise ImportFileError(not_xlsx)
    try:
        with zipfile.ZipFile(data) as archive:
            members = archive.infolist()
            names = {m.filename for m in members}
            if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
                raise ImportFileError(not_xlsx)
            if len(members) > MAX_ZIP_MEMBERS or sum(m.file_size for m in members) > (
                max_bytes * MAX_UNPACKED_FACTOR
            ):
                raise ImportFileError(_("The workbook is too large once unpacked."))
            for member in members:
                if member.filename.startswith("/") or ".." in member.filename.split("/"):
                    raise ImportFileError(not_xlsx)
                if member.filename.endswith((".xml", ".rels")):
                    with archive.open(member) as part:
                        start = part.read(4096).upper()
                    # no DTDs: entity expansion and external entities are refused outright
                    if b"<!DOCTYPE" in start or b"<!ENTITY" in start:
                        raise ImportFileError(
                            _("The workbook contains XML features that are not allowed.")
                        )
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        ValueError,
        OSError,
        RuntimeError,  # encrypted members
        NotImplementedError,  # unknown compression
    ) as exc:
        raise ImportFileError(not_xlsx) from exc
    finally:
        data.seek(0)


def _cell_value(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def read_upload(upload, *, max_bytes: int | None = None, max_rows: int | None = None):
    """Check an uploaded file and read its first sheet.

    Returns ``(kind, headers, rows)`` where ``rows`` is a list of ``(row number, values)``
    aligned with ``headers``; raises ``ImportFileError`` with a message for the user."""
    max_bytes = max_bytes or settings.PBQMS_IMPORT_MAX_BYTES
    max_rows = max_rows or settings.PBQMS_IMPORT_MAX_ROWS
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        raise ImportFileError(
            _("The file is larger than %(max)s.") % {"max": filesizeformat(max_bytes)}
        )
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = io.BytesIO(upload.read(max_bytes + 1))
    if len(data.getvalue()) > max_bytes:
        raise ImportFileError(
            _("The file is larger than %(max)s.") % {"max": filesizeformat(max_bytes)}
        )
    if not data.getvalue():
        raise ImportFileError(_("The file is empty."))
    _check_archive(data, max_bytes)
    try:
        workbook = openpyxl.load_workbook(data, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise ImportFileError(
            _("The workbook could not be read. Open it in Excel, save it again and retry.")
        ) from exc
    try:
        return _read_sheet(workbook, max_rows)
    except ImportFileError:
        raise
    except Exception as exc:
        raise ImportFileError(
            _("The workbook could not be read. Open it in Excel, save it again and retry.")
        ) from exc
    finally:
        workbook.close()


def _read_sheet(workbook, max_rows: int):
    sheets = [ws for ws in workbook.worksheets if ws.title in SHEET_TITLES.values()]
    sheet = sheets[0] if sheets else workbook.worksheets[0]
    header_row = None
    headers: list[str] = []
    rows: list[tuple[int, list[Any]]] = []
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        values = [_cell_value(v) for v in values]
        if header_row is None:
            if any(v is not None for v in values):
                header_row = number
                headers = [_normalise_header(v) for v in values]
            elif number >= 20:
                break
            continue
        if all(v is None for v in values):
            continue
        if len(rows) >= max_rows:
            raise ImportFileError(
                _(
                    "The file has more than %(max)d data rows. Split it into several files "
                    "and import them one by one."
                )
                % {"max": max_rows}
            )
        values = (values + [None] * len(headers))[: len(headers)]
        rows.append((number, values))
    kind = _detect_kind(headers)
    missing = [c.header for c in COLUMNS[kind] if c.required and c.header not in headers]
    if missing:
        raise ImportFileError(
            _("Columns missing: %(cols)s. Use the template's headings in the first row.")
            % {"cols": "、".join(missing)}
        )
    if not rows:
        raise ImportFileError(_("The file has headings but no data rows."))
    return kind, headers, rows


def _detect_kind(headers: list[str]) -> str:
    present = set(headers)
    if "组织名称" in present or "组织类别" in present:
        return UNITS
    if "姓名" in present or "党员状态" in present:
        return PEOPLE
    raise ImportFileError(
        _(
            "The first row must hold the template's column headings. Download a template "
            "and copy your data into it."
        )
    )


# ---------------------------------------------------------------- cell parsing


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def parse_date(value: Any) -> datetime.date | None:
    """A date from a cell: a real Excel date, 2020-07-01, 2020/7/1, 2020年7月1日 or
    20200701. Raises ``ValueError`` otherwise."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 20000101 <= value <= 21001231 and float(value).is_integer():
            value = str(int(value))
        elif 10000 <= value < 100000:  # an Excel serial date (1927–2173) left unformatted
            result = from_excel(value)
            return result.date() if isinstance(result, datetime.datetime) else result
        else:
            raise ValueError(value)
    text = str(value).strip()
    text = text.split(" ")[0] if re.match(r"^\d{4}-\d{2}-\d{2} 00:00(:00)?$", text) else text
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            year, month, day = (int(g) for g in match.groups())
            return datetime.date(year, month, day)
    raise ValueError(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime | datetime.date):
        return _display(value)
    return str(value).strip()


def _choice(value: Any, names: dict[str, str]) -> str:
    text = _text(value)
    by_name = {name: key for key, name in names.items()}
    if text in by_name:
        return by_name[text]
    if text in names:  # the stored value itself (e.g. "branch") is accepted too
        return text
    raise ValueError(text)


class _Row:
    """One data row: its values by heading, parsed data and errors."""

    def __init__(self, number: int, headers: list[str], values: list[Any]):
        self.number = number
        self.cells = {h: v for h, v in zip(headers, values, strict=True) if h}
        self.errors: list[RowError] = []

    def raw(self, header: str) -> Any:
        return self.cells.get(header)

    def error(self, header: str, message: str) -> None:
        self.errors.append(RowError(self.number, header, _display(self.raw(header)), message))

    def parse(self, columns: Iterable[Column]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for column in columns:
            value = self.raw(column.header)
            if value is None:
                if column.required:
                    self.error(column.header, _("This column is required."))
                data[column.key] = None if column.type in {"date", "int"} else ""
                continue
            try:
                if column.type == "date":
                    data[column.key] = parse_date(value)
                elif column.type == "int":
                    number = float(_text(value))
                    if not number.is_integer() or not 0 < number < 100:
                        raise ValueError(value)
                    data[column.key] = int(number)
                elif column.type == "choice":
                    data[column.key] = _choice(value, column.choices or {})
                elif column.type == "posts":
                    data[column.key] = self._posts(column, value)
                else:
                    data[column.key] = _text(value)
                    if column.max_length and len(data[column.key]) > column.max_length:
                        self.error(
                            column.header,
                            _("At most %(max)d characters.") % {"max": column.max_length},
                        )
            except ValueError:
                self.error(column.header, _bad_value_message(column))
                data[column.key] = None
        return data

    def _posts(self, column: Column, value: Any) -> list[str]:
        titles = []
        unknown = []
        by_name = {name: key for key, name in POST_NAMES.items()}
        for part in POST_SEPARATORS.split(_text(value)):
            if not part:
                continue
            key = by_name.get(part) or (part if part in POST_NAMES else None)
            if key is None:
                unknown.append(part)
            elif key not in titles:
                titles.append(key)
        if unknown:
            self.error(
                column.header,
                _("Unknown post: %(posts)s. Allowed: %(allowed)s.")
                % {"posts": "、".join(unknown), "allowed": "、".join(POST_NAMES.values())},
            )
        return titles

    def has_error(self, header: str) -> bool:
        return any(e.column == header for e in self.errors)

    def service_errors(self, exc: ValidationError, columns: dict[str, str], default: str):
        """Put a service's errors on their columns; a column with an error already (from
        reading the cell) keeps only that one."""
        already = {e.column for e in self.errors}
        if hasattr(exc, "error_dict"):
            items = [(columns.get(name, default), msgs) for name, msgs in exc.message_dict.items()]
        else:
            items = [(default, exc.messages)]
        for header, messages in items:
            if header in already:
                continue
            for message in messages:
                self.error(header, message)


def _bad_value_message(column: Column) -> str:
    if column.type == "date":
        return _("Not a date. Write it as 2020-07-01.")
    if column.type == "int":
        return _("Enter a whole number of years.")
    if column.type == "choice":
        return _("Not one of the allowed values: %(values)s.") % {
            "values": "、".join((column.choices or {}).values())
        }
    return _("Invalid value.")


# ---------------------------------------------------------------- import


def _no_progress(done: int, total: int, message: str = "") -> None:
    return None


def import_workbook(upload, *, actor, filename: str, progress=_no_progress) -> ImportResult:
    """Check, validate and (if every row is good) create what ``upload`` holds.

    Raises ``ImportFileError`` when the file itself is refused; otherwise returns the
    result, whose ``errors`` is empty when everything was saved."""
    filename = _safe_filename(filename)
    started = time.monotonic()
    try:
        kind, headers, rows = read_upload(upload)
    except ImportFileError as exc:
        changelog.log_security_event(
            "import",
            user=actor,
            outcome="failure",
            details={"file": filename, "refused": exc.message},
        )
        raise
    result = ImportResult(kind=kind, filename=filename, headers=headers, rows=rows)
    details = {"file": filename, "kind": kind, "rows": len(rows)}
    with action_context(source="import", reason=f"导入: {filename}"):
        with transaction.atomic():
            if kind == UNITS:
                _import_units(result, actor, progress)
            else:
                _import_people(result, actor, progress)
            result.errors.sort(key=lambda e: (e.row, _column_index(result, e.column)))
            if result.errors:
                transaction.set_rollback(True)
            else:
                changelog.log_security_event(
                    "import", user=actor, details={**details, "created": result.created}
                )
        if result.errors:
            result.created = 0
            changelog.log_security_event(
                "import",
                user=actor,
                outcome="failure",
                details={**details, "failed_rows": len(result.failed_rows)},
            )
    result.seconds = time.monotonic() - started
    return result


def _safe_filename(name: str) -> str:
    name = re.split(r"[\\/]", name or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:120] or "upload.xlsx"


def _column_index(result: ImportResult, header: str) -> int:
    try:
        return result.headers.index(header)
    except ValueError:
        return -1


def _visible_units(actor, codes: set[str]) -> dict[str, Organization]:
    """The units with these codes that the importer can see (others do not exist)."""
    found: dict[str, Organization] = {}
    code_list = sorted(c for c in codes if c)
    for start in range(0, len(code_list), 500):
        chunk = code_list[start : start + 500]
        for unit in Organization.objects.visible_to(actor).filter(code__in=chunk):
            found[unit.code] = unit
    return found


def _check_target(row: _Row, header: str, code: str, units: dict[str, Organization], actor):
    """The existing unit a row refers to, or None after recording the row's error."""
    unit = units.get(code)
    if unit is None:
        row.error(header, _("Unit not found: no unit you can see has this code."))
        return None
    if not scope.has_perm(actor, roles.ORGS_IMPORT, unit):
        row.error(header, _("You may not import into this unit."))
        return None
    return unit


def _import_units(result: ImportResult, actor, progress=_no_progress) -> None:
    rows = [_Row(n, result.headers, values) for n, values in result.rows]
    parsed = [row.parse(UNIT_COLUMNS) for row in rows]
    # codes defined in this file (the first row using a code wins; later ones are errors)
    in_file: dict[str, int] = {}
    for index, (row, data) in enumerate(zip(rows, parsed, strict=True)):
        code = data.get("code") or ""
        if not code:
            continue
        if code in in_file:
            row.error(
                "组织编码",
                _("This code is already used on row %(row)d of this file.")
                % {"row": rows[in_file[code]].number},
            )
        else:
            in_file[code] = index
    outside = {d.get("parent_code") or "" for d in parsed} - in_file.keys()
    existing = _visible_units(actor, outside)
    created: dict[int, Organization] = {}
    for step, index in enumerate(_parents_first(rows, parsed, in_file)):
        if step % PROGRESS_EVERY == 0:
            progress(step, len(rows), _("Checking and saving rows"))
        row, data = rows[index], parsed[index]
        parent_code = data.pop("parent_code", "") or ""
        parent = None
        if parent_code in in_file:
            parent_index = in_file[parent_code]
            parent = created.get(parent_index)
            if parent is None and not row.has_error("上级组织编码"):
                row.error(
                    "上级组织编码",
                    _("The parent unit on row %(row)d has errors; fix that row first.")
                    % {"row": rows[parent_index].number},
                )
        elif parent_code:
            parent = _check_target(row, "上级组织编码", parent_code, existing, actor)
        if parent_code and parent is None:
            continue  # without its parent the row cannot be checked further
        unit = _run_service(
            row,
            lambda data=data, parent=parent: services.create_unit(
                actor=actor, parent=parent, data=data
            ),
            UNIT_ERROR_COLUMNS,
            default="组织名称",
            target="上级组织编码",
        )
        if unit is not None:
            created[index] = unit
    result.created = len(created)
    result.errors = [e for row in rows for e in row.errors]


def _run_service(row: _Row, call, columns: dict[str, str], *, default: str, target: str):
    """Run one service call for a row and put its errors on the row. A row that already has
    errors is still checked by the service (so the report lists all its problems at once;
    a column keeps only its first error); what it created is rolled back with the rest."""
    clean = not row.errors
    try:
        obj = call()
    except ValidationError as exc:
        row.service_errors(exc, columns, default)
        return None
    except PermissionDenied as exc:
        row.error(target, str(exc) or _("You may not do this in this unit."))
        return None
    except Http404:
        row.error(target, _("Unit not found: no unit you can see has this code."))
        return None
    except DatabaseError:
        row.error("", _("This row could not be saved; check its values."))
        return None
    return obj if clean else None


def _parents_first(rows: list[_Row], parsed: list[dict], in_file: dict[str, int]) -> list[int]:
    """Row indexes ordered so that a unit's parent from the same file comes before it
    (the file itself may list them in any order). Rows in a loop get an error."""
    order: list[int] = []
    state: dict[int, str] = {}  # "busy" while on the current chain, "done" after

    for start in range(len(rows)):
        chain: list[int] = []
        index: int | None = start
        while index is not None and index not in state:
            state[index] = "busy"
            chain.append(index)
            parent = in_file.get(parsed[index].get("parent_code") or "")
            if parent is not None and state.get(parent) == "busy":
                for looped in chain[chain.index(parent) :]:
                    rows[looped].error(
                        "上级组织编码", _("The parent units form a loop back to this unit.")
                    )
                break
            index = parent
        for index in reversed(chain):
            state[index] = "done"
            order.append(index)
    return order


def _existing_people(units: Iterable[Organization], names: set[str]) -> set[tuple]:
    """(unit id, name, date of birth) of the people already in these units with these names."""
    unit_ids = [u.pk for u in units]
    name_list = sorted(n for n in names if n)
    found: set[tuple] = set()
    if not unit_ids:
        return found
    for start in range(0, len(name_list), 500):
        found.update(
            Person.objects.filter(
                org_id__in=unit_ids, name__in=name_list[start : start + 500]
            ).values_list("org_id", "name", "birth_date")
        )
    return found


def _import_people(result: ImportResult, actor, progress=_no_progress) -> None:
    rows = [_Row(n, result.headers, values) for n, values in result.rows]
    parsed = [row.parse(PERSON_COLUMNS) for row in rows]
    units = _visible_units(actor, {d.get("org_code") or "" for d in parsed})
    existing = _existing_people(units.values(), {d.get("name") or "" for d in parsed})
    seen: dict[tuple, int] = {}
    created = 0
    for step, (row, data) in enumerate(zip(rows, parsed, strict=True)):
        if step % PROGRESS_EVERY == 0:
            progress(step, len(rows), _("Checking and saving rows"))
        org = None
        if data.get("org_code"):
            org = _check_target(row, "所在组织编码", data["org_code"], units, actor)
        if org is None:
            continue
        # the same file imported twice must not double the people: a person with the same
        # name and date of birth in the same unit is refused
        key = (org.pk, data.get("name"), data.get("birth_date"))
        if data.get("name") and data.get("birth_date"):
            if key in existing:
                row.error(
                    "姓名", _("This person is already in this unit (same name and date of birth).")
                )
            elif key in seen:
                row.error(
                    "姓名",
                    _("The same person (name and date of birth) is on row %(row)d too.")
                    % {"row": seen[key]},
                )
            else:
                seen[key] = row.number
        # None: a new person has no posts to end, so the service need not look them up
        posts = data.pop("posts", None) or None
        person = _run_service(
            row,
            lambda data=data, org=org, posts=posts: services.create_person(
                actor=actor, org=org, data=data, posts=posts
            ),
            PERSON_ERROR_COLUMNS,
            default="姓名",
            target="所在组织编码",
        )
        if person is not None:
            created += 1
    result.created = created
    result.errors = [e for row in rows for e in row.errors]


# ---------------------------------------------------------------- workbooks we write

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="A61B1B")
REQUIRED_FILL = PatternFill("solid", fgColor="7D1313")
ERROR_FILL = PatternFill("solid", fgColor="FDE8E8")
ERROR_FONT = Font(color="B42318")


def _workbook_bytes(workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def build_template(kind: str) -> bytes:
    """An empty import template: headings with comments, drop-down lists for the choice
    columns, date and text formats, and a 说明 sheet explaining every column."""
    columns = COLUMNS[kind]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = SHEET_TITLES[kind]
    sheet.freeze_panes = "A2"
    last_row = TEMPLATE_ROWS + 1
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        cell = sheet.cell(row=1, column=index, value=column.header)
        cell.font = HEADER_FONT
        cell.fill = REQUIRED_FILL if column.required else HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center")
        note = str(column.help)
        if column.required:
            note = _("Required. %(help)s") % {"help": note}
        cell.comment = Comment(note, "pbqms", width=260, height=110)
        sheet.column_dimensions[letter].width = column.width
        if column.type == "choice":
            validation = DataValidation(
                type="list",
                formula1='"{}"'.format(",".join((column.choices or {}).values())),
                allow_blank=not column.required,
                showErrorMessage=True,
                errorTitle=column.header,
                error=_bad_value_message(column),
            )
            validation.add(f"{letter}2:{letter}{last_row}")
            sheet.add_data_validation(validation)
        elif column.type == "date":
            sheet.column_dimensions[letter].number_format = DATE_FORMAT
            for row in range(2, 202):
                sheet.cell(row=row, column=index).number_format = DATE_FORMAT
        elif column.type == "text":
            # codes and phone numbers stay text (no 1.38E+10, no lost leading zeros)
            sheet.column_dimensions[letter].number_format = "@"
            for row in range(2, 202):
                sheet.cell(row=row, column=index).number_format = "@"
    _add_notes_sheet(workbook, kind)
    return _workbook_bytes(workbook)


def _add_notes_sheet(workbook, kind: str) -> None:
    notes = workbook.create_sheet("说明")
    notes.column_dimensions["A"].width = 18
    notes.column_dimensions["B"].width = 10
    notes.column_dimensions["C"].width = 90
    notes.append([_("How to fill in this file")])
    notes["A1"].font = Font(bold=True, size=13)
    for line in (
        _("Fill in one row per %(what)s on the first sheet, keeping its first row of headings.")
        % {"what": _("unit") if kind == UNITS else _("person")},
        _(
            "The import is all or nothing: if any row has an error, nothing is saved and a "
            "report lists every error by row and column."
        ),
        _("You can import only into units within your own scope."),
    ):
        notes.append([line])
    notes.append([])
    notes.append([_("Column"), _("Required"), _("What to enter")])
    for cell in notes[notes.max_row]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    for column in COLUMNS[kind]:
        notes.append([column.header, _("yes") if column.required else "", str(column.help)])
        notes.cell(row=notes.max_row, column=3).alignment = Alignment(wrap_text=True)
        if column.choices:
            notes.append(["", "", _("Allowed: %s") % "、".join(column.choices.values())])


def build_error_report(result: ImportResult) -> bytes:
    """The uploaded rows again with an 错误说明 column (bad cells marked), plus a sheet
    listing each error: row, column, value, message. Write-only mode: bounded memory."""
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_TITLES[result.kind])
    by_row: dict[int, list[RowError]] = {}
    for error in result.errors:
        by_row.setdefault(error.row, []).append(error)
    sheet.freeze_panes = "A2"
    headers = list(result.headers)
    sheet.append([_header_cell(sheet, h) for h in [*headers, "错误说明"]])
    for number, values in result.rows:
        errors = by_row.get(number, [])
        bad = {e.column for e in errors}
        cells = []
        for header, value in zip(headers, values, strict=True):
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, datetime.date | datetime.datetime):
                cell.number_format = DATE_FORMAT
            if header and header in bad:
                cell.fill = ERROR_FILL
                cell.font = ERROR_FONT
            cells.append(cell)
        message = "；".join(f"{e.column}: {e.message}" if e.column else e.message for e in errors)
        note = WriteOnlyCell(sheet, value=message or None)
        if message:
            note.font = ERROR_FONT
        cells.append(note)
        sheet.append(cells)
    listing = workbook.create_sheet("错误清单")
    listing.append([_header_cell(listing, h) for h in ("行号", "列", "值", "错误说明")])
    for error in result.errors:
        listing.append([error.row, error.column, error.value, error.message])
    return _workbook_bytes(workbook)


def _header_cell(sheet, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    cell.font = HEADER_FONT
    cell.fill = HEADER_FILL
    return cell


# ---------------------------------------------------------------- export


def export_people(people: Iterable[Person], *, user, out) -> int:
    """Write ``people`` (already scoped and filtered) to the binary file ``out``; return the
    number of rows. Phone numbers are written in full only where the user holds the export
    permission on the person's unit, masked elsewhere."""
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_TITLES[PEOPLE])
    sheet.freeze_panes = "A2"
    for index, width in enumerate((12, 6, 12, 15, 14, 28, 14, 12, 24), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.append([_header_cell(sheet, h) for h in EXPORT_HEADERS])
    count = 0
    for person in people:
        full_phone = scope.has_perm(user, roles.PERSON_EXPORT, person.org)
        posts = [
            POST_NAMES.get(p.title, p.title)
            for p in person.posts.all()
            if p.ended_on is None and p.org_id == person.org_id
        ]
        sheet.append(
            [
                person.name,
                GENDER_NAMES.get(person.gender, person.gender),
                _date_cell(sheet, person.birth_date),
                person.phone if full_phone else person.masked_phone,
                person.org.code,
                person.org.name,
                STATUS_NAMES.get(person.member_status, person.member_status),
                _date_cell(sheet, person.joined_on),
                ",".join(posts),
            ]
        )
        count += 1
    workbook.save(out)
    return count


def _date_cell(sheet, value: datetime.date | None):
    if value is None:
        return None
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = DATE_FORMAT
    return cell


def export_filename(prefix: str = "人员名单") -> str:
    return f"{prefix}_{timezone.localtime():%Y%m%d_%H%M}.xlsx"


def spooled_file():
    """A temporary file for an export: in memory while small, on disk beyond 8 MB."""
    return tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
