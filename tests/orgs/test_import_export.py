"""Excel import and export of units and people (issue 2; SECURITY.md items 12, 13, 16).

Every workbook here is built with openpyxl in the test; responses are opened with openpyxl."""

from __future__ import annotations

import datetime
import io
import re
import zipfile

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from pbqms.core.models import ChangeLogEntry
from pbqms.core.roles import Role
from pbqms.orgs import xlsx
from pbqms.orgs.models import MembershipHistory, Organization, Person, Post
from tests.factories import grant, make_person, make_user

UNIT_HEADERS = [
    "上级组织编码",
    "组织编码",
    "组织名称",
    "简称",
    "组织类别",
    "成立日期",
    "任期(年)",
    "本届任期开始",
]
PERSON_HEADERS = [
    "姓名",
    "性别",
    "出生日期",
    "手机号",
    "所在组织编码",
    "党员状态",
    "入党日期",
    "职务",
]


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # the users fixture hashes ten passwords; the real hasher is slow on purpose
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def workbook_bytes(headers, rows, title="Sheet") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    ws.append(headers)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(content: bytes, name: str = "data.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name, content, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )


def person_row(name, org="A1", status="正式党员", posts="", phone="13800138000", **kw):
    return [
        name,
        kw.get("gender", "女"),
        kw.get("birth", datetime.date(1985, 3, 12)),
        phone,
        org,
        status,
        kw.get("joined", datetime.date(2010, 7, 1) if status in ("正式党员", "预备党员") else None),
        posts,
    ]


def people_file(rows) -> bytes:
    return workbook_bytes(PERSON_HEADERS, rows, title="人员")


def units_file(rows) -> bytes:
    return workbook_bytes(UNIT_HEADERS, rows, title="组织")


def run_import(actor, content: bytes, name="data.xlsx"):
    return xlsx.import_workbook(upload(content, name), actor=actor, filename=name)


def errors_of(result):
    return [(e.row, e.column) for e in result.errors]


# ---------------------------------------------------------------- import logic


def test_good_units_file_creates_tree_in_any_order(users, tree):
    content = units_file(
        [
            # the group comes before its branch, the branch before its parent: order-free
            ["A9", "A9G1", "第九支部第一党小组", "", "党小组", None, None, None],
            ["NEWC", "A9", "A公司第九党支部", "九支部", "党支部", "2020-07-01", 3, "2023/7/1"],
            ["A", "NEWC", "A公司新党委", "", "党委", datetime.date(2019, 1, 1), None, None],
        ]
    )
    result = run_import(users.party_admin, content, "units.xlsx")
    assert result.ok, result.errors
    assert result.kind == xlsx.UNITS
    assert result.created == 3
    newc = Organization.objects.get(code="NEWC")
    a9 = Organization.objects.get(code="A9")
    group = Organization.objects.get(code="A9G1")
    parent_of = Organization.objects.get_parent
    assert parent_of(newc).pk == tree.sub_a.pk
    assert parent_of(a9).pk == newc.pk
    assert parent_of(group).pk == a9.pk
    assert a9.short_name == "九支部"
    assert a9.founded_on == datetime.date(2020, 7, 1)
    assert a9.term_started_on == datetime.date(2023, 7, 1)
    assert newc.term_years == 5  # the service's default for committees
    entries = ChangeLogEntry.objects.filter(object_type="orgs.organization", action="create")
    imported = entries.filter(object_id__in=[str(o.pk) for o in (newc, a9, group)])
    assert imported.count() == 3
    assert set(imported.values_list("source", flat=True)) == {"import"}
    assert set(imported.values_list("reason", flat=True)) == {"导入: units.xlsx"}
    event = ChangeLogEntry.objects.get(action="import")
    assert event.outcome == "success"
    assert event.actor_id == users.party_admin.pk
    assert event.changes["created"] == 3


def test_good_people_file(users, tree):
    content = people_file(
        [
            person_row("张三", posts="书记,组织委员"),
            person_row("李四", org="A1G1", status="入党积极分子", gender="男"),
            person_row("王五", org="B1", status="预备党员", phone=13912345678),
        ]
    )
    result = run_import(users.party_admin, content, "people.xlsx")
    assert result.ok, result.errors
    assert result.created == 3
    zhang = Person.objects.get(name="张三")
    assert zhang.org == tree.branch_a1
    assert zhang.gender == "F"
    assert zhang.member_status == Person.MemberStatus.FULL
    assert zhang.joined_on == datetime.date(2010, 7, 1)
    assert zhang.phone == "13800138000"
    assert {p.title for p in zhang.posts.all()} == {Post.Title.SECRETARY, Post.Title.ORGANIZATION}
    assert Person.objects.get(name="王五").phone == "13912345678"  # a number cell, kept exact
    assert MembershipHistory.objects.filter(person=zhang).count() == 1
    sources = set(
        ChangeLogEntry.objects.filter(
            object_type="orgs.person", action="create", object_repr__in=["张三", "李四", "王五"]
        ).values_list("source", "reason")
    )
    assert sources == {("import", "导入: people.xlsx")}


def test_three_bad_rows_among_twenty_save_nothing(users, tree):
    rows = [person_row(f"人员{i:02d}") for i in range(20)]
    rows[3] = person_row("人员03", status="党员")  # row 5: not a status
    rows[9] = person_row("人员09", birth="1985-13-40")  # row 11: not a date
    rows[16] = person_row("人员16", phone="138-0013")  # row 18: the service's phone rule
    before = Person.objects.count()
    log_before = ChangeLogEntry.objects.count()
    result = run_import(users.party_admin, people_file(rows))
    assert not result.ok
    assert result.created == 0
    assert errors_of(result) == [(5, "党员状态"), (11, "出生日期"), (18, "手机号")]
    assert result.errors[0].value == "党员"
    assert result.errors[1].value == "1985-13-40"
    assert Person.objects.count() == before
    # nothing but the failed-import event was written
    new = ChangeLogEntry.objects.order_by("id")[log_before:]
    assert [(e.action, e.outcome) for e in new] == [("import", "failure")]


def test_service_rules_apply_to_rows(users, tree):
    young = datetime.date.today().replace(year=datetime.date.today().year - 20)
    rows = [
        person_row("甲", joined=datetime.date(young.year + 10, 1, 1), birth=young),  # joined < 18
        person_row("乙", status="正式党员", joined=None),  # joining date required
        person_row("", posts="书记,队长"),  # name required; unknown post
        person_row("丙", gender="未知"),
    ]
    result = run_import(users.party_admin, people_file(rows))
    assert errors_of(result) == [
        (2, "入党日期"),
        (3, "入党日期"),
        (4, "姓名"),
        (4, "职务"),
        (5, "性别"),
    ]
    assert "队长" in result.errors[3].message
    assert not Person.objects.filter(name__in=["甲", "乙", "丙"]).exists()


def test_out_of_scope_unit_rows_say_not_found(users, tree):
    """A party administrator of B only: rows for A1 fail as "not found" (the unit's
    existence is not revealed), rows for B1 would be fine but nothing is saved."""
    admin_b = make_user("admin_b")
    grant(admin_b, Role.PARTY_ADMIN, tree.sub_b)
    rows = [person_row("乙一", org="B1"), person_row("甲一", org="A1"), person_row("无", org="ZZ")]
    result = run_import(admin_b, people_file(rows))
    assert errors_of(result) == [(3, "所在组织编码"), (4, "所在组织编码")]
    assert result.errors[0].message == result.errors[1].message  # existing or not: same answer
    assert not Person.objects.filter(name__in=["乙一", "甲一"]).exists()
    units = run_import(admin_b, units_file([["A", "AX", "新支部", "", "党支部", None, None, None]]))
    assert errors_of(units) == [(2, "上级组织编码")]
    assert units.errors[0].message == result.errors[0].message
    assert not Organization.objects.filter(code="AX").exists()


def test_units_file_errors(users, tree):
    rows = [
        ["A", "X1", "一支部", "", "党支部", None, None, None],
        ["A", "X1", "重复编码", "", "党支部", None, None, None],  # duplicate code in file
        ["A1", "X2", "支部下的支部", "", "党支部", None, None, None],  # branch under branch
        ["X4", "X3", "环一", "", "党支部", None, None, None],  # loop X3 -> X4 -> X3
        ["X3", "X4", "环二", "", "党支部", None, None, None],
        ["A", "A2", "已有编码", "", "党支部", None, None, None],  # code exists already
        ["A", "X5", "任期", "", "组织", None, "三", None],  # bad kind, bad term
        ["X6", "X7", "孙", "", "党小组", None, None, None],  # parent row X6 is bad
        ["A", "X6", "", "", "党支部", None, None, None],  # name missing
    ]
    result = run_import(users.party_admin, units_file(rows))
    assert errors_of(result) == [
        (3, "组织编码"),
        (4, "组织类别"),
        (5, "上级组织编码"),
        (6, "上级组织编码"),
        (7, "组织编码"),
        (8, "组织类别"),
        (8, "任期(年)"),
        (9, "上级组织编码"),
        (10, "组织名称"),
    ]
    assert "10" in result.errors[7].message  # points at the parent's row
    assert not Organization.objects.filter(code__startswith="X").exists()


def test_units_without_code_get_numbers_and_headers_are_tolerant(users, tree):
    headers = ["组织名称", "组织类别", "上级组织编码", "备注"]  # other order, extra column
    content = workbook_bytes(headers, [["新支部（无编码）", "党支部", "A", "随便写"]])
    result = run_import(users.party_admin, content)
    assert result.ok, result.errors
    unit = Organization.objects.get(name="新支部（无编码）")
    assert unit.code.startswith("DZZ-")


def test_same_file_twice_does_not_double_people(users, tree):
    content = people_file([person_row("重复甲"), person_row("重复乙", org="B1")])
    assert run_import(users.party_admin, content).ok
    again = run_import(users.party_admin, content)
    assert errors_of(again) == [(2, "姓名"), (3, "姓名")]
    assert Person.objects.filter(name__startswith="重复").count() == 2
    # the same person twice in one file
    twice = run_import(users.party_admin, people_file([person_row("双"), person_row("双")]))
    assert errors_of(twice) == [(3, "姓名")]
    assert "2" in twice.errors[0].message
    # same name, other birth date: a different person
    other = run_import(
        users.party_admin, people_file([person_row("重复甲", birth=datetime.date(1970, 1, 1))])
    )
    assert other.ok, other.errors


def test_fixed_error_report_imports(users, tree):
    """The downloadable report is the upload plus an error column: fix it and re-import."""
    rows = [person_row("修甲"), person_row("修乙", status="党员"), person_row("修丙")]
    result = run_import(users.party_admin, people_file(rows))
    assert errors_of(result) == [(3, "党员状态")]
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.build_error_report(result)))
    wb.worksheets[0]["F3"] = "正式党员"
    wb.worksheets[0]["G3"] = "2012-07-01"
    out = io.BytesIO()
    wb.save(out)
    again = run_import(users.party_admin, out.getvalue())
    assert again.ok, again.errors
    assert Person.objects.filter(name__startswith="修").count() == 3


