"""The organisation tree, people, posts, membership history and role assignments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from treebeard.mp_tree import MP_Node, MP_NodeManager, MP_NodeQuerySet

from pbqms.core.models import VersionedModel
from pbqms.core.roles import Role
from pbqms.core.scope import ScopedQuerySet


class OrganizationQuerySet(ScopedQuerySet, MP_NodeQuerySet):
    def active(self):
        return self.filter(dissolved_on__isnull=True)


class OrganizationManager(MP_NodeManager):
    def get_queryset(self):
        return OrganizationQuerySet(self.model, using=self._db).order_by("path")

    def visible_to(self, user, perm=None):
        return self.get_queryset().visible_to(user, perm)

    def active(self):
        return self.get_queryset().active()


class Organization(MP_Node, VersionedModel):
    """A party organisation (党组织). The tree is a materialised path (django-treebeard):
    the subtree of a unit is one indexed ``path__startswith`` query."""

    class Kind(models.TextChoices):
        COMMITTEE = "committee", _("Party committee")  # 党委
        GENERAL_BRANCH = "general_branch", _("General party branch")  # 党总支
        BRANCH = "branch", _("Party branch")  # 党支部
        JOINT_BRANCH = "joint_branch", _("Joint party branch")  # 联合党支部
        GROUP = "group", _("Party group")  # 党小组

    # which kinds may sit under which (党委 → 党总支 → 党支部 → 党小组; 党委 under 党委)
    ALLOWED_CHILDREN = {
        Kind.COMMITTEE: {Kind.COMMITTEE, Kind.GENERAL_BRANCH, Kind.BRANCH, Kind.JOINT_BRANCH},
        Kind.GENERAL_BRANCH: {Kind.BRANCH, Kind.JOINT_BRANCH},
        Kind.BRANCH: {Kind.GROUP},
        Kind.JOINT_BRANCH: {Kind.GROUP},
        Kind.GROUP: set(),
    }
    DEFAULT_TERM_YEARS = {
        Kind.COMMITTEE: 5,
        Kind.GENERAL_BRANCH: 3,
        Kind.BRANCH: 3,
        Kind.JOINT_BRANCH: 3,
        Kind.GROUP: None,
    }

    name = models.CharField(_("name"), max_length=200)
    short_name = models.CharField(_("short name"), max_length=60, blank=True)
    code = models.CharField(
        _("code"),
        max_length=40,
        unique=True,
        help_text=_("Unique unit code; left empty, the next number is assigned."),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    founded_on = models.DateField(_("founded on"), null=True, blank=True)
    dissolved_on = models.DateField(_("dissolved on"), null=True, blank=True, db_index=True)
    dissolution_reason = models.TextField(_("dissolution reason"), blank=True)
    term_years = models.PositiveSmallIntegerField(
        _("term (years)"),
        null=True,
        blank=True,
        help_text=_("Committees 5 years; general branches and branches 3 years."),
    )
    term_started_on = models.DateField(_("current term started on"), null=True, blank=True)

    org_scope_field = "self"
    changelog_exclude = frozenset({"numchild", "updated_at", "created_at"})

    objects = OrganizationManager()

    class Meta:
        verbose_name = _("party organisation")
        verbose_name_plural = _("party organisations")
        permissions = [
            ("move_organization", "Can move organisation"),
            ("dissolve_organization", "Can dissolve organisation"),
            ("import_data", "Can import units and people"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_dissolved(self) -> bool:
        return self.dissolved_on is not None and self.dissolved_on <= timezone.localdate()

    @property
    def term_ends_on(self):
        if not (self.term_started_on and self.term_years):
            return None
        try:
            return self.term_started_on.replace(year=self.term_started_on.year + self.term_years)
        except ValueError:  # 29 February
            return self.term_started_on.replace(
                year=self.term_started_on.year + self.term_years, day=28
            )


class Person(VersionedModel):
    """A person in a unit: party member, probationary member, activist or non-member."""

    class Gender(models.TextChoices):
        MALE = "M", _("Male")
        FEMALE = "F", _("Female")

    class MemberStatus(models.TextChoices):
        FULL = "full", _("Full party member")  # 正式党员
        PROBATIONARY = "probationary", _("Probationary party member")  # 预备党员
        CANDIDATE = "candidate", _("Development candidate")  # 发展对象
        ACTIVIST = "activist", _("Party membership activist")  # 入党积极分子
        MASSES = "masses", _("Non-party")  # 群众

    PARTY_STATUSES = frozenset({MemberStatus.FULL, MemberStatus.PROBATIONARY})

    name = models.CharField(pgettext_lazy("person", "name"), max_length=60, db_index=True)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices)
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True)
    member_status = models.CharField(
        _("member status"), max_length=16, choices=MemberStatus.choices, db_index=True
    )
    joined_on = models.DateField(
        _("date joined the party"),
        null=True,
        blank=True,
        help_text=_("For full and probationary members: the date admitted as probationary member."),
    )
    probation_until = models.DateField(_("probation ends on"), null=True, blank=True)
    org = models.ForeignKey(
        Organization,
        verbose_name=_("unit"),
        on_delete=models.PROTECT,
        related_name="people",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="person",
    )

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["org_id", "name", "id"]
        permissions = [
            ("transfer_person", "Can transfer a person to another unit"),
            ("export_person", "Can export people"),
        ]
        indexes = [models.Index(fields=["org", "name"], name="person_org_name")]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def scope_extra_q(user, perm: str) -> Q | None:
        """Everyone may see their own person record. Returns a filter only when that record
        lies outside the units the user's grants already cover (else ``None``)."""
        if perm != "orgs.view_person" or user is None or not user.is_authenticated:
            return None
        from pbqms.core import scope

        own = getattr(user, "_pbqms_own_person", None)
        if own is None:
            row = (
                Person.objects.filter(user_id=user.pk)
                .values_list("pk", "org_id", "org__path")
                .first()
            )
            own = user._pbqms_own_person = row or ()
        if not own:
            return None
        pk, org_id, path = own
        for grant in scope.grants_for(user, perm):
            if (grant.subtree and path.startswith(grant.path)) or grant.org_id == org_id:
                return None
        return Q(pk=pk)

    @property
    def masked_phone(self) -> str:
        if len(self.phone) < 7:
            return "*" * len(self.phone)
        return self.phone[:3] + "****" + self.phone[-4:]

    def current_posts(self):
        return [p for p in self.posts.all() if p.ended_on is None]


