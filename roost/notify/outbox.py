"""The durable outbox: enqueue messages idempotently, claim them with a lease, record outcomes.

A message is a row before it is a delivery attempt, so a crash never loses it. A worker
claims due rows with one conditional UPDATE (rows whose lease is free or expired) and
commits the lease before sending; a worker killed mid-send leaves a lease that expires,
and the next worker sends again: at worst one resend, never a lost message.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from roost.errors import InvalidInput
from roost.notify.recipients import Recipient
from roost.store.base import utcnow
from roost.store.models.notify import OutboxMessage
from roost.store.session import transaction

CHANNELS = ("sms", "email", "apprise")
OPEN = ("pending", "sending")


@dataclass(frozen=True)
class Claimed:
    """A row this worker holds the lease on."""

    id: int
    key: str
    kind: str
    channel: str
    address: str
    recipient_key: str
    subject: str
    body: str
    merge_part: str | None
    attempts: int
    token: str


def dedup_of(key: str, channel: str, address: str) -> str:
    """The idempotency digest of (key, channel, address)."""
    return hashlib.sha256(f"{key}\x00{channel}\x00{address}".encode()).hexdigest()


def enqueue(
    session: Session, key: str, recipient: Recipient, kind: str, subject: str, body: str,
    channels: tuple[str, ...] | list[str], *, merge_part: str | None = None,
    delay: float = 0.0, now: datetime | None = None,
) -> int:
    """Queue ``body`` for ``recipient`` on each of ``channels``; returns the rows added.

    ``key`` identifies the message (e.g. ``incident:12:maintainer:3:down``); enqueuing the
    same key again adds nothing, so callers may retry freely. ``delay`` holds the message
    back a little so that near-simultaneous pages to one person can be merged.
    """
    bad = [c for c in channels if c not in CHANNELS]
    if bad:
        raise InvalidInput(f"unknown channel {bad[0]!r}; use one of {', '.join(CHANNELS)}")
    if not body.strip():
        raise InvalidInput("a notification needs a body")
    now = now or utcnow()
    due = now + timedelta(seconds=delay)
    rows = [
        {
            "dedup": dedup_of(key, channel, address), "key": key[:300], "kind": kind,
            "recipient_key": recipient.key, "recipient_name": recipient.name,
            "channel": channel, "address": address, "subject": subject[:300], "body": body,
            "merge_part": merge_part, "status": "pending", "attempts": 0,
            "next_attempt_at": due, "created_at": now,
        }
        for channel, address in recipient.addresses(tuple(channels))
    ]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (ins(OutboxMessage).values(rows).on_conflict_do_nothing(index_elements=["dedup"])
            .returning(OutboxMessage.id))
    return len(session.execute(stmt).all())


def claim(
    factory: sessionmaker[Session], owner: str, *, lease_s: float, limit: int = 50,
    now: datetime | None = None,
) -> list[Claimed]:
    """Take the lease on up to ``limit`` due rows; committed before anything is sent."""
    now = now or utcnow()
    token = f"{owner}:{uuid.uuid4().hex[:12]}"
    free = or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now)
    with transaction(factory) as session:
        pick = (
            select(OutboxMessage.id)
            .where(OutboxMessage.status.in_(OPEN), OutboxMessage.next_attempt_at <= now, free)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        ids = list(session.scalars(pick))
        if not ids:
            return []
        ids += _merge_partners(session, ids, free)
        # The WHERE repeats the lease test, so of two racing workers only one wins a row.
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status.in_(OPEN), free)
            .values(
                status="sending", lease_owner=token,
                lease_until=now + timedelta(seconds=lease_s),
                attempts=OutboxMessage.attempts + 1,
            )
        )
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.lease_owner == token)
            .order_by(OutboxMessage.id)
        ).all()
        return [
            Claimed(r.id, r.key, r.kind, r.channel, r.address, r.recipient_key, r.subject,
                    r.body, r.merge_part, r.attempts, token)
            for r in rows
        ]


def _merge_partners(session: Session, ids: list[int], free: ColumnElement[bool]) -> list[int]:
    """Open mergeable rows to the same addresses as the picked ones, due or not yet."""
    targets = session.execute(
        select(OutboxMessage.channel, OutboxMessage.address).distinct()
        .where(OutboxMessage.id.in_(ids), OutboxMessage.merge_part.is_not(None))
    ).all()
    extra: list[int] = []
    for channel, address in targets:
        extra += session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.channel == channel, OutboxMessage.address == address,
                OutboxMessage.merge_part.is_not(None), OutboxMessage.status.in_(OPEN), free,
                OutboxMessage.id.not_in(ids),
            )
        )
    return extra


def _finish(factory: sessionmaker[Session], ids: list[int], token: str, **values: object) -> int:
    with transaction(factory) as session:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.lease_owner == token)
            .values(lease_owner=None, lease_until=None, **values)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def mark_sent(
    factory: sessionmaker[Session], ids: list[int], token: str, answer: str,
    now: datetime | None = None,
) -> None:
    """Record delivery; the first id carries the answer, the rest were merged into it."""
    now = now or utcnow()
    _finish(factory, ids[:1], token, status="sent", provider_answer=answer[:2000], sent_at=now,
            last_error=None)
    if ids[1:]:
        _finish(factory, ids[1:], token, status="merged", sent_at=now,
                provider_answer=f"merged into #{ids[0]}: {answer[:1900]}")


def retry_at(
    factory: sessionmaker[Session], ids: list[int], token: str, error: str, at: datetime,
    *, count_attempt: bool = True,
) -> None:
    """Release the lease and make the rows due again at ``at``."""
    values: dict[str, object] = {"status": "pending", "next_attempt_at": at,
                                 "last_error": error[:2000]}
    if not count_attempt:
        values["attempts"] = OutboxMessage.attempts - 1
    _finish(factory, ids, token, **values)


def mark_failed(factory: sessionmaker[Session], ids: list[int], token: str, error: str) -> None:
    """Give up on the rows: the error is permanent or retries are exhausted."""
    _finish(factory, ids, token, status="failed", last_error=error[:2000])


@dataclass(frozen=True)
class Backlog:
    """How much is waiting in the outbox."""

    pending: int
    failed: int
    oldest_pending_at: datetime | None


def backlog(session: Session) -> Backlog:
    """Counts of waiting and failed rows and the age of the oldest waiting one."""
    pending, oldest = session.execute(
        select(func.count(), func.min(OutboxMessage.created_at))
        .where(OutboxMessage.status.in_(OPEN))
    ).one()
    failed = session.scalar(
        select(func.count()).where(OutboxMessage.status == "failed")
    )
    return Backlog(int(pending), int(failed or 0), oldest)


def messages(
    session: Session, key_prefix: str | None = None, limit: int = 200,
) -> list[OutboxMessage]:
    """Recent outbox rows, newest first, optionally those whose key starts with a prefix."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if key_prefix:
        query = query.where(OutboxMessage.key.startswith(key_prefix, autoescape=True))
    return list(session.scalars(query))


@dataclass(frozen=True)
class ChannelStatus:
    """How delivery to one address of a person went lately (healthchecks shows the same)."""

    channel: str
    address: str
    last_sent_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None


def channel_status(session: Session, recipient_key: str, scan: int = 200) -> list[ChannelStatus]:
    """Per channel and address of ``recipient_key``: the last success and the last error
    (only when it came after the last success), from the newest ``scan`` messages."""
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient_key
                                                       == recipient_key)
                           .order_by(OutboxMessage.id.desc()).limit(scan))
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        entry = seen.setdefault((row.channel, row.address), {"sent": None, "error": None,
                                                              "error_at": None})
        if row.sent_at and entry["sent"] is None:
            entry["sent"] = row.sent_at
        if row.last_error and entry["error"] is None and entry["sent"] is None:
            entry["error"], entry["error_at"] = row.last_error, row.created_at
    return [ChannelStatus(channel, address, e["sent"], e["error"], e["error_at"])
            for (channel, address), e in sorted(seen.items())]
