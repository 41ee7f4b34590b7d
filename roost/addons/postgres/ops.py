"""Operating an app's database: facts (`roost pg info`), sessions (`ps`) and `kill`."""

from __future__ import annotations

from typing import Any

from roost.addons.base import State
from roost.addons.postgres.addon import login_role, server_of
from roost.addons.postgres.admin import admin, one, rows
from roost.errors import NotFound
from roost.settings import Settings


def _ratio(hit: Any, read: Any) -> str:
    total = (hit or 0) + (read or 0)
    return f"{100 * (hit or 0) / total:.2f}%" if total else "n/a (no reads yet)"


def info(settings: Settings, state: State) -> dict[str, str]:
    """Version, size, connections used and the limit, cache hit rate."""
    server = server_of(settings, state)
    database = state["database"]
    with admin(server, database) as conn:
        version = one(conn, "SHOW server_version")
        size = one(conn, "SELECT pg_size_pretty(pg_database_size(%s))", (database,))
        used = one(conn, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                   # the app's sessions: not autovacuum workers, not Roost's own admin ones
                   "AND backend_type = 'client backend' AND usename <> current_user "
                   "AND pid <> pg_backend_pid()",
                   (database,))
        hit, read = rows(conn, "SELECT blks_hit, blks_read FROM pg_stat_database "
                         "WHERE datname = %s", (database,))[0]
    return {"database": database, "version": str(version), "size": str(size),
            "connections": f"{used}/{state['connections']}", "user": login_role(state),
            "host": f"{server.host}:{server.port}", "cache_hit_rate": _ratio(hit, read)}


def processes(settings: Settings, state: State) -> list[dict[str, Any]]:
    """Sessions connected to the app's database, longest running first."""
    with admin(server_of(settings, state), state["database"]) as conn:
        found = rows(conn, """
            SELECT pid, usename, coalesce(state, ''), coalesce(client_addr::text, 'local'),
                   extract(epoch FROM now() - coalesce(query_start, backend_start))::int,
                   left(coalesce(query, ''), 200)
            FROM pg_stat_activity
            WHERE datname = %s AND pid <> pg_backend_pid()
            ORDER BY query_start NULLS LAST""", (state["database"],))
    return [{"pid": pid, "user": user, "state": st, "client": client, "seconds": secs,
             "query": query} for pid, user, st, client, secs, query in found]


def kill(settings: Settings, state: State, pid: int) -> str:
    """End session ``pid`` if it belongs to the app's database; refuse any other pid."""
    with admin(server_of(settings, state), state["database"]) as conn:
        mine = one(conn, "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND datname = %s "
                   "AND pid <> pg_backend_pid()", (pid, state["database"]))
        if not mine:
            raise NotFound(f"no session {pid} on database {state['database']}; "
                           "`roost pg ps APP` lists its sessions")
        ended = one(conn, "SELECT pg_terminate_backend(%s)", (pid,))
    return f"ended session {pid}" if ended else f"session {pid} had already ended"
