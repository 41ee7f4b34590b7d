"""The address rules of monitor targets, and the connect-time hook that applies them."""

from __future__ import annotations

import asyncio

import pytest

from roost.monitor.uptime import addresses


@pytest.mark.parametrize(("address", "refused"), [
    ("169.254.169.254", True), ("169.254.0.1", True), ("fe80::1", True), ("fe80::1%eth0", True),
    ("fd00:ec2::254", True), ("::ffff:169.254.169.254", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("192.168.0.1", False), ("172.16.0.1", False),
    ("fd00:ec2::253", False), ("8.8.8.8", False), ("db.internal", False),
])
def test_refused_addresses(address: str, refused: bool) -> None:
    assert addresses.is_refused(address) is refused


class Stream:
    """The part of an httpcore network stream the hook reads: the peer and aclose()."""

    def __init__(self, peer: str) -> None:
        self.peer, self.closed = peer, False

    def get_extra_info(self, name: str) -> object:
        return (self.peer, 80) if name == "server_addr" else None

    async def aclose(self) -> None:
        self.closed = True


def test_connect_hook_refuses_a_name_that_now_points_at_metadata() -> None:
    """DNS rebinding: the name passed the check at add time, then resolved elsewhere."""
    hook = addresses.tracer(allow_private=False)
    rebound = Stream("169.254.169.254")
    with pytest.raises(addresses.RefusedAddress, match="rebind.example resolves to 169.254"):
        asyncio.run(hook("connection.connect_tcp.complete",
                         {"host": "rebind.example", "return_value": rebound}))
    assert rebound.closed  # nothing was sent on it
    fine = Stream("10.0.0.7")
    asyncio.run(hook("connection.connect_tcp.complete", {"host": "db", "return_value": fine}))
    asyncio.run(addresses.tracer(allow_private=True)(
        "connection.connect_tcp.complete", {"host": "x", "return_value": rebound}))
    assert not fine.closed
