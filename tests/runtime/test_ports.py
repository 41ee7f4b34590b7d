"""The ports Roost listens on: checked free before anything starts, and served without
Nagle's algorithm."""

from __future__ import annotations

import asyncio
import socket

import pytest

from roost.errors import ConfigError
from roost.runtime.ports import bound_socket, ensure_free


def test_a_taken_port_is_refused_even_when_its_holder_shares_it() -> None:
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as Caddy binds
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    address = f"127.0.0.1:{holder.getsockname()[1]}"
    with pytest.raises(ConfigError, match=f"{address}.*ROOST_ROUTER_LISTEN"):
        ensure_free(address, "ROOST_ROUTER_LISTEN")
    holder.close()
    ensure_free(address, "ROOST_ROUTER_LISTEN")  # free again: no complaint


def test_connections_to_the_api_socket_send_without_waiting_for_acks() -> None:
    """`roost up` serves its API on a socket it bound itself (asyncio's create_server with
    sock=): its connections must have Nagle's algorithm off, or every answer written in two
    pieces waits for the client's delayed ACK (it cut the mail API to 190 messages/s)."""
    listener = bound_socket("127.0.0.1:0", "ROOST_LISTEN")
    port = listener.getsockname()[1]

    async def accepted_nodelay() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def on_connect(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=listener)
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            value = await asyncio.wait_for(seen, 10)
            writer.close()
        return value

    assert asyncio.run(accepted_nodelay()) != 0
