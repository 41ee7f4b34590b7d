"""`roost up`'s uptime machinery: local probe, paging, outbox worker, heartbeat, pruning."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from roost.monitor.uptime import stats
from roost.monitor.uptime.backends import LocalBackend
from roost.monitor.uptime.engine import EngineConfig
from roost.monitor.uptime.paging import PagingPolicy, run_paging
from roost.monitor.uptime.scheduler import ProbeRunner
from roost.notify import outbox
from roost.notify.channels import Deliverer
from roost.notify.recipients import OnCall, RecipientsFor
from roost.notify.worker import OutboxWorker, WorkerPolicy
from roost.store.base import utcnow
from roost.store.models.uptime import Monitor, Probe
from roost.store.session import transaction

log = logging.getLogger(__name__)


@dataclass
class UptimeConfig:
    """Everything `roost up` tunes; the defaults suit production."""

    probe_name: str = "local"
    concurrency: int = 200
    flush_s: float = 0.5
    refresh_s: float = 10.0
    paging_s: float = 1.0
    sms_url: str = ""
    smtp_url: str = ""
    heartbeat_url: str = ""
    heartbeat_s: float = 60.0
    raw_retention: timedelta = timedelta(days=2)
    prune_s: float = 600.0
    engine: EngineConfig = field(default_factory=EngineConfig)
    paging: PagingPolicy = field(default_factory=PagingPolicy)
    worker: WorkerPolicy = field(default_factory=WorkerPolicy)


@dataclass(frozen=True)
class Liveness:
    """Whether the watcher itself is alive, for /api/v1/health."""

    last_check_at: datetime | None
    last_check_age_s: float | None
    monitors: int
    probes: dict[str, float]
    outbox_pending: int
    outbox_failed: int
    oldest_pending_age_s: float | None


def liveness(session: Session, now: datetime | None = None) -> Liveness:
    """Last check time, probe ages and outbox backlog, read from the store."""
    now = now or utcnow()
    last, count = session.execute(
        select(func.max(Monitor.last_check_at), func.count()).where(Monitor.paused.is_(False))
    ).one()
    probes = {p.name: round((now - p.last_seen).total_seconds(), 1)
              for p in session.scalars(select(Probe))}
    backlog = outbox.backlog(session)
    oldest = backlog.oldest_pending_at
    return Liveness(
        last_check_at=last,
        last_check_age_s=round((now - last).total_seconds(), 1) if last else None,
        monitors=int(count), probes=probes, outbox_pending=backlog.pending,
        outbox_failed=backlog.failed,
        oldest_pending_age_s=round((now - oldest).total_seconds(), 1) if oldest else None,
    )


async def _every(period: float, stop: asyncio.Event, job: Callable[[], Awaitable[None]],
                 name: str) -> None:
    while not stop.is_set():
        try:
            await job()
        except Exception:  # one failed pass must not end the loop
            log.exception("%s failed", name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), period)


class UptimeService:
    """The uptime tasks inside `roost up`: start them, stop them cleanly."""

    def __init__(
        self, factory: sessionmaker[Session], recipients_for: RecipientsFor, oncall: OnCall,
        config: UptimeConfig | None = None, *, deliverer: Deliverer | None = None,
    ) -> None:
        self.factory = factory
        self.recipients_for, self.oncall = recipients_for, oncall
        self.config = config or UptimeConfig()
        self.deliverer = deliverer or Deliverer(self.config.sms_url, self.config.smtp_url)
        cfg = self.config
        self.probe = ProbeRunner(cfg.probe_name,
                                 LocalBackend(factory, cfg.probe_name, cfg.engine),
                                 concurrency=cfg.concurrency, flush_s=cfg.flush_s,
                                 refresh_s=cfg.refresh_s)
        self.worker = OutboxWorker(factory, self.deliverer, cfg.worker)
        self.stop_event = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.last_heartbeat_ok: float | None = None

    def _page(self) -> None:
        with transaction(self.factory) as session:
            run_paging(session, self.recipients_for, self.oncall, self.config.paging)

    def _prune(self) -> None:
        with transaction(self.factory) as session:
            stats.prune(session, self.config.raw_retention)

    async def _heartbeat(self) -> None:
        async with httpx.AsyncClient(timeout=10.0) as client:
            async def ping() -> None:
                resp = await client.get(self.config.heartbeat_url)
                if resp.status_code < 400:
                    self.last_heartbeat_ok = time.monotonic()
                else:
                    log.warning("heartbeat URL answered %s", resp.status_code)
            await _every(self.config.heartbeat_s, self.stop_event, ping, "heartbeat")

    async def start(self) -> None:
        """Start the probe, paging, outbox worker, pruning (and heartbeat when set)."""
        stop, cfg = self.stop_event, self.config

        async def page() -> None:
            await asyncio.to_thread(self._page)

        async def prune() -> None:
            await asyncio.to_thread(self._prune)

        jobs = [self.probe.run(stop), _every(cfg.paging_s, stop, page, "paging"),
                self.worker.run(stop), _every(cfg.prune_s, stop, prune, "pruning")]
        if cfg.heartbeat_url:
            jobs.append(self._heartbeat())
        self.tasks = [asyncio.create_task(job) for job in jobs]

    async def stop(self, timeout: float = 10.0) -> None:
        """Ask every task to finish, wait for them, cancel stragglers, close channels."""
        self.stop_event.set()
        if self.tasks:
            _done, pending = await asyncio.wait(self.tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.deliverer.aclose()


async def start(
    factory: sessionmaker[Session], recipients_for: RecipientsFor, oncall: OnCall,
    config: UptimeConfig | None = None,
) -> UptimeService:
    """Start the uptime service inside the running event loop; call ``stop()`` on exit."""
    service = UptimeService(factory, recipients_for, oncall, config)
    await service.start()
    return service
