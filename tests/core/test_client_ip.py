from django.test import RequestFactory

from pbqms.core.middleware import client_ip


def test_remote_addr_by_default(settings):
    settings.PBQMS_CLIENT_IP_HEADER = ""
    request = RequestFactory().get("/", REMOTE_ADDR="10.1.2.3", HTTP_X_REAL_IP="6.6.6.6")
    assert client_ip(request) == "10.1.2.3"


def test_configured_proxy_header(settings):
    settings.PBQMS_CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_REAL_IP="203.0.113.9")
    assert client_ip(request) == "203.0.113.9"
    # without the header (a direct request), fall back to the socket address
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1")
    assert client_ip(request) == "127.0.0.1"


def test_forwarded_for_is_never_trusted(settings):
    settings.PBQMS_CLIENT_IP_HEADER = ""
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(request) == "10.0.0.5"
