"""Reports arriving at the return path: delivery status notifications (RFC 3464 bounces)
and complaint reports (ARF, RFC 5965), attached to the delivery they are about.
"""

from __future__ import annotations

import email
import email.utils
import re
from dataclasses import dataclass
from email.message import Message
from email.policy import compat32

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.mail import domains, events
from roost.store.models.mail import MailDelivery, MailDomain, MailMessage

CODE_RE = re.compile(r"\b([245]\d\d)\b")


@dataclass(frozen=True)
class Report:
    """What a report says: a bounce or a complaint, about whom and which message."""

    kind: str  # bounce | delay | complaint
    recipient: str
    status: str = ""
    diagnostic: str = ""
    message_id: str = ""

    @property
    def code(self) -> int:
        """The SMTP reply code in the diagnostic, else one from the status class."""
        found = CODE_RE.search(self.diagnostic)
        if found:
            return int(found.group(1))
        return 550 if self.status.startswith("5") else 450 if self.status.startswith("4") else 0


def _address(value: str) -> str:
    return email.utils.parseaddr(value.partition(";")[2] or value)[1].lower()


def _original_id(report: Message) -> str:
    for part in report.walk():
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return str(inner[0].get("Message-ID") or "").strip()
        if ctype == "text/rfc822-headers":
            headers = email.message_from_string(str(part.get_payload(decode=False)),
                                                policy=compat32)
            return str(headers.get("Message-ID") or "").strip()
    return ""


def parse(raw: bytes) -> Report | None:
    """The report in ``raw``, or None when it is neither a DSN nor an ARF report."""
    message = email.message_from_bytes(raw, policy=compat32)
    if message.get_content_type() != "multipart/report":
        return None
    report_type = str(message.get_param("report-type") or "").lower()
    original = _original_id(message)
    for part in message.walk():
        ctype = part.get_content_type()
        if report_type == "delivery-status" and ctype == "message/delivery-status":
            blocks: list[Message] = [b for b in part.get_payload() if isinstance(b, Message)] \
                if isinstance(part.get_payload(), list) else []
            for block in blocks[1:]:
                action = str(block.get("Action") or "").strip().lower()
                recipient = _address(str(block.get("Final-Recipient")
                                         or block.get("Original-Recipient") or ""))
                if action in ("failed", "delayed") and recipient:
                    return Report("bounce" if action == "failed" else "delay", recipient,
                                  str(block.get("Status") or "").strip(),
                                  " ".join(str(block.get("Diagnostic-Code") or "").split()),
                                  original)
        if report_type == "feedback-report" and ctype == "message/feedback-report":
            fields = part.get_payload()
            first = fields[0] if isinstance(fields, list) and fields else part
            block = first if isinstance(first, Message) else part
            recipient = _address(str(block.get("Original-Rcpt-To") or ""))
            return Report("complaint", recipient,
                          diagnostic=str(block.get("Feedback-Type") or "abuse").strip(),
                          message_id=original)
    return None


def _delivery(session: Session, row: MailDomain, delivery_id: int | None,
              report: Report) -> MailDelivery | None:
    """The delivery a report is about, its row locked until the report is stored.

    On PostgreSQL the worker storing the same delivery's outcome runs at the same time (on
    SQLite every mail write takes ``writes.writing``'s lock): unlocked, its "delivered" could
    land between this read and the bounce's writes, and the log would show the delivery
    delivered after it bounced. Locked, the outcome waits, then finds the delivery settled."""
    if delivery_id is not None:
        found = session.get(MailDelivery, delivery_id, with_for_update=True)
        return found if found is not None and found.app == row.app else None
    if not report.message_id:
        return None
    query = (select(MailDelivery).join(MailMessage, MailMessage.id == MailDelivery.message_pk)
             .where(MailMessage.app == row.app, MailMessage.message_id == report.message_id))
    if report.recipient:
        query = query.where(MailDelivery.recipient == report.recipient)
    return session.scalars(query.limit(1).with_for_update(of=MailDelivery)).first()


def apply(session: Session, row: MailDomain, local_part: str, report: Report,
          signing_key: str) -> str:
    """Record ``report`` against its delivery; return a line saying what was done."""
    delivery_id = domains.parse_return_path(local_part, signing_key)
    if delivery_id is None and report.kind != "complaint":
        return "ignored: a bounce to an address that names no delivery of ours"
    delivery = _delivery(session, row, delivery_id, report)
    if delivery is None:
        return "ignored: no such delivery"
    recipient = delivery.recipient
    if report.kind == "delay":
        events.record(session, row.app, delivery.message_pk, "failed", recipient=recipient,
                      severity="temporary", reason="generic", code=report.code,
                      detail=f"delayed: {report.status} {report.diagnostic}".strip(),
                      webhook=bool(row.webhook_url))
        return "recorded a delay"
    if report.kind == "bounce":
        events.record(session, row.app, delivery.message_pk, "bounced", recipient=recipient,
                      severity="permanent", reason="bounce", code=report.code,
                      detail=f"{report.status} {report.diagnostic}".strip(),
                      webhook=bool(row.webhook_url))
        delivery.status = "failed"
        events.suppress(session, row.app, row.domain, recipient, "bounce",
                        f"{report.status} {report.diagnostic}".strip())
        return f"recorded a bounce of {recipient}"
    events.record(session, row.app, delivery.message_pk, "complained", recipient=recipient,
                  detail=f"feedback type {report.diagnostic}", webhook=bool(row.webhook_url))
    events.suppress(session, row.app, row.domain, recipient, "complaint",
                    f"complaint ({report.diagnostic})")
    return f"recorded a complaint from {recipient}"
