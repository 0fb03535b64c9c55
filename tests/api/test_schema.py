"""OpenAPI schema and docs: generated without warnings, served, and the docs page works
under the site's Content Security Policy (no inline script, no CDN)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from pbqms.core.middleware import CSP


@pytest.mark.django_db
def test_schema_generation_is_warning_free(tmp_path):
    out = io.StringIO()
    # --fail-on-warn raises SchemaGenerationError on any warning or error
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yaml"),
        stdout=out,
        stderr=out,
    )
    text = (tmp_path / "schema.yaml").read_text()
    for path in (
        "/api/orgs/",
        "/api/orgs/{id}/move/",
        "/api/orgs/{id}/dissolve/",
        "/api/people/",
        "/api/people/{id}/transfer/",
        "/api/role-assignments/",
        "/api/change-log/",
        "/api/auth/token/",
    ):
        assert f"  {path}:" in text, path
    # units are dissolved, never deleted
    orgs_detail = text.split("  /api/orgs/{id}/:")[1].split("\n  /api/")[0]
    assert "delete:" not in orgs_detail


@pytest.mark.django_db
def test_schema_endpoint(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/people/{id}/" in schema["paths"]


@pytest.mark.django_db
def test_docs_page_works_under_the_csp(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == CSP
    html = response.content.decode()
    assert "<script>" not in html  # no inline script
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()
