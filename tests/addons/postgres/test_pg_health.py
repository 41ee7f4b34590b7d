"""Looking after Roost's own cluster in the background: a base backup when the newest is a
day old, and the app's maintainers told when the disk is nearly full or the WAL archive has
stopped advancing (once a day each)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from roost.addons.postgres import archiving, pitr
from roost.addons.postgres.addon import cluster
from roost.core import maintainers
from roost.notify import outbox
from roost.orchestration import pg_health
from roost.settings import Settings
from tests.addons.postgres.conftest import Roost, _roost, new_app
from tests.conftest import wait_for

pytestmark = pytest.mark.skipif(shutil.which("pgbackrest") is None,
                                reason="pgbackrest missing: run scripts/ensure-pgbackrest.sh")


@pytest.fixture
def shop(managed_home: tuple[Path, int], tmp_path: Path) -> Iterator[tuple[Roost, str]]:
    """An app with a maintainer and a database on Roost's own cluster."""
    home, port = managed_home
    for r in _roost(Settings(home=home, database_url=f"sqlite:///{tmp_path / 'r.db'}",
                             pg_port=port)):
        app = new_app()
        r.add(app)
        with r.plat.sessions.begin() as s:
            maintainers.add(s, app, "Ada", "ada@example.com", "+15551230002", [], "t")
        yield r, app


def told(r: Roost, prefix: str) -> list[str]:
    with r.plat.sessions.begin() as s:
        return sorted({m.subject for m in outbox.messages(s, prefix)})


def test_a_full_disk_is_told_once_a_day(shop: tuple[Roost, str]) -> None:
    r, app = shop
    managed = cluster(r.plat.settings)
    now = datetime.now(UTC)
    assert pg_health.check_cluster(r.plat, managed, now) == []
    assert told(r, f"pgdisk:{managed.name}:{app}:") == []
    found = pg_health.check_cluster(r.plat, managed, now, disk_limit=0.0)
    assert [f for f in found if f.startswith("disk ")], found
    subjects = told(r, f"pgdisk:{managed.name}:{app}:")
    assert len(subjects) == 1 and subjects[0].startswith(f"[roost] {app}: the database's disk "
                                                         "is ")
    pg_health.check_cluster(r.plat, managed, now, disk_limit=0.0)
    with r.plat.sessions.begin() as s:  # the same day: one message per channel, not two
        assert len(outbox.messages(s, f"pgdisk:{managed.name}:{app}:")) == 1


def test_a_stalled_archive_is_told_and_the_daily_base_backup_taken(
        shop: tuple[Roost, str]) -> None:
    r, app = shop
    managed = cluster(r.plat.settings)
    stanza = archiving.configured(r.plat.settings, managed)
    assert stanza is not None
    before = len(pitr.backup_times(stanza))
    managed.set_config(archiving.CONF_NAME, {"archive_command": "/bin/false"})
    admin = managed.server().admin_url

    def failed_once() -> bool:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS churn (x int); INSERT INTO churn VALUES (1)")
            conn.execute("SELECT pg_switch_wal()")
            row = conn.execute("SELECT last_failed_time FROM pg_stat_archiver").fetchone()
            return row is not None and row[0] is not None

    try:
        wait_for(failed_once, timeout=60, interval=0.5)
        later = datetime.now(UTC) + timedelta(hours=1)
        state = archiving.archive_state(managed, later)
        assert state.stalled and "has failed since" in state.reason
        assert not archiving.archive_state(managed, datetime.now(UTC)).stalled  # just now
        found = pg_health.check_cluster(r.plat, managed, later + timedelta(days=1))
        assert any(f.startswith("WAL archive stalled") for f in found), found
        assert told(r, f"pgarchive:{managed.name}:{app}:") == [
            f"[roost] {app}: the database's WAL archive has stopped advancing"]
        # the base backup a day after the newest one cannot finish without its WAL
        assert any(f.startswith("base backup failed") for f in found), found
        assert told(r, f"pgbase:{managed.name}:{app}:") == [
            f"[roost] {app}: the daily base backup failed"]
        assert len(pitr.backup_times(stanza)) == before
    finally:
        archiving.enable(r.plat.settings, r.plat.objects, managed)
    assert pg_health.check_cluster(r.plat, managed, later + timedelta(days=1)) == []
    assert len(pitr.backup_times(stanza)) == before + 1
    wait_for(lambda: not archiving.archive_state(managed, datetime.now(UTC) +
                                                 timedelta(hours=1)).stalled, timeout=60)
