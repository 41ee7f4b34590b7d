"""WSGI middleware: one root SERVER span per request."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from roost.agent._core import Trace, current

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _Body:
    """Wraps a streamed body so the request ends when the server closes it."""

    __slots__ = ("body", "agent", "trace")

    def __init__(self, body: Iterable[bytes], agent: Any, trace: Trace) -> None:
        self.body = body
        self.agent = agent
        self.trace = trace

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.agent.end(self.trace)


def _route(environ: dict[str, Any]) -> str | None:
    route = environ.get("roost.route")
    if route is None:
        request = environ.get("werkzeug.request")  # Flask keeps its matched rule here
        rule = getattr(request, "url_rule", None) if request is not None else None
        route = getattr(rule, "rule", None)
    return route


class WSGIMiddleware:
    """Times each request of a WSGI app and exports it through ``agent``."""

    def __init__(self, app: WSGIApp, agent: Any = None) -> None:
        from roost.agent import get_agent

        self.app = app
        self.agent = agent or get_agent()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        agent = self.agent
        if not agent.enabled:
            return self.app(environ, start_response)
        trace = Trace(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO") or "/",
                      environ.get("HTTP_TRACEPARENT"))
        token = current.set(trace)

        def record_status(status: str, headers: Any, exc_info: Any = None) -> Any:
            trace.status = int(status[:3])
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, record_status)
        except BaseException:
            trace.error = True
            trace.route = trace.route or _route(environ)
            agent.end(trace)
            raise
        finally:
            current.reset(token)
        if trace.route is None:
            trace.route = _route(environ)
        if type(body) is list:
            agent.end(trace)
            return body
        return _Body(body, agent, trace)
