"""Resource limits of an app's processes: GET/PUT /apps/{app}/limits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from roost.api.deps import ActorDep, PlatformDep, SessionDep
from roost.core import apps, audit, releases
from roost.errors import InvalidInput
from roost.orchestration.platform import Platform
from roost.runtime.limits import KEYS, ResourceLimits, default_limits, for_app, parse_changes

router = APIRouter(tags=["runtime"])
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


class LimitsIn(BaseModel):
    """Body of PUT /apps/{app}/limits: one process type's new limits."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1, max_length=50)
    memory: str | None = Field(default=None, max_length=20)
    cpu: float | str | None = None
    pids: int | str | None = None


class ResourceLimitsOut(BaseModel):
    """The limits one process runs under."""

    memory: str
    cpu: float
    pids: int


class LimitsOut(BaseModel):
    """An app's limits per process type, and the platform's defaults."""

    app: str
    limits: dict[str, ResourceLimitsOut]
    defaults: ResourceLimitsOut


def _view(settings: dict[str, Any] | None, types: list[str], default: ResourceLimits
          ) -> dict[str, Any]:
    stored = (settings or {}).get("limits") or {}
    return {"limits": {t: v.to_json() for t, v in
                       for_app(settings, sorted({*types, *stored}), default).items()},
            "defaults": default.to_json()}


def _types(session: Any, ctx: Platform, found: Any) -> list[str]:
    current = releases.current(session, found)
    return sorted((current.process_types or {}) if current is not None else {})


@router.get("/apps/{app}/limits", response_model=LimitsOut)
def get_limits(app: str, session: SessionDep, ctx: PlatformDep, _: ActorDep) -> dict[str, Any]:
    """Memory, CPU and process-count limits per process type (defaults where unset)."""
    found = apps.get(session, app)
    return {"app": app, **_view(found.settings, _types(session, ctx, found),
                                default_limits(ctx.settings))}


@router.put("/apps/{app}/limits", response_model=LimitsOut)
async def set_limits(app: str, body: LimitsIn, ctx: PlatformDep, actor: ActorDep
                     ) -> dict[str, Any]:
    """Change one process type's limits; its running processes restart with them (hot
    for web)."""
    changes = {k: getattr(body, k) for k in KEYS if getattr(body, k) is not None}
    if not changes:
        raise InvalidInput("give at least one of memory=, cpu=, pids=")
    if not set(body.type) <= NAME_CHARS:
        raise InvalidInput(f"{body.type!r} is not a process type name")
    checked = parse_changes(changes)

    def work() -> dict[str, Any]:
        with ctx.sessions.begin() as session:
            found = apps.get(session, app)
            types = _types(session, ctx, found)
            if types and body.type not in types and body.type != "run":
                raise InvalidInput(f"{app} has no process type {body.type!r} (its Procfile "
                                   f"has: {', '.join(types)}; `run` is for one-off commands)")
            stored = dict((found.settings or {}).get("limits") or {})
            stored[body.type] = {**(stored.get(body.type) or {}), **checked}
            found.settings = {**(found.settings or {}), "limits": stored}
            audit.record(session, actor, "limits.set", f"{body.type}: " + " ".join(
                f"{k}={v}" for k, v in sorted(checked.items())), app=app)
            view = _view(found.settings, types, default_limits(ctx.settings))
        runtime = ctx.runtime
        if runtime is not None:
            runtime.set_limits(app, stored)
            running = {p["type"] for p in runtime.ps(app)}
            if body.type in running:
                runtime.restart(app, body.type)
        return {"app": app, **view}

    return await run_in_threadpool(work)
