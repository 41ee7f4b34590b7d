"""An app's PostgreSQL database: credentials and rotation, info, sessions, diagnose."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from roost.addons.base import State
from roost.api.deps import ActorDep, PlatformDep
from roost.core import audit
from roost.errors import RuntimeFailure
from roost.orchestration import addons, deploys, pipeline
from roost.orchestration.platform import Platform

router = APIRouter(tags=["pg"])
KIND = "postgres"


class Credentials(BaseModel):
    """Which login role is live (no passwords)."""

    database: str
    live: str
    standby: str
    standby_can_login: str
    rotated_at: str


class RotateOut(BaseModel):
    """What a rotation did."""

    live: str
    retired: str
    rotated_at: str
    release: int | None = None


class Connection(BaseModel):
    """The app's live connection URL (for `roost pg psql`)."""

    url: str


def _state(ctx: Platform, app: str) -> State:
    addons.load(ctx, KIND)
    return addons.state_of(ctx, app, KIND)


@router.get("/apps/{app}/pg/credentials")
async def credentials(app: str, ctx: PlatformDep, _: ActorDep) -> Credentials:
    """Which of the app's two login roles is live and when it was rotated."""
    from roost.addons.postgres import rotation

    state = await run_in_threadpool(_state, ctx, app)
    return Credentials(**rotation.describe(state))


@router.post("/apps/{app}/pg/credentials/rotate")
async def rotate(app: str, ctx: PlatformDep, actor: ActorDep) -> RotateOut:
    """New password on the standby role, a release that moves the app to it, old one retired."""
    from roost.addons.postgres import rotation

    def work() -> RotateOut:
        state = _state(ctx, app)
        release: list[int | None] = [None]

        def switch(fresh: State) -> None:
            addons.update_state(ctx, app, KIND, fresh)
            number, error = pipeline.after_config_change(ctx, app, actor)
            if error:
                addons.update_state(ctx, app, KIND, state)
                pipeline.after_config_change(ctx, app, actor)
                raise RuntimeFailure(f"the release with the new credentials did not start, "
                                     f"{app} keeps its old ones: {error}")
            release[0] = number
            if ctx.runtime is not None:  # the old generation may still log in as the old role
                ctx.runtime.wait_drained(app)

        # Under the deploy lock: a deploy reading the old credentials meanwhile would start
        # processes whose password is about to be removed, and two rotations would collide.
        app_id = deploys.acquire_lock(ctx, app, deploys.holder(actor))
        try:
            done = rotation.rotate(ctx.settings, state, switch)
        finally:
            deploys.release_lock(ctx, app_id)
        addons.update_state(ctx, app, KIND, done.state)
        with ctx.sessions.begin() as session:
            audit.record(session, actor, "pg.rotate", f"credentials rotated to {done.live}",
                         app=app)
        return RotateOut(live=done.live, retired=done.retired,
                         rotated_at=done.state["rotated_at"], release=release[0])

    return await run_in_threadpool(work)


@router.get("/apps/{app}/pg/connection")
async def connection(app: str, ctx: PlatformDep, _: ActorDep) -> Connection:
    """The live DATABASE_URL (a secret: `roost pg psql` uses it)."""
    def work() -> Connection:
        state = _state(ctx, app)
        return Connection(url=addons.load(ctx, KIND).config_vars(app, state)["DATABASE_URL"])

    return await run_in_threadpool(work)


@router.get("/apps/{app}/pg/info")
async def info(app: str, ctx: PlatformDep, _: ActorDep) -> dict[str, str]:
    """Version, size, connections used/limit, cache hit rate, the last verified backup, the
    point-in-time window and a summary of diagnose."""
    return await run_in_threadpool(
        lambda: addons.load(ctx, KIND).info(app, _state(ctx, app)))


@router.get("/apps/{app}/pg/diagnose")
async def diagnose(app: str, ctx: PlatformDep, _: ActorDep) -> list[dict[str, str]]:
    """Each check green, yellow or red, with the next step."""
    from roost.addons.postgres import diagnose as checks

    return await run_in_threadpool(lambda: checks.diagnose(ctx.settings, _state(ctx, app)))


class PgSessionOut(BaseModel):
    """One session connected to the app's database."""

    pid: int
    user: str | None
    state: str
    client: str
    seconds: int | None
    query: str


@router.get("/apps/{app}/pg/ps", response_model=list[PgSessionOut])
async def ps(app: str, ctx: PlatformDep, _: ActorDep) -> list[dict[str, Any]]:
    """Sessions on the app's database."""
    from roost.addons.postgres import ops

    return await run_in_threadpool(lambda: ops.processes(ctx.settings, _state(ctx, app)))


@router.post("/apps/{app}/pg/kill/{pid}")
async def kill(app: str, ctx: PlatformDep, actor: ActorDep,
               pid: int = Path(ge=1, le=2**31 - 1)) -> dict[str, str]:
    """End one session of the app's database (other databases' sessions are refused)."""
    from roost.addons.postgres import ops

    def work() -> dict[str, str]:
        message = ops.kill(ctx.settings, _state(ctx, app), pid)
        with ctx.sessions.begin() as session:
            audit.record(session, actor, "pg.kill", message, app=app)
        return {"message": message}

    return await run_in_threadpool(work)


class UpgradeIn(BaseModel):
    """Body of POST .../pg/upgrade: the major version to move the database to."""

    version: str = Field(min_length=1, max_length=10)


class UpgradeOut(BaseModel):
    """What an upgrade did: the version, the proven backup it restored, the new release."""

    version: str
    backup: str
    tables: int
    rows: int
    release: int | None


class Message(BaseModel):
    """A line for the user."""

    message: str


@router.post("/apps/{app}/pg/upgrade")
async def upgrade(app: str, body: UpgradeIn, ctx: PlatformDep, actor: ActorDep) -> UpgradeOut:
    """Move the app's database into Roost's cluster of PostgreSQL ``version`` (by restore,
    proven like a backup), with a hot restart; the old database stays until finish."""
    from roost.orchestration import pg_upgrade

    def work() -> UpgradeOut:
        _state(ctx, app)
        done = pg_upgrade.upgrade(ctx, app, body.version, actor)
        with ctx.sessions.begin() as session:
            audit.record(session, actor, "pg.upgrade", f"database moved to PostgreSQL "
                         f"{done.version}", app=app)
        return UpgradeOut(**vars(done))

    return await run_in_threadpool(work)


@router.post("/apps/{app}/pg/upgrade/finish")
async def finish_upgrade(app: str, ctx: PlatformDep, actor: ActorDep) -> Message:
    """Drop the old database an upgrade kept."""
    from roost.orchestration import pg_upgrade

    def work() -> Message:
        _state(ctx, app)
        line = pg_upgrade.finish(ctx, app)
        with ctx.sessions.begin() as session:
            audit.record(session, actor, "pg.upgrade.finish", line, app=app)
        return Message(message=line)

    return await run_in_threadpool(work)
