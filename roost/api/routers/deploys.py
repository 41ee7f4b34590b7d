"""Deploys and builds: upload source, stream the build, list builds."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from roost.api.deps import ActorDep, PlatformDep, SessionDep
from roost.api.schemas import BuildOut
from roost.core import apps
from roost.errors import BuildError, RoostError
from roost.orchestration import deploys, pipeline
from roost.store.models import Build

router = APIRouter(tags=["deploys"])
log = logging.getLogger("roost.api.deploys")
MAX_SOURCE_BYTES = 1024 * 1024 * 1024


async def _save_body(request: Request, target: Path, limit: int) -> int:
    size = 0
    with target.open("wb") as fh:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BuildError(f"source archive over {limit // (1024 * 1024)} MB; add large "
                                 "files to .slugignore or .gitignore", step="upload")
            fh.write(chunk)
    if size == 0:
        raise BuildError("empty upload: send the app's source as a .tar.gz body "
                         "(`roost deploy APP DIR` does this)", step="upload")
    return size


@router.post(
    "/apps/{app}/builds",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}},
                     "description": "build events, one JSON object per line"}},
)
async def create_build(
    app: str, request: Request, ctx: PlatformDep, actor: ActorDep,
    x_source_version: str = Header(default="", max_length=100),
) -> StreamingResponse:
    """Upload a .tar.gz of the app's source; stream build events as NDJSON."""
    app_id = await run_in_threadpool(deploys.acquire_lock, ctx, app, deploys.holder(actor))
    upload_dir = ctx.settings.home / "uploads"
    upload_dir.mkdir(parents=True, exist_ok=True)
    archive = upload_dir / f"{app}-{app_id}-{threading.get_ident()}.tar.gz"
    try:
        await _save_body(request, archive, MAX_SOURCE_BYTES)
    except BaseException:
        archive.unlink(missing_ok=True)
        await run_in_threadpool(deploys.release_lock, ctx, app_id)
        raise
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def emit(event: dict[str, Any] | None) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, event)

    def work() -> None:
        try:
            release = pipeline.deploy_source(ctx, app, archive, actor, emit, x_source_version,
                                            locked_app_id=app_id)
            emit({"type": "result", "release": release.number, "status": release.status})
        except RoostError as exc:
            emit({"type": "error", "code": exc.code, "message": str(exc),
                  "step": getattr(exc, "step", ""),
                  "tail": getattr(exc, "output_tail", "")})
        except Exception as exc:  # report, never leave the client waiting
            log.exception("deploy of %s crashed", app)
            emit({"type": "error", "code": "internal", "message": f"deploy crashed: {exc!r}"})
        finally:
            archive.unlink(missing_ok=True)
            emit(None)

    threading.Thread(target=work, name=f"deploy-{app}", daemon=True).start()

    async def events() -> AsyncIterator[bytes]:
        while (event := await queue.get()) is not None:
            yield orjson.dumps(event) + b"\n"

    return StreamingResponse(events(), media_type="application/x-ndjson")


@router.get("/apps/{app}/builds", response_model=list[BuildOut])
def list_builds(app: str, session: SessionDep, _: ActorDep) -> list[dict[str, Any]]:
    """An app's builds, newest first."""
    from sqlalchemy import select

    found = apps.get(session, app)
    rows = session.scalars(select(Build).where(Build.app_id == found.id)
                           .order_by(Build.id.desc()).limit(50))
    return [{"id": b.id, "status": b.status, "started_at": b.started_at,
             "finished_at": b.finished_at, "actor": b.actor, "slug_size": b.slug_size,
             "source_size": b.source_size, "buildpacks": b.buildpacks, "release": b.release_number,
             "durations": b.durations, "step": b.step, "error": b.error} for b in rows]




class PlannedStepOut(BaseModel):
    """One step of a deploy as a dry run shows it."""

    name: str
    description: str
    runs: bool
    reason: str = ""


class DeployPlanOut(BaseModel):
    """The steps a deploy of new source would run (`roost deploy --dry-run`)."""

    app: str
    steps: list[PlannedStepOut]


@router.get("/apps/{app}/deploy-plan")
def deploy_plan(app: str, ctx: PlatformDep, actor: ActorDep) -> DeployPlanOut:
    """The deploy pipeline's steps for this app, and why any would be skipped; changes nothing."""
    steps = pipeline.dry_run(ctx, app, actor)
    return DeployPlanOut(app=app, steps=[PlannedStepOut(**vars(s)) for s in steps])