# ---------------------------------------------------------------- file checks


def test_text_file_renamed_xlsx_is_refused(users):
    with pytest.raises(xlsx.ImportFileError) as exc:
        run_import(users.party_admin, "姓名,性别\n张三,男\n".encode(), "people.xlsx")
    assert ".xlsx" in exc.value.message
    event = ChangeLogEntry.objects.get(action="import")
    assert event.outcome == "failure"


def test_zip_that_is_not_a_workbook_is_refused(users):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(xlsx.ImportFileError):
        run_import(users.party_admin, buffer.getvalue())


def test_damaged_workbook_is_refused(users):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "not xml at all")
    with pytest.raises(xlsx.ImportFileError):
        run_import(users.party_admin, buffer.getvalue())


def test_workbook_with_dtd_is_refused(users):
    content = people_file([person_row("张三")])
    source = zipfile.ZipFile(io.BytesIO(content))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/workbook.xml":
                data = b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>' + data.split(b"?>", 1)[-1]
            archive.writestr(item, data)
    with pytest.raises(xlsx.ImportFileError) as exc:
        run_import(users.party_admin, buffer.getvalue())
    assert "XML" in exc.value.message


def test_too_many_rows_is_refused(users, settings):
    settings.PBQMS_IMPORT_MAX_ROWS = 5
    rows = [person_row(f"人{i}") for i in range(6)]
    with pytest.raises(xlsx.ImportFileError) as exc:
        run_import(users.party_admin, people_file(rows))
    assert "5" in exc.value.message
    assert not Person.objects.filter(name__startswith="人").exists()


