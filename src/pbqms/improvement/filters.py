"""Filters of the nonconformity and corrective-action lists (the UI and the API share them).

``NonconformityFilterSet(request.GET, queryset=Nonconformity.objects.visible_to(user, NC_VIEW),
request=request)``: the unit filter accepts only units the user can see and includes their
subtree; ``overdue`` uses the querysets' own rule."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from pbqms.core import roles
from pbqms.core.ids import MAX_ID
from pbqms.improvement.models import CorrectiveAction, Nonconformity
from pbqms.orgs.forms import FastSelect, StyledFormMixin, unit_label
from pbqms.orgs.models import Organization

# the unit select lists at most this many units (nearest the top of the user's scope)
UNIT_OPTIONS_LIMIT = 300


class FilterForm(StyledFormMixin, forms.Form):
    pass


def scope_units(user):
    return Organization.objects.visible_to(user, roles.NC_VIEW)


def unit_options(user, selected: Organization | None = None) -> list[Organization]:
    units = list(
        scope_units(user)
        .filter(dissolved_on__isnull=True)
        .only("pk", "name", "path", "depth", "dissolved_on")
        .order_by("depth", "path")[:UNIT_OPTIONS_LIMIT]
    )
    if selected is not None and all(u.pk != selected.pk for u in units):
        units.append(selected)
    units.sort(key=lambda u: u.path)
    return units


class _UnitFilterMixin:
    def _setup_units(self, request, options: bool) -> None:
        user = getattr(request, "user", None)
        field = self.form.fields["org"]
        field.queryset = scope_units(user)
        if not options:
            return
        selected = None
        if self.form.is_bound and self.form.is_valid():
            selected = self.form.cleaned_data.get("org")
        units = unit_options(user, selected)
        base_depth = min((u.depth for u in units), default=1)
        field.widget.choices = [("", field.empty_label)] + [
            (u.pk, unit_label(u, base_depth)) for u in units
        ]

    def filter_org(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(org__path__startswith=value.path)


class NonconformityFilterSet(_UnitFilterMixin, django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_q",
        widget=forms.TextInput(attrs={"placeholder": _("Number or title"), "type": "search"}),
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        choices=[("active", _("All not closed")), *Nonconformity.Status.choices],
        method="filter_status",
        empty_label=_("All statuses"),
    )
    severity = django_filters.ChoiceFilter(
        label=_("Severity"), choices=Nonconformity.Severity.choices, empty_label=_("All")
    )
    source_kind = django_filters.ChoiceFilter(
        label=_("Source"), choices=Nonconformity.Source.choices, empty_label=_("All sources")
    )
    org = django_filters.ModelChoiceFilter(
        label=_("Unit"),
        queryset=Organization.objects.none(),
        method="filter_org",
        empty_label=_("All units"),
        widget=FastSelect,
    )
    overdue = django_filters.BooleanFilter(
        label=_("Overdue only"), method="filter_overdue", widget=forms.CheckboxInput
    )
    repeat = django_filters.BooleanFilter(
        label=_("Repeats only"), method="filter_repeat", widget=forms.CheckboxInput
    )

    class Meta:
        model = Nonconformity
        fields = ["q", "status", "severity", "source_kind", "org", "overdue", "repeat"]
        form = FilterForm

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, options=True):
        super().__init__(data, queryset, request=request, prefix=prefix)
        self._setup_units(request, options)

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(number__icontains=value) | Q(title__icontains=value))

    def filter_status(self, queryset, name, value):
        if value == "active":
            return queryset.open()
        return queryset.filter(status=value)

    def filter_overdue(self, queryset, name, value):
        return queryset.overdue() if value else queryset

    def filter_repeat(self, queryset, name, value):
        return queryset.filter(repeat_of__isnull=False) if value else queryset


class CorrectiveActionFilterSet(_UnitFilterMixin, django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_q",
        widget=forms.TextInput(
            attrs={"placeholder": _("Action or nonconformity number"), "type": "search"}
        ),
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        choices=[("open", _("Not yet verified")), *CorrectiveAction.Status.choices],
        method="filter_status",
        empty_label=_("All statuses"),
    )
    kind = django_filters.ChoiceFilter(
        label=_("Kind"), choices=CorrectiveAction.Kind.choices, empty_label=_("All kinds")
    )
    org = django_filters.ModelChoiceFilter(
        label=_("Unit"),
        queryset=Organization.objects.none(),
        method="filter_org",
        empty_label=_("All units"),
        widget=FastSelect,
    )
    overdue = django_filters.BooleanFilter(
        label=_("Overdue only"), method="filter_overdue", widget=forms.CheckboxInput
    )
    mine = django_filters.BooleanFilter(
        label=_("Mine only"), method="filter_mine", widget=forms.CheckboxInput
    )
    nonconformity = django_filters.NumberFilter(
        label=_("Nonconformity id"),
        field_name="nonconformity_id",
        widget=forms.HiddenInput,
        min_value=1,
        max_value=MAX_ID,
    )

    class Meta:
        model = CorrectiveAction
        fields = ["q", "status", "kind", "org", "overdue", "mine", "nonconformity"]
        form = FilterForm

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, options=True):
        super().__init__(data, queryset, request=request, prefix=prefix)
        self._user = getattr(request, "user", None)
        self._setup_units(request, options)

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(description__icontains=value) | Q(nonconformity__number__icontains=value)
        )

    def filter_status(self, queryset, name, value):
        if value == "open":
            return queryset.open()
        return queryset.filter(status=value)

    def filter_overdue(self, queryset, name, value):
        return queryset.overdue() if value else queryset

    def filter_mine(self, queryset, name, value):
        if not value or self._user is None:
            return queryset
        return queryset.filter(owner__user_id=self._user.pk)
