from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from pbqms.objectives.models import Indicator, Policy
from pbqms.orgs.forms import StyledFormMixin, unit_label

YEAR_FIELD = {"min_value": 2000, "max_value": 2100}


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return unit_label(obj)


class PolicyForm(StyledFormMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    org = UnitChoiceField(label=_("Unit"), queryset=Policy.objects.none())
    year = forms.IntegerField(label=_("Year"), **YEAR_FIELD)
    title = forms.CharField(
        label=_("Title"), max_length=200, help_text=_("E.g. 2026年党建工作方针目标.")
    )
    statement = forms.CharField(
        label=_("Policy statement"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The party-building policy (方针) in a few lines."),
    )
    notes = forms.CharField(
        label=_("Explanation"),
        max_length=10000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = units


class ObjectiveForm(StyledFormMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    code = forms.CharField(label=_("Code"), max_length=20, help_text=_("E.g. M1."))
    title = forms.CharField(label=_("Objective"), max_length=200)
    description = forms.CharField(
        label=_("Description"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    sort_order = forms.IntegerField(label=_("Order"), min_value=0, max_value=32767, initial=0)


class IndicatorForm(StyledFormMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    code = forms.CharField(
        label=_("Code"),
        max_length=20,
        help_text=_("Keep the same code from year to year: the trend follows it."),
    )
    name = forms.CharField(label=_("Indicator"), max_length=200)
    source = forms.ChoiceField(
        label=_("Values come from"),
        choices=Indicator.Source.choices,
        help_text=_(
            "Computed indicators take their values from pbqms (the conformity board, the "
            "nonconformities) for the unit and every unit below it."
        ),
    )
    unit_of_measure = forms.CharField(
        label=_("Unit of measure"),
        max_length=20,
        required=False,
        help_text=_("E.g. %, 次, 人, 项. Computed indicators set it themselves."),
    )
    direction = forms.ChoiceField(label=_("Direction"), choices=Indicator.Direction.choices)
    target = forms.DecimalField(
        label=_("Target"), max_digits=12, decimal_places=2, help_text=_("The unit's own target.")
    )
    description = forms.CharField(
        label=_("How it is measured"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    sort_order = forms.IntegerField(label=_("Order"), min_value=0, max_value=32767, initial=0)

    def clean(self):
        data = super().clean()
        if data.get("source") == Indicator.Source.MANUAL and not data.get("unit_of_measure"):
            self.add_error("unit_of_measure", _("Enter the unit of measure."))
        return data


class ValueForm(StyledFormMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    org = UnitChoiceField(label=_("Unit"), queryset=Policy.objects.none())
    value = forms.DecimalField(label=_("Value"), max_digits=12, decimal_places=2)
    note = forms.CharField(
        label=_("Note"), max_length=500, required=False, help_text=_("Where the value comes from.")
    )

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = units


class CopyForm(StyledFormMixin, forms.Form):
    year = forms.IntegerField(label=_("Year"), **YEAR_FIELD)


class TargetsForm(forms.Form):
    """One decimal field per subordinate unit (``target_<id>``); empty removes the share."""

    def __init__(self, *args, units=(), initial_targets=None, **kwargs):
        super().__init__(*args, **kwargs)
        initial_targets = initial_targets or {}
        self.units = list(units)
        for unit in self.units:
            self.fields[f"target_{unit.pk}"] = forms.DecimalField(
                label=unit.name,
                max_digits=12,
                decimal_places=2,
                required=False,
                initial=initial_targets.get(unit.pk),
                widget=forms.NumberInput(attrs={"class": "form-control", "step": "any"}),
            )

    def rows(self):
        return [(unit, self[f"target_{unit.pk}"]) for unit in self.units]

    def targets(self):
        return {unit: self.cleaned_data.get(f"target_{unit.pk}") for unit in self.units}
