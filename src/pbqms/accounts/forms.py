from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class StyledFormMixin:
    """Tabler classes on every widget (form-control, form-select, form-check-input) and
    ``is-invalid`` on fields with errors, so components/form_fields.html renders them
    the one way."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            existing = widget.attrs.get("class", "")
            if css not in existing.split():
                widget.attrs["class"] = f"{existing} {css}".strip()

    def add_error(self, field, error):
        super().add_error(field, error)
        names = [field] if field else []
        if field is None and hasattr(error, "error_dict"):
            names = list(error.error_dict)
        for name in names:
            if name in self.fields:
                widget = self.fields[name].widget
                css = widget.attrs.get("class", "")
                if "is-invalid" not in css.split():
                    widget.attrs["class"] = f"{css} is-invalid".strip()


class LoginForm(AuthenticationForm):
    username = forms.CharField(
        label=_("User name"),
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    error_messages = {
        "invalid_login": _(
            "The user name or password is wrong. Note that letters are case-sensitive."
        ),
        "inactive": _("This account is disabled."),
    }


class OTPTokenForm(forms.Form):
    token = forms.CharField(
        label=_("Six-digit code"),
        max_length=6,
        min_length=6,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
        help_text=_("Open your authenticator app and enter the code it shows for pbqms."),
    )

    def clean_token(self):
        token = self.cleaned_data["token"].strip()
        if not token.isdigit():
            raise forms.ValidationError(_("Enter the six digits."))
        return token


class PasswordChangeForm(StyledFormMixin, forms.Form):
    old_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html,
    )
    new_password2 = forms.CharField(
        label=_("New password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_old_password(self):
        value = self.cleaned_data["old_password"]
        if not self.user.check_password(value):
            raise forms.ValidationError(_("The current password is wrong."))
        return value

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("new_password1"), data.get("new_password2")
        if p1 and p2 and p1 != p2:
            self.add_error("new_password2", _("The two new passwords do not match."))
        elif p1:
            try:
                password_validation.validate_password(p1, self.user)
            except forms.ValidationError as exc:
                self.add_error("new_password1", exc)
        return data


# ---------------------------------------------------------------- user administration


class SearchSelect(forms.Select):
    """A select that lists only the chosen row; a search box next to it (htmx, GET
    ``search_url?<search_param>=…``) fills it with matches, so a table of 100,000 rows is
    never rendered into one page. Pair it with ``limit_search_choices``."""

    template_name = "accounts/widgets/search_select.html"

    def __init__(self, *args, search_url: str = "", placeholder: str = "", **kwargs):
        self.search_url = search_url
        self.placeholder = placeholder
        attrs = kwargs.pop("attrs", None) or {}
        attrs.setdefault("class", "form-select")
        super().__init__(*args, attrs=attrs, **kwargs)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["search_url"] = self.search_url
        context["widget"]["search_name"] = f"{name}_q"
        context["widget"]["placeholder"] = self.placeholder or _("Search…")
        return context


def limit_search_choices(form: forms.Form, name: str) -> None:
    """Give the ``SearchSelect`` of field ``name`` only the empty choice and the chosen row
    (looked up in one query, within the field's queryset)."""
    field = form.fields[name]
    key = form.data.get(form.add_prefix(name)) if form.is_bound else None
    if key is None:
        initial = form.initial.get(name, field.initial)
        key = getattr(initial, "pk", initial)
    chosen = None
    if key not in (None, ""):
        try:
            chosen = field.queryset.filter(pk=key).first()
        except (ValueError, TypeError):
            chosen = None
    field.widget.choices = [("", "—")] + (
        [(chosen.pk, field.label_from_instance(chosen))] if chosen else []
    )


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.name} · {obj.org.name}"


def _person_field(actor, search_url: str) -> PersonChoiceField:
    from pbqms.core.roles import PERSON_VIEW
    from pbqms.orgs.models import Person

    return PersonChoiceField(
        label=_("Person"),
        required=False,
        queryset=Person.objects.visible_to(actor, PERSON_VIEW).select_related("org"),
        widget=SearchSelect(search_url=search_url, placeholder=_("Search people by name…")),
        help_text=_(
            "Optional: the person in the organisation this account belongs to. Type part of "
            "the name to search."
        ),
    )


class PersonOptionsMixin:
    def _limit_person_choices(self):
        limit_search_choices(self, "person")


class UserCreateForm(PersonOptionsMixin, StyledFormMixin, forms.Form):
    username = forms.CharField(
        label=_("User name"),
        max_length=150,
        help_text=_("Letters, digits and @ . + - _ only; it cannot be changed later."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
    )
    display_name = forms.CharField(
        label=_("Display name"),
        max_length=150,
        required=False,
        help_text=_("The name shown in pbqms, e.g. the person's full name."),
    )
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    password = forms.CharField(
        label=_("Initial password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "Tell the user this password in person; they must change it at their first sign-in."
        ),
    )
    password2 = forms.CharField(
        label=_("Initial password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, actor=None, search_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        fields = dict(self.fields)
        self.fields = {}
        for name in ("username", "display_name"):
            self.fields[name] = fields[name]
        self.fields["person"] = _person_field(actor, search_url)
        for name in ("language", "password", "password2"):
            self.fields[name] = fields[name]
        self.fields["language"].initial = settings.LANGUAGE_CODE
        self._limit_person_choices()

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords do not match."))
        return data


class UserEditForm(PersonOptionsMixin, StyledFormMixin, forms.Form):
    display_name = forms.CharField(label=_("Display name"), max_length=150, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)

    def __init__(self, *args, actor=None, search_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        fields = dict(self.fields)
        self.fields = {"display_name": fields["display_name"]}
        self.fields["person"] = _person_field(actor, search_url)
        self.fields["language"] = fields["language"]
        self._limit_person_choices()


class ReasonForm(StyledFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason for deactivating"),
        max_length=500,
        required=False,
        widget=forms.TextInput(),
        help_text=_("Needed to deactivate the account; kept in the change log."),
    )


class PasswordResetForm(StyledFormMixin, forms.Form):
    password = forms.CharField(
        label=_("New initial password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("The user must change it at their next sign-in."),
    )
    password2 = forms.CharField(
        label=_("New initial password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords do not match."))
        return data


class UnlockForm(forms.Form):
    username = forms.CharField(required=False, max_length=255)
    ip = forms.GenericIPAddressField(required=False)


class ProfileForm(StyledFormMixin, forms.Form):
    language = forms.ChoiceField(
        label=_("Language"),
        choices=settings.LANGUAGES,
        help_text=_("pbqms uses this language whenever you sign in."),
    )
