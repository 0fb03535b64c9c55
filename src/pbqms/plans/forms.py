"""Forms of work plans and tasks. They only read and clean input: every write goes through
``pbqms.plans.services``, whose ``ValidationError`` dicts come back as field errors."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pbqms.core import roles
from pbqms.orgs.forms import (
    DATE_WIDGET,
    FastSelect,
    StyledFormMixin,
    UnitChoiceField,
    unit_label,
)
from pbqms.orgs.models import Organization
from pbqms.plans import services
from pbqms.plans.models import Category, PlanItem, WorkPlan

MAX_RECORD_CHOICES = 200


class FastSelectMultiple(FastSelect, forms.SelectMultiple):
    """A multiple select rendered like ``FastSelect`` (one string, not a template per
    option): a committee's subordinate units may number in the thousands."""

    def render(self, name, value, attrs=None, renderer=None):
        return super().render(name, value, {**(attrs or {}), "multiple": True}, renderer)


class PlanForm(StyledFormMixin, forms.Form):
    org = UnitChoiceField(
        label=_("Unit"),
        queryset=Organization.objects.none(),
        help_text=_("The unit whose annual plan this is."),
    )
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=WorkPlan._meta.get_field("description").help_text,
    )
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user=None, plan: WorkPlan | None = None, **kwargs):
        if plan is not None:
            kwargs.setdefault(
                "initial",
                {
                    "title": plan.title,
                    "description": plan.description,
                    "version": plan.version,
                    "year": plan.year,
                },
            )
        super().__init__(*args, **kwargs)
        if plan is not None:
            del self.fields["org"]
            del self.fields["year"]
        else:
            del self.fields["version"]
            self.fields["org"].queryset = services.units_for_new_plan(user)
            self.fields["year"].initial = timezone.localdate().year


class ItemForm(StyledFormMixin, forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    category = forms.ChoiceField(
        label=_("Category"), required=False, choices=[("", "—"), *Category.choices]
    )
    due_on = forms.DateField(label=_("Due date"), widget=DATE_WIDGET)
    owner = forms.CharField(
        label=_("Responsible"),
        max_length=100,
        required=False,
        help_text=PlanItem._meta.get_field("owner").help_text,
    )
    obligation = forms.ModelChoiceField(
        label=_("Obligation"),
        queryset=None,
        required=False,
        help_text=PlanItem._meta.get_field("obligation").help_text,
    )
    record_template = forms.ModelChoiceField(
        label=_("Record template"),
        queryset=None,
        required=False,
        help_text=PlanItem._meta.get_field("record_template").help_text,
    )
    target_kinds = forms.MultipleChoiceField(
        label=_("Cascade to unit kinds"),
        required=False,
        choices=[c for c in Organization.Kind.choices if c[0] != Organization.Kind.COMMITTEE],
        widget=forms.CheckboxSelectMultiple,
        help_text=PlanItem._meta.get_field("target_kinds").help_text,
    )
    target_orgs = forms.ModelMultipleChoiceField(
        label=_("Cascade to units"),
        queryset=Organization.objects.none(),
        required=False,
        widget=FastSelectMultiple(attrs={"size": 8}),
        help_text=PlanItem._meta.get_field("target_orgs").help_text,
    )
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user=None, plan: WorkPlan, item: PlanItem | None = None, **kwargs):
        if item is not None:
            kwargs.setdefault(
                "initial",
                {
                    "title": item.title,
                    "description": item.description,
                    "category": item.category,
                    "due_on": item.due_on,
                    "owner": item.owner,
                    "obligation": item.obligation_id,
                    "record_template": item.record_template_id,
                    "target_kinds": item.target_kinds,
                    "target_orgs": [o.pk for o in item.target_orgs.all()],
                    "version": item.version,
                },
            )
        super().__init__(*args, **kwargs)
        if item is None:
            del self.fields["version"]
        from pbqms.records.models import RecordTemplate
        from pbqms.system.models import Obligation

        self.fields["obligation"].queryset = (
            Obligation.objects.visible_to(user, roles.OBLIGATION_VIEW)
            .filter(is_active=True)
            .order_by("name")
        )
        self.fields["record_template"].queryset = RecordTemplate.objects.filter(
            is_active=True
        ).order_by("name")
        units = services.subordinate_units(plan.org)
        self.fields["target_orgs"].queryset = units
        self.fields["target_orgs"].label_from_instance = lambda o: unit_label(o, plan.org.depth + 1)
        if not units.exists():
            del self.fields["target_orgs"]
            del self.fields["target_kinds"]

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("version", None)
        data["target_orgs"] = list(data.get("target_orgs") or [])
        data["target_kinds"] = list(data.get("target_kinds") or [])
        return data


class CompleteForm(StyledFormMixin, forms.Form):
    records = forms.ModelMultipleChoiceField(
        label=_("Records that prove it"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Submitted records of the unit. A task without a record cannot be completed."),
    )
    completed_on = forms.DateField(label=_("Completed on"), required=False, widget=DATE_WIDGET)
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, user=None, task=None, **kwargs):
        super().__init__(*args, **kwargs)
        qs = services.candidate_records(user, task)
        # the most recent records only: the page stays small whatever the unit has filed
        recent = qs.values("pk")[:MAX_RECORD_CHOICES]
        self.fields["records"].queryset = qs.filter(pk__in=recent)
        self.fields["records"].label_from_instance = lambda r: (
            f"{timezone.localtime(r.occurred_at):%Y-%m-%d} · {r.title} · {r.template.name}"
        )
        self.fields["completed_on"].initial = timezone.localdate()


class ReopenForm(StyledFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
