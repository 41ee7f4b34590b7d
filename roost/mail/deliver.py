"""Getting a signed message to the next hop: a relay, the recipient's MX hosts, or nowhere
(capture). Each transport keeps its SMTP connection between messages.

Replies map to outcomes the way MTAs read them: 2xx delivered, 5xx permanent, 4xx and
network trouble temporary.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from abc import ABC, abstractmethod
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from roost.mail.outcomes import Outcome

TIMEOUT = 30.0
DOTS = re.compile(rb"(?m)^\.")
Hold = Callable[[], None]


def _reply(code: int, text: bytes | str) -> Outcome:
    detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    detail = f"{code} {detail}".strip()
    if 200 <= code < 300:
        return Outcome("delivered", code, detail)
    if 500 <= code < 600:
        return Outcome("permanent", code, detail, "bounce")
    return Outcome("temporary", code, detail, "generic")


class Transport(ABC):
    """Sends one message to one recipient; ``close`` ends any open connection."""

    @abstractmethod
    def send(self, return_path: str, recipient: str, data: bytes,
             hold: Hold | None = None) -> Outcome:
        """Hand ``data`` over for ``recipient``; never raises for the remote's answers.

        ``hold`` is called the moment the final dot has been handed to the kernel: from
        there the next hop has the whole message, and the worker notes that in its journal
        before waiting for the reply.
        """

    def close(self) -> None:  # noqa: B027  (most transports hold a connection; Capture none)
        """Close open connections."""


class Capture(Transport):
    """No relay and no direct delivery: the message stays in the local inbox."""

    def send(self, return_path: str, recipient: str, data: bytes,
             hold: Hold | None = None) -> Outcome:
        """Keep it here."""
        return Outcome("captured", 0, "captured: no relay is configured (ROOST_MAIL_RELAY), "
                       "kept in the local inbox")


class _Session:
    """One SMTP connection to a host, opened on demand and reused."""

    def __init__(self, host: str, port: int, *, implicit_tls: bool, user: str | None,
                 password: str | None, helo: str, verify_tls: bool) -> None:
        self.host, self.port, self.implicit_tls = host, port, implicit_tls
        self.user, self.password, self.helo = user, password, helo
        self.verify_tls = verify_tls
        self.smtp: smtplib.SMTP | None = None

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.verify_tls:  # opportunistic TLS to MX hosts, as MTAs do by default
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def open(self) -> smtplib.SMTP:
        if self.smtp is not None:
            return self.smtp
        smtp: smtplib.SMTP
        if self.implicit_tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, local_hostname=self.helo,
                                    timeout=TIMEOUT, context=self._tls())
        else:
            smtp = smtplib.SMTP(self.host, self.port, local_hostname=self.helo,
                                timeout=TIMEOUT)
        smtp.ehlo()
        if not self.implicit_tls and smtp.has_extn("starttls"):
            smtp.starttls(context=self._tls())
            smtp.ehlo()
        if self.user:
            smtp.login(self.user, self.password or "")
        self.smtp = smtp
        return smtp

    def _transaction(self, smtp: smtplib.SMTP, return_path: str, recipient: str,
                     data: bytes, hold: Hold | None) -> None:
        """MAIL, RCPT, DATA as smtplib's sendmail does, with ``hold`` after the final dot."""
        code, text = smtp.mail(return_path)
        if code != 250:
            smtp.rset()
            raise smtplib.SMTPSenderRefused(code, text, return_path)
        code, text = smtp.rcpt(recipient)
        if code not in (250, 251):
            smtp.rset()
            raise smtplib.SMTPRecipientsRefused({recipient: (code, text)})
        code, text = smtp.docmd("DATA")
        if code != 354:
            smtp.rset()
            raise smtplib.SMTPDataError(code, text)
        body = DOTS.sub(b"..", data)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        smtp.send(body + b".\r\n")
        if hold is not None:  # the dot is out: the remote may take the message now
            hold()
        code, text = smtp.getreply()
        if code != 250:
            raise smtplib.SMTPDataError(code, text)

    def send(self, return_path: str, recipient: str, data: bytes,
             hold: Hold | None = None) -> Outcome:
        reused = self.smtp is not None
        try:
            smtp = self.open()
            self._transaction(smtp, return_path, recipient, data, hold)
        except smtplib.SMTPServerDisconnected:
            self.close()
            if reused and not self.held(hold):  # an idle connection was dropped: once more
                return self.send(return_path, recipient, data, hold)
            return Outcome("temporary", 0, f"{self.host}:{self.port} closed the connection",
                           "generic")
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = exc.recipients.get(recipient, (550, b"refused"))
            return _reply(code, text)
        except smtplib.SMTPResponseException as exc:
            if isinstance(exc, smtplib.SMTPAuthenticationError):
                self.close()
                return Outcome("temporary", exc.smtp_code,
                               f"the relay refused Roost's login ({exc.smtp_code}): "
                               "check ROOST_MAIL_RELAY", "generic")
            if exc.smtp_code in (421, -1):
                self.close()
            return _reply(exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            return Outcome("temporary", 0, f"{self.host}:{self.port}: "
                           f"{type(exc).__name__}: {exc}", "generic")
        return Outcome("delivered", 250, f"250 accepted by {self.host}:{self.port}")

    @staticmethod
    def held(hold: Hold | None) -> bool:
        """Whether ``hold`` ran (the message went out before the connection broke)."""
        return bool(getattr(hold, "called", False))

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                self.smtp.close()
            self.smtp = None


class Relay(Transport):
    """Everything goes through one smarthost (``smtp://user:pass@host:587``, ``smtps://…``)."""

    def __init__(self, url: str, helo: str) -> None:
        parts = urlsplit(url)
        tls = parts.scheme == "smtps"
        self.session = _Session(parts.hostname or "", parts.port or (465 if tls else 587),
                                implicit_tls=tls,
                                user=unquote(parts.username) if parts.username else None,
                                password=unquote(parts.password) if parts.password else None,
                                helo=helo, verify_tls=not _loopback(parts.hostname or ""))

    def send(self, return_path: str, recipient: str, data: bytes,
             hold: Hold | None = None) -> Outcome:
        """Relay one message."""
        return self.session.send(return_path, recipient, data, hold)

    def close(self) -> None:
        """Close the connection to the relay."""
        self.session.close()


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


class Direct(Transport):
    """Straight to each recipient domain's MX hosts (dnspython), opportunistic STARTTLS."""

    def __init__(self, helo: str, port: int = 25, nameserver: str = "") -> None:
        self.helo, self.port, self.nameserver = helo, port, nameserver
        self.sessions: dict[str, _Session] = {}

    def mx_hosts(self, domain: str) -> list[str]:
        """The domain's MX hosts by preference (the domain itself when it has none)."""
        import dns.exception
        import dns.resolver

        resolver = dns.resolver.Resolver(configure=not self.nameserver)
        if self.nameserver:
            host, _, port = self.nameserver.partition(":")
            resolver.nameservers = [host]
            resolver.port = int(port or 53)
        resolver.lifetime = 10.0
        try:
            answer = resolver.resolve(domain, "MX")
        except dns.resolver.NXDOMAIN:
            return []
        except dns.resolver.NoAnswer:
            return [domain]
        except dns.exception.DNSException:
            raise OSError(f"no MX answer for {domain}") from None
        records = sorted(answer, key=lambda r: r.preference)
        return [str(r.exchange).rstrip(".") for r in records]

    def send(self, return_path: str, recipient: str, data: bytes,
             hold: Hold | None = None) -> Outcome:
        """Try each MX host in order until one gives a definite answer."""
        domain = recipient.rpartition("@")[2].lower()
        try:
            hosts = self.mx_hosts(domain)
        except OSError as exc:
            return Outcome("temporary", 0, str(exc), "generic")
        if not hosts:
            return Outcome("permanent", 0, f"{domain} does not exist (NXDOMAIN)", "bounce")
        last = Outcome("temporary", 0, f"no MX host of {domain} answered", "generic")
        for host in hosts[:5]:
            session = self.sessions.get(host)
            if session is None:
                session = _Session(host, self.port, implicit_tls=False, user=None,
                                   password=None, helo=self.helo, verify_tls=False)
                self.sessions[host] = session
            last = session.send(return_path, recipient, data, hold)
            if last.status != "temporary" or last.code or _Session.held(hold):
                return last
        return last

    def close(self) -> None:
        """Close every MX connection."""
        for session in self.sessions.values():
            session.close()
        self.sessions.clear()


def helo_name(configured: str, base_domain: str) -> str:
    """The name Roost's SMTP client and server go by."""
    return configured or (base_domain if "." in base_domain else socket.getfqdn())
