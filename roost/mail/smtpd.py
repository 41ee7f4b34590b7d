"""Roost's SMTP server (aiosmtpd): submission for apps (AUTH per app, STARTTLS when a
certificate is set) and, on the same port, the return path where bounces and complaint
reports arrive without AUTH.

Store calls run off the event loop: accepted messages go to the group-commit writer
(``roost.mail.intake``), and a message is committed before the client hears ``250``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, syntax
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy.orm import Session, sessionmaker

from roost.core.secrets import Cipher
from roost.mail import bounces, domains, queue, writes
from roost.mail.intake import Intake
from roost.mail.queue import Refused, Submission

log = logging.getLogger("roost.mail.smtp")
AUTH_TTL = 60.0
END = b".\r\n"  # a line of its own: the end of DATA
TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"  # aiosmtpd's replies
TOO_MUCH = "552 Error: Too much mail data"
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# <dot-atom@host.name> and what follows after blanks, not a comment: the addresses apps send
# with, which aiosmtpd's parser (the email package's, a few hundred microseconds) gives back
# unchanged.
PLAIN_PATH = re.compile(rf"<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>"
                        r"(?:[ \t]+([^ \t(].*)?)?")


class Server(SMTP):
    """aiosmtpd's server, reading a message's DATA a buffer at a time.

    aiosmtpd reads DATA a line at a time in Python, about 10 us a line: a 1 MB attachment
    (14,000 base64 lines) held the event loop, and every other client's command with it,
    for over 100 ms. This reads up to each ``.<CRLF>`` (a lone dot ends the message only
    at the start of a line, exactly as aiosmtpd has it), then checks line lengths and
    removes the dot-stuffing in C. Replies, limits and the handler's hook are aiosmtpd's.
    """

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's address parsing, without the parser for a plain address."""
        plain = PLAIN_PATH.fullmatch(arg)
        if plain is None or self.local_part_limit:
            return super()._getaddr(arg)
        return plain[1], plain[2] or ""

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        """DATA: read the message, then hand it to the handler's ``handle_DATA``."""
        if self._decode_data or "DATA" not in self._handle_hooks:
            await super().smtp_DATA(arg)
            return
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            body, problem = await self._read_data()
        except asyncio.CancelledError:
            log.info("connection lost during DATA")
            self._writer.close()
            raise
        if problem:
            await self.push(problem)
            self._set_post_data_state()
            return
        self.envelope.content = self.envelope.original_content = body
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    async def _read_data(self) -> tuple[bytes, str]:
        """The message up to the lone dot, dot-stuffing removed; or the reply that refuses
        it (too large, a line too long), once all of it has been read."""
        data = bytearray()
        limit, problem = self.data_size_limit, ""
        settled = (limit or 0) + self.line_length_limit + 2  # past this, a problem is certain
        while True:
            try:
                data += await self._reader.readuntil(END)
            except asyncio.LimitOverrunError as exc:  # no dot in the buffer: take most of it
                data += await self._reader.readexactly(exc.consumed)
            if data.endswith(END) and (len(data) == len(END) or data.endswith(b"\r\n" + END)):
                break
            if limit and not problem and len(data) > settled:
                problem = self._problem(data)
            if problem:
                del data[:-2]  # kept: its end may begin the final CRLF
        if problem:
            return b"", problem
        del data[-len(END):]
        if (limit and len(data) > limit) or \
                (data and len(max(data.split(b"\r\n"), key=len)) + 2 > self.line_length_limit):
            problem = self._problem(data)  # which of the two aiosmtpd would say
            if problem:
                return b"", problem
        if data.startswith(b"."):
            del data[0]
        return bytes(data).replace(b"\r\n.", b"\r\n"), ""

    def _problem(self, data: bytearray) -> str:
        """aiosmtpd's reply to DATA read so far: its first problem, in the order it would
        meet them line by line, or '' when there is none yet."""
        total, lines = 0, data.split(b"\r\n")
        for number, content in enumerate(lines):
            if len(content) > self.line_length_limit:  # its reader's limit: no line end seen
                return TOO_LONG
            if number == len(lines) - 1:
                return ""  # the end: a line not ended yet, or none
            total += len(content) + 2
            if self.data_size_limit and total > self.data_size_limit:
                return TOO_MUCH
            if len(content) + 2 > self.line_length_limit:
                return TOO_LONG
        return ""


@dataclass(frozen=True)
class Identity:
    """The app an SMTP login belongs to."""

    app: str
    domain: str
    webhook: bool


