"""The durable mail queue: accept (committed before the sender hears "queued") and claim
with a lease; outcomes.py records what each delivery attempt came to.

Accepting writes the message, one delivery row per recipient and their ``accepted`` events
in one transaction, so a crash either loses the whole submission before it was answered or
keeps all of it. A worker claims due deliveries with one conditional UPDATE that sets a
lease, and commits that before it connects anywhere; after the receiving server's reply it
marks the delivery done in a transaction that only succeeds while it still holds the lease.
"""

from __future__ import annotations

import email.utils
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

from sqlalchemy import Table, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from roost.errors import InvalidInput
from roost.mail import events, writes
from roost.store.base import utcnow
from roost.store.models.mail import MailDelivery, MailMessage

MAX_SIZE = 25 * 1024 * 1024
MAX_RECIPIENTS = 1000
DELIVERIES: Table = MailDelivery.__table__  # type: ignore[assignment]
MESSAGES: Table = MailMessage.__table__  # type: ignore[assignment]


class Refused(InvalidInput):
    """A submission the queue will not take; carries the HTTP status and SMTP reply to use."""

    def __init__(self, message: str, *, http: int = 400, smtp: str = "550 5.7.1") -> None:
        super().__init__(message)
        self.http = http
        self.smtp = smtp


@dataclass(frozen=True)
class Submission:
    """One message as the SMTP server or the API hands it over."""

    app: str
    domain: str
    envelope_from: str
    recipients: list[str]
    raw: bytes
    source: str
    tags: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    testmode: bool = False


def address_domain(address: str) -> str:
    """The domain part of an address, lower case ('' when there is none)."""
    return address.rpartition("@")[2].strip().strip(">").lower()


def within(address: str, domain: str) -> bool:
    """Whether ``address`` is at ``domain`` or one of its subdomains."""
    host = address_domain(address)
    return host == domain or host.endswith("." + domain)


def check_sender(address: str, domain: str) -> None:
    """Refuse a sender outside the app's domain."""
    if not within(address, domain):
        raise Refused(f"'from' address {address or '(empty)'} is outside {domain}: send from "
                      f"an address at {domain} (MAILGUN_DOMAIN)", smtp="553 5.7.1")


def check_recipients(recipients: list[str]) -> None:
    """Refuse an empty or oversized recipient list, or a malformed address."""
    if not recipients:
        raise Refused("no recipients: give at least one 'to' address", smtp="554 5.5.1")
    if len(recipients) > MAX_RECIPIENTS:
        raise Refused(f"{len(recipients)} recipients is over the limit of {MAX_RECIPIENTS} per "
                      "message: split the list", smtp="452 4.5.3")
    for rcpt in recipients:
        local, at, host = rcpt.rpartition("@")
        if not at or not local or "." not in host or any(c in rcpt for c in " <>\r\n"):
            raise Refused(f"{rcpt!r} is not an email address", smtp="553 5.1.3")


def check_size(size: int) -> None:
    """Refuse a message over 25 MB."""
    if size > MAX_SIZE:
        raise Refused(f"the message is {size / 1_048_576:.1f} MB, over the 25 MB limit: "
                      "send large files as links", http=413, smtp="552 5.3.4")


def new_message_id(domain: str, now: datetime) -> str:
    """A Mailgun-style Message-ID: ``<20261202072500.1a2b3c4d5e6f@DOMAIN>``."""
    return f"<{now:%Y%m%d%H%M%S}.{secrets.token_hex(8)}@{domain}>"


_BLANK = re.compile(rb"\r?\n\r?\n")


def _headers(raw: bytes) -> Message:
    """The header block of ``raw`` parsed (the body, maybe megabytes, is left alone)."""
    blank = _BLANK.search(raw)
    head = raw[:blank.start()] if blank else raw
    return BytesHeaderParser(policy=compat32).parsebytes(head + b"\r\n\r\n")


def _with_ids(raw: bytes, headers: Message, domain: str, now: datetime
              ) -> tuple[bytes, str, str]:
    """``raw`` with a Message-ID and Date (added when missing), its id and subject."""
    message_id = (headers.get("Message-ID") or "").strip()
    extra = b""
    if not message_id:
        message_id = new_message_id(domain, now)
        extra += f"Message-ID: {message_id}\r\n".encode()
    if headers.get("Date") is None:
        extra += f"Date: {email.utils.format_datetime(now)}\r\n".encode()
    return extra + raw, message_id, str(headers.get("Subject") or "")[:1000]


def header_senders(raw: bytes | Message) -> list[str]:
    """Every address in a message's From and Sender headers (all of them, however many)."""
    headers = _headers(raw) if isinstance(raw, bytes) else raw
    values = [str(v) for name in ("From", "Sender") for v in headers.get_all(name) or []]
    return [addr for _, addr in email.utils.getaddresses(values)]


def header_from(raw: bytes) -> str:
    """The first address in a message's From header ('' when absent)."""
    headers = _headers(raw)
    return email.utils.parseaddr(str(headers.get("From") or ""))[1]


@dataclass(frozen=True)
class Prepared:
    """A checked submission with its Message-ID and Date, ready to be stored."""

    sub: Submission
    raw: bytes
    message_id: str
    subject: str
    webhook: bool
    now: datetime


