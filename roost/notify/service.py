"""The notifier inside `roost up`: the outbox worker and the paging policy, started by the
daemon on their own so every finding (uptime, perf, vulnerabilities, crashes) goes out
whatever else runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from roost.background import every
from roost.notify.channels import Deliverer
from roost.notify.paging import PagingPolicy, run_paging
from roost.notify.recipients import OnCall, Recipient, RecipientsFor
from roost.notify.worker import OutboxWorker, WorkerPolicy
from roost.store.session import transaction


@dataclass
class NotifierConfig:
    """Channels, on-call contacts and the timing of paging and delivery."""

    sms_url: str = ""
    smtp_url: str = ""
    oncall: tuple[str, ...] = ()
    paging_s: float = 1.0
    paging: PagingPolicy = field(default_factory=PagingPolicy)
    worker: WorkerPolicy = field(default_factory=WorkerPolicy)


def _nobody(_app: str) -> list[Recipient]:
    return []


class Notifier:
    """Turns incidents into pages and delivers the outbox; one per platform."""

    def __init__(self, factory: sessionmaker[Session], config: NotifierConfig | None = None,
                 *, recipients_for: RecipientsFor = _nobody, oncall: OnCall | None = None,
                 deliverer: Deliverer | None = None) -> None:
        self.factory = factory
        self.config = config or NotifierConfig()
        self.recipients_for = recipients_for
        self.oncall: OnCall = oncall or (lambda: [])
        self._deliverer = deliverer
        self._worker: OutboxWorker | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # Whether this process runs paging now (one control-plane instance does; every one
        # delivers the outbox, whose rows are claimed one worker at a time).
        self.leads: Callable[[str], bool] = lambda _work: True

    @property
    def deliverer(self) -> Deliverer:
        """The channels messages go out through (opened on first use)."""
        if self._deliverer is None:
            self._deliverer = Deliverer(self.config.sms_url, self.config.smtp_url)
        return self._deliverer

    @property
    def worker(self) -> OutboxWorker:
        """The outbox worker (created on first use)."""
        if self._worker is None:
            self._worker = OutboxWorker(self.factory, self.deliverer, self.config.worker)
        return self._worker

    def page_once(self) -> None:
        """One paging pass: new outages, reminders, escalations, recoveries."""
        with transaction(self.factory) as session:
            run_paging(session, self.recipients_for, self.oncall, self.config.paging)

    @property
    def running(self) -> bool:
        """Whether the worker and paging loops run in this process."""
        return bool(self._tasks) and not self._stop.is_set()

    async def start(self) -> None:
        """Start the paging loop and the outbox worker in the running event loop."""
        self._stop = asyncio.Event()

        async def page() -> None:
            if await asyncio.to_thread(self.leads, "paging"):
                await asyncio.to_thread(self.page_once)

        self._tasks = [asyncio.create_task(every(self.config.paging_s, self._stop, page,
                                                 "paging")),
                       asyncio.create_task(self.worker.run(self._stop))]

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the loops (cancelling stragglers) and close the channels."""
        self._stop.set()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._tasks = []
        if self._deliverer is not None:
            await self._deliverer.aclose()
            self._deliverer = None
            self._worker = None
