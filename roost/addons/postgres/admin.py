"""Talking to a PostgreSQL server: connections with PostgreSQL's errors translated to ours."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from roost.addons.postgres.server import Server, redact
from roost.errors import InvalidInput, RoostError

CONNECT_TIMEOUT = 10


class PostgresError(RoostError):
    """A PostgreSQL server refused or failed an operation; the message says which and why."""

    code = "postgres_error"
    status = 502


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


@contextmanager
def connect(url: str, what: str = "") -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to ``url``; a refused login is one clear line."""
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
    except psycopg.Error as exc:
        raise InvalidInput(f"cannot log in to PostgreSQL {what or redact(url)}: "
                           f"{_reason(exc)}") from exc
    try:
        yield conn
    except psycopg.Error as exc:
        raise PostgresError(f"PostgreSQL {what or redact(url)}: {_reason(exc)}") from exc
    finally:
        conn.close()


@contextmanager
def admin(server: Server, database: str = "postgres") -> Iterator[psycopg.Connection[Any]]:
    """An admin connection to ``database`` on ``server``."""
    with connect(server.url(database), f"server {redact(server.admin_url)}") as conn:
        yield conn


def rows(conn: psycopg.Connection[Any], query: str | sql.Composable,
         params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Every row of ``query``."""
    with conn.cursor() as cur:
        cur.execute(query, params)  # type: ignore[arg-type]
        return list(cur.fetchall()) if cur.description else []


def one(conn: psycopg.Connection[Any], query: str | sql.Composable,
        params: Sequence[Any] = ()) -> Any:
    """The first column of the first row of ``query`` (None when there is no row)."""
    found = rows(conn, query, params)
    return found[0][0] if found else None


def execute(conn: psycopg.Connection[Any], query: str | sql.Composable,
            params: Sequence[Any] = ()) -> None:
    """Run one statement."""
    with conn.cursor() as cur:
        cur.execute(query, params)  # type: ignore[arg-type]


def ident(name: str) -> sql.Identifier:
    """A quoted identifier."""
    return sql.Identifier(name)
