"""Email through Roost's own mail queue (``ROOST_SMTP_URL=roost://alerts@ops.example.com``).

The platform's own mail (alerts, reports) then takes the path apps' mail takes: the durable
queue, DKIM signing for the sender's domain, the relay, events and bounces, so a bounced
alert shows next to its maintainer. `roost up` connects the channel to the queue when its
mail service starts (:func:`install`); before that a send is a temporary failure and the
outbox retries it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

import httpx

from roost.errors import ConfigError, DeliveryError
from roost.notify.channels.base import Channel

# (sender, address, subject, body) -> Message-ID; set by `roost up`'s mail service.
Submit = Callable[[str, str, str, str], str]
_submit: list[Submit] = []


def install(submit: Submit | None) -> None:
    """Connect (or, with None, disconnect) the channel to the mail queue."""
    _submit.clear()
    if submit is not None:
        _submit.append(submit)


def sender_of(url: str) -> str:
    """The sender address a ``roost://ADDRESS`` URL names."""
    parts = urlsplit(url)
    sender = unquote(f"{parts.username}@{parts.hostname}") if parts.username else ""
    if parts.scheme != "roost" or "@" not in sender or not parts.hostname \
            or "." not in parts.hostname:
        raise ConfigError(f"ROOST_SMTP_URL {url!r} must look like roost://alerts@ops.example.com")
    return sender


class QueueChannel(Channel):
    """Hands mail to Roost's own mail queue."""

    identifier = "email"

    def __init__(self, url: str) -> None:
        self.sender = sender_of(url)

    async def send(self, address: str, subject: str, body: str) -> str:
        """Queue one message; the queue retries and records what happens to it."""
        if not _submit:
            raise DeliveryError("Roost's mail service is not running yet", permanent=False)
        message_id = await asyncio.to_thread(_submit[0], self.sender, address, subject, body)
        return f"queued as {message_id}"


def from_url(url: str, _client: httpx.AsyncClient, _timeout: float) -> QueueChannel:
    """The registry's factory for ``roost://`` URLs."""
    return QueueChannel(url)
