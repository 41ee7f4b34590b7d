"""The backups API: capture, list, restore (refused without confirm), verify, download,
schedule; bad input is a 4xx with one clear line and changes nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from roost.addons.postgres.server import Server
from roost.orchestration.platform import Platform
from tests.addons.postgres.conftest import sql
from tests.conftest import PG_URL


@pytest.fixture
def shop(api: Any, make_db: Callable[[str], str], app_name: str,
         monkeypatch: pytest.MonkeyPatch) -> str:
    """An app whose database (named like it) is on the suite's server."""
    monkeypatch.setenv("ROOST_PG_SERVER", PG_URL)
    assert api.post("/api/v1/apps", json={"name": app_name}).status_code == 201
    make_db(app_name)
    return app_name


def test_capture_list_drop_restore(api: Any, shop: str, server: Server) -> None:
    base = f"/api/v1/apps/{shop}/pg/backups"
    made = api.post(base)
    assert made.status_code == 201, made.text
    assert made.json()["id"] == "b001" and made.json()["status"] == "captured"
    listed = api.get(base).json()
    assert [b["id"] for b in listed["backups"]] == ["b001"] and listed["schedule"] is None

    sql(server, shop, "DROP TABLE orders")
    refused = api.post(f"{base}/b001/restore", json={})
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == (
        f"restoring b001 overwrites the database of {shop}: repeat the app's name to "
        f"confirm: --confirm {shop}")
    assert sql(server, shop, "SELECT to_regclass('orders')") == [(None,)]
    done = api.post(f"{base}/b001/restore", json={"confirm": shop})
    assert done.status_code == 200, done.text
    assert sql(server, shop, "SELECT count(*) FROM orders") == [(300,)]


def test_unknown_backup_id_is_404_and_changes_nothing(api: Any, shop: str,
                                                      server: Server) -> None:
    base = f"/api/v1/apps/{shop}/pg/backups"
    for method, path, body in (("post", "/b009/restore", {"confirm": shop}),
                               ("post", "/b009/verify", None), ("get", "/b009/download", None),
                               ("get", "/b009", None)):
        answer = getattr(api, method)(base + path, **({"json": body} if body else {}))
        assert answer.status_code == 404, path
        assert answer.json()["error"]["message"] == (
            f"{shop} has no backup b009: `roost pg backups {shop}` lists its backups")
    assert api.post(f"{base}/nonsense/verify").status_code == 422
    assert api.get(base).json()["backups"] == []
    assert sql(server, shop, "SELECT count(*) FROM orders") == [(300,)]


def test_download_verify_and_schedule(api: Any, shop: str, platform: Platform) -> None:
    base = f"/api/v1/apps/{shop}/pg/backups"
    record = api.post(base).json()
    assert api.get(f"{base}/b001/url").json() == {"url": "", "expires_in": 0}  # file store
    got = api.get(f"{base}/b001/download")
    assert got.status_code == 200
    assert hashlib.sha256(got.content).hexdigest() == record["sha256"]
    assert got.content.startswith(b"PGDMP")
    checked = api.post(f"{base}/b001/verify").json()
    assert checked["status"] == "verified" and checked["verified_at"]

    bad = api.put(f"{base}/schedule", json={"at": "25:00"})
    assert bad.status_code == 422 and "HH:MM" in bad.json()["error"]["message"]
    assert api.get(base).json()["schedule"] is None
    assert api.put(f"{base}/schedule", json={"at": "02:30"}).json()["at"] == "02:30"
    assert api.get(base).json()["schedule"]["at"] == "02:30"


def test_unknown_app_and_app_without_database(api: Any, monkeypatch: pytest.MonkeyPatch,
                                              app_name: str) -> None:
    monkeypatch.delenv("ROOST_PG_SERVER", raising=False)
    assert api.get("/api/v1/apps/nope/pg/backups").status_code == 404
    api.post("/api/v1/apps", json={"name": app_name})
    answer = api.post(f"/api/v1/apps/{app_name}/pg/backups")
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == (
        f"{app_name} has no PostgreSQL database: add one with "
        f"`roost addons add {app_name} postgres`")


def test_restore_to_time_needs_pitr_and_a_time_zone(api: Any, shop: str,
                                                    server: Server) -> None:
    base = f"/api/v1/apps/{shop}/pg/backups/restore"
    naive = api.post(base, json={"time": "2026-12-01T14:03:00", "confirm": shop})
    assert naive.status_code == 422
    answer = api.post(base, json={"time": "2026-12-01T14:03:00Z", "confirm": shop})
    assert answer.status_code == 422
    assert answer.json()["error"]["message"] == (
        f"{shop}'s database has no point-in-time recovery (its server does not archive WAL "
        "to Roost): restore a backup by id instead")
    assert sql(server, shop, "SELECT count(*) FROM orders") == [(300,)]
