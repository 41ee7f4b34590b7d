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

from roost.mail import mime
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


@dataclass(frozen=True)
class Content:
    """What the message says: its headers in order, its text and HTML bodies, and the
    Mailgun variables and tags among its headers."""

    headers: list[tuple[str, str]]
    text: str | None
    html: str | None
    variables: dict[str, str]
    tags: list[str]


def content(fields: list[tuple[str, str]]) -> Content:
    """The headers and bodies the fields describe; refused with Mailgun's wording when
    incomplete."""
    sender = _all(fields, "from")
    if not sender:
        raise Refused("from parameter is missing")
    to, cc = _all(fields, "to"), _all(fields, "cc")
    if not to:
        raise Refused("to parameter is missing")
    text, html = _all(fields, "text"), _all(fields, "html")
    if not text and not html:
        raise Refused("Need at least one of 'text' or 'html' parameters specified")
    subject = _all(fields, "subject")
    headers = [("From", sender[0]), ("To", ", ".join(to))]
    if cc:
        headers.append(("Cc", ", ".join(cc)))
    headers.append(("Subject", subject[0] if subject else ""))
    for key, value in fields:
        if key.startswith("h:"):
            name = key[2:].strip()
            if not name or name.lower() in RESERVED or any(c in name for c in ": \r\n"):
                raise Refused(f"header {key!r} cannot be set this way")
            headers.append((name, value.replace("\r", " ").replace("\n", " ")))
    variables = {key[2:]: value for key, value in fields if key.startswith("v:")}
    if variables:
        headers.append(("X-Mailgun-Variables", json.dumps(variables)))
    tags = [value for key, value in fields if key == "o:tag"][:3]
    headers += [("X-Mailgun-Tag", tag) for tag in tags]
    return Content(headers, text[0] if text else None, html[0] if html else None, variables,
                   tags)


def compose(fields: list[tuple[str, str]], uploads: list[Upload]) -> Composed:
    """The message the fields describe; refused with Mailgun's wording when incomplete."""
    made = content(fields)
    raw = mime.plain(made.headers, made.text, made.html, uploads) or \
        rich(made.headers, made.text, made.html, uploads)
    sender = email.utils.parseaddr(_all(fields, "from")[0])[1]
    recipients = addresses(_all(fields, "to") + _all(fields, "cc") + _all(fields, "bcc"))
    testmode = any(v.strip().lower() in TRUE for v in _all(fields, "o:testmode"))
    return Composed(raw=raw, sender=sender, recipients=recipients, tags=made.tags,
                    variables=made.variables, testmode=testmode)


def rich(headers: list[tuple[str, str]], text: str | None, html: str | None,
          uploads: list[Upload]) -> bytes:
    """The message built by the email package's modern API, which encodes anything (words
    outside ASCII in headers, file names, long header values) as RFCs 2047 and 2231 say."""
    msg = EmailMessage(policy=SMTP)
    for name, value in headers:
        msg[name] = value
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is not None:
            msg.add_alternative(html, subtype="html")
        else:
            msg.set_content(html, subtype="html")
    for upload in uploads:
        maintype, _, subtype = (upload.content_type or "application/octet-stream").partition("/")
        msg.add_attachment(upload.data, maintype=maintype or "application",
                           subtype=subtype or "octet-stream", filename=upload.filename,
                           disposition="inline" if upload.inline else "attachment")
    return msg.as_bytes()
