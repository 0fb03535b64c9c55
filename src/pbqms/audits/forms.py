from __future__ import annotations

import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from pbqms.audits.models import Audit, AuditorQualification, ChecklistItem, ChecklistTemplate
from pbqms.orgs.models import Organization, Person


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


def _unit_label(unit: Organization) -> str:
    return "　" * max(unit.depth - 1, 0) + unit.name


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return _unit_label(obj)


class UnitMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return _unit_label(obj)


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.org.name}）"


class PersonMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.org.name}）"


class _Styled:
    def _style(self):
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")
        for name in self.errors:
            if name in self.fields:
                css = self.fields[name].widget.attrs.get("class", "")
                self.fields[name].widget.attrs["class"] = f"{css} is-invalid"

    def full_clean(self):
        super().full_clean()
        if self.is_bound:
            self._style()


class QualificationForm(_Styled, forms.Form):
    person = PersonChoiceField(label=_("Auditor"), queryset=Person.objects.none())
    course = forms.CharField(label=_("Training course"), max_length=200)
    trained_on = forms.DateField(label=_("Trained on"), required=False, widget=DateInput())
    certificate_no = forms.CharField(label=_("Certificate number"), max_length=60, required=False)
    certified_on = forms.DateField(label=_("Certified on"), widget=DateInput())
    valid_until = forms.DateField(label=_("Valid until"), widget=DateInput())
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, people=None, instance: AuditorQualification | None = None, **kw):
        if instance is not None and "initial" not in kw:
            kw["initial"] = {
                "course": instance.course,
                "trained_on": instance.trained_on,
                "certificate_no": instance.certificate_no,
                "certified_on": instance.certified_on,
                "valid_until": instance.valid_until,
                "version": instance.version,
            }
        super().__init__(*args, **kw)
        if instance is not None:
            del self.fields["person"]
        else:
            self.fields["person"].queryset = people
        self._style()


