"""The delivery worker: claim due deliveries, DKIM-sign, hand over, record the outcome.

Each worker thread has its own transport (and so its own SMTP connection). The moment the
next hop answers 250 the delivery is appended to the journal (``roost.mail.journal``), so a
crash after that does not send it again; the outcome then goes to the store in a group with
others (``roost.mail.recorder``) while the worker goes on sending.
"""

from __future__ import annotations

import logging
import queue as queues
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from roost.core.secrets import Cipher
from roost.mail import dkim, domains, outcomes, queue, writes
from roost.mail.deliver import Transport
from roost.mail.journal import Journal
from roost.mail.outcomes import Outcome
from roost.mail.queue import Job
from roost.mail.ratelimit import Buckets
from roost.mail.recorder import Recorder, Result
from roost.store.base import utcnow
from roost.store.models.mail import MailDomain, MailMessage

log = logging.getLogger("roost.mail")
SENDER_TTL = 30.0  # seconds a domain's keys and webhook are cached
DNS_EVERY = 6 * 3600.0  # seconds between checks of a sending domain's DNS records
CLAIM_GATHER = 0.03  # seconds the claimer waits, once caught up, so that it claims more at once


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


_Item = tuple[Job, _Message, dict[int, tuple[bytes, str]]]


class _Sent:
    """Given to the transport as its ``hold``, called once the final dot is out: notes that
    in the journal, and marks the message as gone, so a connection that breaks after that
    is not retried on a new one."""

    def __init__(self, journal: Journal | None, job: Job) -> None:
        self.journal, self.job = journal, job
        self.called = False
        self.gen: int | None = None

    def __call__(self) -> None:
        self.called = True
        if self.journal is not None:
            self.gen = self.journal.sent(self.job.id, self.job.token)


