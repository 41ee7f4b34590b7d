"""`roost pg backups` end to end: the installed CLI against a real `roost up` whose apps'
databases live on the suite's PostgreSQL; plus refusals made before any request."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from roost.addons.postgres.server import Server
from tests.addons.postgres.conftest import sql
from tests.cli.conftest import offline_env, roost  # noqa: F401
from tests.conftest import PG_URL
from tests.e2e.conftest import Server as Up
from tests.e2e.conftest import _remove_home, start_server, stop_server  # noqa: F401


@pytest.fixture
def up(tmp_path: Path, server: Server) -> Iterator[Up]:
    """`roost up` told where app databases are (ROOST_PG_SERVER)."""
    srv = start_server(tmp_path, {"ROOST_PG_SERVER": PG_URL})
    yield srv
    stop_server(srv)


def _ok(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_capture_drop_restore_download_verify_schedule(
        up: Up, server: Server, make_db: Callable[[str], str], app_name: str,
        tmp_path: Path) -> None:
    _ok(up.roost("apps", "create", app_name))
    make_db(app_name)
    out = _ok(up.roost("pg", "backups", "capture", app_name))
    assert out.startswith(f"Captured b001 of {app_name}: ") and "2 tables, 350 rows" in out
    listed = json.loads(_ok(up.roost("pg", "backups", app_name, "--json")))
    assert [b["id"] for b in listed["backups"]] == ["b001"]
    assert "b001" in _ok(up.roost("pg", "backups", app_name))

    sql(server, app_name, "DROP TABLE orders")
    refused = up.roost("pg", "backups", "restore", app_name, "b001")
    assert refused.returncode == 1 and "--confirm" in refused.stderr
    missing = up.roost("pg", "backups", "restore", app_name, "b007", "--confirm", app_name)
    assert missing.returncode == 1
    assert missing.stderr.strip() == (f"error: {app_name} has no backup b007: "
                                      f"`roost pg backups {app_name}` lists its backups")
    assert sql(server, app_name, "SELECT to_regclass('orders')") == [(None,)]
    _ok(up.roost("pg", "backups", "restore", app_name, "b001", "--confirm", app_name))
    assert sql(server, app_name, "SELECT count(*) FROM orders") == [(300,)]

    target = tmp_path / "b001.dump"
    _ok(up.roost("pg", "backups", "download", app_name, "b001", "-o", str(target)))
    assert target.read_bytes().startswith(b"PGDMP")
    assert "restores to the same 2 tables" in _ok(up.roost("pg", "backups", "verify",
                                                            app_name, "b001"))
    bad = up.roost("pg", "backups", "schedule", app_name, "--at", "7pm")
    assert bad.returncode == 1 and "HH:MM" in bad.stderr
    _ok(up.roost("pg", "backups", "schedule", app_name, "--at", "00:00"))
    # The loop of `roost up` takes today's scheduled backup (00:00 has passed) and proves it.
    from tests.conftest import wait_for

    def scheduled() -> list[str]:
        data = json.loads(_ok(up.roost("pg", "backups", app_name, "--json")))
        return [b["status"] for b in data["backups"] if b["trigger"] == "scheduled"]

    assert wait_for(lambda: scheduled() == ["verified"], timeout=120)


def test_restore_without_confirm_is_refused_locally(offline_env: dict[str, str]) -> None:  # noqa: F811
    for args in ([], ["--confirm", "shp"], ["--to", "fork", "--confirm", "shop"]):
        run = roost(offline_env, "pg", "backups", "restore", "shop", "b001", *args)
        dest = "fork" if "--to" in args else "shop"
        assert run.code == 1
        assert run.stderr == (f"error: restoring b001 overwrites the database of {dest}: "
                              f"repeat the app's name to confirm: --confirm {dest}\n")


def test_bare_group_lists(offline_env: dict[str, str]) -> None:  # noqa: F811
    for args in (["pg", "backups", "shop"], ["pg", "backups", "shop", "--json"]):
        run = roost(offline_env, *args)
        assert run.code == 1 and "cannot reach Roost" in run.stderr, args


@pytest.mark.parametrize(("args", "message"), [
    ([], "give either a BACKUP_ID or --time TIME to restore, not neither"),
    (["b001", "--time", "2026-12-01T14:03:00Z"],
     "give either a BACKUP_ID or --time TIME to restore, not both"),
    (["--time", "2026-12-01 14:03"], "--time '2026-12-01 14:03': give a point in time with "
                                     "its time zone, e.g. --time 2026-12-01T14:03:00Z"),
    (["--time", "yesterday"], "--time 'yesterday': give a point in time with its time zone, "
                              "e.g. --time 2026-12-01T14:03:00Z"),
    (["--time", "2026-12-01T14:03:00Z"], "restoring shop's database to 2026-12-01T14:03:00Z "
                                         "overwrites the database of shop: repeat the app's "
                                         "name to confirm: --confirm shop"),
])
def test_restore_to_time_input_is_checked_locally(offline_env: dict[str, str],  # noqa: F811
                                                  args: list[str], message: str) -> None:
    run = roost(offline_env, "pg", "backups", "restore", "shop", *args)
    assert run.code == 1 and run.stderr == f"error: {message}\n"
