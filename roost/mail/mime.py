"""A MIME message written out directly, for what Mailgun's API is mostly sent: headers and
file names in plain ASCII.

The email package's modern API (``compose._rich``) parses every header into structured
objects and base64-encodes attachments 57 bytes at a time in Python: that was most of the
API's time per message, on the event loop every other request waits for. Here the same
structure is written with the C encoders (``binascii``'s quoted-printable, ``base64``).
Anything this does not cover (a header or file name outside ASCII, a header line over
SMTP's limit, an unusual content type) gets None, and the modern API builds it.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Sequence
from typing import Protocol

MAX_LINE = 998  # SMTP's limit on a line, CRLF excluded
TEXT_LINE = 78  # longer text lines are sent quoted-printable, as the email package does
_TOKEN = re.compile(r"^[A-Za-z0-9!#$&^_.+-]{1,64}$")  # a MIME type's or subtype's characters
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")  # never in a 7bit part: quoted-printable
_FILENAME = re.compile(r'^[\x20-\x7e]{1,200}$')


class Attachment(Protocol):
    """A file to attach (``compose.Upload``)."""

    @property
    def filename(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def inline(self) -> bool: ...


def _text(body: str, subtype: str) -> bytes:
    """A text part: 7bit when it is short-lined ASCII, else UTF-8 quoted-printable."""
    lines = body.splitlines()
    if body.isascii() and not _CONTROL.search(body) and \
            all(len(line) <= TEXT_LINE for line in lines):
        head = f'Content-Type: text/{subtype}; charset="us-ascii"\r\n' \
               "Content-Transfer-Encoding: 7bit\r\n\r\n"
        return head.encode() + "\r\n".join(lines).encode() + b"\r\n"
    encoded = binascii.b2a_qp("\r\n".join(lines).encode() + b"\r\n", istext=True)
    head = f'Content-Type: text/{subtype}; charset="utf-8"\r\n' \
           "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    return head.encode() + encoded


def _file(upload: Attachment) -> bytes | None:
    """An attachment part, base64; None when its type or name needs more than ASCII."""
    maintype, _, subtype = (upload.content_type or "application/octet-stream").partition("/")
    maintype, subtype = maintype or "application", subtype or "octet-stream"
    name = upload.filename
    if not (_TOKEN.match(maintype) and _TOKEN.match(subtype)) or \
            (name and (not _FILENAME.match(name) or '"' in name or "\\" in name)):
        return None
    disposition = "inline" if upload.inline else "attachment"
    if name:
        disposition += f'; filename="{name}"'
    head = f"Content-Type: {maintype}/{subtype}\r\nContent-Transfer-Encoding: base64\r\n" \
           f"Content-Disposition: {disposition}\r\n\r\n"
    return head.encode() + base64.encodebytes(upload.data).replace(b"\n", b"\r\n")


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    """A multipart body of ``parts`` under a boundary none of them contains."""
    while True:
        boundary = f"=_{secrets.token_hex(16)}"
        marker = boundary.encode()
        if not any(marker in part for part in parts):
            break
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode()
    body = b"".join(b"--" + marker + b"\r\n" + part + b"\r\n" for part in parts)
    return head + body + b"--" + marker + b"--\r\n"


def plain(headers: Sequence[tuple[str, str]], text: str | None, html: str | None,
          uploads: Sequence[Attachment]) -> bytes | None:
    """The message, or None when a header or file name needs more than plain ASCII."""
    lines = []
    for name, value in headers:
        line = f"{name}: {value}"
        if not line.isascii() or len(line) > MAX_LINE or "\r" in line or "\n" in line:
            return None
        lines.append(line)
    texts = [_text(body, subtype) for body, subtype in ((text, "plain"), (html, "html"))
             if body is not None]
    root = texts[0] if len(texts) == 1 else _multipart("alternative", texts)
    if uploads:
        files = [_file(upload) for upload in uploads]
        if any(part is None for part in files):
            return None
        root = _multipart("mixed", [root, *(part for part in files if part is not None)])
    return "\r\n".join([*lines, "MIME-Version: 1.0"]).encode() + b"\r\n" + root
