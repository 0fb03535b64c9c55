from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from pbqms.orgs.forms import StyledFormMixin
from pbqms.processes.models import Process


class ProcessForm(StyledFormMixin, forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Process
        fields = [
            "code",
            "name",
            "kind",
            "owner_role",
            "purpose",
            "inputs",
            "outputs",
            "sort_order",
            "is_active",
            "documents",
            "record_templates",
            "indicators",
            "requirements",
            "obligations",
        ]
        widgets = {
            "purpose": forms.Textarea(attrs={"rows": 2}),
            "inputs": forms.Textarea(attrs={"rows": 2}),
            "outputs": forms.Textarea(attrs={"rows": 2}),
            "documents": forms.SelectMultiple(attrs={"size": 6}),
            "record_templates": forms.SelectMultiple(attrs={"size": 6}),
            "indicators": forms.SelectMultiple(attrs={"size": 6}),
            "requirements": forms.SelectMultiple(attrs={"size": 8}),
            "obligations": forms.SelectMultiple(attrs={"size": 6}),
        }
        help_texts = {
            "requirements": _("ISO 9001 clauses and party regulations the process addresses."),
            "obligations": _(
                "The regular activities the process carries (set by the unit or above)."
            ),
        }

    def __init__(self, *args, links=None, **kwargs):
        super().__init__(*args, **kwargs)
        for name, queryset in (links or {}).items():
            self.fields[name].queryset = queryset
            self.fields[name].required = False
        self.fields["indicators"].label_from_instance = lambda i: (
            f"{i.objective.policy.year} · {i.code} {i.name}"
        )
