"""Property-based API test: schemathesis generates requests from the OpenAPI schema (valid and
invalid ones) and every answer must be free of server errors and match the schema.

Runs in-process against the WSGI application and the test database, as a party committee
administrator (token) — the role that may use most operations."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

import json  # noqa: E402
import os  # noqa: E402

from django.core.wsgi import get_wsgi_application  # noqa: E402
from drf_spectacular.generators import SchemaGenerator  # noqa: E402
from drf_spectacular.renderers import OpenApiJsonRenderer  # noqa: E402
from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
)

from pbqms.accounts.models import User  # noqa: E402
from pbqms.core.roles import Role  # noqa: E402
from pbqms.orgs.models import Person  # noqa: E402
from tests.factories import grant, make_person  # noqa: E402


def _load_schema():
    # the schema as /api/schema/ serves it, generated without a request (collection time
    # has no database); requests then go to the WSGI application in-process
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(document)))
    loaded.app = get_wsgi_application()
    return loaded


schema = _load_schema()


@pytest.fixture
def caller(tree):
    """A party committee administrator of the whole tree (no password: token only), and a
    person to find."""
    user = User(username="fuzz_admin", display_name="fuzz", must_change_password=False)
    user.set_unusable_password()  # no password hashing: this fixture runs once per operation
    user.save()
    grant(user, Role.PARTY_ADMIN, tree.root)
    if not Person.objects.filter(name="测试").exists():
        make_person(tree.branch_a1, "测试", phone="13800001111")
    return user


@pytest.fixture
def keep_test_connection():
    """The WSGI app signals request start/end, and Django then closes the database
    connection (the test's transaction with it, on PostgreSQL). Django's own test client
    switches that off the same way."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=10,
    # the same examples on every run (a CI run is reproducible); PBQMS_FUZZ_RANDOM=1 explores
    # new ones, e.g. `PBQMS_FUZZ_RANDOM=1 pytest tests/api/test_schemathesis.py` a few times
    derandomize=not os.environ.get("PBQMS_FUZZ_RANDOM"),
    deadline=None,
    database=None,  # no example database written into the work tree
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
def test_api_has_no_server_errors_and_matches_its_schema(case, caller, keep_test_connection):
    token, _created = Token.objects.get_or_create(user=caller)
    response = case.call(headers={"Authorization": f"Token {token.key}"})
    case.validate_response(
        response,
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
