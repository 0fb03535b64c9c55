"""Filters of the plan and task lists (the pages and the API share them). The unit filter
accepts only units the user can see and includes their subtree; ``overdue`` uses the
queryset's own rule."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from pbqms.core import roles
from pbqms.core.ids import MAX_ID
from pbqms.orgs.forms import FastSelect, StyledFormMixin, unit_label
from pbqms.orgs.models import Organization
from pbqms.plans.models import Task, WorkPlan

UNIT_OPTIONS_LIMIT = 300


class FilterForm(StyledFormMixin, forms.Form):
    pass


def unit_options(user, perm: str, selected=None) -> list[Organization]:
    units = list(
        Organization.objects.visible_to(user, perm)
        .filter(dissolved_on__isnull=True)
        .only("pk", "name", "path", "depth", "dissolved_on")
        .order_by("depth", "path")[:UNIT_OPTIONS_LIMIT]
    )
    if selected is not None and all(u.pk != selected.pk for u in units):
        units.append(selected)
    units.sort(key=lambda u: u.path)
    return units


class _UnitFilterMixin:
    perm = roles.PLAN_VIEW

    def _setup_units(self, request, options: bool) -> None:
        user = getattr(request, "user", None)
        field = self.form.fields["org"]
        field.queryset = Organization.objects.visible_to(user, self.perm)
        if not options:
            return
        selected = None
        if self.form.is_bound and self.form.is_valid():
            selected = self.form.cleaned_data.get("org")
        units = unit_options(user, self.perm, selected)
        base_depth = min((u.depth for u in units), default=1)
        field.widget.choices = [("", field.empty_label)] + [
            (u.pk, unit_label(u, base_depth)) for u in units
        ]

    def filter_org(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(org__path__startswith=value.path)


class WorkPlanFilterSet(_UnitFilterMixin, django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_q",
        widget=forms.TextInput(attrs={"placeholder": _("Title"), "type": "search"}),
    )
    year = django_filters.NumberFilter(label=_("Year"), min_value=2000, max_value=2100)
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=WorkPlan.Status.choices, empty_label=_("All statuses")
    )
    org = django_filters.ModelChoiceFilter(
        label=_("Unit"),
        queryset=Organization.objects.none(),
        method="filter_org",
        empty_label=_("All units"),
        widget=FastSelect,
    )

    class Meta:
        model = WorkPlan
        fields = ["q", "year", "status", "org"]
        form = FilterForm

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, options=True):
        super().__init__(data, queryset, request=request, prefix=prefix)
        self._setup_units(request, options)

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(title__icontains=value) if value else queryset


class TaskFilterSet(_UnitFilterMixin, django_filters.FilterSet):
    perm = roles.TASK_VIEW

    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_q",
        widget=forms.TextInput(attrs={"placeholder": _("Task or plan title"), "type": "search"}),
    )
    year = django_filters.NumberFilter(
        label=_("Year"), field_name="due_on", lookup_expr="year", min_value=2000, max_value=2100
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Task.Status.choices, empty_label=_("All statuses")
    )
    org = django_filters.ModelChoiceFilter(
        label=_("Unit"),
        queryset=Organization.objects.none(),
        method="filter_org",
        empty_label=_("All units"),
        widget=FastSelect,
    )
    plan = django_filters.NumberFilter(
        label=_("Work plan"), field_name="item__plan_id", min_value=1, max_value=MAX_ID
    )
    item = django_filters.NumberFilter(
        label=_("Plan item"), field_name="item_id", min_value=1, max_value=MAX_ID
    )
    overdue = django_filters.BooleanFilter(
        label=_("Overdue only"), method="filter_overdue", widget=forms.CheckboxInput
    )

    class Meta:
        model = Task
        fields = ["q", "year", "status", "org", "plan", "item", "overdue"]
        form = FilterForm

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, options=True):
        super().__init__(data, queryset, request=request, prefix=prefix)
        self._setup_units(request, options)

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(title__icontains=value) | Q(item__plan__title__icontains=value))

    def filter_overdue(self, queryset, name, value):
        return queryset.overdue() if value else queryset
