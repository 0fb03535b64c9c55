"""Filters of the organisation API. Ids that name a unit are looked up inside the caller's
scope: a unit outside it matches nothing, exactly like a unit that does not exist."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from pbqms.core import roles
from pbqms.core.api import MAX_ID
from pbqms.orgs.filters import PersonFilterSet
from pbqms.orgs.models import Organization, RoleAssignment


def _visible_unit(request, value, perm: str = roles.ORG_VIEW) -> Organization | None:
    if value is None or value != int(value) or not 0 < value <= MAX_ID:
        return None
    user = getattr(request, "user", None)
    return Organization.objects.visible_to(user, perm).filter(pk=int(value)).first()


class OrganizationFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=Organization.Kind.choices)
    parent = django_filters.NumberFilter(method="filter_parent", label="direct children of unit id")
    within = django_filters.NumberFilter(
        method="filter_within", label="unit id: that unit and its whole subtree"
    )
    dissolved = django_filters.BooleanFilter(method="filter_dissolved", label="dissolved")
    search = django_filters.CharFilter(method="filter_search", label="name, short name or code")

    class Meta:
        model = Organization
        fields = []

    def filter_parent(self, queryset, name, value):
        if value is None:
            return queryset
        unit = _visible_unit(self.request, value)
        if unit is None:
            return queryset.none()
        return queryset.filter(path__startswith=unit.path, depth=unit.depth + 1)

    def filter_within(self, queryset, name, value):
        if value is None:
            return queryset
        unit = _visible_unit(self.request, value)
        if unit is None:
            return queryset.none()
        return queryset.filter(path__startswith=unit.path)

    def filter_dissolved(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(dissolved_on__isnull=not value)

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value) | Q(short_name__icontains=value) | Q(code__iexact=value)
        )


class PersonApiFilter(PersonFilterSet):
    """The people list's filters (shared with the UI), without the rendered options; ``org``
    includes the unit's whole subtree. ``search`` is an alias of ``q``."""

    search = django_filters.CharFilter(method="filter_q", label="name (or exact phone number)")

    class Meta(PersonFilterSet.Meta):
        fields = [*PersonFilterSet.Meta.fields, "search"]

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix, options=False)


class RoleAssignmentFilter(django_filters.FilterSet):
    user = django_filters.NumberFilter(method="filter_user", label="user id")
    role = django_filters.MultipleChoiceFilter(
        choices=RoleAssignment._meta.get_field("role").choices
    )
    org = django_filters.NumberFilter(method="filter_org", label="unit id (exactly that unit)")
    within = django_filters.NumberFilter(
        method="filter_within", label="unit id: assignments on that unit and its subtree"
    )

    class Meta:
        model = RoleAssignment
        fields = []

    def filter_user(self, queryset, name, value):
        if value is None:
            return queryset
        if value != int(value) or not 0 < value <= MAX_ID:
            return queryset.none()
        return queryset.filter(user_id=int(value))

    def filter_org(self, queryset, name, value):
        if value is None:
            return queryset
        if value != int(value) or not 0 < value <= MAX_ID:
            return queryset.none()
        return queryset.filter(org_id=int(value))

    def filter_within(self, queryset, name, value):
        if value is None:
            return queryset
        unit = _visible_unit(self.request, value)
        if unit is None:
            return queryset.none()
        return queryset.filter(org__path__startswith=unit.path)
