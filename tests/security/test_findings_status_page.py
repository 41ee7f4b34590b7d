"""The public status page names monitors; it never shows their URLs, credentials or
query strings, not even inside an incident's cause."""

from __future__ import annotations

from fastapi.testclient import TestClient

from roost.orchestration.platform import Platform as Context
from roost.store.base import utcnow
from roost.store.models.uptime import Incident

SECRET_URL = "https://ops:hunter2@localhost:8443/private/path?token=s3cr3t"


def test_status_page_shows_names_not_urls(api: TestClient, platform: Context) -> None:
    assert api.post("/api/v1/apps", json={"name": "shop"}).status_code == 201
    made = api.post("/api/v1/apps/shop/monitors", json={"url": SECRET_URL})
    assert made.status_code == 201, made.text
    db = api.post("/api/v1/apps/shop/monitors", json={"url": "tcp://admin:pw@127.0.0.1:5432"})
    assert db.status_code == 201, db.text
    named = api.post("/api/v1/apps/shop/monitors", json={
        "url": "http://127.0.0.1:9/health?key=abc123", "name": "Checkout API"})
    assert named.status_code == 201 and named.json()["name"] == "Checkout API"
    with platform.sessions.begin() as session:  # an incident as the engine words a failure
        now = utcnow()
        session.add(Incident(monitor_id=made.json()["id"], app_name="shop", started_at=now,
                             confirmed_at=now, cause=f"connect: cannot reach {SECRET_URL}"))
    page = TestClient(api.app).get("/status/shop")  # no token: the page is public
    assert page.status_code == 200
    assert "<h3>localhost <span" in page.text and "<h3>127.0.0.1 (TCP) <span" in page.text
    assert "<h3>Checkout API <span" in page.text
    assert "connect: cannot reach [target]" in page.text
    for secret in ("hunter2", "ops:", "s3cr3t", "token=", "/private/path", "admin:pw", "8443",
                   "abc123", "/health"):
        assert secret not in page.text, secret
