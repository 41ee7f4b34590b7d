"""The background services of `roost up`, each attached to the platform as it starts.

Each ``start_*`` takes the platform, starts its service, sets the platform's attribute and
returns an async stopper; the daemon runs them in order inside the control plane's lifespan.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request

from roost.background import every
from roost.build.service import unpack_slug
from roost.core import apps as apps_core
from roost.core import releases, telemetry
from roost.monitor.perf.flush import Finding
from roost.monitor.perf.receiver import build_router
from roost.monitor.perf.service import PerfService
from roost.monitor.uptime.service import UptimeConfig, UptimeService
from roost.notify.recipients import Recipient
from roost.orchestration import alerts, assetflow, cluster, recipients, vm_apps
from roost.orchestration.platform import Platform
from roost.runtime.caddyproc import Issuer
from roost.runtime.interface import AppRuntime
from roost.runtime.limits import default_limits
from roost.runtime.service import Runtime
from roost.runtime.supervisor import Limits
from roost.store.models import Release

log = logging.getLogger("roost.services")
Stopper = Callable[[], Awaitable[None]]


def perf_service(platform: Platform) -> PerfService:
    """The platform's perf monitor (created on first use, started by :func:`start_perf`)."""
    if platform.perf is None:
        def resolve(key: str) -> str | None:
            with platform.sessions.begin() as session:
                return telemetry.resolve(session, key)

        def notify(finding: Finding) -> None:
            alerts.on_perf_finding(platform, finding)

        platform.perf = PerfService(platform.sessions, resolve, notify=notify)
        platform.perf.leads = platform.leads
    return platform.perf


def perf_router(platform: Platform) -> APIRouter:
    """OTLP/HTTP ingest at ``/v1/traces``."""
    service = perf_service(platform)

    def get_service(_request: Request) -> PerfService:
        return service

    return build_router(get_service)


async def start_perf(platform: Platform) -> Stopper:
    """Start the perf monitor's aggregation worker."""
    svc = perf_service(platform)
    svc.start()

    async def stop() -> None:
        await asyncio.to_thread(svc.stop)

    return stop


def recipients_for(platform: Platform) -> Callable[[str], list[Recipient]]:
    """The maintainers of an app, read from the store on each call."""
    def lookup(app_name: str) -> list[Recipient]:
        with platform.sessions.begin() as session:
            return recipients.for_app(session, app_name)

    return lookup


def join_cluster(platform: Platform) -> None:
    """Record this `roost up` as a control-plane instance (refusing a second host on SQLite
    or a live instance of the same name)."""
    s = platform.settings
    member = cluster.Membership(
        platform.sessions, name=s.instance_name or cluster.default_name(), address=s.api_url,
        heartbeat_s=s.instance_heartbeat_seconds,
        single_host=platform.engine.dialect.name == "sqlite",
        slug_address=s.swarm_slug_listen if s.runtime == "swarm" else "")
    member.join()
    platform.cluster = member


async def start_cluster(platform: Platform) -> Stopper:
    """Beat this instance's heartbeat (renewing its leases); leave the cluster at exit."""
    member = platform.cluster
    stop = asyncio.Event()
    task = asyncio.create_task(member.run(stop)) if member is not None else None

    async def halt() -> None:
        stop.set()
        if task is not None:
            await task
        if member is not None:
            await asyncio.to_thread(member.leave)

    return halt


async def start_notifier(platform: Platform) -> Stopper:
    """Start paging and the outbox worker: every alert goes out, whatever else runs."""
    notifier = platform.notifier
    people = recipients.parse_oncall(list(platform.settings.oncall))
    notifier.recipients_for = recipients_for(platform)
    notifier.oncall = lambda: list(people)
    notifier.leads = platform.leads
    await notifier.start()
    return notifier.stop


async def start_uptime(platform: Platform) -> Stopper:
    """Start the uptime probe, pruning and the heartbeat."""
    s = platform.settings
    probe = platform.cluster.name if platform.cluster is not None else "local"
    service = UptimeService(platform.sessions, UptimeConfig(
        probe_name=probe, heartbeat_url=s.heartbeat_url,
        allow_private=s.monitor_allow_private), leads=platform.leads)
    await service.start()
    platform.uptime = service

    async def stop() -> None:
        await service.stop()
        platform.uptime = None

    return stop


def runtime(platform: Platform) -> AppRuntime:
    """The platform's runtime (router + supervisor, or a swarm), created on first use."""
    if platform.runtime is None and platform.settings.runtime == "swarm":
        from roost.runtime.swarm.service import SwarmRuntime

        swarm = SwarmRuntime.from_settings(platform.settings, platform.objects)
        swarm.prepare = lambda release, app_dir: assetflow.task_assets(
            platform, release, app_dir)
        platform.runtime = swarm
        if platform.cluster is not None:
            platform.runtime.slugs.peers = platform.cluster.slug_addresses
    if platform.runtime is None:
        s = platform.settings
        limits = Limits(health_timeout=s.health_timeout_seconds, grace=s.grace_seconds,
                        max_per_type=s.max_processes_per_type, user=s.app_user or None,
                        sandbox=s.sandbox == "on",
                        sandbox_paths=tuple(s.sandbox_paths), resources=default_limits(s))
        found = Runtime(s.home, s.router_listen, s.base_domain, platform.objects, limits,
                        on_crash=lambda app, dyno, lines: alerts.on_crash(platform, app, dyno,
                                                                          lines),
                        router_user=s.router_user or None, unpack=unpack_slug)
        found.prepare = lambda release, directory, env: assetflow.prepare(
            platform, release, directory, env)
        if s.router_tls_listen:  # HTTPS for custom domains (orchestration/domain_flow.py)
            host, port = s.listen_host_port
            host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
            found.router.tls_listen = s.router_tls_listen
            found.router.tls_ask_url = f"http://{host}:{port}/api/v1/tls/ask"
            found.router.tls_issuer = Issuer.from_settings(s)
        # Apps created with --runtime vm run on their VM; the same router sends them traffic.
        platform.runtime = vm_apps.with_vm_apps(platform, found, found.router)
    return platform.runtime


