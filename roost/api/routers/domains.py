"""Custom domains of an app (their DNS, certificate and monitor), and the router's ``ask``
endpoint that allows a certificate only for a domain Roost knows."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from roost.api.deps import ActorDep, PlatformDep
from roost.api.dns_schemas import DomainOut, DomainRemoved
from roost.orchestration import domain_flow

router = APIRouter(tags=["domains"])


class DomainIn(BaseModel):
    """Body of POST /apps/{app}/domains."""

    model_config = ConfigDict(extra="forbid")
    hostname: str = Field(min_length=1, max_length=253)


@router.get("/apps/{app}/domains")
async def list_domains(app: str, ctx: PlatformDep, _: ActorDep) -> list[DomainOut]:
    """The app's custom domains with their DNS, certificate and monitor state."""
    return [DomainOut(**d) for d in await run_in_threadpool(domain_flow.status, ctx, app)]


@router.post("/apps/{app}/domains", status_code=201)
async def add_domain(app: str, body: DomainIn, ctx: PlatformDep, actor: ActorDep
                     ) -> DomainOut:
    """Add a custom domain: its record in the managed zone, applied and answered, then the
    route and a monitor (a domain in no managed zone is routed at once)."""
    return DomainOut(**await run_in_threadpool(domain_flow.add, ctx, app, body.hostname, actor))


@router.delete("/apps/{app}/domains/{hostname}")
async def remove_domain(app: str, hostname: str, ctx: PlatformDep, actor: ActorDep
                        ) -> DomainRemoved:
    """Remove a custom domain, its record and its monitor."""
    await run_in_threadpool(domain_flow.remove, ctx, app, hostname, actor)
    return DomainRemoved(removed=hostname, app=app)


@router.get("/tls/ask", include_in_schema=False)
async def ask(ctx: PlatformDep, domain: str = Query(default="", max_length=253)) -> Response:
    """Caddy's on-demand TLS permission: 200 for a domain Roost routes, 404 otherwise."""
    allowed = await run_in_threadpool(domain_flow.known, ctx, domain)
    return Response(status_code=200 if allowed else 404)
