"""`roost probe`: run checks from another location and report to the control plane."""

from __future__ import annotations

import asyncio

import httpx

from roost.monitor.uptime.backends import HttpBackend
from roost.monitor.uptime.scheduler import ProbeRunner


async def run_probe(
    client: httpx.AsyncClient, name: str, api_url: str, token: str, stop: asyncio.Event, *,
    concurrency: int = 200, flush_s: float = 1.0, refresh_s: float = 10.0,
    heartbeat_s: float = 5.0,
) -> ProbeRunner:
    """Run a remote probe until ``stop`` is set; ``client`` talks to the control plane.

    The probe claims its share of monitors every ``refresh_s``, reports results (or a
    heartbeat) every ``flush_s``, and runs re-checks the control plane asks for at once.
    """
    runner = ProbeRunner(name, HttpBackend(client, api_url, name, token),
                         concurrency=concurrency, flush_s=flush_s, refresh_s=refresh_s,
                         heartbeat_s=heartbeat_s)
    await runner.run(stop)
    return runner
