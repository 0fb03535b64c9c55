"""Filters of the people list (UI and API share them).

``PersonFilterSet(request.GET, queryset=Person.objects.visible_to(user), request=request)``:
the unit filter accepts only units the user can see and includes their whole subtree."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from pbqms.core import roles
from pbqms.orgs.forms import FastSelect, StyledFormMixin, unit_label
from pbqms.orgs.models import Organization, Person, Post

# the unit select of the filter row lists at most this many units (the ones nearest the top
# of the user's scope); deeper units are reached from the tree ("people of this unit")
UNIT_OPTIONS_LIMIT = 300


class FilterForm(StyledFormMixin, forms.Form):
    pass


def unit_options(user, selected: Organization | None = None) -> list[Organization]:
    """The visible units nearest the top of the scope (at most ``UNIT_OPTIONS_LIMIT``), in
    tree order, plus the selected one."""
    units = list(
        Organization.objects.visible_to(user, roles.PERSON_VIEW)
        .filter(dissolved_on__isnull=True)
        .only("pk", "name", "path", "depth", "dissolved_on")
        .order_by("depth", "path")[:UNIT_OPTIONS_LIMIT]
    )
    if selected is not None and all(u.pk != selected.pk for u in units):
        units.append(selected)
    units.sort(key=lambda u: u.path)
    return units


class PersonFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_q",
        widget=forms.TextInput(
            attrs={"placeholder": pgettext_lazy("person", "Name"), "type": "search"}
        ),
    )
    org = django_filters.ModelChoiceFilter(
        label=_("Unit"),
        queryset=Organization.objects.none(),
        method="filter_org",
        empty_label=_("All units"),
        widget=FastSelect,
    )
    member_status = django_filters.ChoiceFilter(
        label=_("Member status"),
        choices=Person.MemberStatus.choices,
        empty_label=_("All statuses"),
    )
    gender = django_filters.ChoiceFilter(
        label=_("Gender"), choices=Person.Gender.choices, empty_label=_("All genders")
    )
    post = django_filters.ChoiceFilter(
        label=_("Post"),
        choices=Post.Title.choices,
        method="filter_post",
        empty_label=_("All posts"),
    )

    class Meta:
        model = Person
        fields = ["q", "org", "member_status", "gender", "post"]
        form = FilterForm

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, options=True):
        super().__init__(data, queryset, request=request, prefix=prefix)
        user = getattr(request, "user", None)
        field = self.form.fields["org"]
        field.queryset = Organization.objects.visible_to(user, roles.PERSON_VIEW)
        if options:
            # the options are only needed when the form is rendered (not in the API)
            selected = None
            if self.form.is_bound and self.form.is_valid():
                selected = self.form.cleaned_data.get("org")
            # validation still accepts every visible unit (one query for the chosen one);
            # only the rendered options are bounded
            units = unit_options(user, selected)
            base_depth = min((u.depth for u in units), default=1)
            field.widget.choices = [("", field.empty_label)] + [
                (u.pk, unit_label(u, base_depth)) for u in units
            ]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # by name only: phone numbers are masked for most readers and must not be probed
        return queryset.filter(name__icontains=value)

    def filter_org(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(org__path__startswith=value.path)

    def filter_post(self, queryset, name, value):
        if not value:
            return queryset
        current = Post.objects.filter(person=OuterRef("pk"), title=value, ended_on__isnull=True)
        return queryset.filter(Exists(current))
