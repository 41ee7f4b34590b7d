"""The installed `roost` command against a real `roost up`: commands and refusals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOST, Server, start_server, stop_server


def ok(server: Server, *args: str) -> str:
    result = server.roost(*args)
    assert result.returncode == 0, f"roost {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def refused(server: Server, *args: str, says: str) -> None:
    result = server.roost(*args)
    assert result.returncode != 0, f"roost {' '.join(args)} should have been refused"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], result.stderr


def test_status_and_credentials(server: Server) -> None:
    assert "healthy" in ok(server, "status")
    creds = server.home / "credentials.json"
    assert creds.stat().st_mode & 0o777 == 0o600
    assert (server.home / "secret.key").stat().st_mode & 0o777 == 0o600


def test_status_fails_clearly_when_down(tmp_path: Path) -> None:
    env = {**os.environ, "ROOST_API_URL": "http://127.0.0.1:9", "ROOST_TOKEN": "x",
           "ROOST_HOME": str(tmp_path)}
    result = subprocess.run([ROOST, "status"], env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "cannot reach Roost" in result.stderr


def test_apps_maintainers_config(server: Server) -> None:
    ok(server, "apps", "create", "shop")
    refused(server, "apps", "create", "shop", says="exists already")
    refused(server, "apps", "create", "Shop_1", says="invalid app name")
    listed = json.loads(ok(server, "apps", "--json"))
    assert [a["name"] for a in listed] == ["shop"]
    assert "shop" in ok(server, "apps", "info", "shop")

    ok(server, "maintainers", "add", "shop", "--name", "Ada", "--phone", "+15551234567",
       "--email", "ada@example.com")
    refused(server, "maintainers", "add", "shop", "--name", "Bob", "--phone", "555-1234",
            says="E.164")
    refused(server, "maintainers", "add", "shop", "--name", "Bob", says="email or a phone")
    people = json.loads(ok(server, "maintainers", "shop", "--json"))
    assert [p["name"] for p in people] == ["Ada"]

    tricky = 'postgres://u:p@h/db?x="y z"'
    ok(server, "config", "set", "shop", f"DATABASE_URL={tricky}", "EMPTY=", "LINES=a\nb")
    assert ok(server, "config", "get", "shop", "DATABASE_URL") == tricky + "\n"
    assert ok(server, "config", "get", "shop", "LINES") == "a\nb\n"
    masked = ok(server, "config", "shop")
    assert "DATABASE_URL" in masked and tricky not in masked
    assert json.loads(ok(server, "config", "shop", "--reveal", "--json"))["EMPTY"] == ""
    refused(server, "config", "set", "shop", "NOEQUALS", says="KEY=VALUE")
    refused(server, "config", "set", "shop", "9BAD=x", says="invalid config key")
    refused(server, "config", "unset", "shop", "NOPE", says="no config var")
    ok(server, "config", "unset", "shop", "EMPTY")
    left = {k for k in json.loads(ok(server, "config", "shop", "--json")) if "OTEL" not in k}
    assert left == {"DATABASE_URL", "LINES"}

    refused(server, "apps", "destroy", "shop", says="--confirm shop")
    ok(server, "apps", "destroy", "shop", "--confirm", "shop")
    refused(server, "apps", "info", "shop", says="no app named")


def test_config_not_readable_in_database_file(server: Server) -> None:
    ok(server, "apps", "create", "vault")
    secret = "s3cr3t-value-that-must-not-leak"
    ok(server, "config", "set", "vault", f"API_KEY={secret}")
    db = server.home / "roost.db"
    raw = b"".join(p.read_bytes() for p in db.parent.glob("roost.db*"))
    assert secret.encode() not in raw
    assert ok(server, "config", "get", "vault", "API_KEY").strip() == secret


def test_login_points_cli_at_remote(server: Server, tmp_path: Path) -> None:
    token = json.loads((server.home / "credentials.json").read_text())["token"]
    env = {k: v for k, v in server.env.items() if k != "ROOST_HOME"}
    env["ROOST_HOME"] = str(tmp_path / "other")
    bad = subprocess.run([ROOST, "login", server.url, "--token", "wrong"], env=env,
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "refused the token" in bad.stderr
    assert not (tmp_path / "other" / "credentials.json").exists()
    good = subprocess.run([ROOST, "login", server.url, "--token", token], env=env,
                          capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    status = subprocess.run([ROOST, "status"], env=env, capture_output=True, text=True)
    assert status.returncode == 0 and "healthy" in status.stdout


@pytest.mark.parametrize(
    ("env", "says"),
    [({"ROOST_NOPE": "1"}, "unknown setting ROOST_NOPE"),
     ({"ROOST_LISTEN": "nowhere"}, "ROOST_LISTEN"),
     ({"ROOST_DATABASE_URL": "mysql://x"}, "ROOST_DATABASE_URL")],
)
def test_bad_settings_stop_startup(tmp_path: Path, env: dict[str, str], says: str) -> None:
    full = {**os.environ, "ROOST_HOME": str(tmp_path), **env}
    result = subprocess.run([ROOST, "up"], env=full, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and says in result.stderr


def test_unknown_key_in_roost_toml(tmp_path: Path) -> None:
    (tmp_path / "roost.toml").write_text('listen = "127.0.0.1:1"\ncolour = "blue"\n')
    full = {**os.environ, "ROOST_HOME": str(tmp_path)}
    result = subprocess.run([ROOST, "up"], env=full, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "roost.toml" in result.stderr and "colour" in result.stderr


def test_sigterm_stops_cleanly_and_restart_keeps_data(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    ok(srv, "apps", "create", "keep")
    os.killpg(srv.proc.pid, signal.SIGTERM)
    assert srv.proc.wait(timeout=30) == 0
    again = start_server(tmp_path, {"ROOST_LISTEN": srv.env["ROOST_LISTEN"]})
    try:
        assert "keep" in ok(again, "apps")
    finally:
        stop_server(again)


def test_postgres_store(tmp_path: Path) -> None:
    from tests.conftest import new_pg_database

    db_url, drop = new_pg_database()
    srv = start_server(tmp_path, {"ROOST_DATABASE_URL": db_url})
    try:
        ok(srv, "apps", "create", "pg-app")
        assert "pg-app" in ok(srv, "apps")
    finally:
        stop_server(srv)
        drop()
