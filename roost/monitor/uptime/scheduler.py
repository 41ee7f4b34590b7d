"""A probe's scheduler: every monitor at a fixed phase of its interval, under a limit.

Each monitor's checks start at a deterministic offset within its interval (a hash of
its id), so 10,000 monitors at 60 s become a steady ~167 checks/s rather than a burst.
A dispatcher starts each check as its own task; a semaphore bounds how many run at
once, so a slow target costs one slot and delays no other check's schedule. Results
are reported in batches; the answer may ask for immediate re-checks (second opinions).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from roost.monitor.uptime.checks import Checker
from roost.monitor.uptime.specs import Claim, MonitorSpec, ProbeResult
from roost.store.base import utcnow

log = logging.getLogger(__name__)
CATCH_UP_S = 15.0  # overdue monitors a probe adopts are all checked within this


class Backend(Protocol):
    """Where a probe gets its share of monitors and sends its results."""

    async def claim(self) -> Claim:
        """This probe's monitors and pending re-checks."""
        ...

    async def report(self, results: list[ProbeResult]) -> list[MonitorSpec]:
        """Store results; returns re-checks to run now."""
        ...


def phase(monitor_id: int, interval_s: float) -> float:
    """The fixed offset, within its interval, at which a monitor's checks start."""
    digest = hashlib.blake2b(str(monitor_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * interval_s


@dataclass
class ProbeStats:
    """What a probe has done, for liveness and benchmarks."""

    checks: int = 0
    failures: int = 0
    lags: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))
    last_check_monotonic: float | None = None
    last_report_monotonic: float | None = None
    report_errors: int = 0


class ProbeRunner:
    """Runs one probe's share of checks until stopped."""

    def __init__(
        self, name: str, backend: Backend, *, concurrency: int = 200, flush_s: float = 0.5,
        refresh_s: float = 10.0, heartbeat_s: float = 5.0, checker: Checker | None = None,
    ) -> None:
        self.name, self.backend = name, backend
        self.sem = asyncio.Semaphore(concurrency)
        self.flush_s, self.refresh_s, self.heartbeat_s = flush_s, refresh_s, heartbeat_s
        self.checker = checker or Checker(name, max_connections=concurrency)
        self.specs: dict[int, MonitorSpec] = {}
        self.generation: dict[int, int] = {}
        self.heap: list[tuple[float, int, int]] = []
        self.buffer: list[ProbeResult] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.verifying: set[int] = set()
        self.stats = ProbeStats()
        self._wake = asyncio.Event()

    def apply(self, claim: Claim) -> None:
        """Adopt a new share: schedule new monitors, drop gone ones, reschedule changed.
        Newly adopted overdue monitors (a dead probe's share) are checked within
        ``CATCH_UP_S``, spread by the same hash as phases, not at their next phase."""
        loop_now, wall = time.monotonic(), time.time()
        fresh = {s.id: s for s in claim.monitors}
        overdue = set(claim.overdue)
        for mid in list(self.specs):
            if mid not in fresh:
                del self.specs[mid]
                self.generation[mid] = self.generation.get(mid, 0) + 1
        for mid, spec in fresh.items():
            if self.specs.get(mid) == spec:
                continue
            adopted = mid not in self.specs
            self.specs[mid] = spec
            gen = self.generation[mid] = self.generation.get(mid, 0) + 1
            into = (wall - phase(mid, spec.interval_s)) % spec.interval_s
            due = loop_now + spec.interval_s - into
            if adopted and mid in overdue:
                due = min(due, loop_now + phase(mid, min(CATCH_UP_S, spec.interval_s)))
            heapq.heappush(self.heap, (due, mid, gen))
        self._verify(claim.verify)
        self._wake.set()

    def _verify(self, specs: list[MonitorSpec]) -> None:
        for spec in specs:
            if spec.id not in self.verifying:
                self.verifying.add(spec.id)
                self._spawn(spec, time.monotonic(), verify=True)

    def _spawn(self, spec: MonitorSpec, planned: float, verify: bool = False) -> None:
        task = asyncio.create_task(self._run_check(spec, planned, verify))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run_check(self, spec: MonitorSpec, planned: float, verify: bool) -> None:
        async with self.sem:
            started = time.monotonic()
            if not verify:
                self.stats.lags.append(started - planned)
            at = utcnow()
            outcome = await self.checker.check(spec)
        self.stats.checks += 1
        self.stats.failures += 0 if outcome.ok else 1
        self.stats.last_check_monotonic = time.monotonic()
        self.buffer.append(ProbeResult(
            monitor_id=spec.id, at=at, ok=outcome.ok, status=outcome.status,
            latency_ms=outcome.latency_ms, error=outcome.error,
            body_head=None if outcome.ok else outcome.body_head, verify=verify,
        ))

    async def _dispatch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            now = time.monotonic()
            while self.heap and self.heap[0][0] <= now:
                due, mid, gen = heapq.heappop(self.heap)
                spec = self.specs.get(mid)
                if spec is None or self.generation.get(mid) != gen:
                    continue
                self._spawn(spec, due)
                heapq.heappush(self.heap, (due + spec.interval_s, mid, gen))
            delay = min(self.heap[0][0] - now, 0.5) if self.heap else 0.5
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(delay, 0.0))

    async def _flush(self, stop: asyncio.Event) -> None:
        last = 0.0
        while True:
            stopping = stop.is_set()
            batch, self.buffer = self.buffer, []
            now = time.monotonic()
            if batch or now - last >= self.heartbeat_s or stopping:
                try:
                    verify = await self.backend.report(batch)
                    last = self.stats.last_report_monotonic = now
                    for r in batch:
                        if r.verify:
                            self.verifying.discard(r.monitor_id)
                    self._verify(verify)
                except Exception as exc:  # keep results and try again
                    log.warning("probe %s: reporting failed: %s", self.name, exc)
                    self.stats.report_errors += 1
                    self.buffer = (batch + self.buffer)[-50_000:]
            if stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.flush_s)

    async def _refresh(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                self.apply(await self.backend.claim())
            except Exception as exc:  # the control plane may be restarting
                log.warning("probe %s: claiming checks failed: %s", self.name, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.refresh_s)

    async def run(self, stop: asyncio.Event) -> None:
        """Check, report and refresh until ``stop`` is set; then flush what is left."""
        try:
            dispatch = asyncio.create_task(self._dispatch(stop))
            refresh = asyncio.create_task(self._refresh(stop))
            await self._flush(stop)
            await asyncio.gather(dispatch, refresh)
        finally:
            for task in list(self.tasks):
                task.cancel()
            await self.checker.aclose()

