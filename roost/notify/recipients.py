"""Who receives a message, and over which channels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# The lead connects these to the store: maintainers of an app, and the platform's on-call.
RecipientsFor = Callable[[str], "list[Recipient]"]
OnCall = Callable[[], "list[Recipient]"]

PAGE_CHANNELS = ("sms", "apprise")
MAIL_CHANNELS = ("email", "apprise")


@dataclass(frozen=True)
class Recipient:
    """A person to notify: a maintainer of an app or an on-call contact."""

    key: str
    name: str
    email: str | None = None
    phone: str | None = None
    notify_urls: list[str] = field(default_factory=list)

    def addresses(self, channels: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
        """(channel, address) pairs this person can be reached at among ``channels``.

        When none of the asked channels reaches the person, falls back to any channel that
        does, so a page is never dropped because someone has no phone.
        """
        pairs = self._pairs(channels)
        return pairs or self._pairs(("sms", "email", "apprise"))

    def _pairs(self, channels: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        for channel in channels:
            if channel == "sms" and self.phone:
                pairs.append(("sms", self.phone))
            elif channel == "email" and self.email:
                pairs.append(("email", self.email))
            elif channel == "apprise":
                pairs.extend(("apprise", url) for url in self.notify_urls)
        return pairs
