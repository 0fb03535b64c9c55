"""Forms of management reviews. They check types; the rules are in ``services``."""

from __future__ import annotations

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from pbqms.improvement.models import Nonconformity
from pbqms.orgs.forms import FastSelect, StyledFormMixin, add_service_errors  # noqa: F401
from pbqms.orgs.models import Organization, Person
from pbqms.reviews.models import ManagementReview, ReviewOutput


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return "　" * max(obj.depth - 1, 0) + obj.name


class PersonChoiceIterator(forms.models.ModelChoiceIterator):
    """Options from plain rows: the people of a large committee's subtree stay quick."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        rows = self.queryset.values_list("pk", "name", "org__name")
        for pk, name, unit in rows.iterator(chunk_size=2000):
            yield (pk, f"{name}（{unit}）")


class FastSelectMultiple(FastSelect, forms.SelectMultiple):
    allow_multiple_selected = True

    def render(self, name, value, attrs=None, renderer=None):
        return super().render(name, value, {**(attrs or {}), "multiple": True}, renderer)


class PersonChoiceField(forms.ModelChoiceField):
    widget = FastSelect
    iterator = PersonChoiceIterator

    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.org.name}）"


class PersonMultipleChoiceField(forms.ModelMultipleChoiceField):
    widget = FastSelectMultiple
    iterator = PersonChoiceIterator

    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.org.name}）"


def _text(label, help_text="", rows=3, required=False):
    return forms.CharField(
        label=label,
        required=required,
        help_text=help_text,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": rows}),
    )


class ReviewForm(StyledFormMixin, forms.Form):
    org = UnitChoiceField(
        label=_("Unit reviewed"),
        queryset=Organization.objects.none(),
        help_text=_("The review covers this unit and every unit below it."),
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    period_start = forms.DateField(label=_("Period from"), widget=DateInput())
    period_end = forms.DateField(
        label=_("Period to"),
        widget=DateInput(),
        help_text=_("The inputs (audits, nonconformities, conformity, changes) of this period."),
    )
    planned_on = forms.DateField(label=_("Planned date"), widget=DateInput())
    location = forms.CharField(label=_("Location"), max_length=200, required=False)
    chair = PersonChoiceField(
        label=_("Chair"),
        queryset=Person.objects.none(),
        help_text=_("Usually the party secretary (top management); signs the minutes."),
    )
    attendees = PersonMultipleChoiceField(
        label=_("Attendees"),
        queryset=Person.objects.none(),
        required=False,
        widget=FastSelectMultiple(attrs={"size": 8}),
        help_text=_("Hold Ctrl to choose several."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(
        self, *args, units=None, people=None, review: ManagementReview | None = None, **kw
    ):
        if review is not None and "initial" not in kw:
            kw["initial"] = {
                "org": review.org_id,
                "title": review.title,
                "period_start": review.period_start,
                "period_end": review.period_end,
                "planned_on": review.planned_on,
                "location": review.location,
                "chair": review.chair_id,
                "attendees": [p.pk for p in review.attendees.all()],
                "version": review.version,
            }
        elif "initial" not in kw:
            today = timezone.localdate()
            kw["initial"] = {
                "period_start": datetime.date(today.year, 1, 1),
                "period_end": today,
                "planned_on": today,
            }
        super().__init__(*args, **kw)
        if units is not None:
            self.fields["org"].queryset = units
        if people is not None:
            self.fields["chair"].queryset = people
            self.fields["attendees"].queryset = people
        if review is not None:
            del self.fields["org"]
            if review.status != ManagementReview.Status.PLANNED:
                del self.fields["period_start"]
                del self.fields["period_end"]

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("version", None)
        data.pop("org", None)
        return data


class MeetingForm(StyledFormMixin, forms.Form):
    held_on = forms.DateField(label=_("Held on"), widget=DateInput())
    attendees = PersonMultipleChoiceField(
        label=_("Attendees"),
        queryset=Person.objects.none(),
        widget=FastSelectMultiple(attrs={"size": 8}),
        help_text=_("Hold Ctrl to choose several."),
    )
    suitability = _text(
        _("Suitability"),
        _("Does the system still fit the organisation's purpose and circumstances?"),
    )
    adequacy = _text(
        _("Adequacy"),
        _("Does the system cover what it must (requirements, processes, units)?"),
    )
    effectiveness = _text(
        _("Effectiveness"),
        _("Does the system achieve its intended results and objectives?"),
    )
    decisions = _text(
        _("Decisions"),
        _("Decisions on improvement, changes to the system and resource needs."),
        rows=4,
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, people=None, review: ManagementReview | None = None, **kw):
        if review is not None and "initial" not in kw:
            kw["initial"] = {
                "held_on": review.held_on or timezone.localdate(),
                "attendees": [p.pk for p in review.attendees.all()],
                "suitability": review.suitability,
                "adequacy": review.adequacy,
                "effectiveness": review.effectiveness,
                "decisions": review.decisions,
                "version": review.version,
            }
        super().__init__(*args, **kw)
        if people is not None:
            self.fields["attendees"].queryset = people


class OutputForm(StyledFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ReviewOutput.Kind.choices)
    description = forms.CharField(
        label=pgettext_lazy("corrective action", "Action"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    owner = PersonChoiceField(label=_("Owner"), queryset=Person.objects.none())
    due_on = forms.DateField(label=_("Due date"), widget=DateInput())

    def __init__(self, *args, people=None, **kw):
        super().__init__(*args, **kw)
        if people is not None:
            self.fields["owner"].queryset = people


class CompleteOutputForm(StyledFormMixin, forms.Form):
    result = forms.CharField(
        label=_("Outcome"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    done_on = forms.DateField(label=_("Done on"), widget=DateInput(), required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class ReasonForm(StyledFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class RaiseForm(StyledFormMixin, forms.Form):
    org = UnitChoiceField(label=_("Unit concerned"), queryset=Organization.objects.none())
    requirement = forms.CharField(
        label=_("Requirement not met"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The rule, clause or document requirement that was not met."),
    )
    severity = forms.ChoiceField(label=_("Severity"), choices=Nonconformity.Severity.choices)

    def __init__(self, *args, units=None, **kw):
        super().__init__(*args, **kw)
        if units is not None:
            self.fields["org"].queryset = units


class CloseForm(StyledFormMixin, forms.Form):
    password = forms.CharField(
        label=_("Your password (electronic signature)"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        required=False,
    )
