"""Record template editor rules: who may create and edit record templates, how a built-in
template is copied (never edited in place), and the validation of a template's own fields
(``schema.check_fields`` plus names, choices and what may change once records exist)."""

from __future__ import annotations

import copy
import re
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from pbqms.core import roles, scope
from pbqms.core.locking import check_version
from pbqms.records.models import Record, RecordTemplate
from pbqms.records.schema import FIELD_TYPES, check_fields

CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_FIELDS = 40
MAX_CHOICES = 50
# keys a field spec may carry besides name/label/type/required/choices/help
EXTRA_KEYS = ("min", "max")


def may_manage(user) -> bool:
    return scope.has_perm(user, roles.RECORD_TEMPLATE_MANAGE)


def _require(user) -> None:
    if not may_manage(user):
        raise PermissionDenied


def free_code(base: str) -> str:
    base = re.sub(r"[^a-z0-9_]", "_", base.lower())[:32] or "template"
    if not base[0].isalpha():
        base = "t_" + base[:30]
    taken = set(RecordTemplate.objects.filter(code__startswith=base).values_list("code", flat=True))
    if base not in taken:
        return base
    for i in range(2, 1000):
        code = f"{base}_{i}"
        if code not in taken:
            return code
    raise ValidationError({"code": _("Choose a code.")})


def copy_of(source: RecordTemplate) -> RecordTemplate:
    """An unsaved user-made copy of ``source`` (built-in templates are copied, then edited)."""
    return RecordTemplate(
        code=free_code(f"{source.code}_copy"),
        name=_("%(name)s (copy)") % {"name": source.name},
        kind=source.kind,
        description=source.description,
        fields=copy.deepcopy(source.fields),
        has_attendance=source.has_attendance,
        is_builtin=False,
        is_active=True,
    )


def clean_fields(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Normalise and validate a template's field list; ``ValidationError({"fields": …})``."""
    if not fields:
        raise ValidationError({"fields": _("Add at least one field.")})
    if len(fields) > MAX_FIELDS:
        raise ValidationError({"fields": _("At most %(n)d fields.") % {"n": MAX_FIELDS}})
    out = []
    for spec in fields:
        name = str(spec.get("name") or "").strip()
        label = str(spec.get("label") or "").strip()
        kind = spec.get("type")
        if not FIELD_NAME_RE.match(name):
            raise ValidationError(
                {
                    "fields": _(
                        "Field name “%(name)s”: lower-case letters, digits and _ only, "
                        "starting with a letter."
                    )
                    % {"name": name}
                }
            )
        if len(label) > 100:
            raise ValidationError({"fields": _("A label has at most 100 characters.")})
        clean: dict[str, Any] = {
            "name": name,
            "label": label,
            "type": kind,
            "required": bool(spec.get("required")),
        }
        if kind == "choice":
            choices = [str(c).strip() for c in spec.get("choices") or [] if str(c).strip()]
            if len(choices) > MAX_CHOICES or len(set(choices)) != len(choices):
                raise ValidationError(
                    {
                        "fields": _("Choice field “%(name)s”: up to %(n)d different choices.")
                        % {"name": name, "n": MAX_CHOICES}
                    }
                )
            clean["choices"] = choices
        help_text = str(spec.get("help") or "").strip()[:200]
        if help_text:
            clean["help"] = help_text
        for key in EXTRA_KEYS:
            if spec.get(key) is not None and kind == "number":
                clean[key] = spec[key]
        out.append(clean)
    return check_fields(out)


@transaction.atomic
def save_template(
    *,
    actor,
    template: RecordTemplate,
    name: str,
    code: str,
    kind: str,
    description: str = "",
    has_attendance: bool = True,
    is_active: bool = True,
    fields: list[dict[str, Any]],
    expected_version=None,
) -> RecordTemplate:
    """Create a record template or edit a user-made one (change-logged). Built-in templates
    are refused (copy them); once a template has records, its fields can be added to and
    relabelled but not removed, renamed or retyped."""
    _require(actor)
    if template.pk is not None:
        template = RecordTemplate.objects.select_for_update().get(pk=template.pk)
        if template.is_builtin:
            raise ValidationError(
                _("A built-in template is not edited in place: make a copy and edit that.")
            )
        if expected_version is not None:
            check_version(template, expected_version)
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    code = (code or "").strip()
    if not name:
        errors["name"] = [_("Give the template a name.")]
    elif len(name) > 100:
        errors["name"] = [_("At most 100 characters.")]
    if not CODE_RE.match(code):
        errors["code"] = [_("2–40 lower-case letters, digits and _, starting with a letter.")]
    elif RecordTemplate.objects.filter(code=code).exclude(pk=template.pk).exists():
        errors["code"] = [_("Another template has this code.")]
    if kind not in RecordTemplate.Kind.values:
        errors["kind"] = [_("Choose a kind.")]
    try:
        fields = clean_fields(fields)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    in_use = (
        "fields" not in errors
        and template.pk is not None
        and Record.objects.filter(template=template).exists()
    )
    if in_use:
        new = {f["name"]: f["type"] for f in fields}
        for old in template.fields:
            if new.get(old["name"]) != old.get("type"):
                errors["fields"] = [
                    _(
                        "Records use this template: field “%(name)s” cannot be removed, "
                        "renamed or change its type (add new fields instead)."
                    )
                    % {"name": old.get("label") or old["name"]}
                ]
                break
    if errors:
        raise ValidationError(errors)
    template.name = name
    template.code = code
    template.kind = kind
    template.description = (description or "").strip()
    template.has_attendance = bool(has_attendance)
    template.is_active = bool(is_active)
    template.fields = fields
    template.is_builtin = False
    template.save()
    return template


FIELD_TYPE_CHOICES = list(FIELD_TYPES.items())
