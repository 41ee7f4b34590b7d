"""The ``postgres`` add-on: a database, an owner role and two alternating login roles per app.

State keys (stored encrypted by Roost): ``server`` (``managed``, ``managed:vN`` for the
cluster of version N that an upgrade moved the database into, or the admin URL of a
``ROOST_PG_SERVER`` entry), ``database``, ``owner``, ``live`` (``a`` or ``b``, the login
role the app uses), ``password_a``/``password_b`` (empty when that role cannot log in),
``connections``, ``rotated_at`` and ``password_monitor``: the password of the login role
``<owner>_monitor`` that the database's uptime monitor logs in as. That role may connect and
nothing more (it is no member of the owner role), because the monitor's URL is kept in the
uptime store as any monitor's target is. :func:`server_of` turns a state back into a
:class:`~roost.addons.postgres.server.Server` for the other modules (backups, diagnose).
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from roost.addons.base import Addon, AddonEnv, Health, Provisioned, State
from roost.addons.postgres.admin import admin, connect, execute, ident, one
from roost.addons.postgres.cluster import Cluster
from roost.addons.postgres.server import Server, parse_server, redact
from roost.errors import Conflict, InvalidInput, RoostError, RuntimeFailure
from roost.settings import Settings

log = logging.getLogger("roost.postgres")
MANAGED = "managed"
DEFAULT_CONNECTIONS = 20
MAX_CONNECTIONS = 10_000


def cluster(settings: Settings, key: str = MANAGED) -> Cluster:
    """The Roost-managed cluster ``key`` of these settings (it may not exist yet)."""
    if key == MANAGED:
        return Cluster(settings.home, settings.pg_port)
    return Cluster.versioned(settings.home, key.removeprefix(MANAGED + ":v"))


def is_managed(key: str) -> bool:
    """Whether a state's ``server`` is one of Roost's own clusters."""
    return key == MANAGED or key.startswith(MANAGED + ":v")


def managed_key(version: str) -> str:
    """The ``server`` state value of the cluster of PostgreSQL ``version``."""
    return f"{MANAGED}:v{version}"


def key_of(managed: Cluster) -> str:
    """The ``server`` state value of a managed cluster (the inverse of :func:`cluster`)."""
    return MANAGED if managed.name == "postgres" else managed_key(
        managed.name.removeprefix("postgres-v"))


def managed_clusters(settings: Settings) -> list[Cluster]:
    """Every cluster Roost manages under its home (those that exist)."""
    found = [cluster(settings)]
    found += [cluster(settings, managed_key(path.name.removeprefix("postgres-v")))
              for path in sorted(settings.home.glob("postgres-v*")) if path.is_dir()]
    return [c for c in found if c.exists()]


def choose_server(settings: Settings, choice: str | None) -> str:
    """The ``server`` state value for ``--option server=N`` (1-based among ROOST_PG_SERVER)."""
    configured = list(settings.pg_server)
    if not configured:
        if choice not in (None, "", "1"):
            raise InvalidInput(f"server={choice}: no ROOST_PG_SERVER is configured, so Roost "
                               "uses its own PostgreSQL; leave out --option server")
        return MANAGED
    if choice in (None, ""):
        return configured[0]
    if not choice.isdigit() or not 1 <= int(choice) <= len(configured):
        raise InvalidInput(f"server={choice} is out of range: ROOST_PG_SERVER lists "
                           f"{len(configured)} server(s); choose 1 to {len(configured)}")
    return configured[int(choice) - 1]


def server_of(settings: Settings, state: State, start: bool = True) -> Server:
    """The server holding this state's database (the managed cluster is started if needed)."""
    if is_managed(state["server"]):
        managed = cluster(settings, state["server"])
        return managed.ensure() if start else managed.server()
    return parse_server(state["server"])


def _endpoint(settings: Settings, state: State) -> tuple[str, int]:
    if is_managed(state["server"]):
        return "127.0.0.1", cluster(settings, state["server"]).port
    found = parse_server(state["server"])
    return found.host, found.port


