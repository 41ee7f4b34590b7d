"""Which addresses a monitor may reach: never link-local or cloud metadata, unless allowed.

A monitor makes requests from the platform's own network position, so a target on the
cloud metadata service (``169.254.169.254``, ``fd00:ec2::254``) or any link-local address
would hand a monitor's author the host's cloud credentials. Those are refused when the
monitor is added and again by the probe, on the address it actually connected to (a name
may resolve differently at check time). Private ranges (10/8, 172.16/12, 192.168/16,
127/8) stay allowed: a self-hosted platform monitors its own network. Set
``ROOST_MONITOR_ALLOW_PRIVATE=true`` to allow link-local targets too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from roost.errors import InvalidInput
from roost.monitor.uptime.display import host_of

SETTING = "ROOST_MONITOR_ALLOW_PRIVATE"
REFUSED = tuple(ipaddress.ip_network(n) for n in (
    "169.254.0.0/16",  # IPv4 link-local, including 169.254.169.254 (AWS, GCP, Azure, ...)
    "fe80::/10",  # IPv6 link-local
    "fd00:ec2::254/128",  # the AWS metadata service over IPv6
))
# Names of metadata services, refused even where they do not resolve (off their cloud).
METADATA_NAMES = {"metadata.google.internal", "metadata.goog", "instance-data",
                  "instance-data.ec2.internal"}


class RefusedAddress(InvalidInput):
    """A monitor target is, or resolves to, a link-local or metadata address."""


def is_refused(address: str) -> bool:
    """Whether ``address`` (an IP, possibly IPv4-mapped IPv6) is link-local or metadata."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in REFUSED)


def is_literal(host: str) -> bool:
    """Whether ``host`` is an IP address written out (nothing to resolve)."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def refusal(host: str, address: str) -> RefusedAddress:
    """The error for a target ``host`` that reaches ``address``."""
    via = "" if host == address else f" resolves to {address}, which"
    return RefusedAddress(
        f"monitor target {host}{via} is a link-local or cloud metadata address; "
        f"set {SETTING}=true to allow it")


def check_name(host: str) -> None:
    """Refuse a known metadata service name or a link-local address literal (no lookup)."""
    name = host.lower().rstrip(".")
    if name in METADATA_NAMES:
        raise RefusedAddress(f"monitor target {name} is a cloud metadata service; "
                             f"set {SETTING}=true to allow it")
    if is_refused(host):
        raise refusal(host, host)


def check(host: str, addresses: list[str]) -> None:
    """Raise :class:`RefusedAddress` if ``host`` or any of its ``addresses`` is refused."""
    check_name(host)
    for address in addresses:
        if is_refused(address):
            raise refusal(host, address)


def resolve(host: str) -> list[str]:
    """Every address ``host`` resolves to now (none when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []  # a name that does not resolve yet is checked again by the probe
    return [str(info[4][0]) for info in infos]


def check_target(kind: str, target: str, allow_private: bool) -> None:
    """At `monitors add`: refuse a target on a link-local or metadata address."""
    if allow_private:
        return
    host = host_of(kind, target)
    if host:
        check_name(host)  # before asking any resolver about it
        check(host, resolve(host))


async def check_peer(host: str, port: int, allow_private: bool) -> list[str]:
    """At check time: the addresses to connect to for ``host``, refused ones raising."""
    if not allow_private:
        check_name(host)
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    addresses = [str(info[4][0]) for info in infos]
    if not allow_private:
        check(host, addresses)
    return addresses


def tracer(allow_private: bool) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    """An httpcore trace hook that refuses a connection to a link-local or metadata peer.

    It runs once the TCP connection is up and before anything is sent, on the address
    actually connected to, so neither DNS rebinding nor a redirect gets past it.
    """
    async def trace(event: str, info: dict[str, Any]) -> None:
        if allow_private or event != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        if stream is None:
            return
        peer = stream.get_extra_info("server_addr")
        if peer and is_refused(str(peer[0])):
            await stream.aclose()
            raise refusal(str(info.get("host", peer[0])), str(peer[0]))

    return trace
