"""Error pages in the product's look and language (DEBUG off, as in production)."""

import pytest
from django.test import Client, override_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


@override_settings(DEBUG=False)
def test_404_page_is_ours_in_chinese(client, login, users):
    login(users.secretary_a1)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert 'data-testid="error-page"' in body and "页面不存在" in body
    assert "pb-sidebar" in body  # the usual frame with the menu


@override_settings(DEBUG=False)
def test_403_page_is_ours(client, login, users):
    login(users.member_a1)
    response = client.get(reverse("core:changelog"))
    assert response.status_code == 403
    body = response.content.decode()
    assert 'data-testid="error-page"' in body and "无权" in body


@override_settings(DEBUG=False)
def test_500_page_renders_without_context():
    from django.test import RequestFactory
    from django.views.defaults import server_error

    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "系统出错了" in response.content.decode()


def test_anonymous_404_does_not_crash():
    with override_settings(DEBUG=False):
        response = Client().get("/no-such-page/")
    assert response.status_code in (302, 404)
