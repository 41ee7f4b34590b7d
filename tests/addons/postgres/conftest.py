"""Fixtures: the suite's real PostgreSQL as the app's server, throw-away app databases,
the Roost store on SQLite and PostgreSQL, and the object store on disk or moto's S3."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from roost.addons.postgres.backups import server_from_url
from roost.addons.postgres.server import Server
from roost.objectstore import ObjectStore, open_store
from roost.store.session import make_sessionmaker
from tests.conftest import PG_URL
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
