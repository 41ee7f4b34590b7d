"""The embedded default channel: with no SMS or SMTP provider set, messages go to the console.

`roost up` prints them and writes them to its log, so a newcomer sees pages and alerts
without an account anywhere; setting ROOST_SMS_URL / ROOST_SMTP_URL replaces it.
"""

from __future__ import annotations

import logging
import sys

from roost.notify.channels.base import Channel

log = logging.getLogger("roost.notify.console")


class ConsoleChannel(Channel):
    """Prints each message with its would-be channel and address."""

    identifier = "console"

    def __init__(self, stands_for: str) -> None:
        self.stands_for = stands_for

    async def send(self, address: str, subject: str, body: str) -> str:
        """Print and log the message; always succeeds."""
        head = f"{subject} | " if subject else ""
        line = f"[roost notify] {self.stands_for} to {address}: {head}{body}"
        log.info(line)
        print(line, file=sys.stdout, flush=True)
        return f"console ({self.stands_for} provider not configured)"