def test_too_big_is_refused(users, settings):
    settings.PBQMS_IMPORT_MAX_BYTES = 1000
    with pytest.raises(xlsx.ImportFileError):
        run_import(users.party_admin, people_file([person_row("张三")]))


def test_wrong_headings_are_refused(users):
    with pytest.raises(xlsx.ImportFileError):
        run_import(users.party_admin, workbook_bytes(["a", "b"], [[1, 2]]))
    with pytest.raises(xlsx.ImportFileError) as exc:  # people file without 所在组织编码
        run_import(
            users.party_admin, workbook_bytes(["姓名", "性别", "党员状态"], [["甲", "男", "群众"]])
        )
    assert "所在组织编码" in exc.value.message
    with pytest.raises(xlsx.ImportFileError):  # headings only
        run_import(users.party_admin, people_file([]))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-07-01", datetime.date(2020, 7, 1)),
        ("2020/7/1", datetime.date(2020, 7, 1)),
        ("2020.07.01", datetime.date(2020, 7, 1)),
        ("2020年7月1日", datetime.date(2020, 7, 1)),
        ("20200701", datetime.date(2020, 7, 1)),
        (20200701, datetime.date(2020, 7, 1)),
        (44013, datetime.date(2020, 7, 1)),  # an Excel serial number
        (datetime.datetime(2020, 7, 1, 0, 0), datetime.date(2020, 7, 1)),
        (None, None),
    ],
)
def test_parse_date(value, expected):
    assert xlsx.parse_date(value) == expected


