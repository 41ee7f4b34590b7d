"""Event webhooks in Mailgun's format and signed as Mailgun signs them, from their own queue.

The body is ``{"signature": {"timestamp", "token", "signature"}, "event-data": {...}}``
where ``signature`` is the hex HMAC-SHA256 of ``timestamp + token`` under the domain's
webhook signing key. A non-2xx answer is retried on Mailgun's schedule; 406 stops retries.
Webhooks go out from their own loop, so a slow endpoint never slows delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from roost.core.secrets import Cipher
from roost.mail import domains, writes
from roost.store.base import utcnow
from roost.store.models.mail import MailDomain, MailEvent, MailMessage

log = logging.getLogger("roost.mail.webhooks")
RETRIES = (600, 600, 900, 1800, 3600, 7200, 14400)  # Mailgun's schedule, seconds
LOG_LEVELS = {"delivered": "info", "failed": "error", "bounced": "error",
              "complained": "warn", "unsubscribed": "info"}


def signature(signing_key: str, timestamp: str, token: str) -> str:
    """Mailgun's webhook signature: hex HMAC-SHA256 of timestamp + token."""
    return hmac.new(signing_key.encode(), (timestamp + token).encode(),
                    hashlib.sha256).hexdigest()


def event_data(event: MailEvent, message: MailMessage | None) -> dict[str, Any]:
    """The ``event-data`` object Mailgun sends for ``event``."""
    kind, severity = event.event, event.severity
    if kind == "bounced":  # Mailgun reports bounces as permanent failures
        kind, severity = "failed", "permanent"
    data: dict[str, Any] = {
        "id": event.event_id, "event": kind, "timestamp": event.created_at.timestamp(),
        "log-level": LOG_LEVELS.get(event.event, "info"), "recipient": event.recipient,
        "recipient-domain": event.recipient.rpartition("@")[2],
        "tags": list(message.tags) if message else [],
        "user-variables": dict(message.variables) if message else {},
        "flags": {"is-test-mode": bool(message and message.testmode)},
    }
    if kind == "failed":
        data["severity"] = severity
        data["reason"] = event.reason or "generic"
    if kind in ("delivered", "failed"):
        data["delivery-status"] = {"code": event.code, "message": event.detail,
                                   "description": event.detail, "attempt-no": event.attempt}
    if message is not None:
        data["message"] = {"headers": {"message-id": message.message_id.strip("<>"),
                                       "from": message.sender, "subject": message.subject,
                                       "to": event.recipient},
                           "size": message.size}
        data["envelope"] = {"sender": message.sender, "targets": event.recipient,
                            "transport": "smtp"}
    return data


def body(event: MailEvent, message: MailMessage | None, signing_key: str,
         now: float | None = None) -> dict[str, Any]:
    """The whole signed webhook body."""
    timestamp, token = str(int(now or time.time())), secrets.token_hex(25)
    return {"signature": {"timestamp": timestamp, "token": token,
                          "signature": signature(signing_key, timestamp, token)},
            "event-data": event_data(event, message)}


def check_url(url: str) -> str:
    """``url`` when it is an http(s) URL; a clear refusal otherwise."""
    from urllib.parse import urlsplit

    from roost.errors import InvalidInput

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"webhook {url!r} must be an http:// or https:// URL")
    return url


class Sender:
    """Claims due webhook deliveries and posts them; ``allow`` vets each URL at send time."""

    def __init__(self, sessions: sessionmaker[Session], cipher: Cipher,
                 allow: Callable[[str], str | None], *, timeout: float = 10.0) -> None:
        self.sessions, self.cipher, self.allow = sessions, cipher, allow
        self.client = httpx.Client(timeout=timeout, follow_redirects=False)

    def claim(self, now: datetime, limit: int = 20) -> list[int]:
        """Lease up to ``limit`` due webhook deliveries."""
        free = or_(MailEvent.hook_lease_until.is_(None), MailEvent.hook_lease_until < now)
        due = (MailEvent.hook_status == "pending", MailEvent.hook_next_at <= now, free)
        with writes.writing(self.sessions) as session:
            pick = select(MailEvent.id).where(*due).order_by(MailEvent.id).limit(limit)
            if session.get_bind().dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            ids = list(session.scalars(pick))
            if not ids:
                return []
            session.execute(update(MailEvent).where(MailEvent.id.in_(ids), *due)
                            .values(hook_lease_until=now + timedelta(seconds=60)))
        return ids

    def run_once(self, now: datetime | None = None) -> int:
        """Post every due webhook once; return how many were tried."""
        now = now or utcnow()
        ids = self.claim(now)
        for event_pk in ids:
            self._post(event_pk, now)
        return len(ids)

    def _post(self, event_pk: int, now: datetime) -> None:
        with self.sessions.begin() as session:
            event = session.get(MailEvent, event_pk)
            if event is None:
                return
            message = session.get(MailMessage, event.message_pk) if event.message_pk else None
            row = session.scalar(select(MailDomain).where(MailDomain.app == event.app))
            url = row.webhook_url if row else ""
            payload = body(event, message, domains.sender(self.cipher, row).signing_key) \
                if row and url else None
        status, error = self._send(url, payload)
        with writes.writing(self.sessions) as session:
            event = session.get(MailEvent, event_pk)
            if event is None:
                return
            event.hook_lease_until = None
            event.hook_attempts += 1
            event.hook_error = error
            if status == "retry" and event.hook_attempts > len(RETRIES):
                status, event.hook_error = "stopped", f"gave up after {event.hook_attempts} " \
                                           f"tries; the last: {error}"
            if status == "retry":
                event.hook_next_at = now + timedelta(seconds=RETRIES[event.hook_attempts - 1])
            else:
                event.hook_status = status

    def _send(self, url: str, payload: dict[str, Any] | None) -> tuple[str, str]:
        if payload is None:
            return "stopped", "the app has no webhook any more"
        refusal = self.allow(url)
        if refusal:
            return "stopped", refusal
        try:
            answer = self.client.post(url, content=json.dumps(payload),
                                      headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            return "retry", f"{type(exc).__name__}: {exc}"
        if 200 <= answer.status_code < 300:
            return "sent", ""
        if answer.status_code == 406:
            return "stopped", "406 Not Acceptable: the endpoint asked for no retries"
        return "retry", f"HTTP {answer.status_code}"

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()
