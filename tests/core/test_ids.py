import pytest

from pbqms.core.ids import MAX_ID, is_id


@pytest.mark.parametrize("value", [1, "1", "42", MAX_ID, str(MAX_ID)])
def test_ids(value):
    assert is_id(value)


@pytest.mark.parametrize(
    "value", [0, "0", -1, "-1", "²", "١٢", "1" * 30, MAX_ID + 1, "", None, True, "1.0", " 1"]
)
def test_not_ids(value):
    assert not is_id(value)
