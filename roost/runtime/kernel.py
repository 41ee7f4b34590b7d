"""Kernel settings the router depends on, applied while it runs and restored afterwards.

Caddy binds a fresh listening socket (SO_REUSEPORT) on every configuration change and closes
the old one; connections still waiting in the old socket's accept queue are reset, unless
``net.ipv4.tcp_migrate_req`` is 1, which hands them to the new socket instead (Linux >= 5.14).
Measured with bench/hot_restart.py in port mode: 15 failed requests in 20 swaps without it,
4 with it (the rest are idle keep-alive connections Caddy closes on a reload).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("roost.router")
MIGRATE_REQ = Path("/proc/sys/net/ipv4/tcp_migrate_req")


def migrate_queued_connections(path: Path = MIGRATE_REQ) -> Callable[[], None]:
    """Set tcp_migrate_req to 1 when we may; return a function that restores the old value."""
    try:
        before = path.read_text().strip()
    except OSError:
        return lambda: None  # not Linux, or too old a kernel: nothing to do
    if before == "1":
        return lambda: None
    if os.geteuid() != 0:
        log.warning("net.ipv4.tcp_migrate_req is %s: a router reload may reset connections "
                    "waiting to be accepted; run `sysctl -w net.ipv4.tcp_migrate_req=1` as "
                    "root to prevent it", before)
        return lambda: None
    try:
        path.write_text("1")
    except OSError as exc:
        log.warning("could not set net.ipv4.tcp_migrate_req=1: %s", exc)
        return lambda: None

    def restore() -> None:
        try:
            path.write_text(before)
        except OSError as exc:
            log.warning("could not restore net.ipv4.tcp_migrate_req=%s: %s", before, exc)

    return restore
