"""Backups of an app's PostgreSQL database: list, capture, restore, verify, download, schedule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from roost.addons.postgres import backups, schedule
from roost.addons.postgres.backups import BackupRecord
from roost.api.deps import ActorDep, PlatformDep
from roost.core import audit
from roost.orchestration import pg_backups

router = APIRouter(tags=["pg backups"])
BackupId = Annotated[str, Path(min_length=2, max_length=12)]


class BackupOut(BaseModel):
    """One backup: where it is, what it held at capture, whether it was proven."""

    app: str
    id: str
    database: str
    trigger: str
    status: str
    reason: str
    object_key: str
    size: int
    sha256: str
    table_counts: dict[str, int]
    schema_sha256: str
    created_at: str | None
    finished_at: str | None
    verified_at: str | None


class ScheduleOut(BaseModel):
    """An app's daily backup time (UTC)."""

    app: str
    at: str
    last_run_on: str


class BackupsOut(BaseModel):
    """An app's backups (newest first) and its schedule."""

    backups: list[BackupOut]
    schedule: ScheduleOut | None


class RestoreIn(BaseModel):
    """Body of POST .../restore: the destination app's name repeated, and the destination."""

    model_config = ConfigDict(extra="forbid")
    confirm: str = Field(default="", max_length=100)
    to: str | None = Field(default=None, min_length=1, max_length=100)


class RestoreToTimeIn(RestoreIn):
    """Body of POST .../backups/restore: a point in time (with its time zone)."""

    time: AwareDatetime


class ScheduleIn(BaseModel):
    """Body of PUT .../schedule."""

    model_config = ConfigDict(extra="forbid")
    at: str = Field(max_length=10)


class Done(BaseModel):
    """A line for the user."""

    message: str


class UrlOut(BaseModel):
    """A time-limited URL of a backup ("" where the object store does not sign URLs)."""

    url: str
    expires_in: int


def _out(record: BackupRecord) -> BackupOut:
    data: dict[str, Any] = record.to_dict()
    return BackupOut(**data)


@router.get("/apps/{app}/pg/backups")
async def list_backups(app: str, ctx: PlatformDep, _: ActorDep) -> BackupsOut:
    """The app's backups, newest first, and its schedule."""
    def work() -> BackupsOut:
        pg_backups.where(ctx, app)
        found = schedule.get_schedule(ctx.sessions, app)
        return BackupsOut(backups=[_out(r) for r in backups.list_backups(ctx.sessions, app)],
                          schedule=ScheduleOut(**vars(found)) if found else None)

    return await run_in_threadpool(work)


@router.post("/apps/{app}/pg/backups", status_code=201)
async def capture(app: str, ctx: PlatformDep, actor: ActorDep) -> BackupOut:
    """Take a backup now (``pg_dump -Fc`` streamed to the object store)."""
    record = await run_in_threadpool(pg_backups.capture, ctx, app)
    with ctx.sessions.begin() as session:
        audit.record(session, actor, "pg.backups.capture", f"backup {record.id} taken", app=app)
    return _out(record)


@router.get("/apps/{app}/pg/backups/{bid}")
async def show(app: str, bid: BackupId, ctx: PlatformDep, _: ActorDep) -> BackupOut:
    """One backup."""
    return _out(await run_in_threadpool(backups.get, ctx.sessions, app, bid))


@router.post("/apps/{app}/pg/backups/{bid}/restore")
async def restore(app: str, bid: BackupId, body: RestoreIn, ctx: PlatformDep,
                  actor: ActorDep) -> Done:
    """Restore a backup into the app's database (or into ``to``'s): needs ``confirm``."""
    line = await run_in_threadpool(pg_backups.restore, ctx, app, bid, body.confirm, body.to)
    with ctx.sessions.begin() as session:
        audit.record(session, actor, "pg.backups.restore", line, app=body.to or app,
                     backup=bid, source=app)
    return Done(message=line)


@router.post("/apps/{app}/pg/backups/restore")
async def restore_to_time(app: str, body: RestoreToTimeIn, ctx: PlatformDep,
                          actor: ActorDep) -> Done:
    """Restore the app's database as it was at ``time`` (point-in-time recovery)."""
    line = await run_in_threadpool(pg_backups.restore_to_time, ctx, app, body.time,
                                   body.confirm, body.to)
    with ctx.sessions.begin() as session:
        audit.record(session, actor, "pg.backups.restore", line, app=body.to or app,
                     time=body.time.isoformat(), source=app)
    return Done(message=line)


@router.post("/apps/{app}/pg/backups/{bid}/verify")
async def verify(app: str, bid: BackupId, ctx: PlatformDep, _: ActorDep) -> BackupOut:
    """Restore the backup into a scratch database and compare it with its source."""
    return _out(await run_in_threadpool(pg_backups.verify_and_report, ctx, app, bid))


@router.get("/apps/{app}/pg/backups/{bid}/url")
async def url(app: str, bid: BackupId, ctx: PlatformDep, _: ActorDep) -> UrlOut:
    """A time-limited URL of the backup, where the object store signs URLs."""
    def work() -> UrlOut:
        record = backups.get(ctx.sessions, app, bid)
        pg_backups.where(ctx, app)
        if not ctx.objects.can_sign_urls:
            return UrlOut(url="", expires_in=0)
        link, _ = backups.download(ctx.objects, record)
        return UrlOut(url=link, expires_in=backups.URL_SECONDS)

    return await run_in_threadpool(work)


@router.get("/apps/{app}/pg/backups/{bid}/download", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "the backup, a pg_restore custom-format file"}})
async def download(app: str, bid: BackupId, ctx: PlatformDep, _: ActorDep) -> StreamingResponse:
    """The backup's bytes (a ``pg_restore`` custom-format file)."""
    record = await run_in_threadpool(backups.get, ctx.sessions, app, bid)
    chunks: Iterator[bytes] = await run_in_threadpool(ctx.objects.stream, record.object_key)
    return StreamingResponse(
        iterate_in_threadpool(chunks), media_type=backups.CONTENT_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{app}-{record.id}.dump"',
                 "X-Roost-Sha256": record.sha256})


@router.put("/apps/{app}/pg/backups/schedule")
async def set_schedule(app: str, body: ScheduleIn, ctx: PlatformDep,
                       actor: ActorDep) -> ScheduleOut:
    """Back the app up every day at ``at`` (HH:MM, UTC)."""
    def work() -> ScheduleOut:
        pg_backups.where(ctx, app)
        found = schedule.set_schedule(ctx.sessions, app, body.at)
        with ctx.sessions.begin() as session:
            audit.record(session, actor, "pg.backups.schedule", f"daily at {found.at} UTC",
                         app=app)
        return ScheduleOut(**vars(found))

    return await run_in_threadpool(work)
