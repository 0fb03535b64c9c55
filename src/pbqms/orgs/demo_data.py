"""The demo enterprise: a fictional state-owned energy group, its party organisations, the
name pools people are generated from, and the fixed demo accounts.

Everything here is data; ``pbqms.orgs.management.commands.demo`` turns it into rows through
the services, so the demo is change-logged like any other write. The group, its companies and
every person are invented.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from pbqms.core.roles import Role

D = datetime.date

SEED = 2026
PASSWORD = "Pbqms@demo2026"  # noqa: S105 - the documented demo password (README)
REASON = "演示数据"
ROOT_CODE = "HHJT"

# The TOTP secret of the three demo administrator accounts (base32, 20 bytes). Published
# in the README on purpose: demo mode only. ``pbqms demo_totp <username>`` prints the code.
TOTP_SECRET_BASE32 = "PBQMSDEMOTWOFACTORKEYFORADMINSQQ"  # noqa: S105


# ---------------------------------------------------------------- organisation tree

COMMITTEE = "committee"
GENERAL_BRANCH = "general_branch"
BRANCH = "branch"
JOINT_BRANCH = "joint_branch"
GROUP = "group"


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    kind: str
    short_name: str = ""
    founded_on: datetime.date | None = None
    term_started_on: datetime.date | None = None
    people: int = 0  # people in a branch (committee members + the members of its groups)
    groups: tuple[str, ...] = ()
    retired: bool = False  # a 离退休党支部: older people, all full members
    children: tuple[UnitSpec, ...] = field(default_factory=tuple)


def _branch(code, name, people, groups=(), *, kind=BRANCH, retired=False, founded, term):
    # a subsidiary's branch carries the company's short name in its full name
    prefix = {"HHJT-01": "华衡电力", "HHJT-02": "华衡新能源", "HHJT-03": "华衡工程"}
    company = prefix.get(code[:7], "")
    return UnitSpec(
        code=code,
        name=company + name,
        short_name=name if company else "",
        kind=kind,
        people=people,
        groups=tuple(groups),
        retired=retired,
        founded_on=founded,
        term_started_on=term,
    )


TREE = UnitSpec(
    code=ROOT_CODE,
    name="中国华衡能源集团有限公司党委",
    short_name="华衡集团党委",
    kind=COMMITTEE,
    founded_on=D(1998, 6, 18),
    term_started_on=D(2022, 5, 20),
    children=(
        _branch(
            "HHJT-B01",
            "集团机关第一党支部",
            14,
            ("第一党小组", "第二党小组"),
            founded=D(1998, 7, 1),
            term=D(2024, 3, 15),
        ),
        _branch(
            "HHJT-B02",
            "集团机关第二党支部",
            13,
            ("第一党小组", "第二党小组"),
            founded=D(1998, 7, 1),
            term=D(2024, 3, 15),
        ),
        _branch(
            "HHJT-B03",
            "集团离退休党支部",
            16,
            ("第一党小组", "第二党小组", "第三党小组"),
            retired=True,
            founded=D(2003, 4, 10),
            term=D(2023, 11, 8),
        ),
        UnitSpec(
            code="HHJT-01",
            name="华衡电力股份有限公司党委",
            short_name="华衡电力党委",
            kind=COMMITTEE,
            founded_on=D(2001, 9, 12),
            term_started_on=D(2021, 10, 26),
            children=(
                _branch(
                    "HHJT-01-01",
                    "机关党支部",
                    13,
                    ("综合党小组", "经营党小组"),
                    founded=D(2001, 10, 8),
                    term=D(2024, 1, 12),
                ),
                _branch(
                    "HHJT-01-02",
                    "生产技术部党支部",
                    13,
                    ("技术管理党小组", "安全环保党小组"),
                    founded=D(2001, 10, 8),
                    term=D(2023, 12, 20),
                ),
                _branch(
                    "HHJT-01-03",
                    "财务党支部",
                    9,
                    ("第一党小组",),
                    founded=D(2005, 3, 18),
                    term=D(2024, 6, 28),
                ),
                _branch(
                    "HHJT-01-04",
                    "第一发电厂运行党支部",
                    15,
                    ("运行一值党小组", "运行二值党小组", "运行三值党小组"),
                    founded=D(2002, 5, 30),
                    term=D(2023, 9, 15),
                ),
                _branch(
                    "HHJT-01-05",
                    "检修党支部",
                    12,
                    ("电气党小组", "热机党小组"),
                    founded=D(2002, 5, 30),
                    term=D(2023, 9, 15),
                ),
                _branch(
                    "HHJT-01-06",
                    "离退休党支部",
                    10,
                    ("第一党小组", "第二党小组"),
                    retired=True,
                    founded=D(2008, 11, 6),
                    term=D(2024, 11, 20),
                ),
            ),
        ),
        UnitSpec(
            code="HHJT-02",
            name="华衡新能源有限公司党委",
            short_name="华衡新能源党委",
            kind=COMMITTEE,
            founded_on=D(2012, 3, 6),
            term_started_on=D(2022, 3, 18),
            children=(
                _branch(
                    "HHJT-02-01", "机关党支部", 11, founded=D(2012, 4, 20), term=D(2024, 4, 18)
                ),
                _branch(
                    "HHJT-02-02",
                    "风电项目部党支部",
                    12,
                    ("甘肃项目党小组", "内蒙古项目党小组"),
                    founded=D(2015, 6, 1),
                    term=D(2024, 5, 30),
                ),
                _branch(
                    "HHJT-02-03",
                    "光伏项目部党支部",
                    10,
                    ("青海项目党小组",),
                    founded=D(2017, 8, 15),
                    term=D(2023, 8, 10),
                ),
                _branch(
                    "HHJT-02-04",
                    "运维中心党支部",
                    10,
                    founded=D(2016, 2, 26),
                    term=D(2025, 2, 21),
                ),
            ),
        ),
        UnitSpec(
            code="HHJT-03",
            name="华衡工程技术有限公司党总支",
            short_name="华衡工程党总支",
            kind=GENERAL_BRANCH,
            founded_on=D(2009, 7, 1),
            term_started_on=D(2023, 6, 28),
            children=(
                _branch("HHJT-03-01", "综合党支部", 9, founded=D(2009, 7, 20), term=D(2023, 7, 6)),
                _branch(
                    "HHJT-03-02",
                    "设计研究院党支部",
                    11,
                    ("电气设计党小组", "土建设计党小组"),
                    founded=D(2009, 7, 20),
                    term=D(2023, 7, 6),
                ),
                _branch(
                    "HHJT-03-03",
                    "海外项目部联合党支部",
                    7,
                    kind=JOINT_BRANCH,
                    founded=D(2018, 10, 9),
                    term=D(2024, 10, 12),
                ),
            ),
        ),
    ),
)

# Posts held by people sitting directly in a 党委 / 党总支 (its committee).
ROOT_COMMITTEE_POSTS = (
    "secretary",
    "deputy_secretary",
    "deputy_secretary",
    "discipline",
    "organization",
    "publicity",
    "committee_member",
)
COMMITTEE_POSTS = ("secretary", "deputy_secretary", "discipline", "organization", "publicity")
GENERAL_BRANCH_POSTS = ("secretary", "deputy_secretary", "organization", "publicity", "discipline")
# A 党支部 with 7 or more full members elects a committee (REFERENCE.md); smaller ones have a
# secretary (and a deputy when needed).
BRANCH_COMMITTEE_MIN_PEOPLE = 9
BRANCH_COMMITTEE_POSTS = ("secretary", "organization", "publicity", "discipline")
BRANCH_DEPUTY_MIN_PEOPLE = 12
SMALL_BRANCH_POSTS = ("secretary", "deputy_secretary")


# Member status of active people without a post; with the post holders (all full members)
# and the retirees, about 85 % of the demo's people are full members.
STATUS_WEIGHTS = {
    "full": 55,
    "probationary": 13,
    "activist": 12,
    "candidate": 10,
    "masses": 10,
}


# ---------------------------------------------------------------- transfers


@dataclass(frozen=True)
class TransferSpec:
    from_code: str
    to_code: str
    reason: str
    days_ago: int
    born_before: int | None = None  # a retirement transfer needs someone born early enough


TRANSFERS = (
    TransferSpec("HHJT-01-04", "HHJT-02-02", "工作调动：调入新能源公司风电项目部", 420),
    TransferSpec("HHJT-01-02", "HHJT-01-05", "岗位调整：调任检修部专工", 300),
    TransferSpec("HHJT-B01", "HHJT-01-01", "干部交流：集团机关下派挂职", 260),
    TransferSpec("HHJT-02-02", "HHJT-03-03", "派驻海外项目部", 210),
    TransferSpec("HHJT-03-02", "HHJT-03-01", "内部岗位调整", 150),
    TransferSpec("HHJT-01-01", "HHJT-B02", "借调集团机关", 120),
    TransferSpec(
        "HHJT-01-05", "HHJT-01-06", "退休，组织关系转入离退休党支部", 90, born_before=1966
    ),
    TransferSpec("HHJT-02-03", "HHJT-02-04", "项目建成投运，调入运维中心", 45),
)


# ---------------------------------------------------------------- names

# Common surnames, roughly in order of frequency; earlier ones are drawn more often.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛")


# Given-name characters by generation and gender (names people born then commonly have).
def _pairs(text: str) -> tuple[str, ...]:
    return tuple(text[i : i + 2] for i in range(0, len(text), 2))


GIVEN_NAMES_OLD = {
    "M": _pairs(
        "建国国庆卫东建华志刚德明永生振华国强学军长江红旗树林宝山福生"
        "金海洪涛德胜庆丰国华光明守义春生立新跃进世杰连生广田"
    ),
    "F": _pairs(
        "秀英桂兰玉珍淑珍凤英秀兰桂芳玉兰素芬冬梅秀珍丽华红梅淑英美华"
        "金凤翠兰爱华雪梅桂英春燕玉梅淑华巧云月娥"
    ),
}
CHARS_MIDDLE = {
    "M": "伟强磊军勇杰涛斌超明刚平辉鹏华飞波宁凯健俊峰建国志海东林旭阳毅彬坤龙振兴成晓永德春庆宏立"
    "新云",
    "F": "芳娜敏静丽艳娟霞秀玲英华红燕萍雪琳婷慧颖倩洁晶莉梅丹蕾欣怡佳雯君玉兰凤青素",
}
CHARS_YOUNG = {
    "M": "浩宇博文晨轩铭睿泽昊翔嘉子豪俊凯鑫帆航瑞哲逸辰阳晟煜涵琦楷鹏程思远",
    "F": "欣怡佳雯悦薇琪璐瑶楠岚茜月露梦涵诗雨思语晨曦可馨婉清宁若汐一",
}


# ---------------------------------------------------------------- demo accounts


@dataclass(frozen=True)
class AccountSpec:
    username: str
    display_name: str  # empty: the linked person's name
    role: str
    unit_code: str
    link: str = ""  # how the linked person is found (see the demo command)
    totp: bool = False


ACCOUNTS = (
    AccountSpec("admin", "系统管理员", Role.SYSTEM_ADMIN, ROOT_CODE, totp=True),
    AccountSpec("secadmin", "安全管理员", Role.SECURITY_ADMIN, ROOT_CODE, totp=True),
    AccountSpec("auditadmin", "审计管理员", Role.AUDIT_ADMIN, ROOT_CODE, totp=True),
    AccountSpec("dangwei", "", Role.PARTY_ADMIN, ROOT_CODE, link="deputy_secretary@HHJT"),
    AccountSpec("zhibu1", "", Role.BRANCH_SECRETARY, "HHJT-01-02", link="secretary@HHJT-01-02"),
    AccountSpec("zhibu2", "", Role.BRANCH_SECRETARY, "HHJT-02-02", link="secretary@HHJT-02-02"),
    AccountSpec("member1", "", Role.MEMBER, "HHJT-01-02", link="member@HHJT-01-02"),
    AccountSpec("auditor1", "", Role.INTERNAL_AUDITOR, ROOT_CODE, link="member@HHJT-B01"),
    AccountSpec("expert1", "外部专家 孙立群", Role.EXTERNAL_EXPERT, ROOT_CODE),
)