class Authenticator:
    """Checks AUTH PLAIN/LOGIN against the apps' SMTP credentials (cached for a minute, and
    forgotten when a domain changes)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.cache = domains.Lookups(AUTH_TTL)

    def lookup(self, login: str, password: str) -> Identity | None:
        """The identity of a login, or None when the login or password is wrong."""
        key = (login.lower(), domains.digest(password))
        hit, cached = self.cache.get(key)
        if hit:
            return cached if isinstance(cached, Identity) else None
        generation = domains.generation()
        with self.sessions.begin() as session:
            row = domains.by_smtp_login(session, login, password)
            found = Identity(row.app, row.domain, bool(row.webhook_url)) if row else None
        self.cache.put(key, found, generation)
        return found

    def __call__(self, server: SMTP, session: SmtpSession, envelope: Envelope,
                 mechanism: str, auth_data: Any) -> AuthResult:
        """aiosmtpd's authenticator hook."""
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        found = self.lookup(auth_data.login.decode(errors="replace"),
                            auth_data.password.decode(errors="replace"))
        if found is None:
            return AuthResult(success=False, handled=False,
                              message="535 5.7.8 Authentication failed: use "
                              "MAILGUN_SMTP_LOGIN and MAILGUN_SMTP_PASSWORD")
        return AuthResult(success=True, auth_data=found)


class Handler:
    """aiosmtpd hooks: check the envelope as it comes, queue the message at DATA."""

    def __init__(self, sessions: sessionmaker[Session], cipher: Cipher,
                 intake: Intake) -> None:
        self.sessions, self.cipher, self.intake = sessions, cipher, intake

    async def handle_MAIL(self, server: SMTP, session: SmtpSession, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        """Refuse a sender outside the logged-in app's domain."""
        who = session.auth_data if session.authenticated else None
        if isinstance(who, Identity) and not queue.within(address, who.domain):
            return (f"553 5.7.1 sender <{address}> is outside {who.domain}: send from an "
                    f"address at {who.domain}")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: SmtpSession, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        """Apps may send anywhere; without a login only the return path takes mail."""
        if not session.authenticated:
            host = queue.address_domain(address)
            row = await asyncio.to_thread(self._bounce_domain, host)
            if row is None:
                return ("530 5.7.0 Authentication required: log in with "
                        "MAILGUN_SMTP_LOGIN and MAILGUN_SMTP_PASSWORD")
        elif len(envelope.rcpt_tos) >= queue.MAX_RECIPIENTS:
            return (f"452 4.5.3 Too many recipients: at most {queue.MAX_RECIPIENTS} per "
                    "message")
        try:
            queue.check_recipients([address])
        except Refused as exc:
            return f"{exc.smtp} {exc.message}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def _bounce_domain(self, host: str) -> str | None:
        with self.sessions.begin() as session:
            row = domains.by_bounce_domain(session, host)
            return row.domain if row else None

    async def handle_DATA(self, server: SMTP, session: SmtpSession,
                          envelope: Envelope) -> str:
        """Queue an app's message; take a report at the return path."""
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        who = session.auth_data if session.authenticated else None
        if not isinstance(who, Identity):
            line = await asyncio.to_thread(self._report, envelope.rcpt_tos, raw)
            return f"250 2.0.0 {line}"
        sub = Submission(app=who.app, domain=who.domain,
                         envelope_from=envelope.mail_from or "",
                         recipients=list(envelope.rcpt_tos), raw=raw, source="smtp")
        try:
            message_id = await self.intake.accept(sub, who.webhook)
        except Refused as exc:
            return f"{exc.smtp} {exc.message}"
        except Exception:
            log.exception("queuing a message from %s failed", who.app)
            return "451 4.3.0 the message could not be queued: try again shortly"
        return f"250 2.0.0 Ok: queued as {message_id}"

    def _report(self, rcpt_tos: list[str], raw: bytes) -> str:
        report = bounces.parse(raw)
        if report is None:
            return "Ok: not a bounce or complaint report, discarded"
        lines = []
        for rcpt in rcpt_tos:
            local, _, host = rcpt.rpartition("@")
            with writes.writing(self.sessions) as session:
                row = domains.by_bounce_domain(session, host)
                if row is None:
                    continue
                key = domains.sender(self.cipher, row).signing_key
                lines.append(bounces.apply(session, row, local, report, key))
        log.info("return path report: %s", "; ".join(lines) or "nothing matched")
        return "Ok: " + ("; ".join(lines) or "nothing matched")


def tls_context(cert: str, key: str) -> ssl.SSLContext | None:
    """A server context for STARTTLS when a certificate is configured."""
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key or None)
    return context


async def serve(handler: Handler, authenticator: Authenticator, host: str, port: int, *,
                hostname: str, tls: ssl.SSLContext | None) -> asyncio.Server:
    """Start listening; AUTH needs TLS whenever a certificate is set."""
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return Server(handler, data_size_limit=queue.MAX_SIZE, enable_SMTPUTF8=True,
                    hostname=hostname, ident="Roost ESMTP", tls_context=tls,
                    auth_require_tls=tls is not None, authenticator=authenticator,
                    timeout=300, loop=loop)

    return await loop.create_server(factory, host, port)
