"""The postgres:// check kind against a real password-checking cluster: it logs in and runs
SELECT 1, says why it could not, pages like any outage, and the API never shows its
password."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import psycopg
import pytest
from sqlalchemy.orm import Session, sessionmaker

from roost.errors import InvalidInput
from roost.monitor.uptime import monitors
from roost.monitor.uptime.checks import Checker, Outcome
from roost.monitor.uptime.specs import MonitorSpec
from roost.store.session import transaction
from tests.addons.postgres.conftest import managed_home, scram_server  # noqa: F401
from tests.conftest import wait_for
from tests.monitor.uptime.conftest import TIMEOUT, People, Running, add_monitor, person
from tests.notify.receivers import Receiver


@pytest.fixture
def database(scram_server: str) -> Iterator[str]:  # noqa: F811
    """postgres://ROLE:PASSWORD@127.0.0.1:PORT/DB of a fresh database and login role."""
    name, password = "mon_" + uuid.uuid4().hex[:8], uuid.uuid4().hex
    with psycopg.connect(scram_server, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")  # type: ignore[arg-type]
        conn.execute(f"CREATE DATABASE {name} OWNER {name}")  # type: ignore[arg-type]
    port = urlsplit(scram_server).port
    yield f"postgres://{name}:{password}@127.0.0.1:{port}/{name}"
    with psycopg.connect(scram_server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
        conn.execute(f"DROP ROLE IF EXISTS {name}")  # type: ignore[arg-type]


def check(target: str) -> Outcome:
    async def run() -> Outcome:
        checker = Checker()
        try:
            return await checker.check(MonitorSpec(id=1, kind="postgres", target=target,
                                                   timeout_s=5))
        finally:
            await checker.aclose()

    return asyncio.run(run())


def test_logs_in_runs_select_1_and_says_why_not(database: str, closed_port: int) -> None:
    assert check(database).ok
    parts = urlsplit(database)
    wrong = database.replace(f":{parts.password}@", ":nope@")
    assert check(wrong).error == (f'password authentication failed for user '
                                  f'"{parts.username}"')
    missing = database.rsplit("/", 1)[0] + "/nosuchdb"
    assert check(missing).error == 'database "nosuchdb" does not exist'
    closed = database.replace(f":{parts.port}/", f":{closed_port}/")
    assert check(closed).error == "connection refused"
    for outcome in (check(wrong), check(missing)):
        assert parts.password not in (outcome.error or "")


def test_bad_targets_are_refused_and_the_password_is_never_shown(
        factory: sessionmaker[Session], database: str) -> None:
    with transaction(factory) as s:
        for bad in ("postgres://127.0.0.1:5432/db", "postgres://u:p@127.0.0.1:5432/",
                    "http://u:p@127.0.0.1/db", "postgres://u@127.0.0.1/db",
                    "postgres://u:p@%2Fvar%2Frun%2Fpostgresql/db",
                    "postgres://u:p@a:5432,b:5432/db"):
            with pytest.raises(InvalidInput, match="postgres://USER:PASSWORD@HOST:PORT/DATABASE"):
                monitors.create(s, "shop", bad, kind="postgres")
        for query in ("?passfile=/root/.pgpass", "?sslmode=require&service=x",
                      "?sslmode=whatever"):
            with pytest.raises(InvalidInput, match="takes no parameters but sslmode"):
                monitors.create(s, "shop", database + query, kind="postgres")
        made = monitors.create(s, "shop", database, kind="postgres", name="Database")
        password = urlsplit(database).password
        assert password is not None and password not in made.target
        assert made.target == database.replace(password, "***")
        assert [m.target for m in monitors.list_monitors(s, "shop")] == [made.target]


def test_a_database_that_refuses_logins_pages_and_recovers(
        factory: sessionmaker[Session], database: str, scram_server: str,  # noqa: F811
        receiver: Receiver, run_service: Callable[..., Running]) -> None:
    role = urlsplit(database).username
    maintainer = person(1)
    add_monitor(factory, "shop", database, kind="postgres", interval_s=0.5, timeout_s=0.5)
    run_service(People(by_app={"shop": [maintainer]}))
    with psycopg.connect(scram_server, autocommit=True) as conn:
        conn.execute(f"ALTER ROLE {role} NOLOGIN")  # type: ignore[arg-type]
    stopped = time.monotonic()
    wait_for(lambda: receiver.to(maintainer.phone), timeout=TIMEOUT)
    assert time.monotonic() - stopped <= TIMEOUT
    page = receiver.to(maintainer.phone)[0]
    assert "DOWN shop" in page and "not permitted to log in" in page
    with psycopg.connect(scram_server, autocommit=True) as conn:
        conn.execute(f"ALTER ROLE {role} LOGIN")  # type: ignore[arg-type]
    wait_for(lambda: len(receiver.to(maintainer.phone)) == 2, timeout=TIMEOUT)
    assert receiver.to(maintainer.phone)[1].startswith("UP shop")
