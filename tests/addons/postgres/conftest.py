"""Fixtures for the postgres add-on: platforms whose add-on uses the suite's server or a
cluster Roost manages; throw-away app databases; the Roost store on SQLite and PostgreSQL;
the object store on disk or moto's S3."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from roost import credentials
from roost.addons.postgres.backups import server_from_url
from roost.addons.postgres.cluster import Cluster
from roost.addons.postgres.server import Server
from roost.api.app import create_app
from roost.objectstore import ObjectStore, open_store
from roost.orchestration.platform import Platform, ensure_local_credentials, open_platform
from roost.settings import Settings
from roost.store.session import make_sessionmaker
from tests.conftest import PG_URL, free_port
from tests.objectstore.conftest import moto_endpoint, new_bucket, s3_env  # noqa: F401

SHOP_SCHEMA = """
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers(id),
                     total numeric(10, 2), note text);
CREATE INDEX orders_customer ON orders (customer_id);
INSERT INTO customers (name) SELECT 'c' || g FROM generate_series(1, 50) g;
INSERT INTO orders (customer_id, total) SELECT 1 + g % 50, g FROM generate_series(1, 300) g;
"""


@pytest.fixture
def server() -> Server:
    """The suite's PostgreSQL server, reached with its superuser login."""
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: run `make test` (sets ROOST_TEST_POSTGRES_URL)")
    return server_from_url(PG_URL)


def sql(server: Server, database: str, query: str) -> list[tuple[object, ...]]:
    """Run ``query`` on ``database``; the rows it returns, if any."""
    with psycopg.connect(server.url(database), autocommit=True) as conn:
        cur = conn.execute(query)  # type: ignore[arg-type]
        return list(cur.fetchall()) if cur.description else []


@pytest.fixture
def make_db(server: Server) -> Iterator[Callable[[str], str]]:
    """Create app databases (named like the app) with the shop schema; dropped afterwards."""
    made: list[str] = []

    def make(name: str, schema: str = SHOP_SCHEMA) -> str:
        sql(server, "postgres", f'CREATE DATABASE "{name}"')
        made.append(name)
        if schema:
            sql(server, name, schema)
        return name

    yield make
    for name in made:
        sql(server, "postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def app_name() -> str:
    """A fresh app name, also used as its database name."""
    return "bk-" + uuid.uuid4().hex[:10]


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """Roost's store (SQLite and PostgreSQL, via ``db_url``)."""
    return make_sessionmaker(engine)


@pytest.fixture
def objects(tmp_path: Path) -> Iterator[ObjectStore]:
    """The local object store."""
    store = open_store(f"file://{tmp_path / 'objects'}")
    yield store
    store.close()


@pytest.fixture
def s3_objects(s3_env: str) -> Iterator[ObjectStore]:  # noqa: F811
    """An object store on moto's S3 server."""
    store = open_store(f"s3://{new_bucket(s3_env)}/roost")
    yield store
    store.close()


@dataclass
class Roost:
    """A platform and an authenticated API client on it."""

    plat: Platform
    api: TestClient

    def add(self, app: str, **options: str) -> dict[str, object]:
        """Create ``app`` (if needed) and add postgres to it; fail the test on refusal."""
        self.api.post("/api/v1/apps", json={"name": app})
        added = self.api.post(f"/api/v1/apps/{app}/addons",
                              json={"kind": "postgres", "options": options})
        assert added.status_code == 201, added.text
        return dict(added.json())


def new_app() -> str:
    """An app name no other test (or test run) on the shared server uses."""
    return "t" + uuid.uuid4().hex[:10]


def admin_query(sql: str, *params: object) -> list[tuple[object, ...]]:
    """Rows of ``sql`` run as the test server's superuser."""
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        cur = conn.execute(sql, params)  # type: ignore[arg-type]
        return list(cur.fetchall()) if cur.description else []


def _roost(settings: Settings) -> Iterator[Roost]:
    plat = open_platform(settings)
    ensure_local_credentials(plat)
    creds = credentials.read(settings.home)
    assert creds is not None
    with TestClient(create_app(plat)) as client:
        client.headers["Authorization"] = f"Bearer {creds.token}"
        yield Roost(plat, client)
    plat.engine.dispose()


@pytest.fixture
def roost(db_url: str, tmp_path: Path) -> Iterator[Roost]:
    """Roost with the suite's PostgreSQL as its one ROOST_PG_SERVER, on both stores."""
    if not PG_URL:
        pytest.skip("PostgreSQL not configured (ROOST_TEST_POSTGRES_URL)")
    yield from _roost(Settings(home=tmp_path / "home", database_url=db_url,
                               pg_server=[PG_URL]))


@pytest.fixture(scope="module")
def managed_home() -> Iterator[tuple[Path, int]]:
    """A ROOST_HOME and port for the one Roost-managed cluster of these tests (made lazily
    by the first add-on that needs it; stopped at the end)."""
    # Outside pytest's temporary root: pytest keeps that at mode 700, and the cluster runs as
    # the unprivileged postgres user, which must reach its data directory.
    top = Path(tempfile.mkdtemp(prefix="roost-pg-test-"))
    home, port = top / "home", free_port()
    yield home, port
    Cluster(home, port).stop()
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def scram_server(managed_home: tuple[Path, int]) -> str:
    """The admin URL of the managed cluster, which checks passwords (the suite's trusts)."""
    return Cluster(*managed_home).ensure().admin_url
