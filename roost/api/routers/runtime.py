"""Running apps: processes, scaling, restarts, one-off commands, logs (domains: domains.py)."""

from __future__ import annotations

import shlex
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from roost.api.deps import ActorDep, PlatformDep, SessionDep
from roost.api.schemas import ProcessOut, RestartOut
from roost.core import apps, audit, releases
from roost.errors import Conflict, RuntimeFailure
from roost.orchestration.platform import Platform
from roost.runtime import logfollow
from roost.runtime.interface import AppRuntime

router = APIRouter(tags=["runtime"])


class RestartIn(BaseModel):
    """Body of POST /apps/{app}/restart."""

    model_config = ConfigDict(extra="forbid")
    type: str | None = Field(default=None, max_length=50)


class RunIn(BaseModel):
    """Body of POST /apps/{app}/run."""

    model_config = ConfigDict(extra="forbid")
    command: list[str] = Field(min_length=1, max_length=200)


def _runtime(ctx: Platform) -> AppRuntime:
    if ctx.runtime is None:
        raise RuntimeFailure("the runtime is not running in this server")
    return ctx.runtime


@router.get("/apps/{app}/ps", response_model=list[ProcessOut])
def ps(app: str, session: SessionDep, ctx: PlatformDep, _: ActorDep) -> list[dict[str, Any]]:
    """The app's processes."""
    apps.get(session, app)
    return ctx.runtime.ps(app) if ctx.runtime else []


@router.post("/apps/{app}/scale")
async def scale(app: str, body: dict[str, int], ctx: PlatformDep, actor: ActorDep
                ) -> dict[str, int]:
    """Set process counts, e.g. ``{"web": 2, "worker": 1}``."""
    def work() -> dict[str, int]:
        with ctx.sessions.begin() as session:
            apps.get(session, app)
        formation = _runtime(ctx).scale(ctx, app, body)
        with ctx.sessions.begin() as session:
            audit.record(session, actor, "ps.scale", " ".join(f"{k}={v}" for k, v in
                                                             sorted(body.items())), app=app)
        return formation

    return await run_in_threadpool(work)


@router.post("/apps/{app}/restart", response_model=RestartOut)
async def restart(app: str, body: RestartIn, ctx: PlatformDep, actor: ActorDep
                  ) -> dict[str, str]:
    """Restart the app's processes (hot for web)."""
    def work() -> None:
        with ctx.sessions.begin() as session:
            apps.get(session, app)
        _runtime(ctx).restart(app, body.type)
        with ctx.sessions.begin() as session:
            audit.record(session, actor, "ps.restart", f"restarted {body.type or 'all'}", app=app)

    await run_in_threadpool(work)
    return {"restarted": body.type or "all"}


@router.post("/apps/{app}/run", response_class=StreamingResponse,
             responses={200: {"content": {"application/x-ndjson": {}},
                              "description": "output lines, then the exit code, as NDJSON"}})
async def run(app: str, body: RunIn, ctx: PlatformDep, actor: ActorDep) -> StreamingResponse:
    """Run a one-off command with the app's environment; stream output, then the exit code."""
    def prepare() -> Any:
        with ctx.sessions.begin() as session:
            found = apps.get(session, app)
            current = releases.current(session, found)
            if current is None:
                raise Conflict(f"{app} has no release yet: deploy it first")
            env = releases.config_of(current, ctx.cipher)
            audit.record(session, actor, "ps.run", shlex.join(body.command)[:200], app=app)
        return _runtime(ctx).spec(app, current, env)

    spec = await run_in_threadpool(prepare)
    command = shlex.join(body.command) if len(body.command) > 1 else body.command[0]

    # Started before the stream: a runtime that cannot start it answers with an error.
    items = await run_in_threadpool(_runtime(ctx).run, spec, command)

    def events() -> Iterator[bytes]:
        for item in items:
            if isinstance(item, int):
                yield orjson.dumps({"type": "exit", "code": item}) + b"\n"
            else:
                yield orjson.dumps({"type": "output", "line": item}) + b"\n"

    return StreamingResponse(events(), media_type="application/x-ndjson")


@router.get("/apps/{app}/logs", response_model=None, response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "log lines (streamed with follow)"}})
async def logs(app: str, request: Request, ctx: PlatformDep, _: ActorDep,
               lines: int = Query(default=100, ge=0, le=10_000),
               source: str | None = Query(default=None, max_length=50),
               follow: bool = False,
               follow_seconds: float = Query(default=3600, gt=0, le=86_400)
               ) -> PlainTextResponse | StreamingResponse:
    """The app's log: the last ``lines`` lines, then new ones when ``follow`` is set.

    A followed stream holds no store session and no worker thread while it waits, and ends
    within a poll interval of the client going away.
    """
    def prepare() -> tuple[list[str], Path]:
        with ctx.sessions.begin() as session:
            apps.get(session, app)
        store = _runtime(ctx).logs
        return store.tail(app, lines, source), store.path(app)

    past, path = await run_in_threadpool(prepare)
    if not follow:
        return PlainTextResponse("".join(line + "\n" for line in past))

    async def stream() -> AsyncIterator[bytes]:
        for line in past:
            yield (line + "\n").encode()
        async for line in logfollow.follow(path, source, request.is_disconnected,
                                           stop_after=follow_seconds):
            yield (line + "\n").encode()

    return StreamingResponse(stream(), media_type="text/plain")