@pytest.mark.parametrize("value", ["2020-02-30", "July 1", "1985", 1985, "2020-07"])
def test_parse_date_refuses(value):
    with pytest.raises(ValueError):
        xlsx.parse_date(value)


# ---------------------------------------------------------------- workbooks we write


@pytest.mark.parametrize(
    ("kind", "headers"), [(xlsx.UNITS, UNIT_HEADERS), (xlsx.PEOPLE, PERSON_HEADERS)]
)
def test_template_has_headings_lists_and_notes(kind, headers):
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.build_template(kind)))
    sheet = wb.worksheets[0]
    assert [c.value for c in sheet[1]] == headers
    assert all(c.comment is not None for c in sheet[1])
    assert "说明" in wb.sheetnames
    lists = [dv.formula1 for dv in sheet.data_validations.dataValidation]
    if kind == xlsx.UNITS:
        assert '"党委,党总支,党支部,联合党支部,党小组"' in lists
    else:
        assert '"男,女"' in lists
        assert '"正式党员,预备党员,发展对象,入党积极分子,群众"' in lists


def test_template_round_trip_imports(users, tree):
    """A template filled in by a user imports (the 说明 sheet is ignored)."""
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.build_template(xlsx.PEOPLE)))
    wb.worksheets[0].append(person_row("模板人", posts="宣传委员"))
    out = io.BytesIO()
    wb.save(out)
    result = run_import(users.party_admin, out.getvalue())
    assert result.ok, result.errors
    assert Person.objects.filter(name="模板人").exists()


def test_error_report_workbook(users, tree):
    rows = [person_row("好"), person_row("坏", status="x"), person_row("", phone="abc")]
    result = run_import(users.party_admin, people_file(rows))
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.build_error_report(result)))
    data = wb.worksheets[0]
    assert [c.value for c in data[1]] == [*PERSON_HEADERS, "错误说明"]
    assert data.max_row == 4  # every uploaded row, so the file can be fixed and re-imported
    assert data.cell(2, 9).value is None
    assert "党员状态" in data.cell(3, 9).value
    assert "姓名" in data.cell(4, 9).value and "手机号" in data.cell(4, 9).value
    listing = wb["错误清单"]
    assert [c.value for c in listing[1]] == ["行号", "列", "值", "错误说明"]
    assert [(r[0], r[1], r[2]) for r in listing.iter_rows(min_row=2, values_only=True)] == [
        (3, "党员状态", "x"),
        (4, "姓名", None),
        (4, "手机号", "abc"),
    ]


