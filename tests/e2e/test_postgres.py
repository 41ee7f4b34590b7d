"""The postgres add-on through the installed `roost` command and a real `roost up`."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import PG_URL, free_port, wait_for
from tests.e2e.conftest import Server, start_server, stop_server
from tests.e2e.test_foundation import ok, refused

# Each web process records one visit as it starts, with the login role it connected as.
START = """\
#!/bin/sh
set -e
if [ -n "$DATABASE_URL" ]; then
  PSQL=$(ls /usr/lib/postgresql/*/bin/psql | tail -n 1)
  "$PSQL" -X -v ON_ERROR_STOP=1 "$DATABASE_URL" \\
    -c "CREATE TABLE IF NOT EXISTS visits (id serial PRIMARY KEY, who text)" \\
    -c "INSERT INTO visits (who) VALUES (session_user)"
fi
exec python3 -m http.server "$PORT" --bind 127.0.0.1
"""


@pytest.fixture
def pg_server(tmp_path: Path) -> Iterator[Server]:
    if not PG_URL:
        pytest.skip("PostgreSQL not configured (ROOST_TEST_POSTGRES_URL)")
    srv = start_server(tmp_path, {"ROOST_PG_SERVER": PG_URL})
    yield srv
    stop_server(srv)


def visits(srv: Server, app: str) -> list[tuple[int, str]]:
    out = ok(srv, "pg", "psql", app, "-c", "SELECT id || ' ' || who FROM visits ORDER BY id",
             ).splitlines()
    return [(int(line.split()[0]), line.split()[1]) for line in out
            if line.strip() and line.split()[0].isdigit()]


def test_an_apps_rows_survive_redeploys_and_rotation(pg_server: Server, tmp_path: Path
                                                     ) -> None:
    srv, shop = pg_server, "shop" + uuid.uuid4().hex[:6]  # the server is shared: a unique name
    ok(srv, "apps", "create", shop)
    added = ok(srv, "addons", "add", shop, "postgres", "--option", "connections=5")
    assert "DATABASE_URL" in added and f"created database app_{shop}" in added
    src = tmp_path / "src"
    src.mkdir()
    (src / "start.sh").write_text(START)
    (src / "start.sh").chmod(0o755)
    (src / "Procfile").write_text("web: ./start.sh\n")
    assert srv.roost("deploy", shop, str(src), timeout=300).returncode == 0
    first = visits(srv, shop)
    assert first and first[0][1] == f"app_{shop}_a"

    assert srv.roost("deploy", shop, str(src), timeout=300).returncode == 0
    second = visits(srv, shop)
    assert second[: len(first)] == first and len(second) > len(first)

    assert f"connects as app_{shop}_a" in ok(srv, "pg", "credentials", shop)
    rotated = ok(srv, "pg", "credentials", "rotate", shop)
    assert f"now connects as app_{shop}_b" in rotated
    after = visits(srv, shop)
    assert after[: len(second)] == second and after[-1][1] == f"app_{shop}_b"

    info = ok(srv, "pg", "info", shop)
    assert "version" in info and "/5" in info
    checks = json.loads(ok(srv, "pg", "diagnose", shop, "--json"))
    assert {c["name"]: c["status"] for c in checks}["primary keys"] == "green"
    refused(srv, "pg", "kill", shop, "1", says="no session 1")
    refused(srv, "pg", "info", "nosuchapp", says="no app named")

    removed = ok(srv, "addons", "remove", shop, "postgres", "--confirm", shop)
    assert f"final backup is addons/postgres/{shop}/final-" in removed
    refused(srv, "pg", "info", shop, says="has no postgres add-on")



@pytest.fixture
def managed_server(tmp_path: Path) -> Iterator[Server]:
    """`roost up` with no ROOST_PG_SERVER: the first database starts Roost's own cluster."""
    if shutil.which("pgbackrest") is None:
        pytest.skip("pgbackrest missing: run scripts/ensure-pgbackrest.sh")
    srv = start_server(tmp_path, {"ROOST_PG_PORT": str(free_port())})
    yield srv
    stop_server(srv)


def test_drop_table_and_restore_to_a_time_on_roosts_own_cluster(managed_server: Server
                                                                ) -> None:
    srv, shop = managed_server, "pitr" + uuid.uuid4().hex[:6]
    ok(srv, "apps", "create", shop)
    ok(srv, "addons", "add", shop, "postgres")
    info = json.loads(ok(srv, "pg", "info", shop, "--json"))
    assert info["pitr_window"].endswith(" to now"), info
    assert f"{info['pitr_window'].split(' to ')[0]}" in ok(srv, "pg", "info", shop)
    opens = datetime.fromisoformat(info["pitr_window"].split(" to ")[0])

    def clock() -> datetime:
        out = ok(srv, "pg", "psql", shop, "-c", "SELECT to_char(clock_timestamp() AT TIME "
                 "ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')")
        return datetime.fromisoformat(next(ln.strip() for ln in out.splitlines()
                                           if ln.strip().startswith("20")))

    wait_for(lambda: clock() > opens, timeout=10)
    ok(srv, "pg", "psql", shop, "-c", "CREATE TABLE orders (id serial PRIMARY KEY, total int);"
       " INSERT INTO orders (total) SELECT g FROM generate_series(1, 40) g")
    before = clock()
    ok(srv, "pg", "psql", shop, "-c", "DROP TABLE orders")
    refused(srv, "pg", "backups", "restore", shop, "--time", "2020-01-01T00:00:00Z",
            "--confirm", shop, says=f"is outside the PITR window of {shop}")
    restored = srv.roost("pg", "backups", "restore", shop, "--time", before.isoformat(),
                         "--confirm", shop, timeout=600)
    assert restored.returncode == 0, restored.stderr
    assert f"Restored {shop}'s database" in restored.stdout
    assert " 40\n" in ok(srv, "pg", "psql", shop, "-c", "SELECT count(*) FROM orders")
    refused(srv, "pg", "upgrade", shop, "--version", "99",
            says="run `apt-get install postgresql-99`")
