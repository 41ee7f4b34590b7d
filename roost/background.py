"""Background loops that survive a failed pass: every service of `roost up` runs its
periodic work through :func:`every`, so one error is logged and the next pass still runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("roost.background")


async def every(period: float, stop: asyncio.Event, job: Callable[[], Awaitable[None]],
                name: str, *, first_delay: float = 0.0) -> None:
    """Run ``job`` every ``period`` seconds until ``stop`` is set; log and go on after errors."""
    if first_delay:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), first_delay)
    while not stop.is_set():
        try:
            await job()
        except Exception:  # one failed pass must not end the loop
            log.exception("%s failed", name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), period)
