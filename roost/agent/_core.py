"""The agent's hot path: one small object per request, spans as tuples, no locks.

Everything costly (ids to bytes, span names, encoding, HTTP) happens later in the
exporter thread, so a request pays for a few attribute stores and a list append.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from random import getrandbits
from typing import Any

perf_counter_ns = time.perf_counter_ns

# Record layouts kept in Trace.spans (perf_counter_ns times, converted on export):
#   (DB, span_id, parent_id, start, end, error, db_system, statement)
#   (SPAN, span_id, parent_id, start, end, error, name, attributes or None)
DB = 0
SPAN = 1


class Trace:
    """One request being served: the root SERVER span and every span recorded under it."""

    __slots__ = ("trace_id", "span_id", "parent_id", "epoch_ns", "start", "end", "method",
                 "path", "route", "status", "error", "spans", "current")

    def __init__(self, method: str, path: str, traceparent: str | None) -> None:
        self.trace_id = 0
        self.parent_id = 0
        if traceparent is not None and len(traceparent) == 55:
            try:
                self.trace_id = int(traceparent[3:35], 16)
                self.parent_id = int(traceparent[36:52], 16)
            except ValueError:
                self.trace_id = self.parent_id = 0
        if not self.trace_id:
            self.trace_id = getrandbits(128) or 1
        self.span_id = self.current = getrandbits(64) or 1
        self.epoch_ns = time.time_ns()
        self.start = perf_counter_ns()
        self.end = 0
        self.method = method
        self.path = path
        self.route: str | None = None
        self.status = 0
        self.error = False
        self.spans: list[tuple[Any, ...]] = []


current: ContextVar[Trace | None] = ContextVar("roost_agent_trace", default=None)


def record_query(system: str, statement: str, start: int, error: bool) -> None:
    """Record a finished database call that began at ``start`` (perf_counter_ns)."""
    trace = current.get()
    if trace is not None:
        trace.spans.append((DB, getrandbits(64) or 1, trace.current, start, perf_counter_ns(),
                            error, system, statement))


def set_route(route: str) -> None:
    """Name the current request's endpoint with its route template (e.g. ``/users/{id}``)."""
    trace = current.get()
    if trace is not None:
        trace.route = route


class span:  # used as a context manager, like a function
    """Time a block as a child span: ``with roost.agent.span("render", category="view"):``."""

    __slots__ = ("name", "attrs", "trace", "span_id", "parent_id", "start")

    def __init__(self, name: str, category: str | None = None, **attrs: Any) -> None:
        self.name = name
        self.attrs = dict(attrs, **{"roost.category": category}) if category else (attrs or None)
        self.trace: Trace | None = None
        self.span_id = 0
        self.parent_id = 0
        self.start = 0

    def __enter__(self) -> span:
        trace = self.trace = current.get()
        if trace is not None:
            self.parent_id = trace.current
            self.span_id = trace.current = getrandbits(64) or 1
            self.start = perf_counter_ns()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        trace = self.trace
        if trace is not None:
            trace.spans.append((SPAN, self.span_id, self.parent_id, self.start,
                                perf_counter_ns(), exc_type is not None, self.name, self.attrs))
            trace.current = self.parent_id
