"""Serializers of the organisation API. They only read and validate input (types, lengths,
choices); the rules (what may sit where, dates, permissions) are in ``pbqms.orgs.services``.

Reads use the ``*Serializer`` classes; writes use the ``*InputSerializer`` ones, whose
``validated_data`` the views hand to the services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pbqms.accounts.models import User
from pbqms.core import roles
from pbqms.core.api import (
    BoundedPrimaryKeyField,
    ScopedPrimaryKeyField,
    VersionField,
    VersionRequiredMixin,
)
from pbqms.orgs.models import Organization, Person, Post, RoleAssignment
from pbqms.orgs.services import ORG_FIELDS, PERSON_FIELDS

REASON_MAX = 2000


def _no_unique_validators(fields):
    # uniqueness is a service rule (one message, one place)
    return {name: {"validators": []} for name in fields}


# ---------------------------------------------------------------- units


class OrganizationSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    parent = serializers.SerializerMethodField(
        help_text="Id of the superior unit; null for a top-level unit or when the superior "
        "unit is outside your scope."
    )
    is_dissolved = serializers.BooleanField(read_only=True)
    term_ends_on = serializers.DateField(read_only=True, allow_null=True)
    children_count = serializers.IntegerField(source="numchild", read_only=True)

    class Meta:
        model = Organization
        fields = [
            "id",
            "name",
            "short_name",
            "code",
            "kind",
            "kind_display",
            "parent",
            "depth",
            "children_count",
            "founded_on",
            "dissolved_on",
            "dissolution_reason",
            "is_dissolved",
            "term_years",
            "term_started_on",
            "term_ends_on",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_parent(self, unit: Organization) -> int | None:
        return self.context.get("parent_ids", {}).get(unit.pk)


class OrganizationInputSerializer(serializers.ModelSerializer):
    """Create a unit under ``parent`` (null: a top-level unit, system administrator only)."""

    parent = ScopedPrimaryKeyField(
        model=Organization,
        perm=roles.ORG_VIEW,
        allow_null=True,
        required=False,
        help_text="Id of the superior unit; omit or null for a top-level unit.",
    )

    class Meta:
        model = Organization
        fields = ["parent", *ORG_FIELDS]
        extra_kwargs = {
            "code": {"required": False, "allow_blank": True, "validators": []},
        }


class OrganizationUpdateSerializer(VersionRequiredMixin, serializers.ModelSerializer):
    version = VersionField()

    class Meta:
        model = Organization
        fields = [*ORG_FIELDS, "version"]
        extra_kwargs = {
            "code": {"required": False, "allow_blank": True, "validators": []},
        }


class MoveInputSerializer(serializers.Serializer):
    parent = ScopedPrimaryKeyField(
        model=Organization, perm=roles.ORG_VIEW, help_text="Id of the new superior unit."
    )
    reason = serializers.CharField(max_length=REASON_MAX, allow_blank=True, required=False)
    version = VersionField()


class DissolveInputSerializer(serializers.Serializer):
    on = serializers.DateField(help_text="The date the unit is dissolved.")
    reason = serializers.CharField(max_length=REASON_MAX, allow_blank=True)
    version = VersionField()


# ---------------------------------------------------------------- people


class PostSerializer(serializers.ModelSerializer):
    title_display = serializers.CharField(source="get_title_display", read_only=True)

    class Meta:
        model = Post
        fields = ["title", "title_display", "started_on"]
        read_only_fields = fields


class PersonSerializer(serializers.ModelSerializer):
    gender_display = serializers.CharField(source="get_gender_display", read_only=True)
    member_status_display = serializers.CharField(
        source="get_member_status_display", read_only=True
    )
    org_name = serializers.CharField(source="org.name", read_only=True)
    phone = serializers.SerializerMethodField(
        help_text="Masked (138****5678) in lists, and in details unless you may change the person."
    )
    posts = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = [
            "id",
            "name",
            "gender",
            "gender_display",
            "birth_date",
            "phone",
            "member_status",
            "member_status_display",
            "joined_on",
            "probation_until",
            "org",
            "org_name",
            "posts",
            "user",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_phone(self, person: Person) -> str:
        show_full = self.context.get("show_full_phone")
        if show_full is not None and show_full(person):
            return person.phone
        return person.masked_phone

    @extend_schema_field(PostSerializer(many=True))
    def get_posts(self, person: Person):
        posts = getattr(person, "api_current_posts", None)
        if posts is None:
            posts = person.posts.filter(ended_on__isnull=True).order_by("title")
        return PostSerializer(posts, many=True).data


class PostTitlesField(serializers.ListField):
    child = serializers.ChoiceField(choices=Post.Title.choices)

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", len(Post.Title.choices))
        kwargs.setdefault(
            "help_text",
            "The person's current posts in their unit; the list replaces them (omit to keep them).",
        )
        super().__init__(**kwargs)


class PersonInputSerializer(serializers.ModelSerializer):
    org = ScopedPrimaryKeyField(model=Organization, perm=roles.ORG_VIEW)
    posts = PostTitlesField()

    class Meta:
        model = Person
        fields = ["org", *PERSON_FIELDS, "posts"]


class PersonUpdateSerializer(VersionRequiredMixin, serializers.ModelSerializer):
    posts = PostTitlesField()
    version = VersionField()

    class Meta:
        model = Person
        fields = [*PERSON_FIELDS, "posts", "version"]


class TransferInputSerializer(serializers.Serializer):
    to_org = ScopedPrimaryKeyField(
        model=Organization, perm=roles.ORG_VIEW, help_text="Id of the unit to transfer to."
    )
    on = serializers.DateField(required=False, help_text="Transfer date; default today.")
    reason = serializers.CharField(max_length=REASON_MAX, allow_blank=True)
    version = VersionField()


# ---------------------------------------------------------------- role assignments


class RoleAssignmentSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    user_display = serializers.CharField(source="user.name", read_only=True)
    role_display = serializers.CharField(source="get_role_display", read_only=True)
    org_name = serializers.CharField(source="org.name", read_only=True)

    class Meta:
        model = RoleAssignment
        fields = [
            "id",
            "user",
            "username",
            "user_display",
            "role",
            "role_display",
            "org",
            "org_name",
            "include_subtree",
            "valid_from",
            "valid_to",
            "note",
            "version",
            "created_at",
        ]
        read_only_fields = fields


class RoleAssignmentInputSerializer(serializers.ModelSerializer):
    user = BoundedPrimaryKeyField(queryset=User.objects.filter(is_active=True))
    org = ScopedPrimaryKeyField(model=Organization, perm=roles.ORG_VIEW)

    class Meta:
        model = RoleAssignment
        fields = ["user", "role", "org", "include_subtree", "valid_from", "valid_to", "note"]
        # the "one role per user and unit" rule is the service's
        validators = []
