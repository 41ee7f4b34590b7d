"""Host monitoring against real sshd test hosts: a filling disk emails the maintainers of
the host's apps, a host unreachable for two checks texts them; the 5-minute loop runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from roost.core import apps, maintainers
from roost.hosts import keys
from roost.notify import outbox
from roost.orchestration import hostflow, services
from tests.conftest import wait_for
from tests.hosts.sshhosts import TestHost


def _messages(ctx: Any) -> list[tuple[str, str, str]]:
    with ctx.sessions.begin() as s:
        return sorted((m.channel, m.address, m.subject) for m in outbox.messages(s, "host:"))


def test_full_disk_and_unreachable_host_alert_maintainers(
        local_platform: Any, make_host: Callable[..., TestHost],
        ssh_key: tuple[Path, str]) -> None:
    ctx = local_platform
    with ctx.sessions.begin() as s:
        apps.create(s, "shop", "t")
        maintainers.add(s, "shop", "Ada", "ada@example.com", "+15551230002", [], "t")
    host = make_host(disk="64m")
    hostflow.add(ctx, "t", "web1", f"ssh://root@{host.address}",
                 keys.scan(host.address, host.port).fingerprint, [], ssh_key[0].read_text(),
                 apps=["shop"])
    assert _messages(ctx) == []
    host.run("head -c 62M /dev/zero > /var/tmp/fill")
    [row] = hostflow.refresh(ctx)
    assert "disk" in row.conditions  # (security updates wait three days before alerting)
    assert _messages(ctx) == [("email", "ada@example.com",
                               "[roost] host web1: disk over 90% full")]
    hostflow.refresh(ctx)  # still full: the same episode, no second message
    assert len(_messages(ctx)) == 1

    host.stop_sshd()
    [row] = hostflow.refresh(ctx)
    assert not row.reachable and len(_messages(ctx)) == 1  # one failed check is not enough
    [row] = hostflow.refresh(ctx)
    assert ("sms", "+15551230002", "[roost] host web1: unreachable over SSH") in _messages(ctx)
    assert "cannot reach web1 over SSH" in row.last_error


def test_the_loop_refreshes_facts_and_tells_oncall_when_no_app_runs_there(
        local_platform: Any, make_host: Callable[..., TestHost],
        ssh_key: tuple[Path, str]) -> None:
    ctx = local_platform
    host = make_host(disk="64m")
    hostflow.add(ctx, "t", "db1", f"ssh://root@{host.address}",
                 keys.scan(host.address, host.port).fingerprint, ["db"],
                 ssh_key[0].read_text())
    host.run("head -c 62M /dev/zero > /var/tmp/fill")

    async def run() -> None:
        stop = await services.start_host_facts(ctx, every_s=3600, first_delay=0)
        try:
            await asyncio.to_thread(wait_for, lambda: _messages(ctx), 120)
        finally:
            await stop()

    asyncio.run(run())
    assert _messages(ctx) == [("email", "oncall@example.com",
                               "[roost] host db1: disk over 90% full")]