def login_role(state: State, which: str | None = None) -> str:
    """The name of login role ``which`` (``a``/``b``; the live one by default)."""
    return f"{state['owner']}_{which or state['live']}"


def monitor_role(state: State) -> str:
    """The login role of the database's uptime monitor."""
    return f"{state['owner']}_monitor"


def names_for(app: str) -> tuple[str, str]:
    """(database, owner role) of ``app``."""
    name = "app_" + app.replace("-", "_")
    return name, name


def _connections(options: dict[str, str]) -> int:
    raw = options.get("connections", str(DEFAULT_CONNECTIONS))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_CONNECTIONS:
        raise InvalidInput(f"connections={raw} must be a whole number from 1 to "
                           f"{MAX_CONNECTIONS}")
    return int(raw)


def now() -> str:
    """The current time, ISO 8601 in UTC (state timestamps)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class PostgresAddon(Addon):
    """A database of its own for each app, on Roost's cluster or a configured server."""

    kind = "postgres"
    description = "a PostgreSQL database with least-privilege roles"
    options = {"connections": f"connection limit (default {DEFAULT_CONNECTIONS})",
               "server": "which ROOST_PG_SERVER entry to use, 1-based (default 1)"}
    supports_backup = True

    def __init__(self, env: AddonEnv) -> None:
        super().__init__(env)
        self.settings = env.settings

    def provision(self, app: str, options: dict[str, str]) -> Provisioned:
        limit = _connections(options)
        key = choose_server(self.settings, options.get("server"))
        server = server_of(self.settings, {"server": key})
        database, owner = names_for(app)
        state: State = {"server": key, "database": database, "owner": owner, "live": "a",
                        "password_a": secrets.token_urlsafe(24),
                        "password_b": secrets.token_urlsafe(24),
                        "password_monitor": secrets.token_urlsafe(24),
                        "connections": str(limit), "rotated_at": now()}
        with admin(server) as conn:
            taken = one(conn, "SELECT string_agg(rolname, ', ') FROM pg_roles "
                        "WHERE rolname = ANY(%s)",
                        ([owner, f"{owner}_a", f"{owner}_b", monitor_role(state)],))
            if taken or one(conn, "SELECT 1 FROM pg_database WHERE datname = %s", (database,)):
                raise Conflict(f"PostgreSQL {server.host}:{server.port} already has "
                               f"{'roles ' + taken if taken else 'a database ' + database}; "
                               "drop them or use another server")
            try:
                create(conn, state, limit)
            except BaseException:
                drop(conn, state)
                raise
        if is_managed(key):
            _archive(self.env, cluster(self.settings, key))
        where = "Roost's PostgreSQL" if key == MANAGED else redact(server.admin_url)
        return Provisioned(state=state, message=f"created database {database} on {where} "
                           f"({limit} connections)")

    def config_vars(self, app: str, state: State) -> dict[str, str]:
        host, port = _endpoint(self.settings, state)
        user, password = login_role(state), state[f"password_{state['live']}"]
        url = Server(admin_url="", host=host, port=port, bin_dir=None).url(
            state["database"], user, password)
        return {"DATABASE_URL": url, "PGHOST": host, "PGPORT": str(port), "PGUSER": user,
                "PGPASSWORD": password, "PGDATABASE": state["database"]}

    def deprovision(self, app: str, state: State) -> str:
        server = server_of(self.settings, state)
        with admin(server) as conn:
            exists = one(conn, "SELECT 1 FROM pg_database WHERE datname = %s",
                         (state["database"],))
        key = f"addons/postgres/{app}/final-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.dump"
        if exists:
            dump_to_store(self.env, server, state["database"], key)
        with admin(server) as conn:
            drop(conn, state)
        if not exists:
            return (f"database {state['database']} was already gone, so there was nothing to "
                    "back up; its roles are dropped")
        return (f"dropped database {state['database']}; its final backup is "
                f"{key} in the object store")

    def info(self, app: str, state: State) -> dict[str, str]:
        from roost.addons.postgres import facts

        return facts.summary(self.env, app, state)

    def health(self, app: str, state: State) -> Health:
        url = self.config_vars(app, state)["DATABASE_URL"]
        try:
            with connect(url, f"database {state['database']}") as conn:
                one(conn, "SELECT 1")
        except RoostError as exc:
            return Health(ok=False, detail=str(exc))
        return Health(ok=True)

    def monitor_url(self, app: str, state: State) -> str | None:
        host, port = _endpoint(self.settings, state)
        if not state.get("password_monitor"):  # provisioned before databases had monitors
            return f"tcp://{host}:{port}"
        server = Server(admin_url="", host=host, port=port, bin_dir=None)
        return server.url(state["database"], monitor_role(state),
                          state["password_monitor"]).replace("postgresql://", "postgres://", 1)


