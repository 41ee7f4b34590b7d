"""Point-in-time recovery on Roost's own cluster, through the API: the first database turns
WAL archiving on (pgBackRest, repo under ROOST_HOME), `pg info` shows the window, and a
DROP TABLE is undone by restoring to the second before it, into the app or a fork."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from roost.settings import Settings
from tests.addons.postgres.conftest import Roost, _roost, new_app
from tests.conftest import wait_for

pytestmark = pytest.mark.skipif(shutil.which("pgbackrest") is None,
                                reason="pgbackrest missing: run scripts/ensure-pgbackrest.sh")


@pytest.fixture
def managed(db_url: str, managed_home: tuple[Path, int]) -> Iterator[Roost]:
    """Roost whose databases live on its own cluster (one cluster for the module)."""
    home, port = managed_home
    yield from _roost(Settings(home=home, database_url=db_url, pg_port=port))


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql)  # type: ignore[arg-type]
        return list(cur.fetchall()) if cur.description else []


def test_drop_table_then_restore_to_a_time_brings_the_rows_back(managed: Roost) -> None:
    r, shop, fork = managed, new_app(), new_app()
    r.add(shop)
    r.add(fork)
    info = r.api.get(f"/api/v1/apps/{shop}/pg/info").json()
    assert info["pitr_window"].endswith(" to now"), info
    opens = datetime.fromisoformat(info["pitr_window"].split(" to ")[0])
    url = r.api.get(f"/api/v1/apps/{shop}/pg/connection").json()["url"]
    # pgBackRest keeps whole seconds: the window opens within a second of the base backup.
    wait_for(lambda: query(url, "SELECT clock_timestamp()")[0][0] > opens,  # type: ignore[operator]
             timeout=5)
    query(url, "CREATE TABLE orders (id serial PRIMARY KEY, total int);"
               "INSERT INTO orders (total) SELECT g FROM generate_series(1, 250) g")
    [(before,)] = query(url, "SELECT clock_timestamp()")
    assert isinstance(before, datetime)
    query(url, "DROP TABLE orders")

    outside = r.api.post(f"/api/v1/apps/{shop}/pg/backups/restore",
                         json={"time": "2020-01-01T00:00:00Z", "confirm": shop})
    assert outside.status_code == 422, outside.text
    message = outside.json()["error"]["message"]
    assert message.startswith(f"--time 2020-01-01T00:00:00+00:00 is outside the PITR window of "
                              f"{shop}: ") and "\n" not in message
    assert query(url, "SELECT to_regclass('orders')") == [(None,)]  # nothing changed

    restored = r.api.post(f"/api/v1/apps/{shop}/pg/backups/restore",
                          json={"time": before.isoformat(), "confirm": shop})
    assert restored.status_code == 200, restored.text
    assert restored.json()["message"] == (f"Restored {shop}'s database (app_{shop}) as it was "
                                          f"at {before.isoformat()}")
    assert query(url, "SELECT count(*), sum(total) FROM orders") == [(250, 31375)]
    # the app's own login role still owns and uses the restored table
    query(url, "INSERT INTO orders (total) VALUES (1)")

    forked = r.api.post(f"/api/v1/apps/{shop}/pg/backups/restore",
                        json={"time": before.isoformat(), "confirm": fork, "to": fork})
    assert forked.status_code == 200, forked.text
    fork_url = r.api.get(f"/api/v1/apps/{fork}/pg/connection").json()["url"]
    assert query(fork_url, "SELECT count(*) FROM orders") == [(250,)]
    query(fork_url, "INSERT INTO orders (total) VALUES (2)")  # the fork's role can write it
