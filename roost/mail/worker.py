"""The delivery worker: claim due deliveries, DKIM-sign, hand over, record the outcome.

Each worker thread has its own transport (and so its own SMTP connection). The outcome of
each delivery is committed as soon as the next hop has answered, so the window in which a
crash can lead to a second delivery is one small UPDATE wide (see ``roost.mail.queue``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from roost.core.secrets import Cipher
from roost.mail import dkim, domains, queue, writes
from roost.mail.deliver import Transport
from roost.mail.queue import Job, Outcome
from roost.mail.ratelimit import Buckets
from roost.store.models.mail import MailDomain, MailMessage

log = logging.getLogger("roost.mail")
SENDER_TTL = 30.0  # seconds a domain's keys and webhook are cached
DNS_EVERY = 6 * 3600.0  # seconds between checks of a sending domain's DNS records


@dataclass(frozen=True)
class Limits:
    """Sending rates per second."""

    per_app: float = 1000.0
    per_domain: float = 1000.0


@dataclass(frozen=True)
class _Message:
    pk: int
    domain: str
    raw: bytes
    testmode: bool
    message_id: str


class _Record:
    """Called by the transport with the message on the wire but for its final dot: records
    the delivery as done in a transaction left open (PostgreSQL locks just the row), so that
    once the remote has the message only its reply and our COMMIT remain; any reply but a
    250 rolls the record back."""

    def __init__(self, sessions: sessionmaker[Session], job: Job, domain: str, webhook: bool,
                 now: datetime | None) -> None:
        self.sessions, self.job, self.domain, self.webhook, self.now = (
            sessions, job, domain, webhook, now)
        self.header = ""
        self.session: Session | None = None
        self.called = self.kept = False

    def close(self) -> None:
        """End the held transaction (committed or not)."""
        if self.session is not None:
            self.session.close()
            self.session = None

    def __call__(self) -> None:
        self.called = True
        self.session = self.sessions()
        self.kept = queue.finish(self.session, self.job,
                                 Outcome("delivered", 250, "250 accepted by the next hop"),
                                 domain=self.domain, webhook=self.webhook,
                                 dkim_header=self.header, now=self.now)
        self.session.flush()


class Deliverer:
    """Processes claimed deliveries; shared by the worker threads."""

    def __init__(self, sessions: sessionmaker[Session], cipher: Cipher,
                 transport: Callable[[], Transport], limits: Limits, *, owner: str,
                 lease_s: float = 300.0, batch: int = 20,
                 dns_problems: Callable[[domains.Sender], list[str]] | None = None) -> None:
        self.sessions, self.cipher, self.make_transport = sessions, cipher, transport
        self.per_app, self.per_domain = Buckets(limits.per_app), Buckets(limits.per_domain)
        self.owner, self.lease_s, self.batch = owner, lease_s, batch
        self.senders: dict[str, tuple[float, domains.Sender | None]] = {}
        self.lock = threading.Lock()
        self.kick = threading.Event()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.dns_problems = dns_problems
        self.dns_checked: dict[str, float] = {}

    def sender(self, domain: str) -> domains.Sender | None:
        """The signing material of ``domain`` (None when its add-on is gone), cached."""
        now = time.monotonic()
        with self.lock:
            cached = self.senders.get(domain)
        if cached and now - cached[0] < SENDER_TTL:
            return cached[1]
        with self.sessions.begin() as session:
            row = session.scalar(select(MailDomain).where(MailDomain.domain == domain))
            found = domains.sender(self.cipher, row) if row else None
        with self.lock:
            self.senders[domain] = (now, found)
            due = now - self.dns_checked.get(domain, -DNS_EVERY) >= DNS_EVERY
            if due:
                self.dns_checked[domain] = now
        if found is not None and due and self.dns_problems is not None:
            threading.Thread(target=self._warn_dns, args=(found,), daemon=True).start()
        return found

    def _warn_dns(self, sender: domains.Sender) -> None:
        """Say in the log when the domain's DNS records do not check out (mail still goes)."""
        assert self.dns_problems is not None
        try:
            problems = self.dns_problems(sender)
        except Exception:
            log.exception("checking the DNS records of %s failed", sender.domain)
            return
        if problems:
            log.warning("mail from %s goes out, but receivers are likely to reject it: %s "
                        "(`roost email dns %s` shows the records to publish)", sender.domain,
                        "; ".join(problems), sender.app)

    def forget(self, domain: str) -> None:
        """Drop the cached keys of ``domain`` (after a rotation or a webhook change)."""
        with self.lock:
            self.senders.pop(domain, None)

    def _messages(self, pks: set[int]) -> dict[int, _Message]:
        with self.sessions.begin() as session:
            rows = session.execute(select(MailMessage.id, MailMessage.domain, MailMessage.raw,
                                          MailMessage.testmode, MailMessage.message_id)
                                   .where(MailMessage.id.in_(pks)))
            return {r[0]: _Message(r[0], r[1], bytes(r[2]), r[3], r[4]) for r in rows}

    def run_once(self, transport: Transport, now: datetime | None = None) -> int:
        """Claim one batch and deliver it; return how many deliveries were handled."""
        jobs = queue.claim(self.sessions, self.owner, lease_s=self.lease_s, limit=self.batch,
                           now=now)
        if not jobs:
            return 0
        messages = self._messages({j.message_pk for j in jobs})
        signed: dict[int, tuple[bytes, str]] = {}
        for job in jobs:
            message = messages.get(job.message_pk)
            if message is None:
                continue  # deleted with its app; its delivery row went with it
            try:
                self._one(job, message, signed, transport, now)
            except Exception:  # the lease expires and the delivery is tried again
                log.exception("delivery %s of %s failed", job.id, message.message_id)
        return len(jobs)

    def _sign(self, message: _Message, sender: domains.Sender,
              signed: dict[int, tuple[bytes, str]]) -> tuple[bytes, str]:
        found = signed.get(message.pk)
        if found is None:
            raw = dkim.canonical(message.raw)
            header = dkim.sign(raw, sender.domain, sender.selector, sender.dkim_key)
            found = signed[message.pk] = (header + raw, header.decode())
        return found

    def _attempt(self, job: Job, message: _Message, sender: domains.Sender | None,
                 signed: dict[int, tuple[bytes, str]], transport: Transport,
                 record: _Record) -> tuple[Outcome, str]:
        """Sign and hand over one delivery: its outcome and the DKIM header used."""
        if sender is None:
            return Outcome("permanent", 0, f"{message.domain} no longer has email (the "
                           "add-on was removed)", "generic"), ""
        rcpt_domain = job.recipient.rpartition("@")[2]
        wait = max(self.per_app.take(job.app), self.per_domain.take(rcpt_domain))
        if wait:
            return Outcome("deferred", delay=wait), ""
        try:
            data, header = self._sign(message, sender, signed)
        except dkim.SigningError as exc:
            return Outcome("permanent", 0, str(exc), "generic"), ""
        if message.testmode:
            return Outcome("delivered", 250, "test mode (o:testmode): not sent"), header
        record.header = header
        # On SQLite an open write transaction is the database's one write lock: holding
        # it across the remote's reply would stop every other writer, so there the record
        # is written after the reply (a window of one small transaction, not a reply).
        hold = None if writes.serialised(self.sessions) else record
        return transport.send(domains.return_path(sender, job.id), job.recipient, data,
                              hold), header

    def _one(self, job: Job, message: _Message, signed: dict[int, tuple[bytes, str]],
             transport: Transport, now: datetime | None) -> None:
        sender = self.sender(message.domain)
        webhook = bool(sender and sender.webhook_url)
        record = _Record(self.sessions, job, message.domain, webhook, now)
        try:
            outcome, header = self._attempt(job, message, sender, signed, transport, record)
            if record.session is not None and outcome.status == "delivered":
                record.session.commit()  # the only step between the remote's 250 and ours
                kept = record.kept
            else:
                if record.session is not None:
                    record.session.rollback()
                record.close()
                with writes.writing(self.sessions) as session:
                    kept = queue.finish(session, job, outcome, domain=message.domain,
                                        webhook=webhook, dkim_header=header, now=now)
        finally:
            record.close()
        if not kept:
            log.warning("lost the lease on delivery %s of %s before recording %s", job.id,
                        message.message_id, outcome.status)
        elif outcome.status in ("captured", "permanent", "temporary"):
            log.info("mail %s to %s %s: %s", message.message_id, job.recipient,
                     outcome.status, outcome.detail)

    def _loop(self) -> None:
        transport = self.make_transport()
        try:
            while not self.stopping.is_set():
                try:
                    handled = self.run_once(transport)
                except Exception:
                    log.exception("mail delivery pass failed")
                    handled = 0
                if not handled:
                    self.kick.wait(0.5)
                    self.kick.clear()
        finally:
            transport.close()

    def start(self, threads: int) -> None:
        """Start ``threads`` worker threads."""
        for n in range(threads):
            thread = threading.Thread(target=self._loop, name=f"roost-mail-{n}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        """Stop the threads after their current delivery."""
        self.stopping.set()
        self.kick.set()
        for thread in self.threads:
            thread.join(timeout=60)
        self.threads.clear()
