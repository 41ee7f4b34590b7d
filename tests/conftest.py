"""Shared fixtures: a store on SQLite and on PostgreSQL, free ports, condition waits."""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from roost.store.session import make_engine, normalise_url
from tests.wheelhouse import wheelhouse  # noqa: F401  (a session fixture for builds)

PG_URL = os.environ.get("ROOST_TEST_POSTGRES_URL") or (
    Path(__file__).resolve().parent.parent.joinpath(".pg-test-url").read_text().strip()
    if Path(__file__).resolve().parent.parent.joinpath(".pg-test-url").exists()
    else ""
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(cond: Callable[[], object], timeout: float = 30.0, interval: float = 0.05) -> object:
    """Poll ``cond`` until it returns a truthy value; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value {last!r})")


def in_ci() -> bool:
    """Whether the suite runs in CI (``CI=true``), where nothing may be skipped for want of
    a service."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def new_pg_database() -> tuple[str, Callable[[], None]]:
    """A fresh PostgreSQL database: its URL and a function that drops it.

    Without ROOST_TEST_POSTGRES_URL the PostgreSQL half of a store test is skipped on a
    developer's machine, and fails in CI so that a run cannot pass on SQLite alone.
    """
    if not PG_URL:
        message = "PostgreSQL not configured: run `make test` (sets ROOST_TEST_POSTGRES_URL)"
        if in_ci():
            pytest.fail(f"{message}; CI=true, so this fails instead of skipping", pytrace=False)
        pytest.skip(message)
    name = "roost_test_" + uuid.uuid4().hex[:12]
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = normalise_url(PG_URL).rpartition("/")
    url = f"{base}/{name}"

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'roost.db'}"
        return
    url, drop = new_pg_database()
    try:
        yield url
    finally:
        drop()


def engine_with_tables(url: str) -> Iterator[Engine]:
    """An engine on the (fresh) database at ``url`` with every table created from the
    models; disposed when the generator is closed."""
    from roost.store import models  # noqa: F401  (registers every model)
    from roost.store.base import Base

    eng = make_engine(url)
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh database with every table created from the models."""
    yield from engine_with_tables(db_url)


@pytest.fixture
def platform(db_url: str, tmp_path: Path) -> Iterator[object]:
    """A migrated platform context (store, cipher, admin token) on a fresh database."""
    from roost.orchestration.platform import ensure_local_credentials, open_platform
    from roost.settings import Settings

    settings = Settings(home=tmp_path / "home", database_url=db_url)
    ctx = open_platform(settings)
    ensure_local_credentials(ctx)
    yield ctx
    ctx.engine.dispose()


@contextlib.contextmanager
def admin_client(platform: Any) -> Iterator[Any]:
    """A TestClient of the control plane on ``platform``, with its admin token."""
    from fastapi.testclient import TestClient

    from roost import credentials
    from roost.api.app import create_app

    creds = credentials.read(platform.settings.home)
    assert creds is not None
    with TestClient(create_app(platform)) as client:
        client.headers["Authorization"] = f"Bearer {creds.token}"
        yield client


@pytest.fixture
def api(platform: object) -> Iterator[object]:
    """A TestClient of the control plane, authenticated with the admin token."""
    with admin_client(platform) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[object]:
    """The SMS provider's endpoint (Twilio wire format) and an Apprise json:// sink."""
    from tests.notify.receivers import Receiver

    r = Receiver().start()
    yield r
    r.stop()
