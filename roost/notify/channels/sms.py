"""SMS providers behind one interface, chosen by URL scheme (``twilio://SID:TOKEN@FROM``)."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote

import httpx

from roost.errors import ConfigError, DeliveryError
from roost.notify.channels.base import Channel
from roost.notify.gsm import fit

TWILIO_API = "https://api.twilio.com"


class SmsProvider(Channel):
    """An SMS gateway: ``send(phone, subject, body)`` texts ``body`` to an E.164 number."""

    identifier = "sms"


class TwilioProvider(SmsProvider):
    """Twilio's Messages API: form POST of To/From/Body with basic auth."""

    identifier = "twilio"

    def __init__(
        self, sid: str, token: str, sender: str, client: httpx.AsyncClient,
        api_base: str = TWILIO_API,
    ) -> None:
        self.sid, self.token, self.sender = sid, token, sender
        self.client = client
        self.url = f"{api_base.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"

    async def send(self, address: str, subject: str, body: str) -> str:
        """Post one message; 4xx (but 429) is permanent, 5xx and network errors are not."""
        form = {"To": address, "From": self.sender, "Body": fit(body)}
        try:
            resp = await self.client.post(self.url, data=form, auth=(self.sid, self.token))
        except httpx.HTTPError as exc:
            raise DeliveryError(f"twilio: {type(exc).__name__}: {exc}", permanent=False) from exc
        text = resp.text[:500]
        if resp.status_code in (200, 201):
            try:
                sid = resp.json().get("sid")
            except ValueError:
                sid = None
            return f"twilio {resp.status_code} sid={sid}" if sid else f"twilio {resp.status_code}"
        permanent = 400 <= resp.status_code < 500 and resp.status_code != 429
        raise DeliveryError(f"twilio answered {resp.status_code}: {text}", permanent=permanent)


def sms_channel(url: str, client: httpx.AsyncClient) -> SmsProvider:
    """The SMS provider named by ``url``; ``?api=BASE`` points Twilio at another host."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(f"ROOST_SMS_URL {url!r} must look like twilio://SID:TOKEN@+15550001111")
    rest, _, query = rest.partition("?")
    params = {k: v[-1] for k, v in parse_qs(query).items()}
    if scheme == "twilio":
        creds, at, sender = rest.rpartition("@")
        sid, colon, token = creds.partition(":")
        if not (at and colon and sid and token and sender):
            raise ConfigError("ROOST_SMS_URL must look like twilio://SID:TOKEN@+15550001111")
        return TwilioProvider(
            unquote(sid), unquote(token), unquote(sender.rstrip("/")), client,
            params.get("api", TWILIO_API),
        )
    raise ConfigError(f"ROOST_SMS_URL: unknown SMS provider {scheme!r}; known: twilio")


def from_url(url: str, client: httpx.AsyncClient, _timeout: float) -> SmsProvider:
    """The registry's factory for SMS URLs."""
    return sms_channel(url, client)
