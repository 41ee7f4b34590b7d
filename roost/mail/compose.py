"""Mailgun's ``POST /v3/DOMAIN/messages`` fields turned into one MIME message.

Fields: ``from``, ``to``/``cc``/``bcc`` (repeatable, comma-separated), ``subject``,
``text``, ``html``, ``attachment``/``inline`` files, ``h:NAME`` headers, ``v:NAME``
variables (sent on as ``X-Mailgun-Variables`` and returned in webhooks as
``user-variables``), ``o:tag`` (up to 3) and ``o:testmode``.
"""

from __future__ import annotations

import email.utils
import json
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP

from roost.mail.queue import Refused

TRUE = {"yes", "true", "1", "on"}
RESERVED = {"from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version",
            "content-type", "content-transfer-encoding", "dkim-signature", "received",
            "return-path"}


@dataclass(frozen=True)
class Upload:
    """An attached file as the form carried it."""

    filename: str
    content_type: str
    data: bytes
    inline: bool = False


@dataclass
class Composed:
    """The MIME message and its envelope."""

    raw: bytes
    sender: str
    recipients: list[str]
    tags: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    testmode: bool = False


def _all(fields: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in fields if key == name and value.strip()]


def addresses(values: list[str]) -> list[str]:
    """Every address in ``values`` (``"Ann <a@x.org>, b@y.org"`` style lists)."""
    return [addr for _, addr in email.utils.getaddresses(values) if addr]


def compose(fields: list[tuple[str, str]], uploads: list[Upload]) -> Composed:
    """The message the fields describe; refused with Mailgun's wording when incomplete."""
    sender_values = _all(fields, "from")
    if not sender_values:
        raise Refused("from parameter is missing")
    to, cc, bcc = _all(fields, "to"), _all(fields, "cc"), _all(fields, "bcc")
    if not to:
        raise Refused("to parameter is missing")
    text, html = _all(fields, "text"), _all(fields, "html")
    if not text and not html:
        raise Refused("Need at least one of 'text' or 'html' parameters specified")
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender_values[0]
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    subject = _all(fields, "subject")
    msg["Subject"] = subject[0] if subject else ""
    variables = {key[2:]: value for key, value in fields if key.startswith("v:")}
    tags = [value for key, value in fields if key == "o:tag"][:3]
    for key, value in fields:
        if key.startswith("h:"):
            name = key[2:].strip()
            if not name or name.lower() in RESERVED or any(c in name for c in ": \r\n"):
                raise Refused(f"header {key!r} cannot be set this way")
            msg[name] = value.replace("\r", " ").replace("\n", " ")
    if variables:
        msg["X-Mailgun-Variables"] = json.dumps(variables)
    for tag in tags:
        msg["X-Mailgun-Tag"] = tag
    if text:
        msg.set_content(text[0])
    if html:
        if text:
            msg.add_alternative(html[0], subtype="html")
        else:
            msg.set_content(html[0], subtype="html")
    for upload in uploads:
        maintype, _, subtype = (upload.content_type or "application/octet-stream").partition("/")
        msg.add_attachment(upload.data, maintype=maintype or "application",
                           subtype=subtype or "octet-stream", filename=upload.filename,
                           disposition="inline" if upload.inline else "attachment")
    sender = email.utils.parseaddr(sender_values[0])[1]
    testmode = any(v.strip().lower() in TRUE for v in _all(fields, "o:testmode"))
    return Composed(raw=msg.as_bytes(), sender=sender, recipients=addresses(to + cc + bcc),
                    tags=tags, variables=variables, testmode=testmode)
