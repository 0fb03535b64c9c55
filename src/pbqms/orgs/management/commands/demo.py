"""``pbqms demo``: load the demo enterprise (demo mode only).

The tree, people, posts, transfers and role assignments are written through
``pbqms.orgs.services`` inside ``action_context(source="command", reason="演示数据")``, so the
change log records them like any other write. Bootstrapping, honestly stated: the top-level
unit is added with ``Organization.objects.add_root`` and the security administrator's own
role is created directly (nobody holds a role yet who could grant it, and no one may grant an
administrator role to themselves); both still go through the change-log signal. After that,
``secadmin`` grants every other role with ``assign_role`` and ``admin`` (系统管理员) builds
the organisation.

Running it again changes nothing but the demo accounts: they are put back as documented
(password, no forced change, TOTP secret, lockouts cleared).
"""

from __future__ import annotations

import datetime
import random
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from pbqms.accounts.models import User
from pbqms.core import changelog, scope
from pbqms.core.context import action_context
from pbqms.core.roles import Role
from pbqms.orgs import demo_data as demo
from pbqms.orgs import services
from pbqms.orgs.models import Organization, Person, Post, RoleAssignment

ROLE_ZH = {
    Role.PARTY_ADMIN: "党委管理员/管理者代表",
    Role.BRANCH_SECRETARY: "支部书记",
    Role.PARTY_WORKER: "党务工作者",
    Role.MEMBER: "党员",
    Role.INTERNAL_AUDITOR: "内审员",
    Role.EXTERNAL_EXPERT: "外部专家",
    Role.SYSTEM_ADMIN: "系统管理员",
    Role.SECURITY_ADMIN: "安全管理员",
    Role.AUDIT_ADMIN: "审计管理员",
}


BRANCH_KINDS = (Organization.Kind.BRANCH, Organization.Kind.JOINT_BRANCH)


def _add_years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class PeopleGenerator:
    """Chinese names, birth and joining dates, phones: drawn from a fixed seed."""

    PHONE_PREFIXES = ("138", "139", "135", "136", "137", "150", "151", "152", "158", "159")
    PHONE_PREFIXES += ("186", "187", "188", "189", "133", "153", "180", "181", "177", "199")

    def __init__(self, seed: int, today: datetime.date):
        self.rng = random.Random(seed)
        self.today = today
        self.used: set[str] = set()

    def _surname(self) -> str:
        if self.rng.random() < 0.01:
            return self.rng.choice(demo.COMPOUND_SURNAMES)
        # earlier surnames are more frequent: a triangular draw toward the start
        n = len(demo.SURNAMES)
        return demo.SURNAMES[int(self.rng.triangular(0, n, 0)) % n]

    def _given(self, gender: str, birth_year: int) -> str:
        rng = self.rng
        if birth_year < 1965 and rng.random() < 0.7:
            return rng.choice(demo.GIVEN_NAMES_OLD[gender])
        pool = demo.CHARS_YOUNG[gender] if birth_year >= 1985 else demo.CHARS_MIDDLE[gender]
        if rng.random() < 0.3:
            return rng.choice(pool)
        return rng.choice(pool) + rng.choice(pool)

    def name(self, gender: str, birth_year: int) -> str:
        for _ in range(200):
            candidate = self._surname() + self._given(gender, birth_year)
            if candidate not in self.used and len(set(candidate)) == len(candidate):
                self.used.add(candidate)
                return candidate
        raise RuntimeError("name pool exhausted")

    def _date_in_year(self, year: int) -> datetime.date:
        return datetime.date(year, self.rng.randint(1, 12), self.rng.randint(1, 28))

    def person(
        self,
        *,
        retired: bool = False,
        status: str | None = None,
        joined_before: datetime.date | None = None,
        born_before: int | None = None,
    ) -> dict:
        rng = self.rng
        gender = "M" if rng.random() < (0.55 if retired else 0.63) else "F"
        if retired:
            year = rng.randint(1938, 1964)
        elif born_before:
            year = rng.randint(born_before - 4, born_before - 1)
        else:
            year = int(rng.triangular(1966, 2001, 1986))
        birth = self._date_in_year(year)
        if status is None:
            # people without a post: most are full members, the rest the branch's
            # probationary members, activists, development candidates and a few non-members
            status = Person.MemberStatus.FULL
            if not retired:
                status = rng.choices(
                    list(demo.STATUS_WEIGHTS), weights=list(demo.STATUS_WEIGHTS.values())
                )[0]
        adult = _add_years(birth, 18)
        joined = probation = None
        if status == Person.MemberStatus.FULL:
            latest = min(_add_years(self.today, -2), joined_before or self.today)
            earliest = _add_years(birth, 20)
            if latest < adult:
                status = Person.MemberStatus.ACTIVIST
            else:
                earliest = min(earliest, latest)
                latest_typical = min(latest, _add_years(birth, 38))
                span = max((latest_typical - earliest).days, 0)
                joined = earliest + datetime.timedelta(days=rng.randint(0, span))
        elif status == Person.MemberStatus.PROBATIONARY:
            joined = self.today - datetime.timedelta(days=rng.randint(20, 330))
            joined = max(joined, adult)
            probation = _add_years(joined, 1)
        return {
            "name": self.name(gender, year),
            "gender": gender,
            "birth_date": birth,
            "phone": rng.choice(self.PHONE_PREFIXES) + f"{rng.randint(0, 99_999_999):08d}",
            "member_status": status,
            "joined_on": joined,
            "probation_until": probation,
        }