class ProgrammeForm(_Styled, forms.Form):
    org = UnitChoiceField(label=_("Owner committee"), queryset=Organization.objects.none())
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    title = forms.CharField(label=_("Title"), max_length=200)
    scope_units = UnitMultipleChoiceField(
        label=_("Units in scope"),
        queryset=Organization.objects.none(),
        required=False,
        help_text=_("Empty: every unit of the committee."),
    )
    criteria = forms.CharField(
        label=_("Audit criteria"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    team_size = forms.IntegerField(label=_("Auditors per audit"), min_value=1, max_value=10)
    no_reciprocal = forms.BooleanField(
        label=_("No reciprocal audits in this round"), required=False
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, committees=None, units=None, instance=None, **kw):
        if instance is not None and "initial" not in kw:
            kw["initial"] = {
                "year": instance.year,
                "title": instance.title,
                "criteria": instance.criteria,
                "team_size": instance.team_size,
                "no_reciprocal": instance.no_reciprocal,
                "scope_units": list(instance.scope_units.all()),
                "version": instance.version,
            }
        kw.setdefault(
            "initial",
            {"year": datetime.date.today().year, "team_size": 2, "no_reciprocal": True},
        )
        super().__init__(*args, **kw)
        if instance is not None:
            del self.fields["org"]
        else:
            self.fields["org"].queryset = committees
        self.fields["scope_units"].queryset = units
        self.fields["scope_units"].widget.attrs["size"] = 8
        self._style()


MONTHS = [(m, _("Month %(m)s") % {"m": m}) for m in range(1, 13)]


class AuditForm(_Styled, forms.Form):
    audited_units = UnitMultipleChoiceField(
        label=_("Audited units"), queryset=Organization.objects.none()
    )
    planned_month = forms.TypedChoiceField(label=_("Planned month"), choices=MONTHS, coerce=int)
    start_date = forms.DateField(label=_("Start date"), required=False, widget=DateInput())
    end_date = forms.DateField(label=_("End date"), required=False, widget=DateInput())
    criteria = forms.CharField(
        label=_("Audit criteria"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Empty: the programme's criteria."),
    )
    agenda = forms.CharField(
        label=_("Agenda"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, units=None, instance: Audit | None = None, **kw):
        if instance is not None and "initial" not in kw:
            kw["initial"] = {
                "audited_units": list(instance.audited_units.all()),
                "planned_month": instance.planned_month,
                "start_date": instance.start_date,
                "end_date": instance.end_date,
                "criteria": instance.criteria,
                "agenda": instance.agenda,
                "version": instance.version,
            }
        super().__init__(*args, **kw)
        self.fields["audited_units"].queryset = units
        self.fields["audited_units"].widget.attrs["size"] = 8
        self._style()

    def service_data(self):
        keys = ("planned_month", "start_date", "end_date", "criteria", "agenda")
        return {k: self.cleaned_data.get(k) for k in keys}


class PlanFromRankingForm(_Styled, forms.Form):
    count = forms.IntegerField(label=_("Number of units"), min_value=1, max_value=200, initial=10)
    first_month = forms.TypedChoiceField(
        label=_("From month"), choices=MONTHS, coerce=int, initial=1
    )

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._style()


class TeamForm(_Styled, forms.Form):
    lead_auditor = PersonChoiceField(label=_("Lead auditor"), queryset=Person.objects.none())
    team = PersonMultipleChoiceField(
        label=_("Audit team members"), queryset=Person.objects.none(), required=False
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, people=None, **kw):
        super().__init__(*args, **kw)
        self.fields["lead_auditor"].queryset = people
        self.fields["team"].queryset = people
        self.fields["team"].widget.attrs["size"] = 6
        self._style()


class ReportForm(_Styled, forms.Form):
    report_summary = forms.CharField(
        label=_("Report summary"), widget=forms.Textarea(attrs={"rows": 5})
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._style()


class ChecklistItemForm(_Styled, forms.Form):
    criterion = forms.CharField(label=_("Criterion"), max_length=300)
    question = forms.CharField(label=_("Question"), widget=forms.Textarea(attrs={"rows": 2}))
    unit = UnitChoiceField(
        label=_("Audited unit"), queryset=Organization.objects.none(), required=False
    )

    def __init__(self, *args, units=None, **kw):
        super().__init__(*args, **kw)
        self.fields["unit"].queryset = units if units is not None else Organization.objects.none()
        self._style()


class ChecklistItemEditForm(ChecklistItemForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class SaveTemplateForm(_Styled, forms.Form):
    name = forms.CharField(label=_("Template name"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._style()


class TemplateEditForm(SaveTemplateForm):
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)


class ApplyTemplateForm(_Styled, forms.Form):
    template = forms.ModelChoiceField(
        label=_("Checklist template"), queryset=ChecklistTemplate.objects.none()
    )

    def __init__(self, *args, templates=None, **kw):
        super().__init__(*args, **kw)
        if templates is not None:
            self.fields["template"].queryset = templates
        self._style()


class ResultForm(_Styled, forms.Form):
    result = forms.ChoiceField(
        label=_("Result"),
        choices=[("", "—"), *ChecklistItem.Result.choices],
        required=False,
    )
    evidence = forms.CharField(
        label=_("Evidence"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._style()


class RaiseForm(_Styled, forms.Form):
    """``units``: the audit's units as a list (one query for the whole checklist page)."""

    title = forms.CharField(label=_("Nonconformity title"), max_length=200)
    correction_due = forms.DateField(label=_("Correct by"), widget=DateInput())
    unit = forms.TypedChoiceField(label=_("Audited unit"), coerce=int, required=False)

    def __init__(self, *args, units=(), **kw):
        super().__init__(*args, **kw)
        self.units = {u.pk: u for u in units}
        self.fields["unit"].choices = [("", "—"), *((u.pk, u.name) for u in units)]
        self._style()

    def clean_unit(self):
        value = self.cleaned_data.get("unit")
        return self.units.get(value) if value not in (None, "") else None


class TransitionForm(forms.Form):
    transition = forms.CharField()
    password = forms.CharField(required=False, widget=forms.PasswordInput)
    reason = forms.CharField(required=False)
