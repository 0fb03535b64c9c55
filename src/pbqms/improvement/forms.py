"""Forms of nonconformities and corrective actions. They only read and clean input; every
write goes through ``pbqms.improvement.services``, whose ``ValidationError`` dicts come back
as field errors (``add_service_errors``) with the user's input kept."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pbqms.improvement.models import CorrectiveAction, Nonconformity
from pbqms.orgs.forms import (
    DATE_WIDGET,
    FastSelect,
    StyledFormMixin,
    UnitChoiceField,
    add_service_errors,
    model_field,
    unit_queryset_depth,
)

__all__ = [
    "ActionForm",
    "AnalysisForm",
    "CompleteForm",
    "RaiseForm",
    "ReasonForm",
    "StepForm",
    "VerifierForm",
    "VerifyForm",
    "add_service_errors",
]

NC = Nonconformity
PASSWORD_HELP = _(
    "Signing asks for your password again; the signature records your name, the time, its "
    "meaning and the hash of what you sign."
)


def _password_field() -> forms.CharField:
    return forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=PASSWORD_HELP,
    )


class RaiseForm(StyledFormMixin, forms.Form):
    org = UnitChoiceField(
        queryset=None, label=_("Unit concerned"), empty_label=_("Choose the unit")
    )
    title = model_field(NC, "title")
    source_kind = model_field(NC, "source_kind")
    source_ref = model_field(NC, "source_ref")
    severity = forms.ChoiceField(
        label=_("Severity"),
        choices=NC.Severity.choices,
        initial=NC.Severity.MINOR,
        widget=forms.RadioSelect,
        help_text=_("Observations are not nonconformities: they stay on the audit checklist."),
    )
    requirement = model_field(NC, "requirement", widget=forms.Textarea(attrs={"rows": 2}))
    description = model_field(NC, "description", widget=forms.Textarea(attrs={"rows": 4}))
    raised_on = model_field(NC, "raised_on", initial=timezone.localdate)
    correction_due = model_field(NC, "correction_due")
    repeat_of = forms.CharField(
        label=_("Repeats nonconformity (number)"),
        required=False,
        max_length=40,
        help_text=_("If the same problem was raised before in this unit, e.g. NC-2025-0012."),
    )

    def __init__(self, *args, units=None, sources=None, **kwargs):
        super().__init__(*args, **kwargs)
        if units is not None:
            self.fields["org"].queryset = units
            self.fields["org"].base_depth = unit_queryset_depth(units)
        if sources is not None:
            self.fields["source_kind"].choices = sources
        self.fields["raised_on"].required = False

    def clean(self):
        # shown with the other fields' errors (the service checks it again on save)
        data = super().clean()
        raised_on = data.get("raised_on") or timezone.localdate()
        due = data.get("correction_due")
        if due and due < raised_on:
            self.add_error(
                "correction_due",
                _("The deadline cannot be before the nonconformity was raised."),
            )
        return data

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["raised_on"] = data.get("raised_on") or timezone.localdate()
        return data


class AnalysisForm(StyledFormMixin, forms.Form):
    """Root cause analysis: 5 whys (one row each) or causes by fishbone category, and the
    root cause it leads to."""

    analysis_method = forms.ChoiceField(
        label=_("Method"),
        choices=NC.AnalysisMethod.choices,
        initial=NC.AnalysisMethod.FIVE_WHY,
        widget=forms.RadioSelect,
    )
    root_cause = model_field(
        NC,
        "root_cause",
        required=True,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The cause that, removed, keeps the problem from happening again."),
    )
    repeat_of = forms.CharField(
        label=_("Repeats nonconformity (number)"),
        required=False,
        max_length=40,
        help_text=_("If the same problem was raised before in this unit, e.g. NC-2025-0012."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for i in range(1, NC.MAX_WHYS + 1):
            self.fields[f"why_{i}"] = forms.CharField(
                label=_("Why %(n)d") % {"n": i},
                required=False,
                max_length=500,
                widget=forms.TextInput(attrs={"class": "form-control"}),
            )
        for key, label in NC.FISHBONE_CATEGORIES:
            self.fields[f"bone_{key}"] = forms.CharField(
                label=label,
                required=False,
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
            )

    @property
    def why_fields(self):
        return [self[f"why_{i}"] for i in range(1, NC.MAX_WHYS + 1)]

    @property
    def bone_fields(self):
        return [self[f"bone_{key}"] for key in NC.FISHBONE_KEYS]

    @classmethod
    def initial_for(cls, nc: Nonconformity) -> dict:
        data = {
            "analysis_method": nc.analysis_method or NC.AnalysisMethod.FIVE_WHY,
            "root_cause": nc.root_cause,
            "repeat_of": nc.repeat_of.number if nc.repeat_of_id else "",
            "version": nc.version,
        }
        for i, why in enumerate(nc.why_chain or [], start=1):
            data[f"why_{i}"] = why
        for key, value in (nc.fishbone or {}).items():
            data[f"bone_{key}"] = value
        return data

    def add_service_errors(self, exc) -> None:
        """Like ``add_service_errors``; the service names whole groups ("why_chain",
        "fishbone"): those are shown under the group's rows."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for field, errors in exc.error_dict.items():
            if field in ("why_chain", "fishbone"):
                self._group_errors.setdefault(field, []).extend(
                    m for e in errors for m in e.messages
                )
                # the form as a whole is not valid any more
                self.add_error(None, _("Check the analysis below."))
            else:
                self.add_error(field if field in self.fields else None, errors)

    @property
    def _group_errors(self) -> dict:
        if not hasattr(self, "_groups"):
            self._groups: dict = {}
        return self._groups

    @property
    def why_errors(self):
        return self._group_errors.get("why_chain", [])

    @property
    def fishbone_errors(self):
        return self._group_errors.get("fishbone", [])

    def has_group_errors(self) -> bool:
        return bool(self._group_errors)

    def service_data(self) -> dict:
        cd = self.cleaned_data
        return {
            "method": cd["analysis_method"],
            "whys": [cd.get(f"why_{i}", "") for i in range(1, NC.MAX_WHYS + 1)],
            "fishbone": {key: cd.get(f"bone_{key}", "") for key in NC.FISHBONE_KEYS},
            "root_cause": cd["root_cause"],
            "repeat_of": cd.get("repeat_of") or None,
        }


