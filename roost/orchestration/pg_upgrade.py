"""Major upgrades by restore: `roost pg upgrade APP --version N` moves an app's database into
Roost's cluster of PostgreSQL N, proves the copy, switches the app with a hot restart and
keeps the old database until `roost pg upgrade APP --finish`.

The steps, each undone if a later one fails (the app then stays where it was):

1. the cluster of version N (``ROOST_HOME/postgres-vN``, version N's binaries, its own port
   and WAL archive) is started, and the app's roles and database made there, with the same
   names and passwords;
2. the old database turns read-only and the app's sessions are ended, so no write made
   during the copy is lost (writes fail until the switch: a major upgrade is downtime for
   writes, as on Heroku);
3. a logical backup (kept like any other, trigger ``upgrade``) is restored into the new
   database, whose row counts and schema are compared with the source's as backup
   verification does;
4. the state points at the new cluster and a release moves the app onto it (the pipeline's
   tail: a hot restart); its uptime monitor follows.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from roost.addons.base import State
from roost.addons.postgres import archiving, backups, pgtools, verify
from roost.addons.postgres.addon import (
    cluster,
    create,
    drop,
    is_managed,
    managed_key,
    now,
    server_of,
)
from roost.addons.postgres.admin import admin, execute, ident, one
from roost.addons.postgres.server import Server
from roost.errors import Conflict, InvalidInput, RoostError, RuntimeFailure
from roost.orchestration import addons, deploys, pipeline
from roost.orchestration.platform import Platform

KIND = "postgres"


@dataclass(frozen=True)
class Upgraded:
    """What an upgrade did."""

    version: str
    backup: str
    tables: int
    rows: int
    release: int | None


def _version(server: Server) -> int:
    with admin(server) as conn:
        return int(one(conn, "SHOW server_version_num")) // 10000


def _checks(platform: Platform, app: str, state: State, version: str) -> str:
    """Refuse what cannot be upgraded, in one line each; return the new cluster's key."""
    if not version.isdigit():
        raise InvalidInput(f"--version {version!r}: give a major version such as 16")
    if state.get("upgrade_from"):
        raise Conflict(f"{app}'s database was moved to a new cluster already: finish that with "
                       f"`roost pg upgrade {app} --finish` first")
    if not is_managed(state["server"]):
        raise InvalidInput(f"{app}'s database is on a server Roost does not run: upgrade that "
                           "server with its operator's tools")
    key = managed_key(version)
    if key == state["server"]:
        raise InvalidInput(f"{app}'s database is on Roost's PostgreSQL {version} already")
    cluster(platform.settings, key).bin_dir()  # names the postgresql-N package when missing
    return key


def _freeze(server: Server, database: str, frozen: bool) -> None:
    """Make ``database`` read-only for new sessions and end the app's (or undo that)."""
    with admin(server) as conn:
        if frozen:
            execute(conn, sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on")
                    .format(ident(database)))
            execute(conn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()", (database,))
        else:
            execute(conn, sql.SQL("ALTER DATABASE {} RESET default_transaction_read_only")
                    .format(ident(database)))


def _copy(platform: Platform, app: str, state: State, source: Server, dest: Server
          ) -> backups.BackupRecord:
    """Back the source up, restore it into the new database and prove the copy."""
    database = state["database"]
    record = backups.capture(source, database, platform.objects, app,
                             sessions=platform.sessions, trigger="upgrade")
    backups.restore(dest, database, platform.objects, record, confirm=app)
    with pgtools.connect(dest, database) as conn:
        found = pgtools.table_counts(conn)
    reason = verify.compare(record.table_counts, found, record.schema_sha256,
                            pgtools.schema_checksum(dest, database))
    if reason:
        raise RuntimeFailure(f"the copy in the new cluster differs from {app}'s database, "
                             f"nothing was switched: {reason}")
    return record


def upgrade(platform: Platform, app: str, version: str, actor: str) -> Upgraded:
    """Move ``app``'s database into Roost's cluster of PostgreSQL ``version``."""
    state = addons.state_of(platform, app, KIND)
    key = _checks(platform, app, state, version)
    source = server_of(platform.settings, state)
    if _version(source) > int(version):
        raise InvalidInput(f"{app}'s database runs PostgreSQL {_version(source)}: a restore "
                           f"into {version} would be a downgrade")
    app_id = deploys.acquire_lock(platform, app, deploys.holder(actor))
    try:
        target = cluster(platform.settings, key)
        dest = target.ensure()
        if archiving.configured(platform.settings, target) is None and archiving.available():
            archiving.enable(platform.settings, platform.objects, target)
        with admin(dest) as conn:
            if one(conn, "SELECT 1 FROM pg_database WHERE datname = %s", (state["database"],)):
                raise Conflict(f"Roost's PostgreSQL {version} has a database "
                               f"{state['database']} already; nothing was changed")
            try:
                create(conn, state, int(state["connections"]))
            except BaseException:
                drop(conn, state)
                raise
        _freeze(source, state["database"], True)
        try:
            record = _copy(platform, app, state, source, dest)
            release = _switch(platform, app, actor, state,
                              {**state, "server": key, "upgrade_from": state["server"],
                               "upgraded_at": now()})
        except BaseException:
            _freeze(source, state["database"], False)
            with admin(dest) as conn:
                drop(conn, state)
            raise
    finally:
        deploys.release_lock(platform, app_id)
    addons.ensure_monitors(platform, app)
    return Upgraded(version=version, backup=record.id, tables=len(record.table_counts),
                    rows=sum(record.table_counts.values()), release=release)


def _switch(platform: Platform, app: str, actor: str, old: State, fresh: State) -> int | None:
    """Store the new state and cut a release onto it; back to ``old`` if it fails."""
    addons.update_state(platform, app, KIND, fresh)
    number, error = pipeline.after_config_change(platform, app, actor)
    if error:
        addons.update_state(platform, app, KIND, old)
        pipeline.after_config_change(platform, app, actor)
        raise RuntimeFailure(f"the release on the new cluster did not start, {app} stays on "
                             f"its old database: {error}")
    return number


def finish(platform: Platform, app: str) -> str:
    """Drop the old database and roles an upgrade kept; return a line for the user."""
    state = addons.state_of(platform, app, KIND)
    old = state.get("upgrade_from")
    if not old:
        raise InvalidInput(f"{app} has no upgrade to finish: start one with "
                           f"`roost pg upgrade {app} --version N`")
    try:
        with admin(server_of(platform.settings, {"server": old})) as conn:
            drop(conn, state)
    except RoostError as exc:
        raise RuntimeFailure(f"the old database of {app} could not be dropped, the upgrade "
                             f"stays open: {exc}") from exc
    addons.update_state(platform, app, KIND,
                        {k: v for k, v in state.items() if k != "upgrade_from"})
    return (f"Dropped {app}'s old database ({state['database']}); it stays on "
            f"{cluster(platform.settings, state['server']).name}")
