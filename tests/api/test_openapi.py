"""/openapi.json documents the body of every successful response of the REST API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from roost.api.app import create_app
from roost.orchestration.platform import open_platform
from roost.settings import Settings

# Endpoints that stream: their 2xx bodies are lines (NDJSON events or log text), each
# documented by its media type and description rather than by one JSON schema.
STREAMING = {
    ("post", "/api/v1/apps/{app}/builds"): "application/x-ndjson",
    ("post", "/api/v1/apps/{app}/run"): "application/x-ndjson",
    ("get", "/api/v1/apps/{app}/logs"): "text/plain",
    ("get", "/api/v1/apps/{app}/pg/backups/{bid}/download"): "application/octet-stream",
    ("get", "/api/v1/apps/{app}/export"): "application/yaml",  # a document, not JSON
}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The OpenAPI document the control plane serves."""
    home = tmp_path_factory.mktemp("openapi")
    ctx = open_platform(Settings(home=home, database_url=f"sqlite:///{home / 'roost.db'}",
                                 advisory_sources=[]))
    try:
        response = TestClient(create_app(ctx)).get("/openapi.json")
    finally:
        ctx.engine.dispose()
    assert response.status_code == 200
    return dict(response.json())


def operations(spec: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, path, status, response) of every 2xx response of every /api/v1 operation."""
    return [(method, path, status, response)
            for path, ops in spec["paths"].items() if path.startswith("/api/v1/")
            for method, op in ops.items()
            for status, response in op["responses"].items() if status.startswith("2")]


def undocumented(schema: dict[str, Any], spec: dict[str, Any]) -> str | None:
    """Why ``schema`` says nothing about a body's fields, or None when it documents them."""
    if "$ref" in schema:
        name = schema["$ref"].rpartition("/")[2]
        return undocumented(spec["components"]["schemas"][name], spec)
    if "anyOf" in schema:
        return next((why for s in schema["anyOf"] if (why := undocumented(s, spec))), None)
    kind = schema.get("type")
    if kind == "array":
        return undocumented(schema.get("items") or {}, spec)
    if kind == "object":
        if schema.get("properties"):
            return None
        values = schema.get("additionalProperties")
        if isinstance(values, dict) and values:
            return undocumented(values, spec)  # a typed map (config vars, a formation)
        return "a free-form object"
    return None if kind else "no schema"


def test_every_successful_json_response_has_a_schema(spec: dict[str, Any]) -> None:
    missing = []
    for method, path, status, response in operations(spec):
        if (method, path) in STREAMING or status == "204":
            continue
        content = response.get("content") or {}
        if list(content) != ["application/json"]:
            missing.append(f"{method.upper()} {path} {status}: content types {list(content)}")
            continue
        why = undocumented(content["application/json"].get("schema") or {}, spec)
        if why:
            missing.append(f"{method.upper()} {path} {status}: {why}")
    assert missing == []


def test_streaming_endpoints_name_their_stream_type(spec: dict[str, Any]) -> None:
    found = {(method, path): list(response.get("content") or {})
             for method, path, _, response in operations(spec) if (method, path) in STREAMING}
    assert found == {key: [media] for key, media in STREAMING.items()}


def test_no_content_responses_have_no_body(spec: dict[str, Any]) -> None:
    with_body = [f"{method.upper()} {path}" for method, path, status, response
                 in operations(spec) if status == "204" and response.get("content")]
    assert with_body == []
