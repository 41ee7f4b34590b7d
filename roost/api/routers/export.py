"""What a release would need on another platform: `roost export APP --format kubernetes`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from roost.api.deps import ActorDep, PlatformDep
from roost.core import apps, releases
from roost.errors import Conflict
from roost.runtime import kubernetes
from roost.runtime.limits import default_limits, for_app

router = APIRouter(tags=["runtime"])
SLUG_URL_SECONDS = 7 * 86_400


@router.get("/apps/{app}/export")
async def export(app: str, ctx: PlatformDep, _: ActorDep,
                 format: str = Query(pattern="^kubernetes$")) -> list[dict[str, Any]]:
    """The current release as Kubernetes manifests (Secret, Deployments, Service, Job)."""
    def work() -> list[dict[str, Any]]:
        with ctx.sessions.begin() as session:
            found = apps.get(session, app)
            current = releases.current(session, found)
            if current is None or not current.slug_key:
                raise Conflict(f"{app} has no release yet: deploy it first")
            env = releases.config_of(current, ctx.cipher)
            formation = dict(found.formation or {}) or {"web": 1}
            limits = for_app(found.settings, list(current.process_types),
                             default_limits(ctx.settings))
            slug_key = current.slug_key
        spec = ctx.running_runtime().spec(app, current, env)
        return kubernetes.manifests(spec, formation, ctx.objects.url(slug_key, SLUG_URL_SECONDS),
                                    limits, ctx.settings.grace_seconds)

    return await run_in_threadpool(work)