class Deliverer:
    """Processes claimed deliveries; shared by the worker threads."""

    def __init__(self, sessions: sessionmaker[Session], cipher: Cipher,
                 transport: Callable[[], Transport], limits: Limits, *, owner: str,
                 lease_s: float = 300.0, batch: int = 20,
                 dns_problems: Callable[[domains.Sender], list[str]] | None = None,
                 journal: Journal | None = None) -> None:
        self.sessions, self.cipher, self.make_transport = sessions, cipher, transport
        self.journal = journal
        self.recorder: Recorder | None = None
        self.per_app, self.per_domain = Buckets(limits.per_app), Buckets(limits.per_domain)
        self.owner, self.lease_s, self.batch = owner, lease_s, batch
        self.senders: dict[str, tuple[float, domains.Sender | None]] = {}
        self.lock = threading.Lock()
        self.kick = threading.Event()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.jobs: queues.Queue[_Item | None] = queues.Queue(1)
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

    def _claim(self, limit: int, now: datetime | None = None) -> list[_Item]:
        """Take the lease on up to ``limit`` due deliveries, with their messages."""
        jobs = queue.claim(self.sessions, self.owner, lease_s=self.lease_s, limit=limit,
                           now=now)
        if not jobs:
            return []
        messages = self._messages({j.message_pk for j in jobs})
        signed: dict[int, tuple[bytes, str]] = {}  # recipients of one message share it
        # A message deleted with its app took its delivery rows with it.
        return [(job, messages[job.message_pk], signed) for job in jobs
                if job.message_pk in messages]

    def _deliver(self, item: _Item, transport: Transport, now: datetime | None) -> None:
        job, message, signed = item
        try:
            self._one(job, message, signed, transport, now)
        except Exception:  # the lease expires and the delivery is tried again
            log.exception("delivery %s of %s failed", job.id, message.message_id)

    def run_once(self, transport: Transport, now: datetime | None = None) -> int:
        """Claim one batch and deliver it in this thread; return how many were handled."""
        items = self._claim(self.batch, now)
        for item in items:
            self._deliver(item, transport, now)
        return len(items)

    def _sign(self, message: _Message, sender: domains.Sender,
              signed: dict[int, tuple[bytes, str]]) -> tuple[bytes, str]:
        found = signed.get(message.pk)
        if found is None:
            raw = dkim.canonical(message.raw)
            header = dkim.sign(raw, sender.domain, sender.selector, sender.dkim_key)
            found = signed[message.pk] = (header + raw, header.decode())
        return found

    def _attempt(self, job: Job, message: _Message, sender: domains.Sender | None,
                 signed: dict[int, tuple[bytes, str]], transport: Transport
                 ) -> tuple[Outcome, str, int | None]:
        """Sign and hand over one delivery: its outcome, the DKIM header used, and the
        journal generation its hand-over was noted in."""
        if sender is None:
            return Outcome("permanent", 0, f"{message.domain} no longer has email (the "
                           "add-on was removed)", "generic"), "", None
        rcpt_domain = job.recipient.rpartition("@")[2]
        wait = max(self.per_app.take(job.app), self.per_domain.take(rcpt_domain))
        if wait:
            return Outcome("deferred", delay=wait), "", None
        try:
            data, header = self._sign(message, sender, signed)
        except dkim.SigningError as exc:
            return Outcome("permanent", 0, str(exc), "generic"), "", None
        if message.testmode:
            return Outcome("delivered", 250, "test mode (o:testmode): not sent"), header, None
        sent = _Sent(self.journal, job)
        outcome = transport.send(domains.return_path(sender, job.id), job.recipient, data,
                                 sent)
        if sent.gen is not None and self.journal is not None:
            # First thing after the reply: a crash from here on stores just this outcome.
            self.journal.answered(job.id, job.token, outcome.status == "delivered")
        return outcome, header, sent.gen

    def _one(self, job: Job, message: _Message, signed: dict[int, tuple[bytes, str]],
             transport: Transport, now: datetime | None) -> None:
        sender = self.sender(message.domain)
        webhook = bool(sender and sender.webhook_url)
        outcome, header, gen = self._attempt(job, message, sender, signed, transport)
        # Stamped now, not when the recorder stores it (up to GATHER later): a bounce or
        # complaint about this message may be stored before it and must come after it.
        result = Result(job, outcome, message.domain, message.message_id, webhook, header,
                        gen, now or utcnow())
        if self.recorder is not None:
            self.recorder.put(result)
            return
        with writes.writing(self.sessions) as session:  # no threads started: store it now
            kept = outcomes.finish(session, job, outcome, domain=message.domain,
                                webhook=webhook, dkim_header=header, now=now)
        if gen is not None and self.journal is not None:
            self.journal.stored(gen)
        Recorder._log(result, kept)

    def _claimer(self) -> None:
        """The one thread that claims: workers never queue up on the store for work."""
        limit = max(self.batch, self.jobs.maxsize)
        while not self.stopping.is_set():
            try:
                items = self._claim(limit)
            except Exception:
                log.exception("claiming mail deliveries failed")
                items = []
            if not items:
                self.kick.wait(0.5)
                self.kick.clear()
            for item in items:
                self.jobs.put(item)  # waits while every worker is busy
            if 0 < len(items) < limit:  # caught up with the intake: let more commits gather
                self.stopping.wait(CLAIM_GATHER)

    def _worker(self) -> None:
        transport = self.make_transport()
        try:
            while (item := self.jobs.get()) is not None:
                self._deliver(item, transport, None)
        finally:
            transport.close()

    def start(self, threads: int) -> None:
        """Start ``threads`` worker threads, the thread that claims work for them and the
        thread that stores their outcomes."""
        if self.recorder is None:
            self.recorder = Recorder(self.sessions, self.journal)
        self.jobs = queues.Queue(2 * threads)  # claims of up to this many: fewer, larger
        self.stopping.clear()
        self.threads = [threading.Thread(target=self._claimer, name="roost-mail-claim",
                                         daemon=True)]
        self.threads += [threading.Thread(target=self._worker, name=f"roost-mail-{n}",
                                          daemon=True) for n in range(threads)]
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        """Stop claiming, finish the deliveries in hand, give back the claimed rest."""
        self.stopping.set()
        self.kick.set()
        if self.threads:
            self.threads[0].join(timeout=60)
            while True:
                try:
                    item = self.jobs.get_nowait()
                except queues.Empty:
                    break
                if item is not None and self.recorder is not None:
                    job, message, _ = item
                    self.recorder.put(Result(job, Outcome("deferred"), message.domain,
                                             message.message_id, False))
            for _ in self.threads[1:]:
                self.jobs.put(None)
            for thread in self.threads[1:]:
                thread.join(timeout=60)
        self.threads.clear()
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
        if self.journal is not None:
            self.journal.close()
