"""Ask a zone's authoritative servers (dnspython) whether they answer with a record yet.

The servers are the zone's ``nameservers`` option (``host[:port]``, e.g. a PowerDNS on an
unprivileged port) or else the zone's NS records, resolved once, on port 53. A record is
live when every server answers with exactly the values expected.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from roost.errors import InvalidInput

Server = tuple[str, int]


def parse_servers(option: str) -> list[Server]:
    """``"127.0.0.1:5300, ns1.example.net"`` as (address, port) pairs."""
    out: list[Server] = []
    for item in (p.strip() for p in option.split(",")):
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if sep and port.isdigit() and "]" not in port:
            out.append((host.strip("[]"), int(port)))
        else:
            out.append((item.strip("[]"), 53))
    return out


def resolve(servers: list[Server]) -> list[Server]:
    """Each server by address (a host name resolved with the system resolver)."""
    found: list[Server] = []
    for host, port in servers:
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_UDP)
        except (socket.gaierror, UnicodeError) as exc:
            raise InvalidInput(f"the zone's name server {host} does not resolve: {exc}") from exc
        found.append((str(infos[0][4][0]), port))
    return found


def _normal(value: str) -> str:
    return value.strip().lower().rstrip(".")


def answers(server: Server, fqdn: str, kind: str, timeout: float = 2.0) -> list[str]:
    """What ``server`` answers for ``fqdn`` ``kind`` (empty on no answer or no reply)."""
    import dns.exception
    import dns.message
    import dns.query
    import dns.rdatatype

    query = dns.message.make_query(fqdn.rstrip(".") + ".", dns.rdatatype.from_text(kind))
    try:
        reply = dns.query.udp(query, server[0], port=server[1], timeout=timeout)
    except (dns.exception.DNSException, OSError):
        return []
    wanted = dns.rdatatype.from_text(kind)
    return sorted(_normal(rr.to_text()) for rrset in reply.answer if rrset.rdtype == wanted
                  for rr in rrset)


def answering(servers: list[Server], fqdn: str, kind: str, expected: list[str]) -> bool:
    """Whether every server answers with exactly ``expected``."""
    want = sorted(_normal(v) for v in expected)
    return bool(servers) and all(answers(s, fqdn, kind) == want for s in servers)


def wait(servers: list[Server], fqdn: str, kind: str, expected: list[str], timeout: float,
         interval: float = 0.5, clock: Callable[[], float] = time.monotonic) -> bool:
    """Poll until every server answers with ``expected``, or ``timeout`` seconds pass."""
    deadline = clock() + timeout
    while True:
        if answering(servers, fqdn, kind, expected):
            return True
        if clock() >= deadline:
            return False
        time.sleep(interval)
