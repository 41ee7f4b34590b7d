"""Add-ons of an app: list, add (provision + new release), remove (deprovision + new release)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from roost.api.deps import ActorDep, PlatformDep
from roost.orchestration import addons, pipeline
from roost.orchestration.addons import AttachmentView

router = APIRouter(tags=["addons"])


class AddonIn(BaseModel):
    """Body of POST /apps/{app}/addons."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9-]*$")
    options: dict[str, str] = Field(default_factory=dict, max_length=50)


class AddonOut(BaseModel):
    """An attached add-on (secrets stay in the config vars, masked)."""

    kind: str
    status: str
    config_vars: list[str]
    info: dict[str, str]
    health: str
    message: str = ""
    created_at: str
    release: int | None = None
    error: str = ""


class AddonRemoved(BaseModel):
    """What removing an add-on did."""

    removed: str
    release: int | None = None
    message: str = ""
    error: str = ""


def _out(view: AttachmentView, release: int | None = None, error: str = "") -> AddonOut:
    return AddonOut(**vars(view), release=release, error=error)


@router.get("/apps/{app}/addons")
async def list_addons(app: str, ctx: PlatformDep, _: ActorDep) -> list[AddonOut]:
    """The app's add-ons with their health."""
    views = await run_in_threadpool(addons.list_for, ctx, app)
    return [_out(v) for v in views]


@router.post("/apps/{app}/addons", status_code=201)
async def add_addon(app: str, body: AddonIn, ctx: PlatformDep, actor: ActorDep) -> AddonOut:
    """Provision an add-on; its config vars go into a new release."""
    def work() -> AddonOut:
        view = addons.attach(ctx, app, body.kind, body.options, actor)
        release, error = pipeline.after_config_change(ctx, app, actor)
        return _out(view, release, error)

    return await run_in_threadpool(work)


@router.delete("/apps/{app}/addons/{kind}")
async def remove_addon(app: str, kind: str, ctx: PlatformDep, actor: ActorDep) -> AddonRemoved:
    """Deprovision an add-on; a new release runs without its config vars."""
    def work() -> AddonRemoved:
        message = addons.detach(ctx, app, kind, actor)
        release, error = pipeline.after_config_change(ctx, app, actor)
        return AddonRemoved(removed=kind, release=release, message=message, error=error)

    return await run_in_threadpool(work)
