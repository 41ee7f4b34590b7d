"""The postgres add-on through the real API against real PostgreSQL servers."""

from __future__ import annotations

import asyncio
import os
import pwd
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select

from roost.build.archive import pack_source
from roost.core import releases
from roost.orchestration import deploys, pipeline
from roost.settings import Settings
from tests.addons.postgres.conftest import Roost, _roost, admin_query, new_app
from tests.conftest import PG_URL, wait_for


def release_env(r: Roost, app: str, number: int) -> dict[str, str]:
    with r.plat.sessions.begin() as s:
        return releases.config_of(releases.get(s, app, number), r.plat.cipher)


def deploy(r: Roost, app: str, tmp_path: Path) -> int:
    """Deploy a one-line Procfile app (nothing runs it: the test platform has no runtime)."""
    r.api.post("/api/v1/apps", json={"name": app})
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "Procfile").write_text("web: python3 -m http.server $PORT\n")
    archive = pack_source(src, tmp_path / "source.tar.gz")
    return pipeline.deploy_source(r.plat, app, archive, "t", lambda _e: None).number


def test_provision_gives_a_working_database_only_its_app_can_use(roost: Roost,
                                                                 tmp_path: Path) -> None:
    shop, blog = new_app(), new_app()
    v1 = deploy(roost, shop, tmp_path)
    added = roost.add(shop, connections="2")
    assert added["release"] == v1 + 1
    assert added["config_vars"] == ["DATABASE_URL", "PGDATABASE", "PGHOST", "PGPASSWORD",
                                    "PGPORT", "PGUSER"]
    assert added["health"] == "ok" and added["info"]["user"] == f"app_{shop}_a"
    env = release_env(roost, shop, v1 + 1)
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("CREATE TABLE items (id serial PRIMARY KEY, name text)")
        conn.execute("INSERT INTO items (name) VALUES ('kettle')")
        # objects belong to the owner role, so the other login role (after rotation) owns them
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'items'")
        assert owner.fetchone() == (f"app_{shop}",)
        # the connection limit is the plan's: a third session is refused
        with (psycopg.connect(env["DATABASE_URL"]),
              pytest.raises(psycopg.OperationalError, match="too many connections")):
            psycopg.connect(env["DATABASE_URL"])

    roost.add(blog)
    other = roost.api.get(f"/api/v1/apps/{blog}/pg/connection").json()["url"]
    intruder = other.rsplit("/", 1)[0] + f"/app_{shop}"
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(intruder)
    assert admin_query("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s",
                       f"app_{blog}_a") == [(20,)]


@pytest.fixture
def two_servers(db_url: str, tmp_path: Path) -> Iterator[Roost]:
    """Roost with two ROOST_PG_SERVER entries, the second refusing its admin login."""
    if not PG_URL:
        pytest.skip("PostgreSQL not configured (ROOST_TEST_POSTGRES_URL)")
    yield from _roost(Settings(home=tmp_path / "home", database_url=db_url,
                               pg_server=[PG_URL, PG_URL.replace("postgres@", "nosuchadmin@")]))


def test_bad_input_is_one_line_and_changes_nothing(two_servers: Roost) -> None:
    roost, app = two_servers, new_app()
    roost.api.post("/api/v1/apps", json={"name": app})
    cases = [({"colour": "red"}, 422, "known options: connections, server"),
             ({"connections": "many"}, 422, "connections=many must be a whole number"),
             ({"server": "3"}, 422, "server=3 is out of range: ROOST_PG_SERVER lists 2"),
             ({"server": "2"}, 422, "cannot log in to PostgreSQL server postgresql://nosuchadmin@")]
    for options, status, message in cases:
        answer = roost.api.post(f"/api/v1/apps/{app}/addons",
                                json={"kind": "postgres", "options": options})
        assert answer.status_code == status, answer.text
        assert message in answer.json()["error"]["message"]
        assert "\n" not in answer.json()["error"]["message"]
    missing = roost.api.post("/api/v1/apps/nosuchapp/addons", json={"kind": "postgres"})
    assert missing.status_code == 404
    assert roost.api.get(f"/api/v1/apps/{app}/addons").json() == []
    assert admin_query("SELECT count(*) FROM pg_database WHERE datname = %s",
                       f"app_{app}") == [(0,)]
    assert admin_query("SELECT count(*) FROM pg_roles WHERE rolname LIKE %s",
                       f"app_{app}%") == [(0,)]
    not_pg = roost.api.get(f"/api/v1/apps/{app}/pg/info")
    assert not_pg.status_code == 404 and "has no postgres add-on" in not_pg.text


