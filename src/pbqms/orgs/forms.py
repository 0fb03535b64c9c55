"""Forms of the organisation area. They only read and clean input: every write goes through
``pbqms.orgs.services``, whose ``ValidationError`` dicts come back as field errors through
``add_service_errors``."""

from __future__ import annotations

from html import escape

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from pbqms.orgs.models import Organization, Person, Post

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def model_field(model, name: str, **kwargs) -> forms.Field:
    """The form field Django derives from a model field (label, help text, choices,
    max_length), with overrides."""
    field = model._meta.get_field(name)
    if field.get_internal_type() == "DateField":
        kwargs.setdefault("widget", DATE_WIDGET)
    formfield = field.formfield(**kwargs)
    if isinstance(formfield, forms.TypedChoiceField) and not field.blank:
        # no "---------" row for a required choice that has a sensible first value
        formfield.choices = [c for c in formfield.choices if c[0] != ""]
    return formfield


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's ``ValidationError`` on the form: keyed messages on their field (or at
    the top when the form has no such field), plain ones (e.g. a stale version) at the top."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def add_rule_errors(form: forms.Form, validate) -> None:
    """On a form that already failed, also show the service rules' errors for the fields
    that passed (``validate(cleaned_data)`` raises the service's ``ValidationError``)."""
    try:
        validate(form.cleaned_data)
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            return
        for field, errors in exc.error_dict.items():
            if field in form.fields and field not in form.errors:
                form.add_error(field, errors)


class StyledFormMixin:
    """Tabler/Bootstrap classes on every widget, ``is-invalid`` on fields with errors."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(
                widget, forms.CheckboxSelectMultiple | forms.RadioSelect | forms.CheckboxInput
            ):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            elif isinstance(widget, forms.HiddenInput):
                continue
            else:
                css = "form-control"
            widget.attrs["class"] = (widget.attrs.get("class", "") + " " + css).strip()

    def add_error(self, field, error):
        super().add_error(field, error)
        names = [field] if field else []
        if field is None and isinstance(error, ValidationError) and hasattr(error, "error_dict"):
            names = list(error.error_dict)
        for name in names:
            if name in self.fields:
                widget = self.fields[name].widget
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = (widget.attrs.get("class", "") + " is-invalid").strip()


class FastSelect(forms.Select):
    """A select whose options are joined in Python: Django's Select renders one sub-template
    per option, which takes seconds for the thousands of units of a large enterprise."""

    def render(self, name, value, attrs=None, renderer=None):
        final_attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        selected = {str(v) for v in self.format_value(value)}
        options = []
        for raw, label in self.choices:
            key = str(raw)
            mark = " selected" if key in selected else ""
            options.append(f'<option value="{escape(key)}"{mark}>{escape(str(label))}</option>')
        # every value and label is escaped above
        return mark_safe(f"<select{flatatt(final_attrs)}>{''.join(options)}</select>")  # noqa: S308


class UnitChoiceIterator(forms.models.ModelChoiceIterator):
    """Options from plain rows (no model instances): thousands of units stay quick."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        rows = self.queryset.values_list("pk", "name", "depth", "dissolved_on")
        for pk, name, depth, dissolved_on in rows.iterator(chunk_size=2000):
            yield (pk, _indented(name, depth, dissolved_on, self.field.base_depth))


class UnitChoiceField(forms.ModelChoiceField):
    """A unit select; options are indented by tree depth so the hierarchy stays readable."""

    widget = FastSelect
    iterator = UnitChoiceIterator

    def __init__(self, *args, base_depth: int = 1, **kwargs):
        self.base_depth = base_depth
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj: Organization) -> str:
        return unit_label(obj, self.base_depth)


def unit_label(unit: Organization, base_depth: int = 1) -> str:
    """A unit's name indented (ideographic spaces) by its depth below ``base_depth``."""
    return _indented(unit.name, unit.depth, unit.dissolved_on, base_depth)


def _indented(name: str, depth: int, dissolved_on, base_depth: int) -> str:
    label = "\u3000" * max(depth - base_depth, 0) + name
    if dissolved_on:
        label += " " + str(_("(dissolved)"))
    return label


