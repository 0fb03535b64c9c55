"""Record template field schemas and the validation of a record's ``data`` against them.

A template's ``fields`` is a list of specs::

    {"name": "place", "label": "地点", "type": "text", "required": true,
     "choices": [...], "min": 0, "max": 10, "help": "..."}

Types: ``text``, ``textarea`` (long text), ``datetime``, ``date``, ``number``, ``choice``,
``people`` (a list of person ids of the unit), ``file`` (photos/scans: stored as
attachments of the record, under the field's name, never in ``data``)."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

FIELD_TYPES = {
    "text": gettext_lazy("Text"),
    "textarea": gettext_lazy("Long text"),
    "datetime": gettext_lazy("Date and time"),
    "date": gettext_lazy("Date"),
    "number": gettext_lazy("Number"),
    "choice": gettext_lazy("Choice"),
    "people": gettext_lazy("People"),
    "file": gettext_lazy("File or photo"),
}
TEXT_MAX = 500
TEXTAREA_MAX = 20000
NUMBER_LIMIT = 10**12


def check_fields(fields: Any) -> list[dict[str, Any]]:
    """Validate a template's field list itself (for user-made templates)."""
    if not isinstance(fields, list):
        raise ValidationError({"fields": _("The fields must be a list.")})
    seen: set[str] = set()
    for spec in fields:
        if not isinstance(spec, dict) or not spec.get("name") or not spec.get("label"):
            raise ValidationError({"fields": _("Each field needs a name and a label.")})
        name = str(spec["name"])
        if name in seen:
            raise ValidationError({"fields": _("Field “%(name)s” appears twice.") % {"name": name}})
        seen.add(name)
        if spec.get("type") not in FIELD_TYPES:
            raise ValidationError(
                {"fields": _("Field “%(name)s” has an unknown type.") % {"name": name}}
            )
        if spec["type"] == "choice" and not spec.get("choices"):
            raise ValidationError(
                {"fields": _("Choice field “%(name)s” needs choices.") % {"name": name}}
            )
    return fields


def data_fields(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fields whose values live in ``data`` (all but files)."""
    return [f for f in fields if f.get("type") != "file"]


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _clean_value(spec: dict[str, Any], value: Any, person_ids: set[int] | None) -> Any:
    kind = spec.get("type")
    if kind in ("text", "textarea"):
        value = str(value).strip()
        limit = TEXT_MAX if kind == "text" else TEXTAREA_MAX
        if len(value) > limit:
            raise ValueError(
                _("Enter at most %(n)d characters (now %(len)d).") % {"n": limit, "len": len(value)}
            )
        return value
    if kind == "number":
        try:
            number = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            raise ValueError(_("Enter a number.")) from None
        if not number.is_finite() or abs(number) > NUMBER_LIMIT:
            raise ValueError(_("Enter a number."))
        if spec.get("min") is not None and number < Decimal(str(spec["min"])):
            raise ValueError(_("Enter a number of at least %(min)s.") % {"min": spec["min"]})
        if spec.get("max") is not None and number > Decimal(str(spec["max"])):
            raise ValueError(_("Enter a number of at most %(max)s.") % {"max": spec["max"]})
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "choice":
        value = str(value).strip()
        if value not in [str(c) for c in spec.get("choices") or []]:
            raise ValueError(_("Choose one of the offered values."))
        return value
    if kind == "date":
        parsed = value if isinstance(value, datetime.date) else parse_date(str(value).strip())
        if parsed is None:
            raise ValueError(_("Enter a valid date (YYYY-MM-DD)."))
        return parsed.isoformat()
    if kind == "datetime":
        if isinstance(value, datetime.datetime):
            parsed = value
        else:
            text = str(value).strip().replace(" ", "T")
            try:
                parsed = parse_datetime(text)
            except ValueError:
                parsed = None
        if parsed is None:
            raise ValueError(_("Enter a valid date and time."))
        return parsed.isoformat()
    if kind == "people":
        values = value if isinstance(value, list | tuple) else [value]
        try:
            ids = sorted({int(v) for v in values if str(v).strip()})
        except (TypeError, ValueError):
            raise ValueError(_("Choose people of the unit.")) from None
        if person_ids is not None and not set(ids) <= person_ids:
            raise ValueError(_("Choose people of the unit."))
        return ids
    raise ValueError(_("Unknown field type."))


def clean_data(
    fields: list[dict[str, Any]],
    raw: dict[str, Any],
    *,
    require: bool,
    person_ids: set[int] | None = None,
) -> dict[str, Any]:
    """Return the cleaned ``data`` for ``fields``, or raise a ``ValidationError`` whose keys
    are the field names (``data.<name>`` style is left to callers). Unknown keys are
    dropped. ``require``: enforce required fields (at submit and amendment; a draft may be
    incomplete)."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ValidationError({"data": _("The content must be an object of field values.")})
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for spec in data_fields(fields):
        name = spec["name"]
        value = raw.get(name)
        if _empty(value):
            if require and spec.get("required"):
                errors[name] = [_("This field is required.")]
            continue
        try:
            cleaned[name] = _clean_value(spec, value, person_ids)
        except ValueError as exc:
            errors[name] = [str(exc)]
    if errors:
        raise ValidationError(errors)
    return cleaned
