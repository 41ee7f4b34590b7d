"""DB-API 2.0 wrapper: every ``execute`` becomes a database span of the current request."""

from __future__ import annotations

from typing import Any

from roost.agent._core import current, perf_counter_ns, record_query


class TracedCursor:
    """A cursor that records each statement it runs; everything else is passed through."""

    __slots__ = ("_cursor", "_system")

    def __init__(self, cursor: Any, system: str) -> None:
        self._cursor = cursor
        self._system = system

    def execute(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        """Run and time one statement."""
        if current.get() is None:
            return self._cursor.execute(sql, *args, **kwargs)
        start = perf_counter_ns()
        error = True
        try:
            result = self._cursor.execute(sql, *args, **kwargs)
            error = False
            return result
        finally:
            record_query(self._system, str(sql), start, error)

    def executemany(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        """Run and time one statement over many parameter sets."""
        if current.get() is None:
            return self._cursor.executemany(sql, *args, **kwargs)
        start = perf_counter_ns()
        error = True
        try:
            result = self._cursor.executemany(sql, *args, **kwargs)
            error = False
            return result
        finally:
            record_query(self._system, str(sql), start, error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def __iter__(self) -> Any:
        return iter(self._cursor)

    def __enter__(self) -> TracedCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self._cursor.close()


class TracedConnection:
    """A DB-API connection whose cursors are :class:`TracedCursor`."""

    __slots__ = ("_conn", "_system")

    def __init__(self, conn: Any, system: str) -> None:
        self._conn = conn
        self._system = system

    def cursor(self, *args: Any, **kwargs: Any) -> TracedCursor:
        """A traced cursor."""
        return TracedCursor(self._conn.cursor(*args, **kwargs), self._system)

    def execute(self, sql: Any, *args: Any) -> TracedCursor:
        """sqlite3's shortcut: a new traced cursor that runs ``sql``."""
        cursor = self.cursor()
        cursor.execute(sql, *args)
        return cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __enter__(self) -> TracedConnection:
        self._conn.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._conn.__exit__(*exc)


def wrap_connection(conn: Any, db_system: str = "other_sql") -> TracedConnection:
    """Wrap a DB-API connection so its statements are traced (``db.system`` = ``db_system``)."""
    return TracedConnection(conn, db_system)