def unit_queryset_depth(queryset) -> int:
    first = queryset.order_by("depth").values_list("depth", flat=True).first()
    return first or 1


# ---------------------------------------------------------------- units


class UnitForm(StyledFormMixin, forms.Form):
    """Create or edit a unit. ``kinds`` are the kinds allowed at this place in the tree."""

    name = model_field(Organization, "name")
    short_name = model_field(Organization, "short_name")
    code = model_field(Organization, "code", required=False)
    kind = model_field(Organization, "kind")
    founded_on = model_field(Organization, "founded_on")
    term_years = model_field(Organization, "term_years", min_value=1, max_value=10)
    term_started_on = model_field(Organization, "term_started_on")
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, kinds=None, **kwargs):
        super().__init__(*args, **kwargs)
        if kinds is not None:
            self.fields["kind"].choices = [
                (value, label) for value, label in Organization.Kind.choices if value in kinds
            ]
        self.fields["term_years"].help_text = _(
            "Committees 5 years; general branches and branches 3 years. Left empty, the usual "
            "term for the kind is used."
        )

    @classmethod
    def initial_for(cls, unit: Organization) -> dict:
        data = {name: getattr(unit, name) for name in cls.base_fields if name != "version"}
        data["version"] = unit.version
        return data


class UnitMoveForm(StyledFormMixin, forms.Form):
    parent = UnitChoiceField(
        queryset=Organization.objects.none(),
        label=_("New superior unit"),
        empty_label=None,
        help_text=_("Only units that can take this kind of unit are listed."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=500,
        help_text=_("Recorded in the change log, e.g. the approving document."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, parents=None, **kwargs):
        super().__init__(*args, **kwargs)
        if parents is not None:
            self.fields["parent"].queryset = parents
            self.fields["parent"].base_depth = unit_queryset_depth(parents)


class UnitDissolveForm(StyledFormMixin, forms.Form):
    on = forms.DateField(label=_("Dissolved on"), widget=DATE_WIDGET, initial=timezone.localdate)
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000,
        help_text=_("e.g. the approving document of the superior committee."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


# ---------------------------------------------------------------- people


class PersonForm(StyledFormMixin, forms.Form):
    """Create (with ``units``: where the user may add people) or edit a person."""

    org = UnitChoiceField(
        queryset=Organization.objects.none(), label=_("Unit"), empty_label=_("Choose a unit")
    )
    name = model_field(Person, "name")
    gender = model_field(Person, "gender", widget=forms.RadioSelect)
    birth_date = model_field(Person, "birth_date")
    phone = model_field(Person, "phone")
    member_status = model_field(Person, "member_status")
    joined_on = model_field(Person, "joined_on")
    probation_until = model_field(Person, "probation_until")
    posts = forms.MultipleChoiceField(
        label=_("Posts"),
        choices=Post.Title.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The person's current posts in their unit."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        if units is None:
            del self.fields["org"]
        else:
            self.fields["org"].queryset = units
            self.fields["org"].base_depth = unit_queryset_depth(units)
        self.fields["phone"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "off"})
        self.fields["member_status"].help_text = _(
            "Full and probationary members need the date they joined the party."
        )

    @classmethod
    def initial_for(cls, person: Person) -> dict:
        data = {
            name: getattr(person, name)
            for name in cls.base_fields
            if name not in {"version", "org", "posts"}
        }
        data["posts"] = [p.title for p in person.current_posts() if p.org_id == person.org_id]
        data["version"] = person.version
        return data

    def service_data(self) -> dict:
        skip = {"org", "posts", "version"}
        return {k: v for k, v in self.cleaned_data.items() if k not in skip}


class PersonTransferForm(StyledFormMixin, forms.Form):
    to_org = UnitChoiceField(
        queryset=Organization.objects.none(),
        label=_("Transfer to"),
        empty_label=_("Choose a unit"),
    )
    on = forms.DateField(label=_("Transfer date"), widget=DATE_WIDGET, initial=timezone.localdate)
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000,
        help_text=_("Kept in the person's membership history and the change log."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        if units is not None:
            self.fields["to_org"].queryset = units
            self.fields["to_org"].base_depth = unit_queryset_depth(units)
