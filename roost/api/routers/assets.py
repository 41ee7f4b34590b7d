"""Static assets of an app: usage, the publish plan, garbage collection, the folder."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from roost.api.deps import ActorDep, PlatformDep, SessionDep
from roost.api.schemas import AssetFolderOut, AssetGcOut, AssetUsageOut, PublishPlanOut
from roost.core import apps, audit
from roost.errors import InvalidInput
from roost.orchestration import assetflow

router = APIRouter(tags=["assets"])


class AssetSettingsIn(BaseModel):
    """Body of PUT /apps/{app}/assets/settings."""

    model_config = ConfigDict(extra="forbid")
    dir: str | None = Field(default=None, max_length=200,
                            description="the static folder in the built app; null: detect")


@router.get("/apps/{app}/assets", response_model=AssetUsageOut)
async def usage(app: str, ctx: PlatformDep, _: ActorDep) -> dict[str, Any]:
    """Count, total size and last publish of the app's assets."""
    s = await run_in_threadpool(assetflow.usage, ctx, app)
    return {"files": s.files, "objects": s.objects, "total_bytes": s.total_bytes,
            "last_published": s.last_published, "releases": s.releases,
            "asset_host": assetflow.base_url(ctx, app)}


@router.post("/apps/{app}/assets/publish", response_model=PublishPlanOut)
async def publish_plan(app: str, ctx: PlatformDep, _: ActorDep) -> dict[str, Any]:
    """The plan for publishing the current release's static folder (a dry run)."""
    result = await run_in_threadpool(assetflow.plan, ctx, app)
    plan = result.plan
    return {"new": [p.key for p in plan.new], "unchanged": len(plan.unchanged),
            "to_delete": plan.to_delete, "bytes_new": plan.bytes_new}


@router.post("/apps/{app}/assets/gc", response_model=AssetGcOut)
async def collect(app: str, ctx: PlatformDep, actor: ActorDep, dry_run: bool = False
                  ) -> dict[str, Any]:
    """Delete assets no kept release needs (current + 5 previous, or under an hour old)."""
    result = await run_in_threadpool(assetflow.collect, ctx, app, dry_run)
    if not dry_run:
        with ctx.sessions.begin() as session:
            audit.record(session, actor, "assets.gc", f"deleted {len(result.deleted)} assets",
                         app=app)
    return {"deleted": result.deleted, "deleted_manifests": result.deleted_manifests,
            "kept": result.kept, "bytes_freed": result.bytes_freed, "dry_run": dry_run}


@router.put("/apps/{app}/assets/settings", response_model=AssetFolderOut)
def set_folder(app: str, body: AssetSettingsIn, session: SessionDep, actor: ActorDep
               ) -> dict[str, Any]:
    """Choose the static folder (relative to the built app); null goes back to detection."""
    folder = (body.dir or "").strip().strip("/") or None
    if folder and (folder.startswith(".") or ".." in folder.split("/")):
        raise InvalidInput(f"invalid folder {body.dir!r}: give a path inside the app, "
                           "e.g. public or frontend/dist")
    found = apps.get(session, app)
    found.settings = {**(found.settings or {}), "assets_dir": folder}
    audit.record(session, actor, "assets.set", f"assets folder {folder or 'detected'}", app=app)
    return {"dir": folder}
