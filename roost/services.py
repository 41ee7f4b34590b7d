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
from roost.core import alerts, assetflow, recipients, releases, telemetry
from roost.core import apps as apps_core
from roost.core.deploys import DeployStage
from roost.monitor.perf.flush import Finding
from roost.monitor.perf.receiver import build_router
from roost.monitor.perf.regress import record_deploy
from roost.monitor.perf.service import PerfService
from roost.monitor.uptime import service as uptime_service
from roost.monitor.uptime.service import UptimeConfig
from roost.notify.recipients import Recipient
from roost.runtime.limits import default_limits
from roost.runtime.service import Runtime
from roost.runtime.supervisor import Limits
from roost.store.models import Release

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


def runtime(ctx: Context) -> Runtime:
    """The platform's runtime (router + supervisor), created on first use."""
    found = ctx.services.get("runtime")
    if found is None:
        s = ctx.settings
        limits = Limits(health_timeout=s.health_timeout_seconds, grace=s.grace_seconds,
                        max_per_type=s.max_processes_per_type, user=s.app_user or None,
                        sandbox=s.sandbox == "on",
                        sandbox_paths=tuple(s.sandbox_paths), resources=default_limits(s))
        found = ctx.services["runtime"] = Runtime(
            s.home, s.router_listen, s.router_admin, s.base_domain, ctx.services["objects"],
            limits, on_crash=lambda app, dyno, lines: alerts.on_crash(ctx, app, dyno, lines))
        found.prepare = lambda release, directory, env: assetflow.prepare(
            ctx, release, directory, env)
    return found


async def start_runtime(ctx: Context) -> Stopper:
    """Start the router and supervisor and bring every app back to its formation."""
    rt = runtime(ctx)
    watch_web_apps(ctx)
    await asyncio.to_thread(rt.start)
    await asyncio.to_thread(assetflow.refresh_routes, ctx)

    def env_of(release: Release) -> dict[str, str]:
        return releases.config_of(release, ctx.cipher)

    await asyncio.to_thread(rt.restore, ctx, env_of)

    async def stop() -> None:
        await asyncio.to_thread(rt.stop)
        ctx.services.pop("runtime", None)

    return stop


def watch_web_apps(ctx: Context) -> None:
    """Give every app with a web process an uptime monitor on its router URL (after deploy)."""
    from roost.monitor.uptime import monitors

    def ensure_monitor(stage: DeployStage) -> None:
        rt: Runtime | None = ctx.services.get("runtime")
        if rt is None:
            return
        with ctx.sessions.begin() as session:
            release = releases.get(session, stage.app, stage.release)
            if "web" not in release.process_types:
                return
            owned = [m for m in monitors.list_monitors(session, stage.app) if m.owner == "app"]
            if owned:
                return
            state = rt.supervisor.apps.get(stage.app)
            path = state.spec.health_path if state and state.spec else None
            # *.localhost resolves in browsers, not in every resolver: dial the router
            # itself and name the app in the Host header.
            host, _, port = ctx.settings.router_listen.rpartition(":")
            if host in ("0.0.0.0", "::", ""):
                host = "127.0.0.1"
            monitors.create(session, stage.app, f"http://{host}:{port}{path or '/'}",
                            headers={"Host": f"{stage.app}.{ctx.settings.base_domain}"},
                            owner="app")

    ctx.hook("after_activate", ensure_monitor)


async def start_asset_gc(ctx: Context, every_s: float = 86_400.0) -> Stopper:
    """Collect unused assets of every app once a day (the first run a minute after start)."""
    stop = asyncio.Event()

    def collect_all() -> None:
        with ctx.sessions.begin() as session:
            names = [a.name for a in apps_core.list_all(session)]
        for name in names:
            try:
                assetflow.collect(ctx, name)
            except Exception:  # noqa: BLE001  one app's store trouble must not stop the rest
                log.exception("asset gc of %s failed", name)

    async def loop() -> None:
        delay = 60.0
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), delay)
                return
            except TimeoutError:
                await asyncio.to_thread(collect_all)
                delay = every_s

    task = asyncio.create_task(loop())

    async def halt() -> None:
        stop.set()
        await task

    return halt
