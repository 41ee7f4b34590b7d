"""Delivery outcomes written in groups: the worker threads hand each outcome over and go on
sending; one thread commits whatever has queued up in one transaction. It gathers outcomes
for up to :data:`GATHER` after the first of a group: on SQLite every transaction takes the
write lock that accepting mail waits on, so fewer, larger ones let submissions in sooner.

A delivered message is safe from being sent twice before its outcome is stored: the worker
has already appended it to the journal (``roost.mail.journal``), which a restart replays.
Any other outcome lost in a crash only means the delivery is tried again.
"""

from __future__ import annotations

import logging
import queue as queues
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from roost.mail import outcomes, writes
from roost.mail.journal import Journal
from roost.mail.outcomes import Outcome
from roost.mail.queue import Job

log = logging.getLogger("roost.mail")
MAX_GROUP = 500
BACKLOG = 5000  # outcomes waiting before the workers wait too
GATHER = 0.03  # seconds the thread waits for more outcomes after the first of a group


@dataclass(frozen=True)
class Result:
    """One delivery's outcome, to be stored."""

    job: Job
    outcome: Outcome
    domain: str
    message_id: str
    webhook: bool
    dkim_header: str = ""
    journal_gen: int | None = None
    now: datetime | None = None


class Recorder:
    """The thread that stores delivery outcomes."""

    def __init__(self, sessions: sessionmaker[Session], journal: Journal | None) -> None:
        self.sessions, self.journal = sessions, journal
        self.pending: queues.Queue[Result | None] = queues.Queue(BACKLOG)
        self.thread = threading.Thread(target=self._run, name="roost-mail-recorder",
                                       daemon=True)
        self.thread.start()

    def put(self, result: Result) -> None:
        """Store ``result`` soon (waits when the backlog is full)."""
        self.pending.put(result)

    def close(self) -> None:
        """Store what is queued, then stop."""
        self.pending.put(None)
        self.thread.join(timeout=60)

    def _run(self) -> None:
        while True:
            first = self.pending.get()
            if first is None:
                return
            group, stop = [first], False
            until = time.monotonic() + GATHER
            while len(group) < MAX_GROUP:
                try:
                    item = self.pending.get(timeout=max(0.0, until - time.monotonic()))
                except queues.Empty:
                    break
                if item is None:
                    stop = True
                    break
                group.append(item)
            self._store(group)
            if stop:
                return

    def _store(self, group: list[Result]) -> None:
        kept: list[bool | None]
        try:
            with writes.writing(self.sessions) as session:
                kept = list(outcomes.finish_many(session, group))
        except Exception:
            log.exception("storing %d delivery outcomes together failed; one by one",
                          len(group))
            kept = []
            for r in group:
                try:
                    with writes.writing(self.sessions) as session:
                        kept.append(self._finish(session, r))
                except Exception:  # its lease expires and it is tried again
                    log.exception("storing the outcome of delivery %s failed", r.job.id)
                    kept.append(None)
        for r, ok in zip(group, kept, strict=True):
            # Not stored: the journal keeps its line for the next start to replay.
            if ok is not None and r.journal_gen is not None and self.journal is not None:
                self.journal.stored(r.journal_gen)
            if ok is not None:
                self._log(r, ok)

    @staticmethod
    def _finish(session: Session, r: Result) -> bool:
        return outcomes.finish(session, r.job, r.outcome, domain=r.domain, webhook=r.webhook,
                            dkim_header=r.dkim_header, now=r.now)

    @staticmethod
    def _log(r: Result, kept: bool) -> None:
        if not kept:
            log.warning("delivery %s of %s was settled elsewhere (its lease lost, or a bounce "
                        "arrived first) before its outcome was recorded: %s", r.job.id,
                        r.message_id, r.outcome.status)
        elif r.outcome.status in ("captured", "permanent", "temporary"):
            log.info("mail %s to %s %s: %s", r.message_id, r.job.recipient,
                     r.outcome.status, r.outcome.detail)
