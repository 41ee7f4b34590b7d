"""Channels by URL scheme (Apprise's way): a new channel is one module and one line here.

Each entry names the kind of address it reaches (``sms`` or ``email``) and a factory,
imported on first use, that opens the channel from its URL.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import httpx

from roost.errors import ConfigError
from roost.notify.channels.base import Channel

Factory = Callable[[str, httpx.AsyncClient, float], Channel]

SCHEMES: dict[str, tuple[str, str]] = {
    "twilio": ("sms", "roost.notify.channels.sms:from_url"),
    "smtp": ("email", "roost.notify.channels.email:from_url"),
    "smtps": ("email", "roost.notify.channels.email:from_url"),
    "roost": ("email", "roost.notify.channels.roostmail:from_url"),
}
SETTING = {"sms": "ROOST_SMS_URL", "email": "ROOST_SMTP_URL"}


def check(kind: str, url: str) -> str:
    """The scheme of ``url`` when it names a ``kind`` channel; a ConfigError otherwise."""
    scheme, sep, _ = url.partition("://")
    known = sorted(s for s, (k, _path) in SCHEMES.items() if k == kind)
    entry = SCHEMES.get(scheme) if sep else None
    if entry is None or entry[0] != kind:
        raise ConfigError(f"bad value for {SETTING.get(kind, kind)}: {scheme or url!r} is not "
                          f"a {kind} channel; known: {', '.join(s + '://…' for s in known)}")
    return scheme


def open_channel(kind: str, url: str, client: httpx.AsyncClient, timeout: float) -> Channel:
    """Open the ``kind`` channel that ``url`` names."""
    module, _, attr = SCHEMES[check(kind, url)][1].partition(":")
    factory: Factory = getattr(importlib.import_module(module), attr)
    return factory(url, client, timeout)