class Post(VersionedModel):
    """A post held by a person in a unit (书记, 组织委员 …), with its period."""

    class Title(models.TextChoices):
        SECRETARY = "secretary", _("Secretary")  # 书记
        DEPUTY_SECRETARY = "deputy_secretary", _("Deputy secretary")  # 副书记
        ORGANIZATION = "organization", _("Organisation committee member")  # 组织委员
        PUBLICITY = "publicity", _("Publicity committee member")  # 宣传委员
        DISCIPLINE = "discipline", _("Discipline inspection committee member")  # 纪检委员
        YOUTH = "youth", _("Youth committee member")  # 青年委员
        WOMEN = "women", _("Women's committee member")  # 妇女委员
        COMMITTEE_MEMBER = "committee_member", _("Committee member")  # 委员
        GROUP_LEADER = "group_leader", _("Party group leader")  # 党小组组长

    COMMITTEE_TITLES = frozenset(
        {
            Title.SECRETARY,
            Title.DEPUTY_SECRETARY,
            Title.ORGANIZATION,
            Title.PUBLICITY,
            Title.DISCIPLINE,
            Title.YOUTH,
            Title.WOMEN,
            Title.COMMITTEE_MEMBER,
        }
    )

    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="posts"
    )
    org = models.ForeignKey(
        Organization, verbose_name=_("unit"), on_delete=models.PROTECT, related_name="posts"
    )
    title = models.CharField(_("post"), max_length=24, choices=Title.choices)
    started_on = models.DateField(_("from"), default=timezone.localdate)
    ended_on = models.DateField(_("to"), null=True, blank=True)

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        ordering = ["org_id", "title", "started_on"]

    def __str__(self) -> str:
        return f"{self.person} · {self.get_title_display()}"


class MembershipHistory(VersionedModel):
    """Where a person belonged and when: one row per stay in a unit."""

    class Reason(models.TextChoices):
        JOIN = "join", _("Joined")
        TRANSFER = "transfer", _("Transferred")
        LEAVE = "leave", _("Left")
        IMPORT = "import", _("Imported")

    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="memberships"
    )
    org = models.ForeignKey(
        Organization, verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+"
    )
    started_on = models.DateField(_("from"))
    ended_on = models.DateField(_("to"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("membership history")
        verbose_name_plural = _("membership history")
        ordering = ["person_id", "started_on", "id"]

    def __str__(self) -> str:
        return f"{self.person} @ {self.org} ({self.started_on} – {self.ended_on or ''})"


class RoleAssignment(VersionedModel):
    """A role granted to a user on a unit, optionally with its whole subtree."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="role_assignments",
    )
    role = models.CharField(_("role"), max_length=24, choices=Role.choices)
    org = models.ForeignKey(
        Organization,
        verbose_name=_("unit"),
        on_delete=models.PROTECT,
        related_name="role_assignments",
    )
    include_subtree = models.BooleanField(
        _("including subordinate units"),
        default=True,
        help_text=_("Grant the role on the unit and every unit below it."),
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        ordering = ["user_id", "role", "org_id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "org"], name="unique_role_on_unit")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} @ {self.org}"
