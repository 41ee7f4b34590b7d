"""Start-up checks that the addresses Roost is about to listen on are free.

Caddy binds with ``SO_REUSEPORT``, so a second Roost started on the router port of a first
one would not fail: the kernel would silently share the port and send part of the first
platform's traffic to the second. So before anything listens, each address is bound once
by a plain socket (``SO_REUSEADDR`` only, so connections in TIME_WAIT from a previous run do
not count): if that fails, someone else is there and start-up stops, naming the setting.
"""

from __future__ import annotations

import errno
import socket

from roost.errors import ConfigError


def split(address: str) -> tuple[str, int]:
    """``host:port`` (or ``[v6]:port``) as a (host, port) pair; an empty host means all."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def ensure_free(address: str, setting: str) -> None:
    """Raise ConfigError naming ``setting`` when ``address`` is already taken."""
    bound_socket(address, setting).close()


def bound_socket(address: str, setting: str) -> socket.socket:
    """A socket bound (not yet listening) to ``address``, which holds the port from now on;
    ConfigError naming ``setting`` when the address is taken or cannot be used."""
    host, port = split(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only
    # on connections whose socket says TCP, and with it on, an answer written in two pieces
    # waits for the client's delayed ACK, 40 ms a request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} ({address}) is already in use, perhaps by another Roost on "
                f"this host: set {setting} to a free address") from exc
        raise ConfigError(f"cannot listen on {address} ({setting}): "
                          f"{exc.strerror or exc}") from exc
    return sock
