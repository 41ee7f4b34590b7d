"""Fixtures for uptime tests: a store, a target, an SMS receiver, the service in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from roost.monitor.uptime import monitors
from roost.monitor.uptime.engine import EngineConfig
from roost.monitor.uptime.service import UptimeConfig, UptimeService
from roost.notify.paging import PagingPolicy
from roost.notify.ratelimit import TokenBuckets
from roost.notify.recipients import Recipient
from roost.notify.service import Notifier, NotifierConfig
from roost.notify.worker import WorkerPolicy
from roost.store.models.uptime import CheckResult
from roost.store.session import make_sessionmaker, transaction
from tests.monitor.uptime.target import Target
from tests.notify.receivers import Receiver

INTERVAL = 0.3
FAST = UptimeConfig(
    flush_s=0.05, refresh_s=0.2,
    engine=EngineConfig(probe_dead_after_s=10.0, verify_timeout_s=15.0),
)
FAST_NOTIFY = NotifierConfig(
    paging_s=0.05,
    paging=PagingPolicy(reminder_s=3600, escalate_after_s=3600, merge_delay_s=0.1),
    worker=WorkerPolicy(lease_s=5.0, poll_s=0.05, backoff_base_s=0.1, backoff_max_s=0.4,
                        buckets=TokenBuckets(capacity=50, refill_s=1.0)),
)


@dataclass
class People:
    """Maintainers per app and the on-call list, as the lead's store would give them."""

    by_app: dict[str, list[Recipient]] = field(default_factory=dict)
    oncall: list[Recipient] = field(default_factory=list)

    def recipients_for(self, app_name: str) -> list[Recipient]:
        """Maintainers of an app."""
        return list(self.by_app.get(app_name, []))

    def oncall_list(self) -> list[Recipient]:
        """The on-call contacts."""
        return list(self.oncall)


class Running:
    """An UptimeService and the notifier, as `roost up` runs them, in their own loop thread."""

    def __init__(self, factory: sessionmaker[Session], people: People,
                 config: UptimeConfig, notify: NotifierConfig) -> None:
        self.loop = asyncio.new_event_loop()
        self.service: UptimeService | None = None
        self.notifier = Notifier(factory, notify, recipients_for=people.recipients_for,
                                 oncall=people.oncall_list)
        ready = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(self.loop)

            async def boot() -> None:
                self.service = UptimeService(factory, config)
                await self.service.start()
                await self.notifier.start()
                ready.set()

            self.loop.run_until_complete(boot())
            self.loop.run_forever()

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def stop(self) -> None:
        """Stop the service and its loop."""
        assert self.service is not None
        asyncio.run_coroutine_threadsafe(self.service.stop(), self.loop).result(20)
        asyncio.run_coroutine_threadsafe(self.notifier.stop(), self.loop).result(20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory on a fresh store (SQLite and PostgreSQL)."""
    return make_sessionmaker(engine)


@pytest.fixture
def target() -> Iterator[Target]:
    """A healthy HTTP target."""
    t = Target().start()
    yield t
    t.stop()


@pytest.fixture
def run_service(
    factory: sessionmaker[Session], receiver: Receiver,
) -> Iterator[Callable[..., Running]]:
    """Start the uptime service with fast settings; stopped at the end of the test."""
    started: list[Running] = []

    def start(people: People, **changes: object) -> Running:
        notify_keys = {f.name for f in fields(NotifierConfig)}
        config = replace(FAST, **{k: v for k, v in changes.items()  # type: ignore[arg-type]
                                  if k not in notify_keys})
        notify = replace(FAST_NOTIFY, sms_url=receiver.sms_url,  # type: ignore[arg-type]
                         **{k: v for k, v in changes.items() if k in notify_keys})
        running = Running(factory, people, config, notify)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def add_monitor(factory: sessionmaker[Session], app: str, url: str, **kw: object) -> int:
    """A fast HTTP monitor (interval 0.3 s, timeout 0.25 s)."""
    opts: dict[str, object] = {"interval_s": INTERVAL, "timeout_s": 0.25,
                               "min_interval_s": 0.1}
    opts.update(kw)
    with transaction(factory) as s:
        return monitors.create(s, app, url, **opts).id  # type: ignore[arg-type]


def checks_of(factory: sessionmaker[Session], monitor_id: int) -> int:
    """How many results the store holds for a monitor."""
    with transaction(factory) as s:
        return int(s.scalar(select(func.count()).where(CheckResult.monitor_id == monitor_id))
                   or 0)


def wait_checks(factory: sessionmaker[Session], monitor_id: int, more: int) -> None:
    """Wait until ``more`` further checks of a monitor are stored (time has passed)."""
    from tests.conftest import wait_for

    start = checks_of(factory, monitor_id)
    wait_for(lambda: checks_of(factory, monitor_id) >= start + more, timeout=30)


def person(n: int, app: str = "shop", **kw: object) -> Recipient:
    """A maintainer with a phone number."""
    return Recipient(key=f"maintainer:{app}:{n}", name=f"Person {n}",
                     phone=f"+1555010{n:04d}", **kw)  # type: ignore[arg-type]


TIMEOUT = timedelta(seconds=INTERVAL * 2 + 20).total_seconds()
