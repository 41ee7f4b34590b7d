"""`roost notify test APP`: send a test message on every channel of every maintainer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from roost.errors import DeliveryError, NotFound
from roost.notify.channels import Deliverer
from roost.notify.recipients import Recipient, RecipientsFor


@dataclass(frozen=True)
class ChannelResult:
    """The outcome of one test message on one channel."""

    recipient: str
    channel: str
    address: str
    ok: bool
    detail: str


def mask(channel: str, address: str) -> str:
    """An address fit to show: Apprise URLs carry tokens, so only their scheme is kept."""
    if channel == "apprise":
        return address.partition("://")[0] + "://…"
    return address


async def send_test(
    app_name: str, recipients_for: RecipientsFor, deliverer: Deliverer,
) -> list[ChannelResult]:
    """Send a test message to each maintainer of ``app_name`` and report each channel."""
    people = recipients_for(app_name)
    if not people:
        raise NotFound(
            f"{app_name} has no maintainers; add one with "
            f"`roost maintainers add {app_name} --name NAME --phone +15550001111`"
        )
    body = f"Roost test for {app_name}: pages for this app will reach you here."

    async def one(person: Recipient, channel: str, address: str) -> ChannelResult:
        try:
            answer = await deliverer.send(channel, address, f"Roost test: {app_name}", body)
        except DeliveryError as exc:
            kind = "permanent" if exc.permanent else "temporary"
            return ChannelResult(person.name, channel, mask(channel, address), False,
                                 f"{kind} failure: {exc}")
        return ChannelResult(person.name, channel, mask(channel, address), True, answer)

    jobs = [one(p, c, a) for p in people for c, a in p.addresses(("sms", "email", "apprise"))]
    return list(await asyncio.gather(*jobs))
