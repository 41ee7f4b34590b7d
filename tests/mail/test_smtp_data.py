"""Roost's SMTP server reads DATA a buffer at a time (``roost.mail.smtpd.Server``); what it
takes and refuses must be exactly what aiosmtpd's own line-at-a-time reading takes and
refuses, or the two could disagree on where a message ends (SMTP smuggling). Both run
here on 127.0.0.1 and get the same bytes, split the same ways."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from roost.mail.smtpd import Server
from tests.conftest import free_port

LIMIT = 4096


class Keeper:
    """Keeps each message's content; answers like Roost's handler."""

    def __init__(self) -> None:
        self.got: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.got.append(envelope.original_content)
        return "250 2.0.0 Ok: queued"


class Running(Controller):
    def __init__(self, cls: type[SMTP]) -> None:
        self.cls, self.keeper = cls, Keeper()
        super().__init__(self.keeper, hostname="127.0.0.1", port=free_port(),
                         data_size_limit=LIMIT)

    def factory(self) -> SMTP:
        return self.cls(self.handler, **self.SMTP_kwargs)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Running, Running]]:
    ours, theirs = Running(Server), Running(SMTP)
    ours.start()
    theirs.start()
    try:
        yield ours, theirs
    finally:
        ours.stop()
        theirs.stop()


def replies(port: int, pieces: list[bytes]) -> list[bytes]:
    """Send a session's ``pieces`` one by one (each its own write), then QUIT; every
    reply line the server gave."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        reader = conn.makefile("rb")
        lines = [reader.readline()]
        conn.sendall(b"EHLO client\r\n")
        while not reader.readline().startswith(b"250 "):
            pass
        conn.sendall(b"MAIL FROM:<a@shop.test>\r\n")
        lines.append(reader.readline())
        conn.sendall(b"RCPT TO:<b@example.org>\r\n")
        lines.append(reader.readline())
        conn.sendall(b"DATA\r\n")
        lines.append(reader.readline())
        for piece in pieces:
            conn.sendall(piece)
        lines.append(reader.readline())
        conn.sendall(b"QUIT\r\n")
        lines.append(reader.readline())
    return lines[1:]


BIG = b"".join(b"QUJD" * 19 + b"\r\n" for _ in range(30))  # 30 base64-like lines
CASES = {
    "empty": [b".\r\n"],
    "plain": [b"Subject: hi\r\n\r\nhello.\r\nend.\r\n.\r\n"],
    "dot-stuffed lines": [b"..leading dot\r\n...two\r\n.\r\n.x\r\n.\r\n"],
    "dot-stuffed first line": [b"..first\r\nsecond\r\n.\r\n"],
    "a bare LF before the dot is no end": [b"a\n.\r\nMAIL FROM:<x@evil.test>\r\nb\r\n.\r\n"],
    "a dot then a bare LF is no end": [b"a\r\n.\nb\r\n.\r\n"],
    "a dot in a line is no end": [b"a .\r\n.\r\n"],
    "split around the end": [b"a\r", b"\n", b".", b"\r", b"\n"],
    "split after the first CRLF": [b"a\r\n", b".\r\n"],
    "split in a stuffed dot": [b"a\r\n.", b".b\r\n.\r\n"],
    "many lines in pieces": [BIG[:1000], BIG[1000:1001], BIG[1001:] + b".\r\n"],
    "a line too long": [b"x" * 1200 + b"\r\nok\r\n.\r\n"],
    "a line just short enough": [b"x" * 999 + b"\r\n.\r\n"],
    "too large": [b"y" * 70 + b"\r\n"] * 80 + [b".\r\n"],
    "too large and too long": [b"z" * 5000 + b"\r\n.\r\n"],
}


@pytest.mark.parametrize("case", CASES)
def test_data_is_read_as_aiosmtpd_reads_it(servers: tuple[Running, Running], case: str) -> None:
    ours, theirs = servers
    before = (len(ours.keeper.got), len(theirs.keeper.got))
    ours_said = replies(ours.port, CASES[case])
    theirs_said = replies(theirs.port, CASES[case])
    assert ours_said == theirs_said
    assert ours.keeper.got[before[0]:] == theirs.keeper.got[before[1]:]


def test_a_message_and_its_dots_arrive_whole(servers: tuple[Running, Running]) -> None:
    """What a user would see: the message as sent, its leading dots restored."""
    ours, _ = servers
    said = replies(ours.port, [b"Subject: x\r\n\r\n..hidden\r\nlast.\r\n.\r\n"])
    assert said[-2].startswith(b"250 2.0.0")
    assert ours.keeper.got[-1] == b"Subject: x\r\n\r\n.hidden\r\nlast.\r\n"


PATHS = ["<a@b.c>", "<a@b.c> SIZE=10", "<A.b+c@Example.ORG>  BODY=8BITMIME", "<>", "<a..b@c>",
         "<.a@c>", "<a.@c>", "<a@[1.2.3.4]>", "<a@b.c >", "<a@-b.c>", " <a@b.c>", "a@b.c",
         "<a@b.c> (comment) SIZE=1", "<a@b.c>\tSIZE=1 ", "<\"q q\"@b.c>", "<a@b..c>",
         "<a@b.c>x", "<a b@c>", "<@relay:a@b.c>", "<a@b.c.>", "<ünï@b.c>", "<a@b_c.d>",
         "<a(x)@b.c>", "<a@b.c> ", "<a@b.c>  ", "<a@b.c>\t", "<a@b.c> SIZE=1 (c)"]


@pytest.mark.parametrize("path", PATHS)
def test_addresses_are_parsed_as_aiosmtpd_parses_them(path: str) -> None:
    assert Server._getaddr(Server.__new__(Server), path) == \
        SMTP._getaddr(SMTP.__new__(SMTP), path)
