"""Reading mail back: the capture inbox, and one message rendered for the dashboard (its
headers, text and HTML parts, attachments, DKIM result and events)."""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email.message import Message
from email.policy import default

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.core.secrets import Cipher
from roost.errors import NotFound
from roost.mail import dkim, domains, events
from roost.store.models.mail import MailDelivery, MailDomain, MailMessage

SELECTOR_RE = re.compile(r"\bs=([^;\s]+)")


@dataclass(frozen=True)
class InboxItem:
    """One captured message in `roost email inbox`."""

    id: int
    time: str
    message_id: str
    sender: str
    to: list[str]
    subject: str
    size: int


@dataclass(frozen=True)
class Attachment:
    """A file carried by a message."""

    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class MessageView:
    """Everything the dashboard shows of one message."""

    id: int
    message_id: str
    sender: str
    subject: str
    time: str
    source: str
    deliveries: dict[str, str]
    headers: list[tuple[str, str]]
    text: str
    html: str
    attachments: list[Attachment]
    dkim: str
    dkim_detail: str
    events: list[events.EventView]


def inbox(session: Session, app: str, limit: int = 100) -> list[InboxItem]:
    """``app``'s captured messages, newest first."""
    rows = session.execute(
        select(MailMessage, MailDelivery.recipient)
        .join(MailDelivery, MailDelivery.message_pk == MailMessage.id)
        .where(MailMessage.app == app, MailDelivery.status == "captured")
        .order_by(MailMessage.id.desc()).limit(limit * 5))
    found: dict[int, InboxItem] = {}
    for message, rcpt in rows:
        item = found.get(message.id)
        if item is None and len(found) < limit:
            item = found[message.id] = InboxItem(
                message.id, message.created_at.isoformat(), message.message_id,
                message.sender, [], message.subject, message.size)
        if item is not None:
            item.to.append(rcpt)
    return list(found.values())


def _parts(message: Message) -> tuple[str, str, list[Attachment]]:
    text = html = ""
    files: list[Attachment] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        ctype = part.get_content_type()
        decoded = part.get_payload(decode=True)
        payload = decoded if isinstance(decoded, bytes) else b""
        if filename or part.get_content_disposition() == "attachment":
            files.append(Attachment(filename or "(unnamed)", ctype, len(payload)))
        elif ctype == "text/plain" and not text:
            text = payload.decode(part.get_content_charset() or "utf-8", errors="replace")
        elif ctype == "text/html" and not html:
            html = payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    return text, html, files


def dkim_result(cipher: Cipher, row: MailDomain | None, message: MailMessage) -> tuple[str, str]:
    """(``pass``/``fail``/``unsigned``, why) for the signature the message went out with."""
    if not message.dkim_header:
        return "unsigned", "not signed yet (still queued)"
    if row is None:
        return "fail", "the domain's key is gone (its email add-on was removed)"
    sender = domains.sender(cipher, row)
    selector = SELECTOR_RE.search(message.dkim_header)
    if selector is None or selector.group(1) != sender.selector:
        return "fail", "signed with a key that has since been rotated"
    name = f"{sender.selector}._domainkey.{sender.domain}"
    signed = message.dkim_header.encode() + dkim.canonical(message.raw)
    if dkim.verify(signed, {name: dkim.public_record(sender.dkim_key)}):
        return "pass", f"d={sender.domain} s={sender.selector}, verified against its key"
    return "fail", f"the signature does not verify against the key at {name}"


def view(session: Session, cipher: Cipher, app: str, pk: int) -> MessageView:
    """One message of ``app``; refused when it is not the app's."""
    message = session.get(MailMessage, pk)
    if message is None or message.app != app:
        raise NotFound(f"{app} has no message {pk}; `roost email inbox {app}` lists them")
    parsed = email.message_from_bytes(message.raw, policy=default)
    text, html, files = _parts(parsed)
    row = session.scalar(select(MailDomain).where(MailDomain.domain == message.domain))
    result, detail = dkim_result(cipher, row, message)
    deliveries = {rcpt: status for rcpt, status in session.execute(
        select(MailDelivery.recipient, MailDelivery.status)
        .where(MailDelivery.message_pk == pk).order_by(MailDelivery.id))}
    headers = [(k, str(v)) for k, v in parsed.items()]
    history = events.log(session, app, message=pk, limit=1000)
    return MessageView(id=pk, message_id=message.message_id, sender=message.sender,
                       subject=message.subject, time=message.created_at.isoformat(),
                       source=message.source, deliveries=deliveries, headers=headers,
                       text=text, html=html, attachments=files, dkim=result,
                       dkim_detail=detail, events=list(reversed(history)))
