"""Filters of the change log, shared by the audit administrator's page and the API."""

from __future__ import annotations

import datetime
from functools import lru_cache

import django_filters
from django import forms
from django.apps import apps
from django.db.models import Q
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from pbqms.core.models import ChangeLogEntry

MAX_ID = 10**18 - 1


@lru_cache(maxsize=1)
def _logged_models() -> tuple[tuple[str, type], ...]:
    """(``app.model``, model) of every model the change log records."""
    from pbqms.core.models import ChangeLoggedModel

    found = []
    for model in apps.get_models():
        if issubclass(model, ChangeLoggedModel):
            meta = model._meta
            found.append((f"{meta.app_label}.{meta.model_name}", model))
    return tuple(sorted(found, key=lambda item: item[0]))


def object_type_choices() -> list[tuple[str, str]]:
    # labels are built per call: they follow the language of the request
    return [
        (key, f"{capfirst(model._meta.verbose_name)} ({key})") for key, model in _logged_models()
    ]


def action_choices_grouped() -> list[tuple[str, list[tuple[str, str]]]]:
    """The actions as two groups for a select: changes of data, security events."""
    security = ChangeLogEntry.SECURITY_ACTIONS
    data = [(v, label) for v, label in ChangeLogEntry.Action.choices if v not in security]
    events = [(v, label) for v, label in ChangeLogEntry.Action.choices if v in security]
    return [(_("Changes of data"), data), (_("Security events"), events)]


class ChangeLogFilterForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)
            field.widget.attrs.setdefault("id", f"id_{name}")


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class ChangeLogFilter(django_filters.FilterSet):
    actor = django_filters.NumberFilter(method="filter_actor", label=_("Actor id"))
    actor_name = django_filters.CharFilter(
        field_name="actor_repr", lookup_expr="icontains", label=_("Actor")
    )
    action = django_filters.MultipleChoiceFilter(
        choices=ChangeLogEntry.Action.choices, label=_("Action")
    )
    security = django_filters.BooleanFilter(
        method="filter_security", label=_("Security events only")
    )
    object_type = django_filters.ChoiceFilter(
        choices=object_type_choices, label=_("Object type"), empty_label=_("All types")
    )
    object_id = django_filters.CharFilter(field_name="object_id", label=_("Object id"))
    q = django_filters.CharFilter(method="filter_q", label=_("Object"))
    outcome = django_filters.ChoiceFilter(
        choices=ChangeLogEntry.Outcome.choices, label=_("Outcome"), empty_label=_("All outcomes")
    )
    source = django_filters.CharFilter(field_name="source", label=_("Source"))
    request_id = django_filters.CharFilter(field_name="request_id", label=_("Request id"))
    date_from = django_filters.DateFilter(
        method="filter_date_from",
        label=_("From"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = django_filters.DateFilter(
        method="filter_date_to",
        label=_("To"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    class Meta:
        model = ChangeLogEntry
        fields: list[str] = []
        form = ChangeLogFilterForm

    def filter_actor(self, queryset, name, value):
        if value is None:
            return queryset
        if value != int(value) or not 0 < value <= MAX_ID:
            return queryset.none()
        return queryset.filter(actor_id=int(value))

    def filter_security(self, queryset, name, value):
        if value is None:
            return queryset
        if value:
            return queryset.filter(action__in=ChangeLogEntry.SECURITY_ACTIONS)
        return queryset.exclude(action__in=ChangeLogEntry.SECURITY_ACTIONS)

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(object_id=value) | Q(object_repr__icontains=value))

    # whole days in the site's time zone, as a range on the indexed timestamp
    # (dates at the ends of the calendar bound nothing)
    def filter_date_from(self, queryset, name, value):
        if not value or value.year < 2:
            return queryset
        return queryset.filter(timestamp__gte=_day_start(value))

    def filter_date_to(self, queryset, name, value):
        if not value or value.year > 9998:
            return queryset
        return queryset.filter(timestamp__lt=_day_start(value + datetime.timedelta(days=1)))