class Command(BaseCommand):
    help = (
        "Load the demo enterprise group (demo mode only: PBQMS_DEMO=1). Running it again "
        "keeps the data and resets the demo accounts to their documented state."
    )

    def handle(self, *args, **options):
        if not settings.DEMO_MODE:
            raise CommandError(
                "Demo mode is off. The demo runs only with PBQMS_DEMO=1 (as `make demo` sets it) "
                "and never with production settings."
            )
        started = time.monotonic()
        with transaction.atomic(), action_context(source="command", reason=demo.REASON):
            root = Organization.objects.filter(code=demo.ROOT_CODE).first()
            if root is None:
                if Organization.objects.exists():
                    raise CommandError(
                        "This database already holds organisation data; the demo loads only "
                        "into an empty database."
                    )
                loader = DemoLoader(today=timezone.localdate())
                loader.load()
                root = loader.root
                self.stdout.write(self.style.SUCCESS("Demo enterprise loaded."))
            else:
                self.stdout.write("demo already loaded: keeping the data, checking the accounts")
            accounts = ensure_accounts(root)
        self._summary(root, accounts, time.monotonic() - started)

    def _summary(self, root, accounts, seconds: float) -> None:
        units = Organization.objects.filter(path__startswith=root.path)
        out = self.stdout.write
        out(
            f"  {units.count()} units "
            f"({units.filter(kind__in=BRANCH_KINDS).count()} 党支部, "
            f"{units.filter(kind=Organization.Kind.GROUP).count()} 党小组), "
            f"{Person.objects.filter(org__path__startswith=root.path).count()} people, "
            f"{Post.objects.filter(ended_on__isnull=True).count()} current posts "
            f"({seconds:.1f} s)"
        )
        out("")
        out(f"Demo accounts (password for all: {demo.PASSWORD}):")
        for spec, user in accounts:
            unit = Organization.objects.get(code=spec.unit_code)
            out(f"  {spec.username:<11} {ROLE_ZH[spec.role]:<12} {unit.name}  ({user.name})")
        out("")
        out("admin, secadmin and auditadmin sign in with a TOTP code as well. In demo mode their")
        out(f"authenticator secret is {demo.TOTP_SECRET_BASE32} (base32), or print the current")
        out("code with:  pbqms demo_totp admin   (or: python manage.py demo_totp admin)")


