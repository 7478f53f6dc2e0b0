"""The OpenAPI schema validates and describes every route, body and error."""

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


EXPECTED_PATHS = [
    "/api/v1/organization/",
    "/api/v1/customers/",
    "/api/v1/customers/{id}/",
    "/api/v1/customers/{id}/archive/",
    "/api/v1/customers/bulk/",
    "/api/v1/contacts/",
    "/api/v1/contacts/{id}/",
    "/api/v1/interactions/",
    "/api/v1/follow-ups/",
    "/api/v1/follow-ups/{id}/",
    "/api/v1/audit-events/",
    "/api/v1/audit-events/{id}/",
]


def test_schema_validates_and_lists_every_resource(schema):
    assert schema["openapi"].startswith("3.")
    for path in EXPECTED_PATHS:
        assert path in schema["paths"], path


def test_every_write_documents_its_body_and_errors(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in {"post", "put", "patch"}:
                continue
            # Actions that take no input: archive, restore, and the privacy export (a download).
            if not path.endswith(("/archive/", "/restore/", "/privacy-export/")):
                assert "requestBody" in operation, (method, path)
            for status in ("400", "401", "403"):
                assert status in operation["responses"], (method, path, status)
            if method == "post":
                assert {"409", "422"} <= set(operation["responses"])
                assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])


def test_list_responses_are_cursor_pages(schema):
    response = schema["paths"]["/api/v1/customers/"]["get"]["responses"]["200"]
    ref = response["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    page = schema["components"]["schemas"][ref]
    assert {"results", "next"} <= set(page["properties"])


def test_schema_and_docs_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
