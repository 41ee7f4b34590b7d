"""A delivery attempt's outcome, recorded in the store: delivered or captured, retried
later with backoff (temporary failures, for up to 3 days), or failed for good (permanent
failures, which suppress the address when the receiver refused it).

An outcome is recorded only while the worker still holds the delivery's lease and nothing
(a bounce at the return path) settled it meanwhile, so a delivery is never settled twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session

from roost.mail import events
from roost.mail.queue import DELIVERIES, MESSAGES, Job
from roost.store.base import utcnow

GIVE_UP = timedelta(days=3)
BACKOFF = (60, 300, 900, 1800, 3600, 7200, 14400)  # seconds after the 1st, 2nd… failure


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivery attempt."""

    status: str  # delivered | captured | temporary | permanent | deferred
    code: int = 0
    detail: str = ""
    reason: str = ""
    delay: float = 0.0  # for ``deferred``: when to try again (not counted as an attempt)


def next_try(attempts: int, now: datetime) -> datetime:
    """When to retry after ``attempts`` temporary failures."""
    return now + timedelta(seconds=BACKOFF[min(attempts, len(BACKOFF)) - 1])


class Settle(Protocol):
    """One delivery's outcome to record: ``finish``'s arguments (``recorder.Result``)."""

    @property
    def job(self) -> Job: ...
    @property
    def outcome(self) -> Outcome: ...
    @property
    def domain(self) -> str: ...
    @property
    def webhook(self) -> bool: ...
    @property
    def dkim_header(self) -> str: ...
    @property
    def now(self) -> datetime | None: ...


DONE = ("delivered", "captured")


def finish_many(session: Session, items: Sequence[Settle]) -> list[bool]:
    """``finish`` for each of ``items``; whether each was recorded.

    Deliveries that went out (the common case, thousands a minute under load) are settled
    with a few statements for the whole group, not a few each: one conditional UPDATE per
    claim, then the DKIM headers and the events in one go. Other outcomes go one by one.
    """
    default_now = utcnow()
    kept = [False] * len(items)
    batches: dict[tuple[str, str], list[int]] = {}
    for n, item in enumerate(items):
        if item.outcome.status in DONE:
            batches.setdefault((item.job.token, item.outcome.status), []).append(n)
        else:
            kept[n] = finish(session, item.job, item.outcome, domain=item.domain,
                             webhook=item.webhook, dkim_header=item.dkim_header, now=item.now)
    c = DELIVERIES.c
    settled: list[int] = []
    for (token, status), numbers in batches.items():
        # done_at: the group's last outcome (its events keep each one's own time).
        now = max(items[n].now or default_now for n in numbers)
        ids = session.scalars(update(DELIVERIES)
                              .where(c.lease_owner == token, c.status == "sending",
                                     c.id.in_([items[n].job.id for n in numbers]))
                              .values(status=status, done_at=now, last_error="",
                                      lease_owner=None, lease_until=None)
                              .returning(c.id)).all()
        won = set(ids)
        settled += [n for n in numbers if items[n].job.id in won]
    if not settled:
        return kept
    headers = {items[n].job.message_pk: items[n].dkim_header for n in settled
               if items[n].dkim_header}
    if headers:
        m = MESSAGES.c
        session.execute(update(MESSAGES).where(m.id == bindparam("b_pk"), m.dkim_header == "")
                        .values(dkim_header=bindparam("b_header")),
                        [{"b_pk": pk, "b_header": h} for pk, h in headers.items()])
    rows = []
    for n in settled:
        kept[n] = True
        job, outcome, now = items[n].job, items[n].outcome, items[n].now or default_now
        rows.append(events.row(job.app, job.message_pk, outcome.status,
                               recipient=job.recipient, reason=outcome.reason,
                               code=outcome.code, detail=outcome.detail, attempt=job.attempts,
                               webhook=items[n].webhook, now=now))
    session.execute(insert(events.EVENTS), rows)
    return kept


def finish(session: Session, job: Job, outcome: Outcome, *, domain: str, webhook: bool,
           dkim_header: str = "", now: datetime | None = None) -> bool:
    """Record ``outcome`` for ``job`` if this worker still holds its lease and nothing (a
    bounce) settled it meanwhile; True when so."""
    now = now or utcnow()
    # Statements on the tables, not the ORM's bulk paths: this runs for every delivery.
    table, messages = DELIVERIES.c, MESSAGES
    # Still "sending": a bounce that arrived at the return path before this outcome was
    # stored (a relay can bounce within a second) has settled the delivery as failed, and a
    # later "delivered" must not undo it.
    mine = (table.id == job.id, table.lease_owner == job.token, table.status == "sending")
    status, event, severity = outcome.status, outcome.status, ""
    values: dict[str, object] = {"lease_owner": None, "lease_until": None,
                                 "last_error": outcome.detail[:2000]}
    if status == "deferred":
        values.update(status="queued", attempts=table.attempts - 1,
                      next_attempt_at=now + timedelta(seconds=outcome.delay), last_error="")
        event = ""
    elif status == "temporary" and now - job.created_at >= GIVE_UP:
        status, severity = "permanent", "permanent"
        outcome = Outcome("permanent", outcome.code, "gave up after 3 days of temporary "
                          f"failures; the last: {outcome.detail}", "old")
    if status == "temporary":
        values.update(status="queued", next_attempt_at=next_try(job.attempts, now))
        event, severity = "failed", "temporary"
    elif status == "permanent":
        values.update(status="failed", done_at=now)
        event, severity = "failed", "permanent"
    elif status in ("delivered", "captured"):
        values.update(status=status, done_at=now, last_error="")
    done = session.execute(update(DELIVERIES).where(*mine).values(**values))
    if not done.rowcount:  # type: ignore[attr-defined]
        return False
    if dkim_header:
        session.execute(update(messages).where(messages.c.id == job.message_pk,
                                               messages.c.dkim_header == "")
                        .values(dkim_header=dkim_header))
    if event:
        events.record(session, job.app, job.message_pk, event, recipient=job.recipient,
                      severity=severity, reason=outcome.reason, code=outcome.code,
                      detail=outcome.detail, attempt=job.attempts, webhook=webhook, now=now)
    if status == "permanent" and (outcome.reason == "bounce" or 500 <= outcome.code < 600):
        events.suppress(session, job.app, domain, job.recipient, "bounce",
                        f"{outcome.code} {outcome.detail}".strip())
    return True
