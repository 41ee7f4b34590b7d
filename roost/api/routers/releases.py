"""Releases, rollback and buildpack settings of an app."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from roost.api.deps import ActorDep, PlatformDep, SessionDep
from roost.api.schemas import BuildpacksOut, ReleaseDetail, ReleaseOut
from roost.core import apps, audit, releases
from roost.errors import InvalidInput
from roost.orchestration import kubernetes, pipeline
from roost.store.models import Release

router = APIRouter(tags=["releases"])


class RollbackIn(BaseModel):
    """Body of POST /apps/{app}/rollback."""

    model_config = ConfigDict(extra="forbid")
    release: str | None = Field(default=None, max_length=20,
                                 description="e.g. v3; default: the previous release")


class BuildpacksIn(BaseModel):
    """Body of PUT /apps/{app}/buildpacks."""

    model_config = ConfigDict(extra="forbid")
    buildpacks: list[str] = Field(min_length=1, max_length=10)


def release_out(r: Release, current: int | None) -> dict[str, Any]:
    """API view of a release."""
    return {"version": r.number, "status": r.status, "description": r.description,
            "created_at": r.created_at, "actor": r.actor, "slug_key": r.slug_key,
            "slug_size": r.slug_size, "process_types": r.process_types, "build": r.build_id,
            "current": r.number == current, "error": r.error, "meta": r.meta,
            "commit": r.commit_sha}


@router.get("/apps/{app}/releases", response_model=list[ReleaseOut])
def list_releases(app: str, session: SessionDep, _: ActorDep) -> list[dict[str, Any]]:
    """An app's releases, newest first."""
    current = apps.get(session, app).current_release
    return [release_out(r, current) for r in releases.list_for(session, app)]


@router.get("/apps/{app}/releases/{version}", response_model=ReleaseDetail)
def get_release(app: str, version: str, session: SessionDep, ctx: PlatformDep, _: ActorDep
                ) -> dict[str, Any]:
    """One release, with the names of its config vars."""
    number = releases.parse_number(version)
    r = releases.get(session, app, number)
    out = release_out(r, apps.get(session, app).current_release)
    out["config_keys"] = sorted(releases.config_of(r, ctx.cipher))
    return out


@router.post("/apps/{app}/rollback", response_model=ReleaseOut)
async def rollback(app: str, body: RollbackIn, ctx: PlatformDep, actor: ActorDep
                   ) -> dict[str, Any]:
    """Create a new release from an earlier one's slug and config, and activate it."""
    target = releases.parse_number(body.release) if body.release else None

    def work() -> dict[str, Any]:
        done = pipeline.rollback(ctx, app, target, actor, lambda _e: None)
        return release_out(done, done.number)

    return await run_in_threadpool(work)


@router.get("/apps/{app}/buildpacks", response_model=BuildpacksOut)
def get_buildpacks(app: str, session: SessionDep, _: ActorDep) -> dict[str, list[str]]:
    """The app's buildpacks (empty: the app's .buildpacks file, else auto-detection)."""
    return {"buildpacks": list(apps.get(session, app).buildpacks or [])}


def _check_buildpack(ref: str) -> str:
    ref = ref.strip()
    if not ref or any(c.isspace() for c in ref):
        raise InvalidInput(f"invalid buildpack {ref!r}: give a path, a git URL (with #ref) "
                           "or a tarball URL")
    return ref


@router.put("/apps/{app}/buildpacks", response_model=BuildpacksOut)
def set_buildpacks(app: str, body: BuildpacksIn, session: SessionDep, actor: ActorDep
                   ) -> dict[str, list[str]]:
    """Set the app's buildpacks, in order."""
    found = apps.get(session, app)
    found.buildpacks = [_check_buildpack(b) for b in body.buildpacks]
    audit.record(session, actor, "buildpacks.set", "set buildpacks", app=app,
                 buildpacks=found.buildpacks)
    return {"buildpacks": found.buildpacks}


@router.delete("/apps/{app}/buildpacks", response_model=BuildpacksOut)
def clear_buildpacks(app: str, session: SessionDep, actor: ActorDep) -> dict[str, list[str]]:
    """Go back to the .buildpacks file or auto-detection."""
    apps.get(session, app).buildpacks = []
    audit.record(session, actor, "buildpacks.clear", "cleared buildpacks", app=app)
    return {"buildpacks": []}


@router.get("/apps/{app}/export", response_class=Response, responses={
    200: {"description": "the manifests, as YAML documents (they hold the config vars)",
          "content": {"application/yaml": {"schema": {"type": "string"}}}}})
def export_release(app: str, ctx: PlatformDep, actor: ActorDep,
                   format: str = Query("kubernetes", pattern="^kubernetes$",
                                       description="the only format: kubernetes"),
                   image: str = Query("", max_length=300,
                                      description="the stack image (bash, curl and tar)"),
                   run: list[str] = Query([], max_length=20,
                                          description="one-off commands, one Job each"),
                   release: str | None = Query(None, max_length=20,
                                               description="e.g. v3; default: current")
                   ) -> Response:
    """The Kubernetes manifests of an app's release (YAML); they hold its config vars."""
    number = releases.parse_number(release) if release else None
    text = kubernetes.export(ctx, app, image=image, runs=run, release_number=number)
    with ctx.sessions.begin() as session:
        audit.record(session, actor, "release.export", f"exported {app} as {format}", app=app)
    return Response(text, media_type="application/yaml")
