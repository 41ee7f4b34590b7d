"""Mailgun's form fields as a MIME message: the direct writer (mime.py) gives the same
message as the email package's modern API, read back by a mail client's parser."""

from __future__ import annotations

import email
import email.policy
import email.utils
import os

import pytest

from roost.mail import compose, mime
from roost.mail.compose import Upload

LONG = ("Thank you for your order. " * 80)[:2000]
BLOB = os.urandom(300_000)


def _read(raw: bytes) -> dict[str, object]:
    """What a reader sees: headers (addresses as pairs), and each part's type, name and
    decoded content."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    headers: dict[str, object] = {}
    for name in ("From", "To", "Cc"):
        if msg[name] is not None:
            headers[name] = email.utils.getaddresses([str(msg[name])])
    for name in ("Subject", "X-Mailgun-Variables", "X-Campaign", "Reply-To"):
        if msg[name] is not None:
            headers[name] = str(msg[name])
    headers["X-Mailgun-Tag"] = [str(v) for v in msg.get_all("X-Mailgun-Tag") or []]
    parts = []
    for part in msg.walk():
        kind = part.get_content_type()
        if part.is_multipart():
            parts.append((kind,))
            continue
        content = part.get_content()
        if isinstance(content, str):
            content = content.replace("\r\n", "\n")
        parts.append((kind, part.get_content_disposition(), part.get_filename(), content))
    assert not msg.defects, msg.defects
    return {"headers": headers, "parts": parts}


CASES = {
    "text": ([("from", "Shop <orders@mail.shop.test>"), ("to", "ann@example.org"),
              ("subject", "Your receipt"), ("text", "Thanks!\nSee you.\n")], []),
    "long line, as the benchmark sends": (
        [("from", "orders@mail.shop.test"), ("to", "a@x.org, Bob <b@y.org>"),
         ("cc", "c@z.org"), ("bcc", "hidden@z.org"), ("subject", "Order"), ("text", LONG)],
        [Upload("invoice.bin", "application/octet-stream", BLOB)]),
    "text and html, tags, variables, a header": (
        [("from", "orders@mail.shop.test"), ("to", "a@x.org"), ("subject", "Hi"),
         ("text", "plain = text\r\nwith CRLF and = signs  \r\n"),
         ("html", "<p>Caf\u00e9 <b>menu</b></p>"), ("o:tag", "receipt"), ("o:tag", "q4"),
         ("v:order", "42"), ("h:X-Campaign", "winter")], []),
    "html only, inline image": (
        [("from", "orders@mail.shop.test"), ("to", "a@x.org"), ("html", "<img src=cid:x>")],
        [Upload("logo.png", "image/png", b"\x89PNG" + bytes(range(256)), inline=True)]),
    "text outside ASCII": ([("from", "orders@mail.shop.test"), ("to", "a@x.org"),
                            ("text", "Gr\u00fc\u00dfe \u2014 \U0001f600\n" * 3)], []),
    "an empty text, a dot line": ([("from", "orders@mail.shop.test"), ("to", "a@x.org"),
                                   ("text", ".\n\nFrom here\n.")], []),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_direct_writer_gives_what_the_email_package_gives(name: str) -> None:
    fields, uploads = CASES[name]
    made, parts = compose.compose(fields, uploads), compose.content(fields)
    rich = compose.rich(parts.headers, parts.text, parts.html, uploads)
    assert mime.plain(parts.headers, parts.text, parts.html, uploads) is not None
    assert _read(made.raw) == _read(rich)
    assert all(len(line) <= mime.MAX_LINE for line in made.raw.split(b"\r\n"))
    assert b"\n" not in made.raw.replace(b"\r\n", b"")  # CRLF throughout
    assert "hidden@z.org" not in made.raw.decode() and \
        ("hidden@z.org" in made.recipients) == (name == "long line, as the benchmark sends")


@pytest.mark.parametrize("fields, uploads", [
    ([("from", "Caf\u00e9 <orders@mail.shop.test>"), ("to", "a@x.org"), ("text", "x")], []),
    ([("from", "orders@mail.shop.test"), ("to", "a@x.org"), ("subject", "Caf\u00e9"),
      ("text", "x")], []),
    ([("from", "orders@mail.shop.test"), ("to", "a@x.org"), ("subject", "s" * 1200),
      ("text", "x")], []),
    ([("from", "orders@mail.shop.test"), ("to", "a@x.org"), ("text", "x")],
     [Upload("r\u00e9sum\u00e9.pdf", "application/pdf", b"%PDF")]),
    ([("from", "orders@mail.shop.test"), ("to", "a@x.org"), ("text", "x")],
     [Upload('a"b.txt', "text/plain", b"x")]),
])
def test_what_needs_encoding_is_left_to_the_email_package(
        fields: list[tuple[str, str]], uploads: list[Upload]) -> None:
    parts = compose.content(fields)
    assert mime.plain(parts.headers, parts.text, parts.html, uploads) is None
    made = compose.compose(fields, uploads)
    assert _read(made.raw) == _read(compose.rich(parts.headers, parts.text, parts.html, uploads))
    assert made.raw.isascii()
