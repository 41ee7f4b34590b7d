"""Property-based fuzz of the OpenAPI spec: no input makes the API answer 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from roost import credentials
from roost.api.app import create_app
from roost.orchestration.platform import ensure_local_credentials, open_platform
from roost.settings import Settings


def _app(tmp: Path):  # type: ignore[no-untyped-def]
    ctx = open_platform(Settings(home=tmp, database_url=f"sqlite:///{tmp / 'fuzz.db'}",
                                 advisory_sources=[]))
    ensure_local_credentials(ctx)
    with ctx.sessions.begin() as s:
        from roost.core import apps

        apps.create(s, "web", "fuzz")
    creds = credentials.read(tmp)
    assert creds
    return create_app(ctx), creds.token


TMP = Path(__import__("tempfile").mkdtemp(prefix="roost-fuzz-"))
APP, TOKEN = _app(TMP)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code < 500, f"{case.method} {case.path}: {response.text[:300]}"
    if response.status_code >= 400 and "json" in str(response.headers.get("content-type")):
        # The Mailgun-compatible API's own refusals are Mailgun's shape, {"message": …}.
        body = response.json()
        assert "error" in body or (case.path.startswith("/v3/") and "message" in body), body


@pytest.mark.parametrize("path", ["/api/v1/apps/%00", "/api/v1/apps/" + "x" * 5000])
def test_odd_paths_are_4xx(path: str) -> None:
    from fastapi.testclient import TestClient

    r = TestClient(APP).get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert 400 <= r.status_code < 500