def _archive(env: AddonEnv, managed: Cluster) -> None:
    """Make sure the cluster archives WAL (the first database's provisioning turns it on)."""
    from roost.addons.postgres import archiving

    if archiving.configured(env.settings, managed) is not None:
        return
    try:
        archiving.enable(env.settings, env.objects, managed)
    except RoostError:
        log.exception("WAL archiving of Roost's PostgreSQL could not be turned on; "
                      "point-in-time recovery is unavailable until it is")


def create(conn: psycopg.Connection[Any], state: State, limit: int) -> None:
    """Create the state's roles (with its passwords) and database on the admin's server."""
    owner, database = ident(state["owner"]), ident(state["database"])
    execute(conn, psycopg.sql.SQL("CREATE ROLE {} NOLOGIN").format(owner))
    for which in ("a", "b"):
        login = ident(login_role(state, which))
        execute(conn, psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} CONNECTION LIMIT {} "
                                      "IN ROLE {}").format(
            login, psycopg.sql.Literal(state[f"password_{which}"]),
            psycopg.sql.Literal(limit), owner))
        # Whatever the app creates belongs to the owner role, so rotation keeps ownership.
        execute(conn, psycopg.sql.SQL("ALTER ROLE {} SET role = {}").format(
            login, psycopg.sql.Literal(state["owner"])))
    if one(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") is False:
        execute(conn, psycopg.sql.SQL("GRANT {} TO current_user").format(owner))
    execute(conn, psycopg.sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(
        database, owner))
    execute(conn, psycopg.sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
    execute(conn, psycopg.sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
        database, owner))
    if state.get("password_monitor"):
        monitor = ident(monitor_role(state))
        execute(conn, psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} CONNECTION LIMIT 2")
                .format(monitor, psycopg.sql.Literal(state["password_monitor"])))
        execute(conn, psycopg.sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            database, monitor))


def drop(conn: psycopg.Connection[Any], state: State) -> None:
    """Drop the state's database (ending its sessions) and roles, those that exist."""
    execute(conn, psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
        ident(state["database"])))
    for role in (login_role(state, "a"), login_role(state, "b"), monitor_role(state),
                 state["owner"]):
        execute(conn, psycopg.sql.SQL("DROP ROLE IF EXISTS {}").format(ident(role)))


def dump_to_store(env: AddonEnv, server: Server, database: str, key: str) -> None:
    """``pg_dump -Fc`` of ``database`` into the object store at ``key``."""
    with tempfile.TemporaryDirectory(prefix="roost-pg-") as tmp:
        path = Path(tmp) / "final.dump"
        try:
            url, secret = server.client(database)
            done = subprocess.run([server.tool("pg_dump"), "-Fc", "-f", str(path), "-d", url],
                                  capture_output=True, text=True, env={**os.environ, **secret},
                                  timeout=3600, check=False, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as exc:
            raise RuntimeFailure(f"pg_dump of {database} failed, nothing was dropped: "
                                 f"{exc}") from exc
        if done.returncode != 0 or not path.exists() or path.stat().st_size == 0:
            raise RuntimeFailure(f"pg_dump of {database} failed, nothing was dropped: "
                                 f"{done.stderr.strip()[-300:]}")
        env.objects.put(key, path, content_type="application/octet-stream")
