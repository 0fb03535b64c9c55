"""Forms of the records area. The record form is built from the template's fields; it only
reads input; every rule (types, choices, required, attendance) is in ``services`` and its
errors come back on the fields."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pbqms.orgs.forms import StyledFormMixin, UnitChoiceField, unit_queryset_depth
from pbqms.orgs.models import Organization
from pbqms.records.models import Record, RecordTemplate

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
PREFIX = "f_"


class RecordFilterForm(StyledFormMixin, forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("Title"), "type": "search"}),
    )
    template = forms.ModelChoiceField(
        queryset=RecordTemplate.objects.all(),
        label=_("Record template"),
        required=False,
        empty_label=_("All templates"),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All")), *Record.Status.choices],
    )
    org = UnitChoiceField(
        queryset=Organization.objects.none(),
        label=_("Unit"),
        required=False,
        empty_label=_("All units"),
    )
    date_from = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        if units is not None:
            self.fields["org"].queryset = units
            self.fields["org"].base_depth = unit_queryset_depth(units)


class NewRecordForm(StyledFormMixin, forms.Form):
    """Step one of a new record: which template, which unit."""

    template = forms.ModelChoiceField(
        queryset=RecordTemplate.objects.filter(is_active=True),
        label=_("Record template"),
        empty_label=None,
        widget=forms.RadioSelect,
    )
    org = UnitChoiceField(queryset=Organization.objects.none(), label=_("Unit"))

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        if units is not None:
            self.fields["org"].queryset = units
            self.fields["org"].base_depth = unit_queryset_depth(units)


def _widget_for(spec):
    kind = spec.get("type")
    attrs = {}
    if kind == "textarea":
        return forms.Textarea(attrs={"rows": 4})
    if kind == "number":
        attrs["inputmode"] = "decimal"
    if kind == "date":
        return forms.DateInput(attrs={"type": "date"})
    if kind == "datetime":
        return forms.DateTimeInput(attrs={"type": "datetime-local"})
    return forms.TextInput(attrs=attrs)


class RecordForm(StyledFormMixin, forms.Form):
    """Title, time and one field per template field (files and attendance are rendered by
    the template page itself). Fields are not required here: a draft may be incomplete; the
    service enforces required fields on submit and amendment."""

    title = forms.CharField(label=_("Title"), max_length=200)
    occurred_at = forms.DateTimeField(label=_("Held at"), widget=DATETIME_WIDGET)

    def __init__(self, *args, template: RecordTemplate, people=(), amend: bool = False, **kw):
        super().__init__(*args, **kw)
        self.template = template
        self.file_specs = []
        self.spec_by_name = {}
        for spec in template.fields:
            name = spec["name"]
            self.spec_by_name[name] = spec
            if spec.get("type") == "file":
                self.file_specs.append(spec)
                continue
            label = spec.get("label") or name
            help_text = spec.get("help") or ""
            if spec.get("type") == "choice":
                field = forms.ChoiceField(
                    label=label,
                    required=False,
                    choices=[("", "—"), *[(c, c) for c in spec.get("choices") or []]],
                    help_text=help_text,
                )
            elif spec.get("type") == "people":
                field = forms.MultipleChoiceField(
                    label=label,
                    required=False,
                    choices=[(str(p.pk), p.name) for p in people],
                    help_text=help_text,
                    widget=forms.SelectMultiple(attrs={"size": 6}),
                )
            else:
                field = forms.CharField(
                    label=label,
                    required=False,
                    help_text=help_text,
                    widget=_widget_for(spec),
                )
            field.spec_required = bool(spec.get("required"))
            self.fields[PREFIX + name] = field
        if amend:
            self.fields["reason"] = forms.CharField(
                label=_("Reason for the amendment"),
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text=_("Required: the record is submitted; the amendment is kept with it."),
            )
        super_init_styles(self)

    def data_fields(self):
        return [self[n] for n in self.fields if n.startswith(PREFIX)]

    def cleaned_payload(self) -> dict:
        data = {}
        for name, value in self.cleaned_data.items():
            if name.startswith(PREFIX):
                data[name[len(PREFIX) :]] = value
        return data

    def add_service_errors(self, exc) -> None:
        if hasattr(exc, "error_dict"):
            for key, errors in exc.error_dict.items():
                if key in self.fields:
                    self.add_error(key, errors)
                elif PREFIX + key in self.fields:
                    self.add_error(PREFIX + key, errors)
                elif key.startswith("attendance") or key in self.spec_by_name:
                    continue  # shown by the attendance table / file inputs
                else:
                    self.add_error(None, errors)
        else:
            self.add_error(None, exc)


def super_init_styles(form) -> None:
    """Style the fields added after ``StyledFormMixin.__init__`` ran."""
    for field in form.fields.values():
        widget = field.widget
        if "class" in widget.attrs:
            continue
        if isinstance(widget, forms.Select | forms.SelectMultiple):
            widget.attrs["class"] = "form-select"
        else:
            widget.attrs["class"] = "form-control"


def initial_for(record: Record) -> dict:
    initial = {
        "title": record.title,
        "occurred_at": timezone.localtime(record.occurred_at).strftime("%Y-%m-%dT%H:%M"),
    }
    for name, value in (record.data or {}).items():
        initial[PREFIX + name] = [str(v) for v in value] if isinstance(value, list) else value
    return initial


# ---------------------------------------------------------------- template editor


class TemplateForm(StyledFormMixin, forms.Form):
    """A record template's own attributes (its fields come in ``FieldFormSet``)."""

    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(label=_("Name"), max_length=100)
    code = forms.CharField(
        label=_("Code"),
        max_length=40,
        help_text=_("Lower-case letters, digits and _, e.g. volunteer_service."),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=RecordTemplate.Kind.choices)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    has_attendance = forms.BooleanField(
        label=_("Attendance list (present / absent with reason)"), required=False
    )
    is_active = forms.BooleanField(
        label=_("Active (offered for new records)"), required=False, initial=True
    )