async def start_runtime(platform: Platform) -> Stopper:
    """Start the router and supervisor and bring every app back to its formation."""
    rt = runtime(platform)
    await asyncio.to_thread(rt.start)
    await asyncio.to_thread(assetflow.refresh_routes, platform)

    def env_of(release: Release) -> dict[str, str]:
        return releases.config_of(release, platform.cipher)

    await asyncio.to_thread(rt.restore, platform, env_of)

    async def stop() -> None:
        await asyncio.to_thread(rt.stop)
        platform.runtime = None

    return stop


def collect_all_assets(platform: Platform) -> None:
    """One pass of asset collection over every app; one app's trouble does not stop the rest."""
    with platform.sessions.begin() as session:
        names = [a.name for a in apps_core.list_all(session)]
    for name in names:
        try:
            assetflow.collect(platform, name)
        except Exception:
            log.exception("asset gc of %s failed", name)


def run_once_every(platform: Platform, work: str, every_s: float,
                   job: Callable[[], object], first_delay: float = 0.0) -> Stopper:
    """Run the blocking ``job`` every ``every_s`` seconds on the one instance that holds the
    lease ``work`` (every instance asks; one runs it); a failed pass is logged and the next
    one runs. Returns the stopper."""
    stop = asyncio.Event()

    async def once() -> None:
        if await asyncio.to_thread(platform.leads, work):
            await asyncio.to_thread(job)

    task = asyncio.create_task(every(every_s, stop, once, work, first_delay=first_delay))

    async def halt() -> None:
        stop.set()
        await task

    return halt


async def start_asset_gc(platform: Platform, every_s: float = 86_400.0) -> Stopper:
    """Collect unused assets of every app once a day (the first run a minute after start)."""
    return run_once_every(platform, "asset collection", every_s,
                          lambda: collect_all_assets(platform), first_delay=60.0)


async def start_postgres(platform: Platform) -> Stopper:
    """Start Roost's own PostgreSQL clusters if it has any, with their WAL archiving; stop
    them (however they were started) at exit."""
    from roost.addons.postgres import archiving
    from roost.addons.postgres.addon import managed_clusters

    def start() -> None:
        for managed in managed_clusters(platform.settings):
            try:
                managed.ensure()
            except Exception:
                log.exception("Roost's PostgreSQL (%s) did not start; apps' databases are "
                              "down", managed.name)
                continue
            try:
                archiving.enable(platform.settings, platform.objects, managed,
                                 first_backup=False)
            except Exception:
                log.exception("WAL archiving of Roost's PostgreSQL (%s) failed to start",
                              managed.name)

    await asyncio.to_thread(start)

    async def stop() -> None:
        for managed in managed_clusters(platform.settings):
            await asyncio.to_thread(managed.stop)

    return stop


async def start_pg_backups(platform: Platform, every_s: float = 60.0,
                           health_every_s: float = 600.0) -> Stopper:
    """Take each app's daily database backup when its time comes, prove it, apply retention
    (on the instance holding the lease); look after this host's own clusters (base
    backups, disk, WAL archive) every ten minutes."""
    from roost.orchestration import pg_backups, pg_health

    backups = run_once_every(platform, "database backups", every_s,
                             lambda: pg_backups.scheduled_pass(platform), first_delay=5.0)
    stop = asyncio.Event()

    async def look_after() -> None:
        await asyncio.to_thread(pg_health.maintenance_pass, platform)

    task = asyncio.create_task(every(health_every_s, stop, look_after,
                                     "looking after Roost's PostgreSQL", first_delay=30.0))

    async def halt() -> None:
        stop.set()
        await task
        await backups()

    return halt


async def start_advisory_updates(platform: Platform, every_s: float = 86_400.0) -> Stopper:
    """Refresh the vulnerability database from ``ROOST_ADVISORY_SOURCES`` once a day (the
    first time ten minutes after start) and re-scan the apps the new advisories affect."""
    from roost.orchestration import vulnwatch

    def update() -> None:
        if platform.settings.advisory_sources:
            result, rescanned = vulnwatch.update_and_rescan(platform)
            log.info("advisory database updated: %s; re-scanned %s", result, rescanned)

    return run_once_every(platform, "advisory updates", every_s, update, first_delay=600.0)


async def start_dns_drift(platform: Platform) -> Stopper:
    """Check every applied DNS zone for drift (and pending custom domains) on a schedule,
    on the one instance that holds the lease."""
    from roost.orchestration import dns_flow

    return run_once_every(platform, "DNS drift check", platform.settings.dns_drift_interval_seconds,
                          lambda: dns_flow.scheduled_pass(platform), first_delay=5.0)


async def start_host_facts(platform: Platform, every_s: float = 300.0,
                           first_delay: float = 30.0) -> Stopper:
    """Gather every host's facts every 5 minutes (on one instance) and alert the maintainers
    of its apps: disk over 90 %, unreachable for two checks, a reboot or security updates
    waiting too long."""
    from roost.orchestration import hostflow

    return run_once_every(platform, "host facts", every_s, lambda: hostflow.refresh(platform),
                          first_delay=first_delay)
