import datetime

from pbqms.core.filters import UtcIsoDateTimeField


def test_offsets_postgresql_refuses_are_normalised_to_utc():
    field = UtcIsoDateTimeField()
    value = field.clean("1106-03-16T23:26:13-21:24")
    assert value.tzinfo == datetime.UTC
    assert value == datetime.datetime(1106, 3, 17, 20, 50, 13, tzinfo=datetime.UTC)


def test_naive_input_is_left_to_django():
    field = UtcIsoDateTimeField()
    value = field.clean("2026-03-31T23:30:00+08:00")
    assert value == datetime.datetime(2026, 3, 31, 15, 30, tzinfo=datetime.UTC)


def test_records_api_accepts_odd_offsets_without_500(client, users, login):
    login(users.secretary_a1)
    response = client.get("/api/records/", {"occurred_before": "1106-03-16T23:26:13-21:24"})
    assert response.status_code == 200
    response = client.get("/api/records/", {"occurred_before": "not-a-date"})
    assert response.status_code == 400
