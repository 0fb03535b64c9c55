import pytest

from pbqms.core.changelog import verify_chain
from pbqms.core.models import ChangeLogEntry


@pytest.mark.django_db
def test_healthz_answers_200_with_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_home_requires_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_home_for_secretary(client, users, login):
    login(users.secretary_a1)
    response = client.get("/")
    assert response.status_code == 200
    assert "sec_a1" in response.content.decode()


def test_tree_fixture_is_change_logged(tree):
    types = set(ChangeLogEntry.objects.values_list("object_type", flat=True))
    assert "orgs.organization" in types
    assert verify_chain().ok