class PersonChoiceField(forms.ModelChoiceField):
    """Action owners: people of the unit and below, labelled with their unit."""

    widget = FastSelect

    def label_from_instance(self, obj) -> str:
        return f"{obj.name}（{obj.org.name}）"


class DocumentChoiceField(forms.ModelChoiceField):
    widget = FastSelect

    def label_from_instance(self, obj) -> str:
        return f"{obj.number} {obj.title}"


class ActionForm(StyledFormMixin, forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=CorrectiveAction.Kind.choices,
        initial=CorrectiveAction.Kind.CORRECTIVE,
        widget=forms.RadioSelect,
        help_text=_(
            "Correction fixes this case; a corrective action removes the cause so it does not "
            "happen again; a preventive action keeps it from happening elsewhere."
        ),
    )
    description = model_field(
        CorrectiveAction, "description", widget=forms.Textarea(attrs={"rows": 3})
    )
    owner = PersonChoiceField(
        queryset=None, label=_("Owner"), empty_label=_("Choose who is responsible")
    )
    due_on = model_field(CorrectiveAction, "due_on")
    verify_on = model_field(CorrectiveAction, "verify_on")
    success_criteria = model_field(
        CorrectiveAction, "success_criteria", widget=forms.Textarea(attrs={"rows": 2})
    )
    document = DocumentChoiceField(
        queryset=None,
        label=_("Document concerned"),
        required=False,
        empty_label=_("None"),
        help_text=_("The controlled document the action changes, if any."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, owners=None, documents=None, limit: int = 500, **kwargs):
        super().__init__(*args, **kwargs)
        # validation accepts the whole queryset; only the rendered options are bounded
        field = self.fields["owner"]
        field.queryset = owners
        rows = owners.values_list("pk", "name", "org__name")[:limit]
        field.widget.choices = [("", field.empty_label)] + [
            (pk, f"{name}（{unit}）") for pk, name, unit in rows
        ]
        if documents is None:
            del self.fields["document"]
        else:
            field = self.fields["document"]
            field.queryset = documents
            rows = documents.values_list("pk", "number", "title")[:limit]
            field.widget.choices = [("", field.empty_label)] + [
                (pk, f"{number} {title}") for pk, number, title in rows
            ]

    @classmethod
    def initial_for(cls, action: CorrectiveAction) -> dict:
        data = {
            name: getattr(action, name)
            for name in ("kind", "description", "due_on", "verify_on", "success_criteria")
        }
        data["owner"] = action.owner_id
        data["version"] = action.version
        if action.document_id:
            data["document"] = action.document_id
        return data

    def clean(self):
        # shown with the other fields' errors (the service checks it again on save)
        data = super().clean()
        due, verify = data.get("due_on"), data.get("verify_on")
        if due and verify and verify <= due:
            self.add_error("verify_on", _("The verification comes after the planned completion."))
        return data

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("version", None)
        return data


class StepForm(StyledFormMixin, forms.Form):
    """The confirm step of a lifecycle step; fields not needed are dropped."""

    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
    )
    password = _password_field()

    def __init__(self, *args, signature: bool, reason: bool, reason_label=None, **kwargs):
        super().__init__(*args, **kwargs)
        if not signature:
            del self.fields["password"]
            del self.fields["comment"]
        if not reason:
            del self.fields["reason"]
        elif reason_label:
            self.fields["reason"].label = reason_label


class ReasonForm(StyledFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )


class CompleteForm(StyledFormMixin, forms.Form):
    completed_on = forms.DateField(
        label=_("Completed on"), widget=DATE_WIDGET, initial=timezone.localdate
    )
    note = forms.CharField(
        label=_("What was done"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        help_text=_("The evidence the verifier will look at (records, minutes, documents)."),
    )


class VerifyForm(StyledFormMixin, forms.Form):
    result = forms.ChoiceField(
        label=_("Verification result"),
        choices=CorrectiveAction.Result.choices,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Verification findings"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text=_("Required when the action was not effective: say what still happens."),
    )
    password = _password_field()


class VerifierForm(StyledFormMixin, forms.Form):
    verifier = forms.ModelChoiceField(
        queryset=None,
        label=_("Designated verifier"),
        required=False,
        empty_label=_("Nobody besides who raised it"),
        help_text=_(
            "An internal auditor or party committee member responsible for the unit; never the "
            "unit's own secretary or party worker."
        ),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, verifiers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["verifier"].queryset = verifiers
        self.fields["verifier"].label_from_instance = lambda u: f"{u.name} ({u.username})"
