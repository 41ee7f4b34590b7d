"""Several `roost up` instances on one store: listed by `roost status`, run-once work held by
one of them and taken over when it dies; a second host on SQLite is refused."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

from roost.runtime import leftovers
from tests.conftest import free_port, new_pg_database, wait_for
from tests.e2e.conftest import ROOST, Server, home_for, start_server, stop_server
from tests.e2e.test_foundation import ok


def place(tmp_path: Path, name: str) -> Path:
    """A directory of its own for one instance's test files."""
    path = tmp_path / name
    path.mkdir()
    return path


def instances(server: Server) -> dict[str, dict[str, object]]:
    """`roost status --json`'s instances, by name."""
    return {i["name"]: i for i in json.loads(ok(server, "status", "--json"))["instances"]}


def test_two_instances_share_postgresql_and_one_takes_over_when_the_other_dies(
        tmp_path: Path) -> None:
    db_url, drop = new_pg_database()
    beat = {"ROOST_DATABASE_URL": db_url, "ROOST_INSTANCE_HEARTBEAT_SECONDS": "1"}
    first = start_server(place(tmp_path, "a"), {**beat, "ROOST_INSTANCE_NAME": "alpha"})
    second = None
    try:
        second = start_server(place(tmp_path, "b"), {**beat, "ROOST_INSTANCE_NAME": "beta"})
        wait_for(lambda: set(instances(second)) == {"alpha", "beta"}, timeout=30)
        # Paging runs on one instance only (the one that came first took it).
        wait_for(lambda: "paging" in instances(second)["alpha"]["holds"], timeout=30)
        assert "paging" not in instances(second)["beta"]["holds"]
        assert instances(first)["alpha"]["this"] and not instances(first)["beta"]["this"]
        ok(first, "apps", "create", "shared")
        assert "shared" in ok(second, "apps")  # one store behind both APIs
        table = ok(second, "status")
        assert "alpha" in table and "beta (this)" in table and "paging" in table

        os.killpg(first.proc.pid, signal.SIGKILL)  # no clean stop: its leases must expire
        first.proc.wait()
        wait_for(lambda: "paging" in instances(second)["beta"]["holds"], timeout=30)
        assert instances(second)["alpha"]["live"] is False
        assert "shared" in ok(second, "apps")
    finally:
        stop_server(first)
        # The killed instance left its router running, as a crashed host does; the next
        # `roost up` there would end it: so does the test.
        leftovers.kill(first.home / "router" / "app-pids.json")
        if second is not None:
            stop_server(second)
        drop()
        for name in ("a", "b"):
            shutil.rmtree(home_for(tmp_path / name).parent, ignore_errors=True)


def test_a_second_host_on_sqlite_is_refused_with_what_to_use(tmp_path: Path) -> None:
    shared_db = f"sqlite:///{tmp_path / 'shared.db'}"
    first = start_server(place(tmp_path, "a"), {"ROOST_DATABASE_URL": shared_db,
                                           "ROOST_INSTANCE_NAME": "alpha"})
    try:
        env = {**first.env, "ROOST_HOME": str(home_for(tmp_path / "b")),
               "ROOST_INSTANCE_NAME": "beta",
               "ROOST_LISTEN": f"127.0.0.1:{free_port()}",
               "ROOST_ROUTER_LISTEN": f"127.0.0.1:{free_port()}",
               "ROOST_MAIL_SMTP_LISTEN": f"127.0.0.1:{free_port()}"}
        second = subprocess.run([ROOST, "up"], env=env, capture_output=True, text=True,
                                timeout=120)
        assert second.returncode != 0
        assert "SQLite, which serves one host" in second.stderr
        assert "ROOST_DATABASE_URL=postgresql://" in second.stderr
        assert set(instances(first)) == {"alpha"}
    finally:
        stop_server(first)
        for name in ("a", "b"):
            shutil.rmtree(home_for(tmp_path / name).parent, ignore_errors=True)
