"""The outbox worker: claim due rows, merge pages per person, deliver, record the answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from roost.errors import DeliveryError
from roost.notify import outbox
from roost.notify.channels import Deliverer
from roost.notify.outbox import Claimed
from roost.notify.ratelimit import TokenBuckets
from roost.store.base import utcnow

log = logging.getLogger(__name__)


@dataclass
class WorkerPolicy:
    """Lease, retry and rate settings of the outbox worker."""

    lease_s: float = 60.0
    batch: int = 50
    poll_s: float = 1.0
    backoff_base_s: float = 5.0
    backoff_max_s: float = 600.0
    max_attempts: int = 15
    concurrency: int = 8
    buckets: TokenBuckets = field(default_factory=TokenBuckets)


def merged_body(rows: list[Claimed]) -> str:
    """One text for several pages to the same person (outages of several apps at once)."""
    if len(rows) == 1:
        return rows[0].body
    return "Roost: " + "; ".join(r.merge_part or r.subject for r in rows)


class OutboxWorker:
    """Delivers outbox rows; run several at once safely, in one process or many."""

    def __init__(
        self, factory: sessionmaker[Session], deliverer: Deliverer,
        policy: WorkerPolicy | None = None, *, owner: str | None = None,
        on_claimed: Callable[[list[Claimed]], Awaitable[None]] | None = None,
    ) -> None:
        self.factory = factory
        self.deliverer = deliverer
        self.policy = policy or WorkerPolicy()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        # A hook between claim and send; tests use it to crash the worker right there.
        self.on_claimed = on_claimed
        self.last_run: float | None = None

    def _backoff(self, attempts: int) -> float:
        base = self.policy.backoff_base_s * 2 ** max(attempts - 1, 0)
        return min(base, self.policy.backoff_max_s) * random.uniform(0.9, 1.1)

    async def run_once(self) -> int:
        """Claim and deliver one batch; returns how many rows were handled."""
        claimed = await asyncio.to_thread(
            outbox.claim, self.factory, self.owner, lease_s=self.policy.lease_s,
            limit=self.policy.batch,
        )
        self.last_run = time.monotonic()
        if not claimed:
            return 0
        if self.on_claimed is not None:
            await self.on_claimed(claimed)
        groups: dict[tuple[str, str, str], list[Claimed]] = {}
        for row in claimed:
            # Only rows that say how to be merged are merged; others go alone.
            merge = "m" if row.merge_part else f"#{row.id}"
            groups.setdefault((row.channel, row.address, merge), []).append(row)
        sem = asyncio.Semaphore(self.policy.concurrency)

        async def guarded(rows: list[Claimed]) -> None:
            async with sem:
                await self._deliver(rows)

        await asyncio.gather(*(guarded(rows) for rows in groups.values()))
        return len(claimed)

    async def _deliver(self, rows: list[Claimed]) -> None:
        first = rows[0]
        ids = [r.id for r in rows]
        wait = self.policy.buckets.take(f"{first.channel}:{first.address}")
        if wait > 0:
            at = utcnow() + timedelta(seconds=wait)
            await asyncio.to_thread(outbox.retry_at, self.factory, ids, first.token,
                                    "rate limited", at, count_attempt=False)
            return
        try:
            answer = await self.deliverer.send(first.channel, first.address, first.subject,
                                               merged_body(rows))
        except DeliveryError as exc:
            await self._failed(rows, str(exc), exc.permanent)
            return
        except Exception as exc:  # a bug in a channel must not stop the worker
            log.exception("channel %s crashed", first.channel)
            await self._failed(rows, f"{type(exc).__name__}: {exc}", False)
            return
        await asyncio.to_thread(outbox.mark_sent, self.factory, ids, first.token, answer)

    async def _failed(self, rows: list[Claimed], error: str, permanent: bool) -> None:
        first = rows[0]
        ids = [r.id for r in rows]
        if permanent or first.attempts >= self.policy.max_attempts:
            log.warning("giving up on outbox %s: %s", ids, error)
            await asyncio.to_thread(outbox.mark_failed, self.factory, ids, first.token, error)
            return
        at: datetime = utcnow() + timedelta(seconds=self._backoff(first.attempts))
        await asyncio.to_thread(outbox.retry_at, self.factory, ids, first.token, error, at)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; a full batch is followed at once by the next."""
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:  # the store may be briefly unavailable
                log.exception("outbox worker cycle failed")
                handled = 0
            if handled >= self.policy.batch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.policy.poll_s)
