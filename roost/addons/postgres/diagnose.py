"""`roost pg diagnose`: checks of an app's database, each green, yellow or red with a next step.

The checks follow Heroku's pg:diagnose: connections near the limit, long-running queries,
sessions idle in a transaction, blocking locks, cache and index hit rates, tables without
a primary key, and sequences near exhaustion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

from roost.addons.base import State
from roost.addons.postgres.addon import server_of
from roost.addons.postgres.admin import admin, one, rows
from roost.settings import Settings

Conn = psycopg.Connection[Any]
LONG_QUERY_SECONDS = 300
IDLE_TX_SECONDS = 60
MIN_READS = 1000  # hit rates mean little before this many block reads


@dataclass(frozen=True)
class Check:
    """One finding: its name, a colour, what was seen and what to do next."""

    name: str
    status: str  # green, yellow, red
    detail: str
    next_step: str = ""


def _connections(conn: Conn, state: State) -> Check:
    used = one(conn, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                   # the app's sessions: not autovacuum workers, not Roost's own admin ones
                   "AND backend_type = 'client backend' AND usename <> current_user "
                   "AND pid <> pg_backend_pid()",
               (state["database"],))
    limit = int(state["connections"])
    ratio = used / limit
    status = "red" if ratio >= 0.9 else "yellow" if ratio >= 0.7 else "green"
    step = "" if status == "green" else (
        "use a connection pool in the app, end idle sessions, or raise the limit with a larger "
        "--option connections")
    return Check("connections", status, f"{used} of {limit} connections in use", step)


def _long_queries(conn: Conn, state: State) -> Check:
    pids = [r[0] for r in rows(conn, "SELECT pid FROM pg_stat_activity WHERE datname = %s AND "
                               "state = 'active' AND now() - query_start > %s * interval '1 s'",
                               (state["database"], LONG_QUERY_SECONDS))]
    if not pids:
        return Check("long queries", "green", "no query has run for over 5 minutes")
    return Check("long queries", "red", f"{len(pids)} queries running over 5 minutes "
                 f"(pids {', '.join(map(str, pids))})",
                 "inspect them with `roost pg ps APP` and end one with `roost pg kill APP PID`")


def _idle_in_transaction(conn: Conn, state: State) -> Check:
    pids = [r[0] for r in rows(conn, "SELECT pid FROM pg_stat_activity WHERE datname = %s AND "
                               "state LIKE 'idle in transaction%%' AND "
                               "now() - state_change > %s * interval '1 s'",
                               (state["database"], IDLE_TX_SECONDS))]
    if not pids:
        return Check("idle in transaction", "green", "no session holds a transaction open idle")
    return Check("idle in transaction", "yellow", f"{len(pids)} sessions idle in a transaction "
                 f"for over a minute (pids {', '.join(map(str, pids))})",
                 "commit or roll back promptly in the app; end them with `roost pg kill APP PID`")


def _blocking(conn: Conn, state: State) -> Check:
    blocked = rows(conn, "SELECT pid, pg_blocking_pids(pid) FROM pg_stat_activity WHERE "
                   "datname = %s AND cardinality(pg_blocking_pids(pid)) > 0",
                   (state["database"],))
    if not blocked:
        return Check("blocking locks", "green", "no session waits on another's lock")
    pairs = "; ".join(f"{pid} waits on {', '.join(map(str, by))}" for pid, by in blocked)
    return Check("blocking locks", "red", pairs,
                 "find the blocker with `roost pg ps APP`; end it with `roost pg kill APP PID`")


def _hit_rate(name: str, hit: Any, read: Any, step: str) -> Check:
    hit, read = int(hit or 0), int(read or 0)
    if hit + read < MIN_READS:
        return Check(name, "green", "too few reads yet to judge")
    rate = hit / (hit + read)
    status = "green" if rate >= 0.99 else "yellow" if rate >= 0.95 else "red"
    return Check(name, status, f"{100 * rate:.2f}%", "" if status == "green" else step)


def _cache(conn: Conn, state: State) -> Check:
    hit, read = rows(conn, "SELECT blks_hit, blks_read FROM pg_stat_database WHERE datname = %s",
                     (state["database"],))[0]
    return _hit_rate("cache hit rate", hit, read,
                     "the working set does not fit in shared_buffers: give the server more "
                     "memory or query less data")


def _index(conn: Conn, state: State) -> Check:
    hit, read = rows(conn, "SELECT sum(idx_blks_hit), sum(idx_blks_read) "
                     "FROM pg_statio_user_tables")[0]
    return _hit_rate("index hit rate", hit, read,
                     "indexes do not fit in memory: drop unused indexes or add memory")


def _primary_keys(conn: Conn, state: State) -> Check:
    missing = [r[0] for r in rows(conn, """
        SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%%' AND NOT c.relispartition
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid
                          AND k.contype = 'p')
        ORDER BY 1""")]
    if not missing:
        return Check("primary keys", "green", "every table has a primary key")
    return Check("primary keys", "yellow", f"tables without a primary key: "
                 f"{', '.join(missing[:10])}{' …' if len(missing) > 10 else ''}",
                 "add a primary key to each: replication, dedup and many tools need one")


def _sequences(conn: Conn, state: State) -> Check:
    near = rows(conn, """
        SELECT schemaname || '.' || sequencename, last_value::numeric / max_value::numeric
        FROM pg_sequences WHERE last_value IS NOT NULL AND increment_by > 0
          AND last_value::numeric / max_value::numeric > 0.75 ORDER BY 2 DESC""")
    if not near:
        return Check("sequences", "green", "no sequence is over 75% used")
    worst = float(near[0][1])
    return Check("sequences", "red" if worst > 0.9 else "yellow",
                 ", ".join(f"{name} {100 * float(used):.0f}% used" for name, used in near[:5]),
                 "change the column and its sequence to bigint before it runs out")


CHECKS: list[Callable[[Conn, State], Check]] = [
    _connections, _long_queries, _idle_in_transaction, _blocking, _cache, _index,
    _primary_keys, _sequences]


def diagnose(settings: Settings, state: State) -> list[dict[str, str]]:
    """Every check of the app's database, in a fixed order."""
    with admin(server_of(settings, state), state["database"]) as conn:
        return [asdict(check(conn, state)) for check in CHECKS]
