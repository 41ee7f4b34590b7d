"""The background services of `roost up`, built from the platform context.

Each ``start_*`` takes the context, starts its service and returns an async stopper; the
daemon runs them in order inside the control plane's lifespan. Each ``*_router`` builds the
service's HTTP endpoints for :func:`roost.api.app.create_app`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request

from roost.context import Context
from roost.core import recipients, telemetry
from roost.core.deploys import DeployStage
from roost.monitor.perf.flush import Finding
from roost.monitor.perf.receiver import build_router
from roost.monitor.perf.regress import record_deploy
from roost.monitor.perf.service import PerfService
from roost.monitor.uptime import service as uptime_service
from roost.monitor.uptime.service import UptimeConfig
from roost.notify.recipients import Recipient

log = logging.getLogger("roost.services")
Stopper = Callable[[], Awaitable[None]]


def perf_service(ctx: Context) -> PerfService:
    """The platform's perf monitor (created on first use, started by :func:`start_perf`)."""
    svc = ctx.services.get("perf")
    if svc is None:
        def resolve(key: str) -> str | None:
            with ctx.sessions.begin() as session:
                return telemetry.resolve(session, key)

        def notify(finding: Finding) -> None:
            for hook in ctx.hooks.get("perf_finding", []):
                hook(finding)

        svc = ctx.services["perf"] = PerfService(ctx.sessions, resolve, notify=notify)

        def mark_deploy(stage: DeployStage) -> None:
            with ctx.sessions.begin() as session:
                record_deploy(session, stage.app, f"v{stage.release}")

        ctx.hook("after_activate", mark_deploy)
    return svc


def perf_router(ctx: Context) -> tuple[APIRouter, str]:
    """OTLP/HTTP ingest at ``/v1/traces``."""
    perf_service(ctx)

    def get_service(request: Request) -> PerfService:
        service: PerfService = request.app.state.ctx.services["perf"]
        return service

    return build_router(get_service), ""


async def start_perf(ctx: Context) -> Stopper:
    """Start the perf monitor's aggregation worker."""
    svc = perf_service(ctx)
    svc.start()

    async def stop() -> None:
        await asyncio.to_thread(svc.stop)

    return stop


def recipients_for(ctx: Context) -> Callable[[str], list[Recipient]]:
    """The maintainers of an app, read from the store on each call."""
    def lookup(app_name: str) -> list[Recipient]:
        with ctx.sessions.begin() as session:
            return recipients.for_app(session, app_name)

    return lookup


def oncall(ctx: Context) -> Callable[[], list[Recipient]]:
    """The platform's on-call contacts from ROOST_ONCALL."""
    people = recipients.parse_oncall(list(ctx.settings.oncall))
    return lambda: list(people)


async def start_uptime(ctx: Context) -> Stopper:
    """Start the uptime probe, paging, the outbox worker and the heartbeat."""
    s = ctx.settings
    config = UptimeConfig(sms_url=s.sms_url, smtp_url=s.smtp_url, heartbeat_url=s.heartbeat_url)
    service = await uptime_service.start(ctx.sessions, recipients_for(ctx), oncall(ctx), config)
    ctx.services["uptime"] = service
    return service.stop
