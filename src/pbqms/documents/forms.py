"""Forms of the document area: they read and clean input; every write goes through
``pbqms.documents.services`` (its errors come back on the fields)."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pbqms.core.roles import Role
from pbqms.documents.models import Document, DocumentReview, DocumentVersion
from pbqms.documents.modes import COMBINED, COMBINED_LABEL
from pbqms.orgs.forms import (
    DATE_WIDGET,
    StyledFormMixin,
    UnitChoiceField,
    unit_label,
    unit_queryset_depth,
)
from pbqms.orgs.models import Organization

CONTENT_HELP = _(
    "Markdown: # headings, - lists, | tables |, **bold**. The preview beside the editor "
    "shows the result."
)


class UnitMultipleChoiceField(forms.ModelMultipleChoiceField):
    def __init__(self, *args, base_depth: int = 1, **kwargs):
        self.base_depth = base_depth
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj: Organization) -> str:
        return unit_label(obj, self.base_depth)


class SignerChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.name} ({obj.username})"


class DocumentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Document) -> str:
        return f"{obj.number} {obj.title}"


ROLE_CHOICES = [
    (value, label)
    for value, label in Role.choices
    if value not in {Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN}
]


class DistributionMixin(forms.Form):
    applies_to = UnitMultipleChoiceField(
        queryset=Organization.objects.none(),
        label=_("Applies to units"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=_(
            "The document applies to these units and every unit below them; left empty, to "
            "the owner unit."
        ),
    )
    applies_to_roles = forms.MultipleChoiceField(
        label=_("Read-and-acknowledge by roles"),
        choices=ROLE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Only people holding one of these roles are asked to acknowledge; none ticked: "
            "everybody with an account in the units."
        ),
    )
    review_interval_months = forms.IntegerField(
        label=_("Review interval (months)"), min_value=1, max_value=60, initial=12
    )

    def set_units(self, units) -> None:
        self.fields["applies_to"].queryset = units
        self.fields["applies_to"].base_depth = unit_queryset_depth(units)


class DocumentCreateForm(StyledFormMixin, DistributionMixin):
    doc_type = forms.ChoiceField(label=_("Document type"), choices=Document.Type.choices)
    title = forms.CharField(label=_("Title"), max_length=200)
    org = UnitChoiceField(
        queryset=Organization.objects.none(),
        label=_("Owner unit"),
        empty_label=_("Choose a unit"),
    )
    parent = DocumentChoiceField(
        queryset=Document.objects.none(),
        label=_("Belongs under"),
        required=False,
        empty_label=_("(top of the tree)"),
        help_text=_(
            "Procedures sit under the manual; work instructions and record forms under their "
            "procedure (their numbers follow it, e.g. DJ-JL-05-01)."
        ),
    )
    content = forms.CharField(
        label=_("Content"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 18, "class": "pb-md-editor"}),
        help_text=CONTENT_HELP,
    )
    file = forms.FileField(
        label=_("Controlled file"),
        required=False,
        help_text=_("Optional: the controlled file as .docx, .xlsx or .pdf (up to 20 MB)."),
    )
    change_reason = forms.CharField(
        label=_("Reason for issue"), required=False, max_length=1000, initial=""
    )

    field_order = [
        "doc_type",
        "title",
        "org",
        "parent",
        "applies_to",
        "applies_to_roles",
        "review_interval_months",
        "content",
        "file",
        "change_reason",
    ]

    def __init__(
        self, *args, units=None, parents=None, all_units=None, type_choices=None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        if type_choices is not None:
            self.fields["doc_type"].choices = type_choices
        if units is not None:
            self.fields["org"].queryset = units
            self.fields["org"].base_depth = unit_queryset_depth(units)
        if parents is not None:
            self.fields["parent"].queryset = parents
        if all_units is not None:
            self.set_units(all_units)


class DraftForm(StyledFormMixin, DistributionMixin):
    title = forms.CharField(label=_("Title"), max_length=200)
    content = forms.CharField(
        label=_("Content"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 22, "class": "pb-md-editor"}),
        help_text=CONTENT_HELP,
    )
    file = forms.FileField(
        label=_("Replace the controlled file"),
        required=False,
        help_text=_(".docx, .xlsx or .pdf, up to 20 MB."),
    )
    remove_file = forms.BooleanField(label=_("Remove the attached file"), required=False)
    change_reason = forms.CharField(
        label=_("Reason for the change"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    reviewers = SignerChoiceField(
        queryset=Document.objects.none(),
        label=_("Reviewers"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
    )
    approvers = SignerChoiceField(
        queryset=Document.objects.none(),
        label=_("Approvers"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, signers=None, approvers=None, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        if signers is not None:
            self.fields["reviewers"].queryset = signers
        if approvers is not None:
            self.fields["approvers"].queryset = approvers
        if units is not None:
            self.set_units(units)

    @classmethod
    def initial_for(cls, version: DocumentVersion) -> dict:
        document = version.document
        assignments = list(version.assignments.all())
        return {
            "title": version.title,
            "content": version.content,
            "change_reason": version.change_reason,
            "applies_to": list(document.applies_to.all()),
            "applies_to_roles": document.applies_to_roles,
            "review_interval_months": document.review_interval_months,
            "reviewers": [a.user_id for a in assignments if a.role == "reviewer"],
            "approvers": [a.user_id for a in assignments if a.role == "approver"],
            "version": version.version,
        }

    def service_data(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k != "version"}
        data["reviewers"] = list(data.get("reviewers") or [])
        data["approvers"] = list(data.get("approvers") or [])
        data["applies_to"] = list(data.get("applies_to") or [])
        if not data.get("file"):
            data.pop("file", None)
        return data


class TransitionForm(StyledFormMixin, forms.Form):
    """The confirm step of a lifecycle action; fields are dropped when not needed."""

    effective_on = forms.DateField(
        label=_("Effective date"),
        widget=DATE_WIDGET,
        initial=timezone.localdate,
        help_text=_(
            "The version takes effect on this day: today or an earlier day, at once "
            "(the version in force is superseded); a later day, when it comes."
        ),
    )
    reason = forms.CharField(
        label=_("Comments"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
    )
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
    )
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_(
            "Signing asks for your password again; the signature records your name, "
            "the time, its meaning and the hash of this version."
        ),
    )

    def __init__(
        self,
        *args,
        signature: bool,
        reason: bool,
        effective: bool,
        reason_label=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if not signature:
            del self.fields["password"]
            del self.fields["comment"]
        if not reason:
            del self.fields["reason"]
        elif reason_label:
            self.fields["reason"].label = reason_label
        if not effective:
            del self.fields["effective_on"]


class RevisionForm(StyledFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason for the revision"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000,
    )
    major = forms.TypedChoiceField(
        label=_("Kind of revision"),
        choices=[
            ("1", _("New edition (B/0, C/0 …)")),
            ("0", _("Amendment within the edition (A/1, A/2 …)")),
        ],
        coerce=lambda v: v == "1",
        initial="1",
        widget=forms.RadioSelect,
    )


class ReasonForm(StyledFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=1000
    )


class PeriodicReviewForm(StyledFormMixin, forms.Form):
    conclusion = forms.ChoiceField(
        label=_("Conclusion"),
        choices=DocumentReview.Conclusion.choices,
        widget=forms.RadioSelect,
    )
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text=_(
            "Required for “needs revision” (it becomes the revision's reason) and “obsolete”."
        ),
    )


class LinkForm(StyledFormMixin, forms.Form):
    to_document = forms.CharField(
        label=_("Referenced document number"),
        max_length=60,
        help_text=_("e.g. DJ-JL-05-01"),
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=200)


class DocumentFilterForm(StyledFormMixin, forms.Form):
    STATUS_CHOICES = [
        ("effective", _("Effective")),
        ("revising", _("Revision in progress")),
        ("draft", _("Not yet effective")),
        ("obsolete", _("Obsolete")),
        ("all", _("All")),
    ]
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("Number, title or text"), "type": "search"}),
    )
    doc_type = forms.ChoiceField(
        label=_("Type"),
        required=False,
        choices=[("", _("All types")), *Document.Type.choices],
    )
    status = forms.ChoiceField(label=_("Status"), required=False, choices=STATUS_CHOICES)
    org = UnitChoiceField(
        queryset=Organization.objects.none(),
        label=_("Owner unit"),
        required=False,
        empty_label=_("All units"),
    )

    def __init__(self, *args, units=None, combined=False, **kwargs):
        super().__init__(*args, **kwargs)
        if combined:
            # simplified mode (三合为一): the three types can also be filtered as one
            choices = list(self.fields["doc_type"].choices)
            at = [value for value, _label in choices].index(Document.Type.PROCEDURE)
            choices.insert(at, (COMBINED, COMBINED_LABEL))
            self.fields["doc_type"].choices = choices
        if units is not None:
            self.fields["org"].queryset = units
            self.fields["org"].base_depth = unit_queryset_depth(units)


class DocumentSystemForm(StyledFormMixin, forms.Form):
    org = forms.IntegerField(widget=forms.HiddenInput)
    simplified = forms.TypedChoiceField(
        label=_("Document system"),
        choices=[
            ("0", _("Five types (manual, procedures, work instructions, regulations, forms)")),
            ("1", _("Simplified: procedures, work instructions and regulations as one type")),
        ],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class StarterForm(StyledFormMixin, forms.Form):
    org = UnitChoiceField(
        queryset=Organization.objects.none(),
        label=_("Party committee"),
        empty_label=_("Choose a unit"),
        help_text=_("The committee whose document system is being set up."),
    )

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        if units is not None:
            self.fields["org"].queryset = units
            self.fields["org"].base_depth = unit_queryset_depth(units)
