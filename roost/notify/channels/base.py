"""The channel interface and the deliverer that routes a message to its channel."""

from __future__ import annotations

from abc import ABC, abstractmethod

import httpx

from roost.errors import DeliveryError


class Channel(ABC):
    """One way of reaching a person; ``send`` returns the provider's answer or raises."""

    identifier: str = ""

    @abstractmethod
    async def send(self, address: str, subject: str, body: str) -> str:
        """Deliver ``body`` to ``address``; raise DeliveryError(permanent=...) on failure."""

    async def aclose(self) -> None:
        """Release connections held by the channel."""
        return None


class Deliverer:
    """Routes messages to the SMS, email and Apprise channels configured for the platform."""

    def __init__(
        self, sms_url: str = "", smtp_url: str = "", *, timeout: float = 15.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        from roost.notify.channels.apprise_channel import AppriseChannel
        from roost.notify.channels.console import ConsoleChannel
        from roost.notify.channels.registry import open_channel

        self._own_client = client is None
        self.client = client or httpx.AsyncClient(timeout=timeout)
        self.channels: dict[str, Channel] = {"apprise": AppriseChannel()}
        for kind, url in (("sms", sms_url), ("email", smtp_url)):
            self.channels[kind] = open_channel(kind, url, self.client, timeout) if url \
                else ConsoleChannel(kind)

    def configured(self, channel: str) -> bool:
        """Whether ``channel`` reaches a real provider (not the console stand-in)."""
        impl = self.channels.get(channel)
        return impl is not None and impl.identifier != "console"

    async def send(self, channel: str, address: str, subject: str, body: str) -> str:
        """Send over ``channel``; a channel the platform lacks is a permanent failure."""
        impl = self.channels.get(channel)
        if impl is None:
            setting = {"sms": "ROOST_SMS_URL", "email": "ROOST_SMTP_URL"}.get(channel, channel)
            raise DeliveryError(f"no {channel} channel configured: set {setting}", permanent=True)
        return await impl.send(address, subject, body)

    async def aclose(self) -> None:
        """Close every channel and the shared HTTP client."""
        for impl in self.channels.values():
            await impl.aclose()
        if self._own_client:
            await self.client.aclose()

