"""Each app's upstream addresses, served to Caddy as DNS SRV records from 127.0.0.1.

Any change to Caddy's configuration is a full reload: Caddy binds new listening sockets and
closes idle client keep-alive connections, and a client that sends on one at that instant
gets no answer. Switching upstreams is the most frequent change (every port-mode deploy,
scale and crash), so it does not go through the configuration at all: each app's route uses
Caddy's ``srv`` dynamic upstreams, looked up (at most every ``refresh``) from this small
resolver, and only host names or an app going to or from zero processes reload Caddy.

Names: ``<app label>.up.roost.`` answers SRV records whose targets are
``<a-b-c-d>.ip.roost.``, which answer A records for the address a.b.c.d. Anything else
is NXDOMAIN; AAAA queries for our names get an empty answer so dialing stays on IPv4.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import struct
import threading

log = logging.getLogger("roost.router")
ZONE = "roost"
SRV, A, AAAA = 33, 1, 28
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def app_name(app: str) -> str:
    """The SRV name Caddy looks up for an app (without the final dot)."""
    label = app.lower()
    if not _LABEL.fullmatch(label):
        label = "x" + app.encode().hex()[:60]
    return f"{label}.up.{ZONE}"


def _encode(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def _question(packet: bytes) -> tuple[str, int, int] | None:
    """(name, qtype, end offset of the question) of a query, None when malformed."""
    if len(packet) < 12 or struct.unpack("!H", packet[4:6])[0] != 1:
        return None
    i, labels = 12, []
    while i < len(packet) and packet[i]:
        size = packet[i]
        if size > 63 or i + 1 + size > len(packet):
            return None
        labels.append(packet[i + 1 : i + 1 + size].decode("ascii", "replace"))
        i += 1 + size
    if i + 5 > len(packet):
        return None
    qtype = struct.unpack("!H", packet[i + 1 : i + 3])[0]
    return ".".join(labels).lower(), qtype, i + 5


class UpstreamResolver:
    """A UDP DNS responder for the router's upstream lists; runs in a daemon thread."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, 0))
        self._records: dict[str, list[tuple[str, int]]] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="upstream-dns")
        self._thread.start()

    @property
    def address(self) -> str:
        """``udp/host:port`` as Caddy's resolver settings want it."""
        host, port = self._sock.getsockname()[:2]
        return f"udp/{host}:{port}"

    def set(self, app: str, upstreams: list[str]) -> None:
        """Publish ``upstreams`` (host:port, IPv4) for ``app``."""
        parsed = []
        for upstream in upstreams:
            host, _, port = upstream.rpartition(":")
            parsed.append((str(ipaddress.IPv4Address(host)), int(port)))
        with self._lock:
            self._records[app_name(app)] = parsed

    def remove(self, app: str) -> None:
        """Forget an app's records."""
        with self._lock:
            self._records.pop(app_name(app), None)

    def close(self) -> None:
        """Stop answering."""
        self._sock.close()

    def answer(self, packet: bytes) -> bytes | None:
        """The response to one query packet (None: ignore it)."""
        question = _question(packet)
        if question is None:
            return None
        name, qtype, end = question
        answers: list[bytes] = []
        known = True
        if name.endswith(".ip." + ZONE):
            try:
                ip = ipaddress.IPv4Address(name.removesuffix(".ip." + ZONE).replace("-", "."))
            except ValueError:
                known = False
            else:
                if qtype == A:
                    answers.append(struct.pack("!HHHIH", 0xC00C, A, 1, 0, 4) + ip.packed)
        else:
            with self._lock:
                records = self._records.get(name)
            known = records is not None
            if records and qtype == SRV:
                for ip_text, port in records:
                    target = _encode(f"{ip_text.replace('.', '-')}.ip.{ZONE}")
                    rdata = struct.pack("!HHH", 10, 10, port) + target
                    answers.append(struct.pack("!HHHIH", 0xC00C, SRV, 1, 0, len(rdata)) + rdata)
        qid = struct.unpack("!H", packet[:2])[0]
        flags = 0x8400 | 0x0100 | (0 if known else 3)  # response, authoritative, RD; NXDOMAIN
        header = struct.pack("!HHHHHH", qid, flags, 1, len(answers), 0, 0)
        return header + packet[12:end] + b"".join(answers)

    def _serve(self) -> None:
        while True:
            try:
                packet, peer = self._sock.recvfrom(512)
            except OSError:
                return  # closed
            try:
                reply = self.answer(packet)
            except Exception:  # noqa: BLE001  one bad packet must not stop the resolver
                log.exception("upstream resolver failed on a query")
                continue
            if reply is not None:
                try:
                    self._sock.sendto(reply, peer)
                except OSError:
                    return  # closed while answering
