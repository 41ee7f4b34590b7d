"""Point-in-time recovery with pgBackRest: a cluster that archives its WAL into a repo on the
local object store, a base backup, a deliberate DROP TABLE, and a restore to the second
before it; a time outside the window is one line and changes nothing."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from roost.addons.postgres import pitr
from roost.errors import InvalidInput
from roost.objectstore import open_store
from tests.addons.postgres.cluster import OS_USER, Cluster, new_cluster
from tests.addons.postgres.conftest import SHOP_SCHEMA, sql
from tests.conftest import wait_for

pytestmark = pytest.mark.skipif(shutil.which("pgbackrest") is None,
                                reason="pgbackrest missing: run scripts/ensure-pgbackrest.sh")


@pytest.fixture
def root() -> Iterator[Path]:
    """A directory the postgres user can reach (pytest's own tmp is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="roost-pitr-test-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def archived(root: Path) -> Iterator[tuple[Cluster, pitr.Pitr]]:
    """A cluster archiving WAL into the object store's repo, with one full base backup."""
    cluster = new_cluster(root / "pg")
    objects = open_store(f"file://{root / 'objects'}")
    stanza = pitr.configure(root / "home", "main",
                            pitr.Cluster(server=cluster.server, data_dir=cluster.data,
                                         socket_dir=cluster.sockets, os_user=OS_USER),
                            objects)
    cluster.start(pitr.archive_settings(stanza))
    try:
        pitr.setup(stanza)
        pitr.backup(stanza)
        yield cluster, stanza
    finally:
        cluster.stop()


def test_restore_to_a_time_brings_dropped_rows_back(
        archived: tuple[Cluster, pitr.Pitr], root: Path) -> None:
    cluster, stanza = archived
    server = cluster.server
    opens = (pitr.window(stanza) or (datetime.max.replace(tzinfo=UTC),))[0]
    # pgBackRest keeps whole seconds: the window opens within a second of the backup.
    wait_for(lambda: sql(server, "postgres", "SELECT clock_timestamp()")[0][0] > opens,  # type: ignore[operator]
             timeout=5)
    sql(server, "postgres", "CREATE DATABASE shop")
    sql(server, "shop", SHOP_SCHEMA)
    [(before,)] = sql(server, "shop", "SELECT clock_timestamp()")
    assert isinstance(before, datetime)
    sql(server, "shop", "DROP TABLE orders; UPDATE customers SET name = 'gone'")

    start, end = pitr.window(stanza) or (None, None)
    assert start is not None and end is not None and start < before < end
    line = pitr.restore_database(stanza, "shop", before, "shop", confirm="shop")
    assert line == f"Restored shop's database (shop) as it was at {before.isoformat()}"
    assert sql(server, "shop", "SELECT count(*) FROM orders") == [(300,)]
    assert sql(server, "shop", "SELECT count(*) FROM customers WHERE name = 'gone'") == [(0,)]
    assert (root / "objects" / "addons" / "postgres" / "pitr" / "archive").is_dir()

    sql(server, "postgres", "CREATE DATABASE fork")  # another app's database: a fork
    line = pitr.restore_database(stanza, "shop", before, "shop", confirm="fork",
                                 into_database="fork", into_app="fork")
    assert line == f"Restored fork's database (fork) from shop's as it was at {before.isoformat()}"
    assert sql(server, "fork", "SELECT count(*) FROM orders") == [(300,)]


def test_time_outside_the_window_is_one_line_and_changes_nothing(
        archived: tuple[Cluster, pitr.Pitr]) -> None:
    cluster, stanza = archived
    sql(cluster.server, "postgres", "CREATE DATABASE shop")
    sql(cluster.server, "shop", SHOP_SCHEMA)
    for when in (datetime(2020, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=1)):
        with pytest.raises(InvalidInput) as caught:
            pitr.restore_database(stanza, "shop", when, "shop", confirm="shop")
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith(f"--time {when.isoformat()} is outside the PITR window of "
                                  "shop: ")
    with pytest.raises(InvalidInput) as refused:
        pitr.restore_database(stanza, "shop", datetime.now(UTC), "shop", confirm="")
    assert str(refused.value).endswith("overwrites the database of shop: repeat the app's "
                                       "name to confirm: --confirm shop")
    assert sql(cluster.server, "shop", "SELECT count(*) FROM orders") == [(300,)]
