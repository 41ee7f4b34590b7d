"""ASGI middleware: one root SERVER span per HTTP request, route taken from the framework."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from roost.agent._core import Trace, current

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _route(scope: Scope) -> str | None:
    # Starlette/FastAPI store the matched route object in the scope once routing ran.
    route = scope.get("route")
    if route is not None:
        path = getattr(route, "path", None) or getattr(route, "path_format", None)
        if isinstance(path, str):
            return scope.get("root_path", "") + path
    return scope.get("roost.route")


class ASGIMiddleware:
    """Times each HTTP request of an ASGI app and exports it through ``agent``."""

    def __init__(self, app: ASGIApp, agent: Any = None) -> None:
        from roost.agent import get_agent

        self.app = app
        self.agent = agent or get_agent()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        agent = self.agent
        if scope["type"] != "http" or not agent.enabled:
            await self.app(scope, receive, send)
            return
        traceparent = None
        for name, value in scope.get("headers", ()):
            if name == b"traceparent":
                traceparent = value.decode("latin-1")
                break
        trace = Trace(scope.get("method", "GET"), scope.get("path") or "/", traceparent)
        token = current.set(trace)

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                trace.status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        except BaseException:
            trace.error = True
            raise
        finally:
            current.reset(token)
            if trace.route is None:
                trace.route = _route(scope)
            agent.end(trace)
