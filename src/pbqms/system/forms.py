from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from pbqms.orgs.models import Organization
from pbqms.system.models import Obligation


class ObligationForm(forms.ModelForm):
    applies_to_kinds = forms.MultipleChoiceField(
        label=_("Applies to unit kinds"),
        choices=Organization.Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Obligation
        fields = [
            "name",
            "requirement",
            "owner",
            "applies_to_kinds",
            "orgs",
            "activity",
            "frequency",
            "interval_months",
            "anchor_on",
            "due_offset_days",
            "counting",
            "min_attendance_ratio",
            "active_from",
            "active_to",
            "is_active",
        ]
        widgets = {
            "anchor_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "active_from": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "active_to": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "orgs": forms.SelectMultiple(attrs={"size": 6}),
        }

    def __init__(self, *args, owners=None, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        from pbqms.records.models import RecordTemplate
        from pbqms.system.models import Requirement

        self.fields["owner"].queryset = owners
        self.fields["orgs"].queryset = units
        self.fields["orgs"].required = False
        self.fields["requirement"].queryset = Requirement.objects.filter(is_active=True)
        self.fields["activity"].queryset = RecordTemplate.objects.filter(is_active=True)
        for name, field in self.fields.items():
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple | forms.CheckboxInput):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs.setdefault("class", css)
            widget.attrs.setdefault("id", f"id_{name}")

    def clean(self):
        data = super().clean()
        if not data.get("applies_to_kinds") and not data.get("orgs"):
            self.add_error("applies_to_kinds", _("Choose unit kinds or units."))
        return data


class ExceptionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
    )


class BoardFilterForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100, required=False)
    obligation = forms.ModelChoiceField(
        label=_("Obligation"),
        queryset=Obligation.objects.none(),
        required=False,
        empty_label=_("All obligations"),
    )

    def __init__(self, *args, obligations=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["obligation"].queryset = obligations
        self.fields["year"].widget.attrs.update({"class": "form-control", "style": "width:7rem"})
        self.fields["obligation"].widget.attrs.update({"class": "form-select"})


class GapNonconformityForm(forms.Form):
    """Raise a nonconformity from a late or missing cell of the conformity board."""

    title = forms.CharField(
        label=_("Title"), max_length=200, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    description = forms.CharField(
        label=_("Description"),
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
        help_text=_("What was found: the facts and the evidence."),
    )
    severity = forms.ChoiceField(
        label=_("Severity"), choices=(), widget=forms.Select(attrs={"class": "form-select"})
    )
    correction_due = forms.DateField(
        label=_("Correct by"),
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from pbqms.improvement.models import Nonconformity

        self.fields["severity"].choices = Nonconformity.Severity.choices


class DocumentLinksForm(forms.Form):
    """The controlled documents that address a requirement."""

    documents = forms.ModelMultipleChoiceField(
        label=_("Documents that address it"),
        queryset=None,
        required=False,
        widget=forms.SelectMultiple(attrs={"class": "form-select", "size": 10}),
        help_text=_("Hold Ctrl (⌘ on a Mac) to choose several."),
    )

    def __init__(self, *args, documents=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["documents"].queryset = documents
        self.fields["documents"].label_from_instance = lambda d: f"{d.number} {d.title}"
