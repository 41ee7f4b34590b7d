"""Major upgrades by restore into a new cluster. Debian 12 ships only PostgreSQL 15, so the
path is tested with the same major version moved into a new cluster (postgres-v15): the
rows arrive, the copy is proven, the app's release points at the new cluster, the monitor
follows, the old database stays read-only until --finish. A version without binaries is
one line naming its package and changes nothing."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from roost.addons.postgres.addon import cluster, managed_clusters
from roost.addons.postgres.cluster import Cluster
from roost.orchestration import addons
from roost.settings import Settings
from tests.addons.postgres.conftest import Roost, _roost, new_app
from tests.addons.postgres.test_postgres import deploy, release_env
from tests.conftest import free_port

VERSION = "15"


@pytest.fixture(scope="module")
def upgrade_home() -> Iterator[tuple[Path, int]]:
    """A home for this module's clusters (the default one and postgres-v15)."""
    top = Path(tempfile.mkdtemp(prefix="roost-pg-upgrade-"))
    home, port = top / "home", free_port()
    yield home, port
    for found in managed_clusters(Settings(home=home, pg_port=port)):
        found.stop()
    Cluster(home, port).stop()
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def roost(db_url: str, upgrade_home: tuple[Path, int]) -> Iterator[Roost]:
    home, port = upgrade_home
    yield from _roost(Settings(home=home, database_url=db_url, pg_port=port))


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql)  # type: ignore[arg-type]
        return list(cur.fetchall()) if cur.description else []


def test_upgrade_moves_the_rows_switches_the_app_and_keeps_the_old_until_finish(
        roost: Roost, tmp_path: Path) -> None:
    r, app = roost, new_app()
    v1 = deploy(r, app, tmp_path)
    r.add(app)
    old_env = release_env(r, app, v1 + 1)
    query(old_env["DATABASE_URL"], "CREATE TABLE notes (id serial PRIMARY KEY, body text);"
                                   "INSERT INTO notes (body) SELECT 'n' || g "
                                   "FROM generate_series(1, 120) g")

    missing = r.api.post(f"/api/v1/apps/{app}/pg/upgrade", json={"version": "99"})
    assert missing.status_code == 422
    assert missing.json()["error"]["message"] == (
        "PostgreSQL 99 is not installed on this machine: run `apt-get install postgresql-99` "
        "(Roost uses its binaries)")
    assert not (r.plat.settings.home / "postgres-v99").exists()
    bad = r.api.post(f"/api/v1/apps/{app}/pg/upgrade", json={"version": "latest"})
    assert bad.status_code == 422 and "give a major version such as 16" in bad.text

    done = r.api.post(f"/api/v1/apps/{app}/pg/upgrade", json={"version": VERSION})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["version"] == VERSION and body["release"] == v1 + 2
    assert (body["tables"], body["rows"]) == (1, 120)
    new_env = release_env(r, app, v1 + 2)
    target = cluster(r.plat.settings, f"managed:v{VERSION}")
    assert new_env["PGPORT"] == str(target.port) != old_env["PGPORT"]
    assert query(new_env["DATABASE_URL"], "SELECT count(*) FROM notes") == [(120,)]
    query(new_env["DATABASE_URL"], "INSERT INTO notes (body) VALUES ('after')")
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):  # kept, read-only
        query(old_env["DATABASE_URL"], "INSERT INTO notes (body) VALUES ('lost?')")
    assert query(old_env["DATABASE_URL"], "SELECT count(*) FROM notes") == [(120,)]
    monitors = r.api.get("/api/v1/monitors", params={"app": app}).json()
    assert [m["target"].rsplit(":", 1)[1] for m in monitors if m["owner"] == "addon"] == [
        f"{target.port}/app_{app}"]
    again = r.api.post(f"/api/v1/apps/{app}/pg/upgrade", json={"version": VERSION})
    assert again.status_code == 409 and "--finish` first" in again.text
    assert r.api.get(f"/api/v1/apps/{app}/pg/info").json()["pitr_window"] != ""

    finished = r.api.post(f"/api/v1/apps/{app}/pg/upgrade/finish")
    assert finished.status_code == 200, finished.text
    assert finished.json()["message"] == (f"Dropped {app}'s old database (app_{app}); it stays "
                                          f"on postgres-v{VERSION}")
    with pytest.raises(psycopg.OperationalError):
        query(old_env["DATABASE_URL"], "SELECT 1")
    assert "upgrade_from" not in addons.state_of(r.plat, app, "postgres")
    twice = r.api.post(f"/api/v1/apps/{app}/pg/upgrade/finish")
    assert twice.status_code == 422 and "has no upgrade to finish" in twice.text
    # the moved database keeps working: rotation happens on the new cluster
    rotated = r.api.post(f"/api/v1/apps/{app}/pg/credentials/rotate")
    assert rotated.status_code == 200, rotated.text
    env = release_env(r, app, v1 + 3)
    assert query(env["DATABASE_URL"], "SELECT count(*) FROM notes") == [(121,)]
