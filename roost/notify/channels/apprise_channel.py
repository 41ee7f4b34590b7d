"""Any Apprise URL (Slack, Telegram, ntfy, json://, ...) as a channel."""

from __future__ import annotations

import asyncio

import apprise

from roost.errors import DeliveryError
from roost.notify.channels.base import Channel


class AppriseChannel(Channel):
    """Delivers through Apprise; its bool answer is turned into our own delivery state."""

    identifier = "apprise"

    async def send(self, address: str, subject: str, body: str) -> str:
        """Notify one Apprise URL; an URL Apprise cannot parse is a permanent failure."""
        return await asyncio.to_thread(self._send, address, subject, body)

    @staticmethod
    def _send(address: str, subject: str, body: str) -> str:
        scheme = address.partition("://")[0]
        ap = apprise.Apprise()
        if not ap.add(address):
            raise DeliveryError(f"apprise cannot use URL scheme {scheme}://", permanent=True)
        # Apprise only says True/False; a False is most often a transient HTTP failure.
        if not ap.notify(body=body, title=subject or ""):
            raise DeliveryError(f"apprise {scheme}:// delivery failed", permanent=False)
        return f"apprise {scheme} accepted"
