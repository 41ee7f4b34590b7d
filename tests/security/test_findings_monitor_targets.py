"""Monitors cannot be pointed at link-local addresses or the cloud metadata service (where
the host's cloud credentials are), neither when added nor when checked."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from roost import credentials
from roost.api.app import create_app
from roost.monitor.uptime.checks import Checker
from roost.monitor.uptime.specs import MonitorSpec
from roost.orchestration.platform import ensure_local_credentials, open_platform
from roost.settings import Settings, load_settings

REFUSED = [
    ("http://169.254.169.254/latest/meta-data/iam/", "169.254.169.254"),
    ("http://169.254.10.1:8080/", "169.254.10.1"),
    ("tcp://[fe80::1]:22", "fe80::1"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254"),
    ("http://[::ffff:169.254.169.254]/", "169.254.169.254"),
    ("http://2852039166/latest/", "2852039166 resolves to 169.254.169.254"),  # a name for it
    ("tls://metadata.google.internal:443", "metadata.google.internal"),
]
ALLOWED = ["http://127.0.0.1:9/health", "tcp://10.0.0.5:5432", "http://192.168.1.10/",
           "tcp://172.16.0.9:6379"]


def _client(db_url: str, home: Path, **settings: object) -> Iterator[TestClient]:
    ctx = open_platform(Settings(home=home, database_url=db_url, **settings))  # type: ignore[arg-type]
    ensure_local_credentials(ctx)
    creds = credentials.read(home)
    assert creds is not None
    with TestClient(create_app(ctx)) as client:
        client.headers["Authorization"] = f"Bearer {creds.token}"
        assert client.post("/api/v1/apps", json={"name": "shop"}).status_code == 201
        yield client
    ctx.engine.dispose()


@pytest.fixture
def strict(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The API with default settings."""
    yield from _client(db_url, tmp_path / "home")


@pytest.fixture
def lenient(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The API with ROOST_MONITOR_ALLOW_PRIVATE=true."""
    yield from _client(db_url, tmp_path / "home", monitor_allow_private=True)


@pytest.mark.parametrize(("url", "named"), REFUSED)
def test_add_refuses_link_local_and_metadata(strict: TestClient, url: str, named: str) -> None:
    r = strict.post("/api/v1/apps/shop/monitors", json={"url": url})
    assert r.status_code == 422, r.text
    message = r.json()["error"]["message"]
    assert named in message and "ROOST_MONITOR_ALLOW_PRIVATE=true" in message
    assert strict.get("/api/v1/monitors", params={"app": "shop"}).json() == []


def test_private_ranges_stay_allowed(strict: TestClient) -> None:
    for url in ALLOWED:
        assert strict.post("/api/v1/apps/shop/monitors", json={"url": url}).status_code == 201
    assert len(strict.get("/api/v1/monitors", params={"app": "shop"}).json()) == len(ALLOWED)


def test_the_setting_allows_them(lenient: TestClient) -> None:
    for url, _ in REFUSED[:4]:
        r = lenient.post("/api/v1/apps/shop/monitors", json={"url": url})
        assert r.status_code == 201, r.text


def test_the_setting_is_read_from_the_environment(tmp_path: Path) -> None:
    env = {"ROOST_HOME": str(tmp_path), "ROOST_MONITOR_ALLOW_PRIVATE": "true"}
    assert load_settings(env).monitor_allow_private is True
    assert load_settings({"ROOST_HOME": str(tmp_path)}).monitor_allow_private is False


@pytest.mark.parametrize(("kind", "target"), [
    ("http", "http://2852039166/latest/meta-data/"),
    ("http", "http://169.254.169.254/"),
    ("tcp", "169.254.169.254:80"),
    ("tls", "[fd00:ec2::254]:443"),
])
def test_the_probe_refuses_them_at_check_time(kind: str, target: str) -> None:
    """A monitor stored before the rule, or a name that resolves differently now."""
    async def run() -> tuple[bool, str | None]:
        checker = Checker("local")
        try:
            outcome = await checker.check(MonitorSpec(id=1, kind=kind, target=target,
                                                      timeout_s=5))
        finally:
            await checker.aclose()
        return outcome.ok, outcome.error

    ok, error = asyncio.run(run())
    assert not ok and error is not None
    assert "link-local or cloud metadata" in error and "ROOST_MONITOR_ALLOW_PRIVATE" in error
