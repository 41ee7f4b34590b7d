"""Performance data of an app: endpoint table, endpoint detail, traces, findings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from roost.api.deps import ActorDep, PlatformDep, SessionDep
from roost.core import apps, audit, durations, telemetry
from roost.errors import NotFound
from roost.monitor.perf import query
from roost.orchestration.pipeline import after_config_change
from roost.orchestration.platform import Platform
from roost.store.base import utcnow

router = APIRouter(tags=["perf"])
KEPT = timedelta(days=30)


class IngestKeyOut(BaseModel):
    """A new ingest key and the release that gives it to the app."""

    key: str
    release: int | None = None
    error: str = ""


@router.post("/apps/{app}/perf/ingest-key")
def rotate_ingest_key(app: str, session: SessionDep, ctx: PlatformDep, actor: ActorDep
                      ) -> IngestKeyOut:
    """Give the app a new OTLP ingest key; the old one is refused from now on."""
    found = apps.get(session, app)
    key = telemetry.rotate(session, ctx.cipher, found, ctx.settings.api_url)
    audit.record(session, actor, "perf.rotate_key", "rotated the ingest key", app=app)
    session.commit()  # before the cache drops the old key, so no lookup can bring it back
    forget_keys(ctx, app)
    release, error = after_config_change(ctx, app, actor)
    return IngestKeyOut(key=key, release=release, error=error)


def forget_keys(ctx: Platform, app: str) -> None:
    """Drop the app's cached ingest keys in this server's OTLP receiver."""
    if ctx.perf is not None:
        ctx.perf.keys.forget_app(app)


@router.get("/apps/{app}/perf")
def endpoints(app: str, session: SessionDep, _: ActorDep,
              since: str = Query(default="1h", max_length=10)) -> list[query.EndpointStats]:
    """Endpoints ranked by impact (requests × p95) since a duration ago."""
    apps.get(session, app)
    start = utcnow() - durations.parse(since, KEPT)
    return query.endpoint_table(session, app, start)


@router.get("/apps/{app}/perf/endpoint")
def endpoint(app: str, session: SessionDep, _: ActorDep,
             name: str = Query(max_length=500, description="e.g. 'GET /items/{id}'"),
             since: str = Query(default="1h", max_length=10)) -> query.EndpointDetail:
    """One endpoint: breakdown, samples, latency series, deploys and findings."""
    apps.get(session, app)
    start = utcnow() - durations.parse(since, KEPT)
    known = {e.endpoint for e in query.endpoint_table(session, app, start)}
    if name not in known:
        raise NotFound(f"{app} has no traffic on endpoint {name!r} in the last {since}; "
                       f"`roost perf {app}` lists its endpoints")
    return query.endpoint_detail(session, app, name, start)


@router.get("/apps/{app}/perf/traces/{trace_id}")
def trace(app: str, trace_id: str, session: SessionDep, _: ActorDep) -> query.SampleTrace:
    """A kept sample trace with its spans."""
    apps.get(session, app)
    return query.trace(session, app, trace_id)


@router.get("/apps/{app}/perf/findings")
def findings(app: str, session: SessionDep, _: ActorDep,
             since: str = Query(default="7d", max_length=10)) -> list[dict[str, Any]]:
    """N+1 queries, slow queries and deploy regressions."""
    apps.get(session, app)
    start = utcnow() - durations.parse(since, KEPT)
    return [f.model_dump() for f in query.findings(session, app, start)]
