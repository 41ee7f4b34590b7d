"""The OTLP ingest-key cache: a flood of made-up keys evicts no real key, and a rotated
or revoked key is refused on its very next request."""

from __future__ import annotations

import asyncio
import secrets

from fastapi.testclient import TestClient

from roost.monitor.perf.keys import INVALID_SIZE
from roost.orchestration.platform import Platform as Context

EMPTY_EXPORT = b'{"resourceSpans": []}'


def _key(api: TestClient, app: str) -> str:
    config = api.get(f"/api/v1/apps/{app}/config", params={"reveal": True}).json()
    return str(config["OTEL_EXPORTER_OTLP_HEADERS"].partition("=")[2])


def _export(client: TestClient, key: str) -> int:
    return client.post("/v1/traces", content=EMPTY_EXPORT, headers={
        "content-type": "application/json", "x-roost-ingest-key": key}).status_code


def test_bad_key_flood_evicts_no_good_key(api: TestClient, platform: Context) -> None:
    assert api.post("/api/v1/apps", json={"name": "shop"}).status_code == 201
    key = _key(api, "shop")
    app = TestClient(api.app)
    assert _export(app, key) == 200
    keys = platform.perf.keys
    assert keys.cached(key) == "shop"

    async def flood() -> list[str | None]:  # each one a real lookup in the store
        return [await keys.app_for("rik_" + secrets.token_urlsafe(24))
                for _ in range(3 * INVALID_SIZE)]

    assert set(asyncio.run(flood())) == {None}
    assert keys.cached(key) == "shop"  # the next export is answered from the cache
    assert keys.counts() == (1, INVALID_SIZE)  # the made-up keys stay in their own corner
    assert _export(app, key) == 200
    assert _export(app, "rik_made-up") == 401


def test_rotated_key_is_refused_at_once(api: TestClient, platform: Context) -> None:
    api.post("/api/v1/apps", json={"name": "shop"})
    old = _key(api, "shop")
    app = TestClient(api.app)
    assert _export(app, old) == 200  # cached now
    rotated = api.post("/api/v1/apps/shop/perf/ingest-key")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["key"]
    assert new != old and _key(api, "shop") == new  # the app's config carries the new key
    assert _export(app, old) == 401
    assert _export(app, new) == 200
    assert platform.perf.keys.cached(old) is None


def test_destroyed_apps_key_is_refused_at_once(api: TestClient) -> None:
    api.post("/api/v1/apps", json={"name": "shop"})
    key = _key(api, "shop")
    app = TestClient(api.app)
    assert _export(app, key) == 200
    assert api.delete("/api/v1/apps/shop", params={"confirm": "shop"}).status_code == 204
    assert _export(app, key) == 401


def test_rotating_an_unknown_app_is_404(api: TestClient) -> None:
    r = api.post("/api/v1/apps/nope/perf/ingest-key")
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]
