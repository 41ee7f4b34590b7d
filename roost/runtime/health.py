"""Readiness of a new process: a real HTTP request (or a TCP connect) to that process alone."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx

# One client for every check: building one per request costs ~20 ms of CPU (its SSL
# context), paid several times per new process exactly while a swap is under way. No
# keep-alive, so each check opens a connection of its own, as a client would.
_CLIENT = httpx.Client(trust_env=False, limits=httpx.Limits(max_keepalive_connections=0))


def check_once(address: str, path: str | None, host: str, timeout: float = 2.0) -> str | None:
    """None when healthy, else why not (one attempt)."""
    hostname, _, port = address.rpartition(":")
    if not path:
        try:
            with socket.create_connection((hostname, int(port)), timeout=timeout):
                return None
        except OSError as exc:
            return f"TCP connect to {address} failed: {exc.strerror or exc}"
    try:
        r = _CLIENT.get(f"http://{address}{path}", headers={"Host": host}, timeout=timeout)
    except httpx.HTTPError as exc:
        return f"GET {path} failed: {exc.__class__.__name__}"
    if r.status_code >= 400:
        return f"GET {path} answered {r.status_code}"
    return None


def wait_healthy(address: str, path: str | None, host: str, timeout: float,
                 alive: Callable[[], bool], interval: float = 0.1) -> str | None:
    """Poll until healthy (None), the process dies, or ``timeout``; return the last reason."""
    deadline = time.monotonic() + timeout
    reason = "no answer yet"
    while time.monotonic() < deadline:
        if not alive():
            return "the process exited before it became healthy"
        reason = check_once(address, path, host) or ""
        if not reason:
            return None
        time.sleep(interval)
    return f"not healthy within {timeout:.0f}s: {reason}"