class FieldRowForm(StyledFormMixin, forms.Form):
    """One field of a record template."""

    name = forms.CharField(label=_("Field name"), max_length=40, required=False)
    label = forms.CharField(label=_("Label"), max_length=100, required=False)
    type = forms.ChoiceField(label=_("Type"), choices=(), required=False)
    required = forms.BooleanField(label=_("Required"), required=False)
    choices = forms.CharField(
        label=_("Choices"),
        required=False,
        max_length=2000,
        help_text=_("Choice fields: one choice per line."),
        widget=forms.Textarea(attrs={"rows": 1}),
    )
    help = forms.CharField(label=_("Help text"), required=False, max_length=200)
    extra = forms.JSONField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from pbqms.records.templates_admin import FIELD_TYPE_CHOICES

        self.fields["type"].choices = [("", "—"), *FIELD_TYPE_CHOICES]

    def clean(self):
        data = super().clean()
        filled = any(data.get(k) for k in ("name", "label", "type"))
        if filled and not self.cleaned_data.get("DELETE"):
            for key in ("name", "label", "type"):
                if not data.get(key):
                    self.add_error(key, _("This field is required."))
        return data

    def spec(self) -> dict | None:
        data = self.cleaned_data
        if not data or data.get("DELETE") or not data.get("name"):
            return None
        spec = {
            "name": data["name"].strip(),
            "label": data["label"].strip(),
            "type": data["type"],
            "required": bool(data.get("required")),
            "help": data.get("help") or "",
        }
        if data["type"] == "choice":
            spec["choices"] = [c.strip() for c in (data.get("choices") or "").splitlines()]
        extra = data.get("extra")
        if isinstance(extra, dict):
            for key in ("min", "max"):
                if key in extra:
                    spec[key] = extra[key]
        return spec


class _BaseFieldFormSet(forms.BaseFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "ORDER" in form.fields:
            form.fields["ORDER"].widget.attrs.update(
                {"class": "form-control px-2", "style": "width:4.5rem", "min": 1}
            )
        if "DELETE" in form.fields:
            form.fields["DELETE"].widget.attrs["class"] = "form-check-input"


FieldFormSet = forms.formset_factory(
    FieldRowForm,
    formset=_BaseFieldFormSet,
    extra=3,
    can_delete=True,
    can_order=True,
    max_num=40,
    validate_max=True,
)


def field_initial(fields: list[dict]) -> list[dict]:
    return [
        {
            "name": f.get("name", ""),
            "label": f.get("label", ""),
            "type": f.get("type", ""),
            "required": bool(f.get("required")),
            "choices": "\n".join(str(c) for c in f.get("choices") or []),
            "help": f.get("help", ""),
            "extra": {k: f[k] for k in ("min", "max") if k in f} or None,
            "ORDER": i + 1,
        }
        for i, f in enumerate(fields)
    ]
