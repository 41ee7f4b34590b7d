"""roost.agent: low-overhead tracing for Python web apps, exported as OTLP to Roost.

Configured by the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``
and ``OTEL_SERVICE_NAME`` variables that Roost sets for every app::

    from roost.agent import WSGIMiddleware
    application = WSGIMiddleware(application)

Imports only the standard library (and opentelemetry-proto when installed).
"""

from __future__ import annotations

import atexit
import threading

from roost.agent._core import Trace, record_query, set_route, span
from roost.agent._export import Agent
from roost.agent.asgi import ASGIMiddleware
from roost.agent.dbapi import wrap_connection
from roost.agent.sqla import instrument_sqlalchemy
from roost.agent.wsgi import WSGIMiddleware

__all__ = [
    "ASGIMiddleware",
    "Agent",
    "Trace",
    "WSGIMiddleware",
    "configure",
    "get_agent",
    "instrument_sqlalchemy",
    "record_query",
    "set_route",
    "span",
    "wrap_connection",
]

_agent: Agent | None = None
_lock = threading.Lock()


def configure(**options: object) -> Agent:
    """Create the process-wide agent (from the environment plus ``options``) and return it."""
    global _agent
    with _lock:
        _agent = Agent(**options)  # type: ignore[arg-type]
        return _agent


def get_agent() -> Agent:
    """The process-wide agent, created from the environment on first use."""
    if _agent is None:
        configure()
    assert _agent is not None
    return _agent


@atexit.register
def _flush_at_exit() -> None:
    if _agent is not None:
        _agent.flush(timeout=2.0)