def prepare(sub: Submission, *, webhook: bool = False, now: datetime | None = None
            ) -> Prepared:
    """Check ``sub`` (raising ``Refused`` for bad input) and give it its ids; no store work."""
    now = now or utcnow()
    check_size(len(sub.raw))
    check_recipients(sub.recipients)
    check_sender(sub.envelope_from, sub.domain)
    # Every From and Sender mailbox, or a second From header could show another domain.
    headers = _headers(sub.raw)
    for address in header_senders(headers) or [""]:
        check_sender(address, sub.domain)
    raw, message_id, subject = _with_ids(sub.raw, headers, sub.domain, now)
    return Prepared(sub, raw, message_id, subject, webhook, now)


def store(session: Session, items: list[Prepared]) -> None:
    """Queue prepared submissions: a few multi-row statements for the whole group.

    Recipients the domain has suppressed get a ``failed`` delivery and event at once.
    """
    if not items:
        return
    rows = [{"app": p.sub.app, "domain": p.sub.domain, "message_id": p.message_id,
             "sender": p.sub.envelope_from, "subject": p.subject, "raw": p.raw,
             "size": len(p.raw), "source": p.sub.source, "tags": p.sub.tags,
             "variables": p.sub.variables, "testmode": p.sub.testmode, "dkim_header": "",
             "created_at": p.now} for p in items]
    # Statements on the tables, not the ORM's bulk paths (the same SQL, less Python).
    messages = MESSAGES
    pks = list(session.scalars(insert(messages).returning(
        messages.c.id, sort_by_parameter_order=True), rows))
    wanted: dict[str, list[str]] = {}
    for p in items:
        wanted.setdefault(p.sub.domain, []).extend(p.sub.recipients)
    blocked = {domain: events.suppressed(session, domain, rcpts)
               for domain, rcpts in wanted.items()}
    event_rows: list[dict[str, object]] = []
    delivery_rows: list[dict[str, object]] = []
    for pk, p in zip(pks, items, strict=True):
        app, now = p.sub.app, p.now
        for rcpt in dict.fromkeys(r.lower() for r in p.sub.recipients):
            event_rows.append(events.row(app, pk, "accepted", recipient=rcpt, now=now))
            kind = blocked[p.sub.domain].get(rcpt)
            delivery_rows.append({
                "message_pk": pk, "app": app, "recipient": rcpt,
                "status": "failed" if kind else "queued", "attempts": 0,
                "next_attempt_at": now, "created_at": now, "done_at": now if kind else None,
                "last_error": f"suppressed ({kind})" if kind else ""})
            if kind:
                event_rows.append(events.row(
                    app, pk, "failed", recipient=rcpt, severity="permanent",
                    reason=f"suppress-{kind}", code=605,
                    detail=f"not delivering to a previously {kind}d address"
                    if kind != "complaint" else "not delivering to an address that "
                    "complained", webhook=p.webhook, now=now))
    session.execute(insert(events.EVENTS), event_rows)
    session.execute(insert(DELIVERIES), delivery_rows)


def accept(session: Session, sub: Submission, *, webhook: bool = False,
           now: datetime | None = None) -> str:
    """Queue ``sub`` (refusing bad input, queuing nothing); return its Message-ID.

    ``webhook`` says whether the app has a webhook to hear of recipients dropped here
    because they are suppressed.
    """
    prepared = prepare(sub, webhook=webhook, now=now)
    store(session, [prepared])
    return prepared.message_id


@dataclass(frozen=True)
class Job:
    """A delivery this worker holds the lease on."""

    id: int
    message_pk: int
    app: str
    recipient: str
    attempts: int
    created_at: datetime
    token: str


def claim(factory: sessionmaker[Session], owner: str, *, lease_s: float, limit: int = 50,
          now: datetime | None = None) -> list[Job]:
    """Take the lease on up to ``limit`` due deliveries; committed before anything is sent."""
    now = now or utcnow()
    token = f"{owner}:{uuid.uuid4().hex[:12]}"
    c = DELIVERIES.c
    open_ = c.status.in_(("queued", "sending"))
    free = or_(c.lease_until.is_(None), c.lease_until < now)
    with writes.writing(factory) as session:
        pick = (select(c.id).where(open_, c.next_attempt_at <= now, free)
                .order_by(c.next_attempt_at, c.id).limit(limit))
        if session.get_bind().dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        ids = list(session.scalars(pick))
        if not ids:
            return []
        # The WHERE repeats the lease test, so of two racing workers only one wins a row.
        rows = session.execute(update(DELIVERIES)
                               .where(c.id.in_(ids), open_, free)
                               .values(status="sending", lease_owner=token,
                                       lease_until=now + timedelta(seconds=lease_s),
                                       attempts=c.attempts + 1)
                               .returning(c.id, c.message_pk, c.app, c.recipient, c.attempts,
                                          c.created_at))
        return sorted((Job(r.id, r.message_pk, r.app, r.recipient, r.attempts, r.created_at,
                           token) for r in rows), key=lambda job: job.id)


def release_dead(factory: sessionmaker[Session], host: str, alive: Callable[[int], bool]
                 ) -> int:
    """Free the leases of workers on ``host`` whose process is gone (a crashed `roost up`),
    so their deliveries go out at once instead of when the lease would have expired."""
    with writes.writing(factory) as session:
        owners = session.scalars(select(MailDelivery.lease_owner).distinct().where(
            MailDelivery.status == "sending", MailDelivery.lease_owner.like(f"{host}:%")))
        dead = [o for o in owners if o and not alive(int(o.split(":")[1] or 0))]
        if not dead:
            return 0
        done = session.execute(update(MailDelivery)
                               .where(MailDelivery.lease_owner.in_(dead))
                               .values(lease_owner=None, lease_until=None))
        return int(done.rowcount)  # type: ignore[attr-defined]