def test_export_people_workbook(users, tree):
    make_person(tree.branch_a1, "导出人", phone="13800138000", birth_date=datetime.date(1990, 1, 2))
    people = Person.objects.select_related("org").prefetch_related("posts").order_by("name")
    out = io.BytesIO()
    count = xlsx.export_people(people, user=users.party_admin, out=out)
    assert count == people.count()
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).worksheets[0]
    assert [c.value for c in sheet[1]] == list(xlsx.EXPORT_HEADERS)
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["导出人"][3] == "13800138000"
    assert rows["导出人"][2].date() == datetime.date(1990, 1, 2)
    assert rows["导出人"][4] == "A1"
    # without the export permission, phones are masked
    out = io.BytesIO()
    xlsx.export_people(people, user=users.auditor, out=out)
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).worksheets[0]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["导出人"][3] == "138****8000"


# ---------------------------------------------------------------- views

IMPORT_URL = "/orgs/import/"
EXPORT_URL = "/orgs/people/export/"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def post_file(client, content: bytes, name="people.xlsx", htmx=True):
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(IMPORT_URL, {"file": upload(content, name)}, **extra)


def body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def open_xlsx(response):
    return openpyxl.load_workbook(io.BytesIO(body(response)))


def test_routes_reverse():
    from django.urls import reverse

    assert reverse("orgs:import") == IMPORT_URL
    assert reverse("orgs:import_template") == "/orgs/import/template/"
    assert reverse("orgs:person_export") == EXPORT_URL