class DemoLoader:
    def __init__(self, today: datetime.date):
        self.today = today
        self.people = PeopleGenerator(demo.SEED, today)
        self.units: dict[str, Organization] = {}
        self.admin: User | None = None
        self.root: Organization | None = None

    def load(self) -> None:
        spec = demo.TREE
        self.root = Organization.objects.add_root(
            {
                "name": spec.name,
                "short_name": spec.short_name,
                "code": spec.code,
                "kind": spec.kind,
                "founded_on": spec.founded_on,
                "term_started_on": spec.term_started_on,
                "term_years": Organization.DEFAULT_TERM_YEARS[spec.kind],
            }
        )
        self.units[spec.code] = self.root
        # the two accounts that can act: secadmin (grants roles) and admin (builds the tree)
        by_name = {a.username: a for a in demo.ACCOUNTS}
        secadmin = _ensure_account(by_name["secadmin"], self.root, person=None)
        self.admin = _ensure_account(by_name["admin"], self.root, person=None, granter=secadmin)
        with action_context(actor=self.admin):
            self._build_committee_people(spec, self.root)
            for child in spec.children:
                self._build(child, self.root)
            self._transfers()

    # ------------------------------------------------------------ units and people

    def _create_unit(self, spec: demo.UnitSpec, parent: Organization) -> Organization:
        unit = services.create_unit(
            actor=self.admin,
            parent=parent,
            data={
                "name": spec.name,
                "short_name": spec.short_name,
                "code": spec.code,
                "kind": spec.kind,
                "founded_on": spec.founded_on,
                "term_started_on": spec.term_started_on,
            },
        )
        self.units[spec.code] = unit
        return unit

    def _build(self, spec: demo.UnitSpec, parent: Organization) -> None:
        unit = self._create_unit(spec, parent)
        if spec.kind in (demo.COMMITTEE, demo.GENERAL_BRANCH):
            self._build_committee_people(spec, unit)
            for child in spec.children:
                self._build(child, unit)
            return
        # a 党支部: its committee sits in the branch, everyone else in a 党小组
        groups = [
            self._create_unit(
                demo.UnitSpec(
                    code=f"{spec.code}-G{i}",
                    name=name,
                    kind=demo.GROUP,
                    founded_on=spec.term_started_on,
                ),
                unit,
            )
            for i, name in enumerate(spec.groups, start=1)
        ]
        if spec.people >= demo.BRANCH_COMMITTEE_MIN_PEOPLE:
            titles = list(demo.BRANCH_COMMITTEE_POSTS)
            if spec.people >= demo.BRANCH_DEPUTY_MIN_PEOPLE:
                titles.insert(1, "deputy_secretary")
        else:
            titles = list(demo.SMALL_BRANCH_POSTS)
        term = spec.term_started_on
        for title in titles:
            self._person(unit, [title], post_from=term, retired=spec.retired)
        rest = spec.people - len(titles)
        targets = groups or [unit]
        for i in range(rest):
            target = targets[i % len(targets)]
            leader = bool(groups) and i < len(groups)
            self._person(
                target,
                ["group_leader"] if leader else None,
                post_from=term if leader else None,
                retired=spec.retired,
            )

    def _build_committee_people(self, spec: demo.UnitSpec, unit: Organization) -> None:
        if spec.code == demo.ROOT_CODE:
            titles = demo.ROOT_COMMITTEE_POSTS
        elif spec.kind == demo.GENERAL_BRANCH:
            titles = demo.GENERAL_BRANCH_POSTS
        else:
            titles = demo.COMMITTEE_POSTS
        for title in titles:
            self._person(unit, [title], post_from=spec.term_started_on)

    def _person(
        self,
        org: Organization,
        posts: list[str] | None = None,
        *,
        post_from: datetime.date | None = None,
        retired: bool = False,
        **generator_options,
    ) -> Person:
        if posts:
            generator_options["status"] = Person.MemberStatus.FULL
            generator_options["joined_before"] = _add_years(post_from or self.today, -1)
        data = self.people.person(retired=retired, **generator_options)
        person = services.create_person(actor=self.admin, org=org, data=data, posts=posts)
        if posts and post_from:
            # the services start a post today; the demo's posts began with the current term
            for post in person.posts.all():
                post.started_on = post_from
                post.save()
        return person

    def _transfers(self) -> None:
        for spec in demo.TRANSFERS:
            on = self.today - datetime.timedelta(days=spec.days_ago)
            source, target = self.units[spec.from_code], self.units[spec.to_code]
            person = self._person(
                source,
                status=Person.MemberStatus.FULL,
                joined_before=on - datetime.timedelta(days=365),
                born_before=spec.born_before,
            )
            services.transfer_person(
                actor=self.admin, person=person, to_org=target, on=on, reason=spec.reason
            )


