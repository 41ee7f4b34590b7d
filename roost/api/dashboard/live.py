"""The dashboard's live parts as server-sent events: the apps overview's figures, an app's
log and a running build.

Like `roost logs -f` (roost/api/routers/runtime.py), a stream checks the viewer in a short
transaction before it starts, then holds no store connection and no worker thread while it
waits: it sleeps on the event loop, asks ``request.is_disconnected()`` between polls, and
ends when the client goes away or after :data:`MAX_SECONDS`. A build stream looks at the
build's record in a short transaction of its own every :data:`STATUS_EVERY` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from roost.api.dashboard import overview
from roost.api.dashboard.web import viewer_of
from roost.api.deps import IdPath, PlatformDep
from roost.core import apps, releases
from roost.orchestration import buildlogs
from roost.orchestration.platform import Platform
from roost.runtime import logfollow
from roost.store.models import Build, DeployLock

router = APIRouter(include_in_schema=False)
MAX_SECONDS = 3600.0
POLL = 0.2
STATUS_EVERY = 1.0
HEARTBEAT = 15.0
OVERVIEW_EVERY = 3.0
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def event(name: str, data: str) -> bytes:
    """One server-sent event; a line break in ``data`` becomes its own ``data:`` line."""
    body = "".join(f"data: {part}\n" for part in data.replace("\r", "").split("\n"))
    return f"event: {name}\n{body}\n".encode()


def _refused() -> Response:
    return Response("log in first\n", status_code=401, media_type="text/plain")


def _check(ctx: Platform, request: Request, app: str) -> bool:
    """Whether the viewer is logged in (and the app exists: NotFound otherwise)."""
    if viewer_of(ctx, request) is None:
        return False
    with ctx.sessions.begin() as session:
        apps.get(session, app)
    return True


@router.get("/apps/{app}/logs/stream")
async def log_stream(app: str, request: Request, ctx: PlatformDep,
                     source: str = Query(default="", max_length=50)) -> Response:
    """New lines of the app's log (from ``source`` only, when given) as ``line`` events."""
    if not await run_in_threadpool(_check, ctx, request, app):
        return _refused()
    runtime = ctx.runtime
    if runtime is None:
        return Response(event("end", "the runtime is not running in this server"),
                        media_type="text/event-stream")
    path = runtime.logs.path(app)

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        async for line in logfollow.follow(path, source or None, request.is_disconnected,
                                           stop_after=MAX_SECONDS, poll=POLL):
            yield event("line", line)

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)


def _overview(ctx: Platform) -> list[dict[str, object]]:
    with ctx.sessions.begin() as session:
        return [{"name": r.name, "status": r.status, "release": r.release, "up": r.up,
                 "total": r.total, "incidents": r.incidents}
                for r in overview.apps_overview(session, ctx)]


@router.get("/live/apps")
async def apps_stream(request: Request, ctx: PlatformDep) -> Response:
    """The overview's live figures (status, release, processes, incidents) as an ``apps``
    event whenever they change, looked at every :data:`OVERVIEW_EVERY` seconds."""
    if await run_in_threadpool(viewer_of, ctx, request) is None:
        return _refused()

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 5000\n\n"
        last, deadline = "", time.monotonic() + MAX_SECONDS
        while time.monotonic() < deadline:
            # Wait first: the page was rendered from the same figures a moment ago.
            until = time.monotonic() + OVERVIEW_EVERY
            while time.monotonic() < until:
                if await request.is_disconnected():
                    return
                await asyncio.sleep(POLL)
            now = orjson.dumps(await run_in_threadpool(_overview, ctx)).decode()
            if now != last:
                last = now
                yield event("apps", now)

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)


def _build_status(ctx: Platform, app: str, build_id: int) -> dict[str, object]:
    """The build's status: ``running`` until its whole deploy (build, release, activation)
    has finished, then the build's own status, error and release."""
    with ctx.sessions.begin() as session:
        found = apps.get(session, app)
        build = session.scalar(select(Build).where(Build.id == build_id,
                                                   Build.app_id == found.id))
        if build is None:
            return {"status": "missing", "error": f"{app} has no build #{build_id}"}
        lock = session.get(DeployLock, found.id)
        if build.status == "running" or (lock is not None and lock.build_id == build_id):
            return {"status": "running"}
        out: dict[str, object] = {"status": build.status, "error": build.error,
                                  "release": build.release_number}
        if build.release_number is not None:
            release = releases.get(session, app, build.release_number)
            out["release_status"], out["release_error"] = release.status, release.error
        return out


@router.get("/apps/{app}/builds/{build_id}/stream")
async def build_stream(app: str, build_id: IdPath, request: Request, ctx: PlatformDep,
                       offset: int = Query(default=0, ge=0)) -> Response:
    """A build's output from byte ``offset`` as ``line`` events, then an ``end`` event with
    its status once its deploy has finished (``{"status", "error", "release", …}``)."""
    if not await run_in_threadpool(_check, ctx, request, app):
        return _refused()
    home = ctx.settings.home

    async def stream() -> AsyncIterator[bytes]:
        position, checked, beat = offset, 0.0, time.monotonic()
        deadline = time.monotonic() + MAX_SECONDS
        while time.monotonic() < deadline:
            lines, position = buildlogs.read_from(home, app, build_id, position)
            for line in lines:
                yield event("line", line)
            now = time.monotonic()
            if now - checked >= STATUS_EVERY:
                checked = now
                status = await run_in_threadpool(_build_status, ctx, app, build_id)
                if status["status"] != "running":
                    lines, position = buildlogs.read_from(home, app, build_id, position)
                    for line in lines:
                        yield event("line", line)
                    yield event("end", orjson.dumps(status).decode())
                    return
            if await request.is_disconnected():
                return
            if now - beat >= HEARTBEAT:
                beat = now
                yield b": keep-alive\n\n"
            await asyncio.sleep(POLL)

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)