def test_import_page(users, login, django_assert_max_num_queries):
    client = login(users.party_admin)
    with django_assert_max_num_queries(12):
        response = client.get(IMPORT_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="import-form"' in html
    assert "/orgs/import/template/?kind=units" in html
    assert "/orgs/import/template/?kind=people" in html
    assert 'hx-encoding="multipart/form-data"' in html
    assert "pb-when-busy" in html  # the busy indicator shown while the import runs


@pytest.mark.parametrize(
    "who", ["member_a1", "expert", "secretary_a1", "secretary_b1", "auditor", "nobody"]
)
def test_import_forbidden_without_import_permission(users, login, who):
    client = login(getattr(users, who))
    assert client.get(IMPORT_URL).status_code == 403
    response = post_file(client, people_file([person_row("越权", org="A1")]))
    assert response.status_code == 403
    assert client.get("/orgs/import/template/?kind=people").status_code == 403
    assert not Person.objects.filter(name="越权").exists()


def test_import_requires_login(client, db):
    response = client.get(IMPORT_URL)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_import_upload_success(users, tree, login):
    client = login(users.party_admin)
    rows = [person_row("上传甲"), person_row("上传乙", org="B1", status="群众", joined=None)]
    response = post_file(client, people_file(rows), name="名单.xlsx")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="import-success"' in html
    assert "名单.xlsx" in html
    assert "<html" not in html  # htmx gets only the result panel
    assert response["HX-Trigger"] == "pbqms:import-done"  # the page clears the file input
    assert Person.objects.filter(name__in=["上传甲", "上传乙"]).count() == 2
    entry = ChangeLogEntry.objects.filter(object_type="orgs.person", object_repr="上传甲").get()
    assert (entry.source, entry.reason, entry.actor_id) == (
        "import",
        "导入: 名单.xlsx",
        users.party_admin.pk,
    )
    assert entry.ip == "127.0.0.1"
    event = ChangeLogEntry.objects.get(action="import")
    assert event.changes["created"] == 2 and event.source == "import"


def test_import_upload_without_htmx_renders_the_page(users, tree, login):
    client = login(users.party_admin)
    response = post_file(client, units_file([["A", "UP1", "上传支部", "", "党支部"]]), htmx=False)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html and 'data-testid="import-success"' in html
    assert Organization.objects.filter(code="UP1").exists()


def test_import_upload_with_errors_shows_report(users, tree, login):
    client = login(users.party_admin)
    rows = [person_row(f"批量{i:02d}") for i in range(20)]
    rows[2] = person_row("批量02", gender="X")
    rows[7] = person_row("批量07", org="NOPE")
    rows[15] = person_row("批量15", joined="昨天")
    response = post_file(client, people_file(rows), name="批量.xlsx")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="import-errors"' in html
    assert html.count('data-testid="import-error-row"') == 3
    for cell in (">4<", ">9<", ">17<", "性别", "所在组织编码", "入党日期", "NOPE", "昨天"):
        assert cell in html
    assert not Person.objects.filter(name__startswith="批量").exists()
    # the report: every uploaded row again with an error column, bad rows explained
    report_url = re.search(r'href="(/orgs/import/report/[0-9a-f]+/)"', html).group(1)
    report = client.get(report_url)
    assert report.status_code == 200
    assert report["Content-Type"] == XLSX_TYPE
    assert "attachment" in report["Content-Disposition"]
    assert "filename*=utf-8''" in report["Content-Disposition"]
    wb = open_xlsx(report)
    sheet = wb.worksheets[0]
    assert sheet.max_row == 21
    marked = [r[0] for r in sheet.iter_rows(min_row=2, values_only=True) if r[-1]]
    assert marked == ["批量02", "批量07", "批量15"]
    assert [r[:2] for r in wb["错误清单"].iter_rows(min_row=2, values_only=True)] == [
        (4, "性别"),
        (9, "所在组织编码"),
        (17, "入党日期"),
    ]
    # another session (even the same role) cannot fetch it
    other = make_user("other_admin")
    grant(other, Role.PARTY_ADMIN, tree.root)
    client.logout()
    assert login(other).get(report_url).status_code == 404


@pytest.mark.parametrize(
    ("content", "name"),
    [
        ("姓名,性别\n张三,男\n".encode(), "people.xlsx"),  # a text file renamed .xlsx
        (b"PK\x03\x04 not really a zip", "people.xlsx"),
        (b"", "empty.xlsx"),
    ],
)
def test_import_upload_wrong_file_type(users, login, content, name):
    client = login(users.party_admin)
    response = post_file(client, content, name=name)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="import-file-error"' in html
    assert Person.objects.count() == 1  # only the fixture's member


def test_import_upload_zip_that_is_not_xlsx(users, login):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    response = post_file(login(users.party_admin), buffer.getvalue())
    assert 'data-testid="import-file-error"' in response.content.decode()


def test_import_upload_too_many_rows(users, login, settings):
    settings.PBQMS_IMPORT_MAX_ROWS = 10
    response = post_file(
        login(users.party_admin), people_file([person_row(f"多{i}") for i in range(11)])
    )
    assert 'data-testid="import-file-error"' in response.content.decode()
    assert not Person.objects.filter(name__startswith="多").exists()


def test_import_out_of_scope_rows_via_view(users, tree, login):
    admin_b = make_user("admin_b")
    grant(admin_b, Role.PARTY_ADMIN, tree.sub_b)
    client = login(admin_b)
    response = post_file(client, people_file([person_row("乙", org="B1"), person_row("甲")]))
    html = response.content.decode()
    assert html.count('data-testid="import-error-row"') == 1
    assert "A1" in html
    assert "A公司第一党支部" not in html  # the unit's name is not revealed
    assert not Person.objects.filter(name__in=["甲", "乙"]).exists()


@pytest.mark.parametrize(
    ("kind", "headers", "filename"),
    [("units", UNIT_HEADERS, "组织导入模板.xlsx"), ("people", PERSON_HEADERS, "人员导入模板.xlsx")],
)
def test_template_download(users, login, kind, headers, filename):
    from urllib.parse import quote

    response = login(users.party_admin).get(f"/orgs/import/template/?kind={kind}")
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX_TYPE
    assert response["Content-Disposition"].startswith("attachment")
    assert quote(filename) in response["Content-Disposition"]
    wb = open_xlsx(response)
    assert [c.value for c in wb.worksheets[0][1]] == headers
    assert "说明" in wb.sheetnames


def test_template_unknown_kind(users, login):
    assert login(users.party_admin).get("/orgs/import/template/?kind=x").status_code == 404


# ---------------------------------------------------------------- export


@pytest.fixture
def people(tree):
    made = [
        make_person(tree.branch_a1, "甲一", phone="13800000001", member_status="full"),
        make_person(tree.group_a1, "甲二", phone="13800000002", member_status="activist"),
        make_person(tree.branch_a2, "乙一", phone="13800000003", member_status="full"),
        make_person(tree.branch_b1, "丙一", phone="13800000004", member_status="masses"),
    ]
    Post.objects.create(person=made[0], org=tree.branch_a1, title=Post.Title.SECRETARY)
    return made


def exported_names(response) -> list[str]:
    sheet = open_xlsx(response).worksheets[0]
    assert [c.value for c in sheet[1]] == list(xlsx.EXPORT_HEADERS)
    return [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)]