def test_remove_keeps_a_final_dump_and_says_where(roost: Roost) -> None:
    app = new_app()
    roost.add(app)
    url = roost.api.get(f"/api/v1/apps/{app}/pg/connection").json()["url"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (id int PRIMARY KEY)")
        conn.execute("INSERT INTO notes VALUES (7)")
    removed = roost.api.delete(f"/api/v1/apps/{app}/addons/postgres")
    assert removed.status_code == 200, removed.text
    message = removed.json()["message"]
    key = message.split("final backup is ")[1].split(" ")[0]
    assert key.startswith(f"addons/postgres/{app}/final-") and key.endswith(".dump")
    dump = roost.plat.objects.get(key)
    assert dump.startswith(b"PGDMP") and b"notes" in dump
    assert admin_query("SELECT count(*) FROM pg_database WHERE datname = %s",
                       f"app_{app}") == [(0,)]
    assert admin_query("SELECT count(*) FROM pg_roles WHERE rolname LIKE %s",
                       f"app_{app}%") == [(0,)]


def test_info_ps_kill_and_diagnose(roost: Roost) -> None:
    app = new_app()
    roost.add(app, connections="10")
    url = roost.api.get(f"/api/v1/apps/{app}/pg/connection").json()["url"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE nopk (x int)")
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        info = roost.api.get(f"/api/v1/apps/{app}/pg/info").json()
        assert info["version"].startswith("15") and info["connections"] == "1/10"
        # what the dashboard's database panel shows (the add-on's info)
        assert info["size"].endswith("kB") or info["size"].endswith("MB")
        assert info["last_verified_backup"] == "none yet"
        assert info["pitr_window"].startswith("none: the server is not Roost's own")
        assert info["diagnose"].endswith("1 yellow (primary keys), 0 red")
        panel = roost.api.get(f"/api/v1/apps/{app}/addons").json()[0]["info"]
        assert {"size", "connections", "last_verified_backup", "pitr_window",
                "diagnose"} <= set(panel)
        sessions = roost.api.get(f"/api/v1/apps/{app}/pg/ps").json()
        assert [s["pid"] for s in sessions] == [pid]
        checks = {c["name"]: c for c in roost.api.get(f"/api/v1/apps/{app}/pg/diagnose").json()}
        assert checks["primary keys"]["status"] == "yellow"
        assert "nopk" in checks["primary keys"]["detail"]
        assert checks["connections"]["status"] == "green"
        assert checks["blocking locks"]["status"] == "green"
        foreign = admin_query("SELECT pg_backend_pid()")[0][0]
        refused = roost.api.post(f"/api/v1/apps/{app}/pg/kill/{foreign}")
        assert refused.status_code == 404 and "no session" in refused.text
        killed = roost.api.post(f"/api/v1/apps/{app}/pg/kill/{pid}")
        assert killed.json()["message"] == f"ended session {pid}"
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")


def test_the_first_database_starts_a_managed_cluster(db_url: str,
                                                     managed_home: tuple[Path, int]) -> None:
    from roost.addons.postgres.cluster import Cluster

    home, port = managed_home
    for r in _roost(Settings(home=home, database_url=db_url, pg_port=port)):
        app = new_app()
        added = r.add(app)
        assert added["health"] == "ok" and Cluster(home, port).running()
        url = r.api.get(f"/api/v1/apps/{app}/pg/connection").json()["url"]
        assert f"@127.0.0.1:{port}/app_{app}" in url
        with psycopg.connect(url) as conn:
            assert conn.execute("SHOW archive_mode").fetchone() == ("on",)
        # another part of Roost (WAL archiving) overrides Roost's defaults in conf.d, live
        cluster = Cluster(home, port)
        cluster.set_config("archiving", {"archive_command": "test ! -f /nonexistent/'%f'"})

        def archive_command(cluster: Cluster = cluster) -> object:
            with psycopg.connect(cluster.server().admin_url) as conn:
                return conn.execute("SHOW archive_command").fetchone()

        wait_for(lambda: archive_command() == ("test ! -f /nonexistent/'%f'",))
        # the admin password stays Roost's own; the postgres user owns only its data
        assert (home / "postgres" / "admin-password").stat().st_mode & 0o777 == 0o600
        if os.geteuid() == 0:
            assert (home / "postgres").stat().st_uid == 0
            assert (home / "postgres" / "data").stat().st_uid == pwd.getpwnam("postgres").pw_uid
        other = new_app()
        r.api.post("/api/v1/apps", json={"name": other})
        out_of_range = r.api.post(f"/api/v1/apps/{other}/addons",
                                  json={"kind": "postgres", "options": {"server": "2"}})
        assert "no ROOST_PG_SERVER is configured" in out_of_range.text


def test_roost_up_starts_and_stops_its_cluster(managed_home: tuple[Path, int],
                                               tmp_path: Path) -> None:
    from roost.addons.postgres.cluster import Cluster
    from roost.orchestration.services import start_postgres

    home, port = managed_home
    cluster = Cluster(home, port)
    cluster.ensure()  # made by the test before when run in order; made here otherwise
    cluster.stop()
    for r in _roost(Settings(home=home, database_url=f"sqlite:///{tmp_path / 'r.db'}",
                             pg_port=port)):
        stop = asyncio.run(start_postgres(r.plat))
        assert cluster.running()
        asyncio.run(stop())
        assert not cluster.running()
    cluster.ensure()


def test_a_taken_port_is_refused_before_anything_is_made(db_url: str, tmp_path: Path) -> None:
    taken = int(PG_URL.rsplit(":", 1)[1].split("/")[0])  # the suite's server listens there
    home = tmp_path / "home"
    for r in _roost(Settings(home=home, database_url=db_url, pg_port=taken)):
        app = new_app()
        r.api.post("/api/v1/apps", json={"name": app})
        answer = r.api.post(f"/api/v1/apps/{app}/addons", json={"kind": "postgres"})
        assert answer.status_code == 422
        assert answer.json()["error"]["message"] == (
            f"cannot start Roost's PostgreSQL: port 127.0.0.1:{taken} is in use by another "
            "program; set ROOST_PG_PORT to a free port")
        assert not (home / "postgres").exists()
        assert r.api.get(f"/api/v1/apps/{app}/addons").json() == []


def test_rotation_keeps_open_sessions_and_moves_new_ones(db_url: str, tmp_path: Path,
                                                         scram_server: str) -> None:

    for r in _roost(Settings(home=tmp_path / "home", database_url=db_url,
                             pg_server=[scram_server])):
        app = new_app()
        v1 = deploy(r, app, tmp_path)
        r.add(app)
        port = scram_server.rsplit(":", 1)[1].split("/")[0]
        monitors = r.api.get("/api/v1/monitors", params={"app": app}).json()
        assert [(m["kind"], m["name"], m["target"]) for m in monitors
                if m["owner"] == "addon"] == [
            ("postgres", "Database", f"postgres://app_{app}_monitor:***@127.0.0.1:{port}/app_{app}")]
        # the monitor's role may connect and run SELECT 1, and read none of the app's data
        with r.plat.sessions.begin() as s:
            from roost.store.models.uptime import Monitor

            real = s.scalars(select(Monitor).where(Monitor.app_name == app)).one().target
        page = r.api.get(f"/status/{app}").text
        assert "Database" in page and "postgres://" not in page and "_monitor" not in page
        old = release_env(r, app, v1 + 1)
        assert r.api.get(f"/api/v1/apps/{app}/pg/credentials").json()["live"] == f"app_{app}_a"
        with psycopg.connect(old["DATABASE_URL"], autocommit=True) as held:
            held.execute("CREATE TABLE t (id int PRIMARY KEY)")
            rotated = r.api.post(f"/api/v1/apps/{app}/pg/credentials/rotate")
            assert rotated.status_code == 200, rotated.text
            assert rotated.json() == {"live": f"app_{app}_b", "retired": f"app_{app}_a",
                                      "rotated_at": rotated.json()["rotated_at"],
                                      "release": v1 + 2}
            held.execute("INSERT INTO t VALUES (1)")  # the old session still works
            new = release_env(r, app, v1 + 2)
            assert new["PGUSER"] == f"app_{app}_b" and new["PGPASSWORD"] != old["PGPASSWORD"]
            with pytest.raises(psycopg.OperationalError, match="password authentication"):
                psycopg.connect(old["DATABASE_URL"])
            with psycopg.connect(new["DATABASE_URL"], autocommit=True) as fresh:
                fresh.execute("INSERT INTO t VALUES (2)")  # same table: the owner role owns it
                assert fresh.execute("SELECT count(*) FROM t").fetchone() == (2,)
            with psycopg.connect(real, autocommit=True) as monitor:
                assert monitor.execute("SELECT 1").fetchone() == (1,)
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    monitor.execute("SELECT count(*) FROM t")
        lock = deploys.acquire_lock(r.plat, app, "a deploy@here")
        busy = r.api.post(f"/api/v1/apps/{app}/pg/credentials/rotate")
        assert busy.status_code == 409 and "already running (a deploy@here" in busy.text
        deploys.release_lock(r.plat, lock)
        shown = r.api.get(f"/api/v1/apps/{app}/pg/credentials").json()
        assert shown["live"] == f"app_{app}_b" and shown["standby_can_login"] == "no"
        removed = r.api.delete(f"/api/v1/apps/{app}/addons/postgres")  # pg_dump logs in too
        assert "its final backup is addons/postgres/" in removed.json()["message"], removed.text


def test_diagnose_turns_red_with_the_next_step(roost: Roost) -> None:
    app = new_app()
    roost.add(app, connections="2")
    url = roost.api.get(f"/api/v1/apps/{app}/pg/connection").json()["url"]
    with psycopg.connect(url, autocommit=True) as holder, psycopg.connect(url) as waiter:
        holder.execute("CREATE TABLE stock (id int PRIMARY KEY)")
        holder.execute("CREATE SEQUENCE tickets MAXVALUE 100")
        holder.execute("SELECT setval('tickets', 95)")
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE stock IN ACCESS EXCLUSIVE MODE")
        holder_pid = holder.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        blocked = threading.Thread(target=lambda: waiter.execute("SELECT * FROM stock"))
        blocked.start()

        def checks() -> dict[str, dict[str, str]]:
            found = roost.api.get(f"/api/v1/apps/{app}/pg/diagnose").json()
            return {c["name"]: c for c in found}

        wait_for(lambda: checks()["blocking locks"]["status"] == "red")
        found = checks()
        assert f"waits on {holder_pid}" in found["blocking locks"]["detail"]
        assert "roost pg kill APP PID" in found["blocking locks"]["next_step"]
        assert found["connections"]["status"] == "red"
        assert found["connections"]["detail"] == "2 of 2 connections in use"
        assert found["sequences"]["status"] == "red" and "tickets 95% used" in \
            found["sequences"]["detail"]
        holder.execute("ROLLBACK")
        blocked.join(timeout=30)


def test_an_admin_that_is_not_superuser_is_enough(db_url: str, tmp_path: Path) -> None:
    if not PG_URL:
        pytest.skip("PostgreSQL not configured (ROOST_TEST_POSTGRES_URL)")
    admin = "roost_admin_" + new_app()
    admin_query(f'CREATE ROLE "{admin}" LOGIN CREATEROLE CREATEDB')
    try:
        url = PG_URL.replace("postgres@", f"{admin}@")
        for r in _roost(Settings(home=tmp_path / "home", database_url=db_url, pg_server=[url])):
            app = new_app()
            assert r.add(app)["health"] == "ok"
            live = r.api.get(f"/api/v1/apps/{app}/pg/connection").json()["url"]
            with psycopg.connect(live, autocommit=True) as conn:
                conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
            assert r.api.get(f"/api/v1/apps/{app}/pg/info").status_code == 200
            removed = r.api.delete(f"/api/v1/apps/{app}/addons/postgres")
            assert removed.status_code == 200, removed.text
            assert admin_query("SELECT count(*) FROM pg_roles WHERE rolname LIKE %s",
                               f"app_{app}%") == [(0,)]
    finally:
        admin_query(f'DROP ROLE IF EXISTS "{admin}"')


def test_a_database_dropped_by_hand_can_still_be_removed(roost: Roost) -> None:
    app = new_app()
    roost.add(app)
    admin_query(f'DROP DATABASE "app_{app}" WITH (FORCE)')
    assert "failing" in roost.api.get(f"/api/v1/apps/{app}/addons").json()[0]["health"]
    removed = roost.api.delete(f"/api/v1/apps/{app}/addons/postgres")
    assert removed.status_code == 200, removed.text
    assert "was already gone, so there was nothing to back up" in removed.json()["message"]
    assert admin_query("SELECT count(*) FROM pg_roles WHERE rolname LIKE %s",
                       f"app_{app}%") == [(0,)]


def test_a_malformed_server_setting_stops_start_up(tmp_path: Path) -> None:
    from roost.errors import ConfigError
    from roost.settings import load_settings

    with pytest.raises(ConfigError, match="ROOST_PG_SERVER.*postgresql://ADMIN:PASSWORD@HOST"):
        load_settings({"ROOST_HOME": str(tmp_path), "ROOST_PG_SERVER": "postgresql:///nohost"})


def test_a_failed_switch_leaves_the_app_on_its_old_credentials(db_url: str, tmp_path: Path,
                                                               scram_server: str) -> None:
    from roost.addons.postgres import rotation
    from roost.errors import RuntimeFailure
    from roost.orchestration import addons

    for r in _roost(Settings(home=tmp_path / "home", database_url=db_url,
                             pg_server=[scram_server])):
        app = new_app()
        r.add(app)
        state = addons.state_of(r.plat, app, "postgres")
        before = addons.load(r.plat, "postgres").config_vars(app, state)["DATABASE_URL"]

        def fails(_fresh: dict[str, str]) -> None:
            raise RuntimeFailure("the new release did not become healthy")

        with pytest.raises(RuntimeFailure, match="did not become healthy"):
            rotation.rotate(r.plat.settings, state, fails)
        with psycopg.connect(before) as conn:  # the live role's password is untouched
            assert conn.execute("SELECT session_user").fetchone() == (f"app_{app}_a",)
        assert addons.state_of(r.plat, app, "postgres") == state
        r.api.delete(f"/api/v1/apps/{app}/addons/postgres")