# ---------------------------------------------------------------- accounts


def _linked_person(spec: demo.AccountSpec, user: User | None) -> Person | None:
    if not spec.link:
        return None
    if user is not None:
        current = Person.objects.filter(user=user).first()
        if current is not None:
            return current
    what, code = spec.link.split("@")
    unit = Organization.objects.get(code=code)
    if what == "member":
        return (
            Person.objects.filter(
                org__path__startswith=unit.path,
                member_status=Person.MemberStatus.FULL,
                user__isnull=True,
                posts__isnull=True,
            )
            .order_by("id")
            .first()
        )
    post = (
        Post.objects.filter(org=unit, title=what, ended_on__isnull=True, person__user__isnull=True)
        .select_related("person")
        .order_by("id")
        .first()
    )
    return post.person if post else None


def _ensure_account(
    spec: demo.AccountSpec,
    root: Organization,
    *,
    person: Person | None,
    granter: User | None = None,
) -> User:
    """Create or repair one demo account: password, flags, role, TOTP, linked person."""
    from axes.utils import reset as axes_reset
    from django_otp.plugins.otp_totp.models import TOTPDevice

    display_name = spec.display_name or (person.name if person else spec.username)
    user = User.objects.filter(username=spec.username).first()
    if user is None:
        user = User(username=spec.username, display_name=display_name)
        user.set_password(demo.PASSWORD)
        user.must_change_password = False
        user.save()
    else:
        dirty = False
        if not user.check_password(demo.PASSWORD):
            user.set_password(demo.PASSWORD)
            dirty = True
        if user.must_change_password or not user.is_active or user.password_expired():
            user.must_change_password = False
            user.is_active = True
            user.password_changed_at = timezone.now()
            dirty = True
        if dirty:
            user.save()
    axes_reset(username=spec.username)

    unit = Organization.objects.get(code=spec.unit_code) if spec.unit_code != root.code else root
    has_role = RoleAssignment.objects.filter(user=user, role=spec.role, org=unit).exists()
    if not has_role:
        if granter is None:
            # bootstrap: the first role, granted by nobody (see the module docstring)
            assignment = RoleAssignment.objects.create(
                user=user, role=spec.role, org=unit, include_subtree=True, note=demo.REASON
            )
            changelog.log_security_event(
                "permission_change",
                instance=assignment,
                details={"granted": spec.role, "org": unit.code, "user": user.username},
            )
        else:
            with action_context(actor=granter):
                services.assign_role(
                    actor=granter, user=user, role=spec.role, org=unit, note=demo.REASON
                )
        scope.clear_cache(user)

    if spec.totp:
        key = _totp_hex()
        devices = list(TOTPDevice.objects.filter(user=user).order_by("id"))
        device = next((d for d in devices if d.key == key and d.confirmed), None)
        for other in devices:
            if other is not device:
                other.delete()
        if device is None:
            TOTPDevice.objects.create(user=user, name="demo", key=key, confirmed=True)
            changelog.log_security_event("otp_setup", user=user, details={"demo": True})

    if person is not None and person.user_id != user.pk:
        person.user = user
        person.save()
    return user


def _totp_hex() -> str:
    import base64

    return base64.b32decode(demo.TOTP_SECRET_BASE32).hex()


def ensure_accounts(root: Organization) -> list[tuple[demo.AccountSpec, User]]:
    by_name = {spec.username: spec for spec in demo.ACCOUNTS}
    secadmin = _ensure_account(by_name["secadmin"], root, person=None)
    admin = _ensure_account(by_name["admin"], root, person=None, granter=secadmin)
    result = []
    with action_context(actor=admin):
        for spec in demo.ACCOUNTS:
            if spec.username in ("secadmin", "admin"):
                user = secadmin if spec.username == "secadmin" else admin
            else:
                existing = User.objects.filter(username=spec.username).first()
                person = _linked_person(spec, existing)
                user = _ensure_account(spec, root, person=person, granter=secadmin)
            result.append((spec, user))
    return result