def test_export_everything_visible(users, people, login):
    response = login(users.party_admin).get(EXPORT_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX_TYPE
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment") and "filename*=utf-8''" in disposition
    assert "%E4%BA%BA%E5%91%98" in disposition  # 人员…
    assert response["Cache-Control"] == "no-store"
    names = exported_names(response)
    assert sorted(names) == sorted(Person.objects.values_list("name", flat=True))


def test_export_secretary_gets_own_branch_only(users, people, login):
    response = login(users.secretary_a1).get(EXPORT_URL)
    assert response.status_code == 200
    sheet = open_xlsx(response).worksheets[0]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {"甲一", "甲二", "党员甲"}  # A1 and its group, nothing else
    assert rows["甲一"][3] == "13800000001"  # full phone: the secretary may export A1
    assert rows["甲一"][8] == "书记"
    assert rows["甲二"][4] == "A1G1"


def test_export_filtered_as_the_list(users, people, tree, login):
    client = login(users.party_admin)
    assert sorted(exported_names(client.get(EXPORT_URL + "?member_status=full"))) == sorted(
        ["甲一", "乙一", "党员甲"]
    )
    assert exported_names(client.get(EXPORT_URL + f"?org={tree.branch_a2.pk}")) == ["乙一"]
    assert exported_names(client.get(EXPORT_URL + "?q=甲二")) == ["甲二"]
    assert exported_names(client.get(EXPORT_URL + "?post=secretary")) == ["甲一"]
    # the list's order (by unit, then name)
    names = exported_names(client.get(EXPORT_URL + "?sort=-name"))
    assert names == sorted(names, reverse=True)


def test_export_filter_outside_scope_gives_no_rows(users, people, tree, login):
    client = login(users.secretary_a1)
    response = client.get(EXPORT_URL + f"?org={tree.branch_b1.pk}")
    assert response.status_code == 200
    assert exported_names(response) == []


def test_export_is_audited(users, people, tree, login):
    client = login(users.secretary_a1)
    client.get(EXPORT_URL + "?member_status=full&page=3")
    event = ChangeLogEntry.objects.get(action="export")
    assert event.actor_id == users.secretary_a1.pk
    assert event.outcome == "success"
    assert event.changes["rows"] == 2  # 甲一 and 党员甲
    assert event.changes["filter"] == {"member_status": "full"}
    assert event.ip == "127.0.0.1"


@pytest.mark.parametrize("who", ["member_a1", "expert", "auditor", "nobody", "audit_admin"])
def test_export_forbidden(users, people, login, who):
    response = login(getattr(users, who)).get(EXPORT_URL)
    assert response.status_code == 403
    assert not ChangeLogEntry.objects.filter(action="export").exists()


@pytest.mark.parametrize("count", [10, 300])
def test_export_query_count_is_bounded(users, tree, login, django_assert_max_num_queries, count):
    for i in range(count):
        make_person(tree.branch_a1 if i % 2 else tree.branch_b1, f"批{i:04d}")
    client = login(users.party_admin)
    with django_assert_max_num_queries(16):
        response = client.get(EXPORT_URL)
        names = exported_names(response)
    assert len(names) == count + 1
