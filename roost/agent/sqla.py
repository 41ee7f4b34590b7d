"""SQLAlchemy event hooks: each cursor execution becomes a database span."""

from __future__ import annotations

from typing import Any

from roost.agent._core import current, perf_counter_ns, record_query

_KEY = "roost_agent_start"


def instrument_sqlalchemy(engine: Any) -> None:
    """Trace every statement ``engine`` (sync or async) sends to the database."""
    from sqlalchemy import event

    target = getattr(engine, "sync_engine", engine)
    system = target.dialect.name

    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
               executemany: bool) -> None:
        if current.get() is not None and context is not None:
            setattr(context, _KEY, perf_counter_ns())

    def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
              executemany: bool) -> None:
        start = getattr(context, _KEY, None)
        if start is not None:
            record_query(system, statement, start, False)

    def failed(exception_context: Any) -> None:
        context = exception_context.execution_context
        start = getattr(context, _KEY, None) if context is not None else None
        if start is not None:
            record_query(system, exception_context.statement or "", start, True)

    event.listen(target, "before_cursor_execute", before)
    event.listen(target, "after_cursor_execute", after)
    event.listen(target, "handle_error", failed)
