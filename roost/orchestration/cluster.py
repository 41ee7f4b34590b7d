"""The control plane on several hosts: who is alive, and who runs each piece of run-once work.

Every `roost up` is an *instance*: a row in the store named after its host (or
``ROOST_INSTANCE_NAME``), with a heartbeat every ``ROOST_INSTANCE_HEARTBEAT_SECONDS``. Work
that must happen once however many instances serve (paging, scheduled backups, the daily
asset clean-up, perf regression checks and roll-ups, pruning) runs only where its *lease* is
held; a lease lasts three heartbeats, so when its holder dies another instance takes the work
within that time, and a clean stop hands it over at once. Uptime monitors are not leased but
sharded: each instance is a probe of its own (named like the instance), and the uptime engine
spreads monitors over live probes and has a second one confirm an outage.

SQLite serves one host: an instance that finds another live one on a SQLite store refuses to
start and says to use PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from roost.background import every
from roost.errors import ConfigError
from roost.store import cluster as store
from roost.store.base import utcnow
from roost.store.models.cluster import Instance
from roost.store.session import transaction

log = logging.getLogger("roost.cluster")
LEASE_HEARTBEATS = 3  # a lease (and an instance) outlives this many missed heartbeats


@dataclass(frozen=True)
class InstanceView:
    """One instance as `roost status` shows it."""

    name: str
    host: str
    address: str
    pid: int
    started_at: str
    heartbeat_at: str
    heartbeat_age_s: float
    live: bool
    holds: list[str]
    this: bool


class Membership:
    """This instance's row, heartbeat and leases."""

    def __init__(self, sessions: sessionmaker[Session], *, name: str, address: str,
                 heartbeat_s: float = 5.0, single_host: bool = False,
                 slug_address: str = "") -> None:
        self.sessions = sessions
        self.name = name
        self.host = socket.gethostname()
        self.address = address
        self.slug_address = slug_address
        self.heartbeat_s = heartbeat_s
        self.ttl = timedelta(seconds=heartbeat_s * LEASE_HEARTBEATS)
        self.single_host = single_host
        self.token = secrets.token_hex(16)
        self._held_until: dict[str, float] = {}  # lease -> monotonic time it surely expires
        self._not_before: dict[str, float] = {}  # lease -> when to ask again after a refusal
        self._lock = threading.Lock()
        self.joined = False

    def join(self) -> None:
        """Record this instance, refusing a second host on SQLite or a live namesake."""
        now = utcnow()
        with transaction(self.sessions) as session:
            for other in store.live_instances(session, now, self.ttl):
                if other.name == self.name and not self._same_host_and_dead(other):
                    raise ConfigError(
                        f"another roost up named {other.name} (pid {other.pid} on {other.host}, "
                        f"{other.address}) is running on this store: give this one its own "
                        "ROOST_INSTANCE_NAME")
                if self.single_host and other.name != self.name:
                    raise ConfigError(
                        f"the store is SQLite, which serves one host, and roost up "
                        f"{other.name} on {other.host} ({other.address}) uses it: point every "
                        "host at one PostgreSQL (ROOST_DATABASE_URL=postgresql://…) and one "
                        "S3 store (ROOST_OBJECT_STORE=s3://…)")
            row = session.get(Instance, self.name)
            if row is None:
                row = Instance(name=self.name)
                session.add(row)
            row.host, row.address, row.pid, row.token = (self.host, self.address, os.getpid(),
                                                         self.token)
            row.started_at = row.heartbeat_at = now
            row.holds = []
            row.slug_address = self.slug_address
        self.joined = True

    def slug_addresses(self) -> list[str]:
        """Where the live instances serve slugs to swarm tasks (this one's first), so a
        task rescheduled after its deploying host died still finds its slug."""
        with transaction(self.sessions) as session:
            live = store.live_instances(session, utcnow(), self.ttl)
            found = [row.slug_address for row in live if row.slug_address]
        mine = [self.slug_address] if self.slug_address else []
        return mine + [a for a in found if a not in mine]

    def _same_host_and_dead(self, other: Instance) -> bool:
        """A row left by an earlier run on this host whose process is gone (a crash)."""
        if other.host != self.host:
            return False
        try:
            os.kill(other.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return other.pid == os.getpid() and other.token != self.token

    def holds(self, lease: str) -> bool:
        """Whether this instance runs the work named ``lease`` now (taking it if free).
        Cheap to call before every pass: the store is asked at most once a heartbeat."""
        if not self.joined:
            return True  # not part of a cluster (tests, commands): the work is ours
        tick = time.monotonic()
        with self._lock:
            if self._held_until.get(lease, 0.0) > tick:
                return True
            if self._not_before.get(lease, 0.0) > tick:
                return False
        with transaction(self.sessions) as session:
            taken = store.take_lease(session, lease, self.name, self.ttl, utcnow())
        with self._lock:
            if taken:
                self._held_until[lease] = tick + self._safe_seconds()
                self._not_before.pop(lease, None)
                log.info("%s now runs %s", self.name, lease)
            else:
                self._held_until.pop(lease, None)
                self._not_before[lease] = tick + self.heartbeat_s
        return taken

    def _safe_seconds(self) -> float:
        # Trust a lease for less than it lasts: the store's clock and ours may disagree a bit.
        return self.ttl.total_seconds() - self.heartbeat_s

    def heartbeat(self) -> None:
        """Renew this instance's row and every lease it holds."""
        now, tick = utcnow(), time.monotonic()
        with transaction(self.sessions) as session:
            held = store.renew_leases(session, self.name, self.ttl, now)
            row = session.get(Instance, self.name)
            if row is None or row.token != self.token:  # removed, or taken over: rejoin
                row = Instance(name=self.name, host=self.host, address=self.address,
                               pid=os.getpid(), token=self.token, started_at=now)
                session.merge(row)
                row = session.get(Instance, self.name)
            assert row is not None
            row.heartbeat_at, row.holds = now, held
        with self._lock:
            self._held_until = {name: tick + self._safe_seconds() for name in held}

    async def run(self, stop: asyncio.Event) -> None:
        """Beat until ``stop`` is set."""
        async def beat() -> None:
            await asyncio.to_thread(self.heartbeat)

        await every(self.heartbeat_s, stop, beat, "instance heartbeat",
                    first_delay=self.heartbeat_s)

    def leave(self) -> None:
        """Remove this instance and free its leases, so others take its work at once."""
        if not self.joined:
            return
        with transaction(self.sessions) as session:
            store.drop_holder(session, self.name)
        with self._lock:
            self._held_until.clear()
        self.joined = False

    def view(self) -> list[InstanceView]:
        """Every instance recorded in the store, live ones first."""
        now = utcnow()
        with transaction(self.sessions) as session:
            rows = store.all_instances(session)
        found = []
        for row in rows:
            age = (now - row.heartbeat_at).total_seconds()
            found.append(InstanceView(
                name=row.name, host=row.host, address=row.address, pid=row.pid,
                started_at=row.started_at.isoformat(), heartbeat_at=row.heartbeat_at.isoformat(),
                heartbeat_age_s=round(age, 1), live=age <= self.ttl.total_seconds(),
                holds=list(row.holds or []), this=row.name == self.name))
        return sorted(found, key=lambda i: (not i.live, i.name))


def default_name() -> str:
    """This host's name, as an instance name."""
    host = socket.gethostname().split(".")[0] or "roost"
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in host)[:100]
