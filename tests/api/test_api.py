"""The REST API: auth, error bodies, apps, maintainers and config, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from roost.store.models import App


def test_health_needs_no_token(api: TestClient) -> None:
    r = api.get("/api/v1/health", headers={"Authorization": ""})
    assert r.status_code == 200 and r.json()["status"] == "ok"


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic abc", "Bearer "])
def test_missing_or_wrong_token_is_401(api: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    client = TestClient(api.app)
    r = client.get("/api/v1/apps", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


def test_app_lifecycle(api: TestClient) -> None:
    assert api.post("/api/v1/apps", json={"name": "web"}).status_code == 201
    dup = api.post("/api/v1/apps", json={"name": "web"})
    assert dup.status_code == 409 and "exists already" in dup.json()["error"]["message"]
    assert [a["name"] for a in api.get("/api/v1/apps").json()] == ["web"]
    refused = api.delete("/api/v1/apps/web", params={"confirm": "nope"})
    assert refused.status_code == 422 and "--confirm web" in refused.json()["error"]["message"]
    assert api.get("/api/v1/apps/web").status_code == 200
    assert api.delete("/api/v1/apps/web", params={"confirm": "web"}).status_code == 204
    missing = api.get("/api/v1/apps/web")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [{}, {"name": 5}, {"name": "UPPER"}, {"name": "x" * 31}, {"name": "ok", "extra": 1}, [], "x"],
)
def test_bad_app_bodies_are_4xx_with_error_body(api: TestClient, body: Any) -> None:
    r = api.post("/api/v1/apps", json=body)
    assert 400 <= r.status_code < 500
    assert set(r.json()["error"]) == {"code", "message"}
    assert api.get("/api/v1/apps").json() == []


def test_malformed_json_is_4xx(api: TestClient) -> None:
    r = api.post("/api/v1/apps", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"


def test_config_masked_unless_revealed(api: TestClient) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    value = 'a "quoted" = value\nwith newline ☃'
    r = api.patch("/api/v1/apps/web/config", json={"vars": {"SECRET": value}})
    assert r.status_code == 200 and r.json()["changed"] == ["SECRET"]
    assert api.get("/api/v1/apps/web/config").json()["SECRET"] != value
    revealed = api.get("/api/v1/apps/web/config", params={"reveal": True}).json()
    assert revealed["SECRET"] == value
    assert api.get("/api/v1/apps/web/config/SECRET").json() == {"SECRET": value}
    bad = api.patch("/api/v1/apps/web/config", json={"vars": {"OK": "1", "BAD-KEY": "x"}})
    assert bad.status_code == 422 and "BAD-KEY" in bad.json()["error"]["message"]
    assert "OK" not in api.get("/api/v1/apps/web/config").json()


def test_new_app_gets_telemetry_config(api: TestClient) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    values = api.get("/api/v1/apps/web/config", params={"reveal": True}).json()
    assert values["OTEL_SERVICE_NAME"] == "web"
    assert values["OTEL_EXPORTER_OTLP_HEADERS"].startswith("x-roost-ingest-key=rik_")


def test_maintainers(api: TestClient) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    r = api.post("/api/v1/apps/web/maintainers",
                 json={"name": "Ada", "phone": "+15551234567", "notify": ["json://127.0.0.1/x"]})
    assert r.status_code == 201
    bad = api.post("/api/v1/apps/web/maintainers", json={"name": "Bob", "email": "bob@"})
    assert bad.status_code == 422 and "invalid email" in bad.json()["error"]["message"]
    listed = api.get("/api/v1/apps/web/maintainers").json()
    assert [(m["name"], m["phone"]) for m in listed] == [("Ada", "+15551234567")]
    assert api.delete("/api/v1/apps/web/maintainers/%2B15551234567").status_code == 200
    assert api.get("/api/v1/apps/web/maintainers").json() == []


def test_audit_records_actor(api: TestClient) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    entries = api.get("/api/v1/audit").json()
    assert ("admin", "apps.create") in [(e["actor"], e["action"]) for e in entries]


def test_dashboard_login_and_listing(api: TestClient) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    api.post("/api/v1/apps/web/maintainers", json={"name": "Ada Lovelace", "email": "a@b.co"})
    browser = TestClient(api.app)
    assert "Paste an API token" in browser.get("/").text
    assert browser.post("/login", data={"token": "wrong"}).status_code == 401
    token = api.headers["Authorization"].split()[1]
    page = browser.post("/login", data={"token": token})
    assert page.status_code == 200 and "Ada Lovelace" in page.text and ">web<" in page.text


def test_openapi_spec_served(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    assert "/api/v1/apps" in spec["paths"]


@pytest.mark.parametrize("result", [
    {"monitor_id": 2**63, "at": "2026-01-01T00:00:00Z", "ok": False},
    {"monitor_id": 0, "at": "2026-01-01T00:00:00Z", "ok": False},
    {"monitor_id": 1, "at": "2026-01-01T00:00:00Z", "ok": True, "status": 2**40},
    {"monitor_id": 1, "at": "2026-01-01T00:00:00Z", "ok": True, "latency_ms": -1},
])
def test_probe_results_out_of_range_are_422(api: TestClient, result: dict[str, Any]) -> None:
    """A probe's report naming an impossible monitor id or status is refused, not a 500."""
    r = api.post("/api/v1/probes/far/results", json={"results": [result]})
    assert r.status_code == 422 and r.json()["error"]["code"]
    field = next(k for k in ("monitor_id", "status", "latency_ms") if k in r.text)
    assert field in r.json()["error"]["message"]


def test_a_write_is_stored_before_its_answer_is_sent(api: TestClient) -> None:
    """A client that acts on a 2xx at once (a browser following the login's redirect, a
    script that creates an app then deploys it) finds what it wrote: the store's
    transaction commits before the answer starts, seen here from another connection."""
    ctx = api.app.state.ctx  # type: ignore[attr-defined]
    inner = api.app
    stored_at_answer: list[bool] = []

    async def spying(scope: Any, receive: Any, send: Any) -> None:
        async def send_spied(message: Any) -> None:
            if message["type"] == "http.response.start":
                with ctx.sessions() as other:
                    stored_at_answer.append(
                        other.scalar(select(App).where(App.name == "web")) is not None)
            await send(message)

        await inner(scope, receive, send_spied)

    client = TestClient(spying, headers=dict(api.headers))
    assert client.post("/api/v1/apps", json={"name": "web"}).status_code == 201
    assert stored_at_answer == [True]
