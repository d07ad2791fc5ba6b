"""schemathesis against the service's own OpenAPI document: generated requests (a bounded number
per operation, so CI stays fast) to a real `hostscore serve`, as an admin; none may answer 5xx."""

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from conftest import Service
from scorer import schema

EXAMPLES = 20  # per operation


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    running = Service(tmp_path_factory.mktemp("schema"), {"HOSTSCORE_RATE_LIMIT_PER_MINUTE": "100000"}).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api_schema(api):
    return schemathesis.openapi.from_dict(httpx.get(f"{api.url}/openapi.json", timeout=30).json())


def test_no_server_errors(api, api_schema):
    operations = [found.ok() for found in api_schema.get_all_operations()]
    assert len(operations) >= 8

    for operation in operations:  # each its own bounded hypothesis run (the pytest plugin does the same)
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        def no_5xx(case):
            response = case.call(base_url=api.url, headers=api.headers("admin"), timeout=30)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:500]}"

        no_5xx()


def test_a_calls_result_is_typed_as_the_librarys_result(api):
    """GET /v1/calls/{id}'s ``result`` is scorer.schema's model in the document, not a bare object: the
    same JSON Schema as ``schema.json_schema()`` (written with FastAPI's references, without null defaults)."""
    document = httpx.get(f"{api.url}/openapi.json", timeout=30).json()
    components = document["components"]["schemas"]
    detail = document["paths"]["/v1/calls/{call_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    result = components[detail["$ref"].rsplit("/", 1)[1]]["properties"]["result"]
    assert result["anyOf"] == [{"$ref": "#/components/schemas/CallResultModel"}, {"type": "null"}]

    def as_served(value):  # the library's schema written as FastAPI writes it into the document
        if isinstance(value, dict):
            return {k: as_served(v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" else v)
                    for k, v in value.items() if not (k == "default" and v is None)}
        return [as_served(v) for v in value] if isinstance(value, list) else value

    library = as_served(schema.json_schema())
    assert components["CallResultModel"] == {k: v for k, v in library.items() if k != "$defs"}
    for name, definition in library["$defs"].items():
        assert components[name] == definition, name
