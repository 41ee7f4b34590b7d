"""Email over SMTP (``smtp://user:pass@host:port?from=roost@example.com&starttls=1``)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from roost.errors import ConfigError, DeliveryError
from roost.notify.channels.base import Channel


class SmtpChannel(Channel):
    """Sends plain-text mail through one SMTP server (smtp://, smtps://)."""

    identifier = "email"

    def __init__(self, url: str, *, timeout: float = 15.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError(f"ROOST_SMTP_URL {url!r} must look like smtp://user:pass@host:587")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.host = parts.hostname
        self.port = parts.port or (465 if parts.scheme == "smtps" else 25)
        self.tls = parts.scheme == "smtps"
        self.starttls = query.get("starttls", "0") in ("1", "true", "yes")
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = query.get("from") or f"roost@{self.host}"
        self.timeout = timeout

    async def send(self, address: str, subject: str, body: str) -> str:
        """Send one mail; 5xx replies are permanent, 4xx and network errors temporary."""
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, address, subject or body[:60]
        msg.set_content(body)
        return await asyncio.to_thread(self._send, msg)

    def _send(self, msg: EmailMessage) -> str:
        try:
            cls = smtplib.SMTP_SSL if self.tls else smtplib.SMTP
            with cls(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password or "")
                refused = smtp.send_message(msg)
        except smtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.smtp_code < 600
            raise DeliveryError(f"smtp {exc.smtp_code}: {exc.smtp_error!r}",
                                permanent=permanent) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"smtp refused recipient: {exc.recipients}",
                                permanent=True) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"smtp: {type(exc).__name__}: {exc}", permanent=False) from exc
        if refused:
            raise DeliveryError(f"smtp refused: {refused}", permanent=True)
        return f"smtp {self.host}:{self.port} accepted"


def from_url(url: str, _client: httpx.AsyncClient, timeout: float) -> SmtpChannel:
    """The registry's factory for SMTP URLs."""
    return SmtpChannel(url, timeout=timeout)
