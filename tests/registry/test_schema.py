"""The OpenAPI schema builds and validates without warnings, and the docs are served locally."""

from io import StringIO

import pytest
from django.core.management import call_command


def test_the_schema_validates_without_warnings(db):
    # when
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", stdout=out)

    # then
    assert '"openapi": "3.0.3"' in out.getvalue()
    assert '"/api/v1/agents/{key}/transition/"' in out.getvalue()
    assert '"bearerAuth"' in out.getvalue()


@pytest.mark.parametrize("persona", ["owner", "anonymous"])
def test_the_schema_is_served(db, client_for, persona, request):
    client = client_for(None if persona == "anonymous" else request.getfixturevalue(persona))
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Agent Registry API"


def test_the_docs_load_local_assets_only_and_no_inline_script(client_for, owner):
    # when
    response = client_for(owner).get("/api/docs/")

    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert "<script>" not in html.replace(" ", "")
    script = client_for(owner).get("/api/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()
