"""Field schema validation of record data (pure functions)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from pbqms.records.schema import check_fields, clean_data

FIELDS = [
    {"name": "place", "label": "地点", "type": "text", "required": True},
    {"name": "notes", "label": "备注", "type": "textarea"},
    {"name": "day", "label": "日期", "type": "date"},
    {"name": "at", "label": "时间", "type": "datetime"},
    {"name": "n", "label": "人数", "type": "number", "min": 0, "max": 100},
    {"name": "form", "label": "形式", "type": "choice", "choices": ["面谈", "电话"]},
    {"name": "who", "label": "对象", "type": "people"},
    {"name": "photo", "label": "照片", "type": "file", "required": True},
]


@pytest.fixture(autouse=True)
def _en():
    with translation.override("en"):
        yield


def test_valid_values_are_normalised():
    data = clean_data(
        FIELDS,
        {
            "place": " 会议室 ",
            "day": "2026-03-01",
            "at": "2026-03-01 09:30",
            "n": "12",
            "form": "电话",
            "who": ["3", "1", "3"],
            "unknown": "dropped",
        },
        require=True,
        person_ids={1, 2, 3},
    )
    assert data == {
        "place": "会议室",
        "day": "2026-03-01",
        "at": "2026-03-01T09:30:00",
        "n": 12,
        "form": "电话",
        "who": [1, 3],
    }
    assert clean_data(FIELDS, {"n": "2.5"}, require=False)["n"] == 2.5


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(ValidationError) as exc:
        clean_data(
            FIELDS,
            {
                "notes": "x" * 20001,
                "day": "2026-02-30",
                "at": "yesterday",
                "n": "101",
                "form": "信件",
                "who": ["9"],
            },
            require=True,
            person_ids={1},
        )
    errors = exc.value.message_dict
    assert set(errors) == {"place", "notes", "day", "at", "n", "form", "who"}
    assert errors["place"] == ["This field is required."]
    assert "photo" not in errors  # files are attachments, checked at submit


def test_required_only_when_asked_and_nan_refused():
    assert clean_data(FIELDS, {}, require=False) == {}
    unbounded = [{"name": "n", "label": "N", "type": "number"}]
    for bad in ("NaN", "inf", "1e999999", "abc"):
        with pytest.raises(ValidationError):
            clean_data(unbounded, {"n": bad}, require=False)
    with pytest.raises(ValidationError):
        clean_data(FIELDS, "not a dict", require=False)


def test_template_field_lists_are_checked():
    assert check_fields(FIELDS) == FIELDS
    for bad in (
        "x",
        [{"name": "a"}],
        [{"name": "a", "label": "A", "type": "text"}, {"name": "a", "label": "B", "type": "text"}],
        [{"name": "a", "label": "A", "type": "colour"}],
        [{"name": "a", "label": "A", "type": "choice"}],
    ):
        with pytest.raises(ValidationError):
            check_fields(bad)
