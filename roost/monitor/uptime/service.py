"""`roost up`'s uptime machinery: local probe, heartbeat, pruning (paging and delivery are
the notifier's, :mod:`roost.notify.service`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from roost.background import every
from roost.monitor.uptime import stats
from roost.monitor.uptime.backends import LocalBackend
from roost.monitor.uptime.checks import Checker
from roost.monitor.uptime.engine import EngineConfig
from roost.monitor.uptime.scheduler import ProbeRunner
from roost.notify import outbox
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
    heartbeat_url: str = ""
    heartbeat_s: float = 60.0
    raw_retention: timedelta = timedelta(days=2)
    prune_s: float = 600.0
    allow_private: bool = False  # link-local and metadata targets (addresses.py)
    engine: EngineConfig = field(default_factory=EngineConfig)


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


class UptimeService:
    """The uptime tasks inside `roost up`: start them, stop them cleanly."""

    def __init__(self, factory: sessionmaker[Session], config: UptimeConfig | None = None,
                 leads: Callable[[str], bool] | None = None) -> None:
        self.factory = factory
        self.config = config or UptimeConfig()
        cfg = self.config
        self.probe = ProbeRunner(cfg.probe_name,
                                 LocalBackend(factory, cfg.probe_name, cfg.engine),
                                 concurrency=cfg.concurrency, flush_s=cfg.flush_s,
                                 refresh_s=cfg.refresh_s,
                                 checker=Checker(cfg.probe_name, cfg.concurrency,
                                                 cfg.allow_private))
        self.stop_event = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.last_heartbeat_ok: float | None = None
        self.leads = leads or (lambda _work: True)  # run-once work here (pruning)?

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
            await every(self.config.heartbeat_s, self.stop_event, ping, "heartbeat")

    async def start(self) -> None:
        """Start the probe and pruning (and the heartbeat when set)."""
        stop, cfg = self.stop_event, self.config

        async def prune() -> None:
            if await asyncio.to_thread(self.leads, "uptime pruning"):
                await asyncio.to_thread(self._prune)

        jobs = [self.probe.run(stop), every(cfg.prune_s, stop, prune, "pruning")]
        if cfg.heartbeat_url:
            jobs.append(self._heartbeat())
        self.tasks = [asyncio.create_task(job) for job in jobs]

    async def stop(self, timeout: float = 10.0) -> None:
        """Ask every task to finish, wait for them, cancel stragglers."""
        self.stop_event.set()
        if self.tasks:
            _done, pending = await asyncio.wait(self.tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
