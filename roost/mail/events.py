"""Mail events (the log), and suppressions: addresses a domain no longer sends to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, and_, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from roost.errors import NotFound
from roost.store.base import utcnow
from roost.store.models.mail import MailEvent, MailMessage, MailSuppression

# Events an app's webhook hears of (Mailgun's webhook kinds; `accepted` is not one).
EVENTS: Table = MailEvent.__table__  # type: ignore[assignment]
SUPPRESSIONS: Table = MailSuppression.__table__  # type: ignore[assignment]
HOOKED = {"delivered", "failed", "bounced", "complained", "unsubscribed"}
KINDS = ("accepted", "delivered", "failed", "bounced", "complained", "unsubscribed", "captured")


@dataclass(frozen=True)
class EventView:
    """One line of `roost email log`."""

    id: str
    time: str
    event: str
    severity: str
    recipient: str
    reason: str
    code: int
    detail: str
    message_id: str
    subject: str
    message: int | None


def row(app: str, message_pk: int | None, event: str, *, recipient: str = "",
        severity: str = "", reason: str = "", code: int = 0, detail: str = "",
        attempt: int = 0, webhook: bool = False, now: datetime | None = None
        ) -> dict[str, object]:
    """The column values of one event (for a multi-row insert); ``webhook`` queues it for
    the app's webhook when it is a hooked kind."""
    now = now or utcnow()
    return {"event_id": uuid.uuid4().hex, "app": app, "message_pk": message_pk,
            "event": event, "severity": severity, "recipient": recipient[:320],
            "reason": reason[:40], "code": code, "detail": detail[:2000], "attempt": attempt,
            "created_at": now, "hook_status": "pending" if webhook and event in HOOKED
            else "none", "hook_attempts": 0, "hook_next_at": now, "hook_lease_until": None,
            "hook_error": ""}


def record(session: Session, app: str, message_pk: int | None, event: str, *,
           recipient: str = "", severity: str = "", reason: str = "", code: int = 0,
           detail: str = "", attempt: int = 0, webhook: bool = False,
           now: datetime | None = None) -> None:
    """Add one event; ``webhook`` queues it for the app's webhook when it is a hooked kind.

    A plain INSERT on the table, not an object for the session to flush: it runs for every
    delivery, and the unit of work costs more than the statement."""
    session.execute(insert(EVENTS),
                    row(app, message_pk, event, recipient=recipient, severity=severity,
                        reason=reason, code=code, detail=detail, attempt=attempt,
                        webhook=webhook, now=now))


def log(session: Session, app: str, *, to: str = "", event: str = "",
        message: int | None = None, limit: int = 100) -> list[EventView]:
    """The newest events of ``app``, optionally for one recipient, message or kind."""
    query = (select(MailEvent, MailMessage.message_id, MailMessage.subject)
             .outerjoin(MailMessage, MailMessage.id == MailEvent.message_pk)
             .where(MailEvent.app == app))
    if to:
        query = query.where(MailEvent.recipient == to.strip().lower())
    if event:
        query = query.where(MailEvent.event == event)
    if message is not None:
        query = query.where(MailEvent.message_pk == message)
    # By time: an outcome is stamped when it happened but may be stored a little later.
    query = query.order_by(MailEvent.created_at.desc(), MailEvent.id.desc()).limit(limit)
    return [EventView(id=row.event_id, time=row.created_at.isoformat(), event=row.event,
                      severity=row.severity, recipient=row.recipient, reason=row.reason,
                      code=row.code, detail=row.detail, message_id=mid or "",
                      subject=subject or "", message=row.message_pk)
            for row, mid, subject in session.execute(query)]


def suppress(session: Session, app: str, domain: str, address: str, kind: str,
             reason: str) -> None:
    """Stop sending from ``domain`` to ``address`` (kept if it is already suppressed)."""
    values = {"app": app, "domain": domain, "address": address.lower(), "kind": kind,
              "reason": reason[:1000], "created_at": utcnow()}
    ins = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(ins(MailSuppression).values(values)
                    .on_conflict_do_nothing(index_elements=["domain", "address"]))


def suppressed(session: Session, domain: str, addresses: list[str]) -> dict[str, str]:
    """Which of ``addresses`` ``domain`` must not send to, each with its kind."""
    if not addresses:
        return {}
    c = SUPPRESSIONS.c  # the table, not the ORM entity: one lookup per intake commit
    rows = session.execute(select(c.address, c.kind).where(
        and_(c.domain == domain, c.address.in_([a.lower() for a in addresses]))))
    return {address: kind for address, kind in rows}


@dataclass(frozen=True)
class SuppressionView:
    """One suppressed address."""

    address: str
    kind: str
    reason: str
    created_at: str


def list_suppressions(session: Session, app: str) -> list[SuppressionView]:
    """``app``'s suppressed addresses, newest first."""
    rows = session.scalars(select(MailSuppression).where(MailSuppression.app == app)
                           .order_by(MailSuppression.id.desc()))
    return [SuppressionView(r.address, r.kind, r.reason, r.created_at.isoformat())
            for r in rows]


def unsuppress(session: Session, app: str, address: str) -> None:
    """Send to ``address`` again; refused when it is not suppressed."""
    gone = session.execute(delete(MailSuppression).where(
        MailSuppression.app == app, MailSuppression.address == address.strip().lower()))
    if not gone.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"{address} is not suppressed for {app}; "
                       f"`roost email suppressions {app}` lists those that are")


TROUBLE = ("failed", "bounced", "complained")


def trouble_of(session: Session, app: str, address: str) -> str:
    """The latest permanent failure, bounce or complaint of mail from ``app`` to ``address``
    ('' when its latest outcome was fine)."""
    row = session.scalar(select(MailEvent).where(
        MailEvent.app == app, MailEvent.recipient == address.lower(),
        MailEvent.event.in_((*TROUBLE, "delivered")))
        .order_by(MailEvent.id.desc()).limit(1))
    if row is None or row.event == "delivered" or row.severity == "temporary":
        return ""
    return f"{row.event} {row.created_at:%Y-%m-%d %H:%M}: {row.detail[:120]}".strip()


@dataclass(frozen=True)
class Rates:
    """One app's mail outcomes over a window."""

    sent: int
    bounced: int
    complained: int


def rates(session: Session, since: datetime) -> dict[str, Rates]:
    """Per app: messages handed over, hard bounces and complaints since ``since``."""
    from sqlalchemy import func

    rows = session.execute(
        select(MailEvent.app, MailEvent.event, MailEvent.severity, func.count())
        .where(MailEvent.created_at >= since,
               MailEvent.event.in_(("delivered", "failed", "bounced", "complained")))
        .group_by(MailEvent.app, MailEvent.event, MailEvent.severity))
    counts: dict[str, dict[str, int]] = {}
    for app, event, severity, n in rows:
        per = counts.setdefault(app, {"sent": 0, "bounced": 0, "complained": 0})
        if event == "delivered" or (event == "failed" and severity == "permanent"):
            per["sent"] += n
        if event == "bounced" or (event == "failed" and severity == "permanent"):
            per["bounced"] += n
        if event == "complained":
            per["complained"] += n
    return {app: Rates(**c) for app, c in counts.items()}
