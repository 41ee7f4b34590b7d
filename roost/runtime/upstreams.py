"""Each app's upstream addresses, served to Caddy as DNS SRV records from 127.0.0.1.

Any change to Caddy's configuration is a full reload: Caddy binds new listening sockets and
closes idle client keep-alive connections, and a client that sends on one at that instant
gets no answer. Switching upstreams is the most frequent change (every port-mode deploy,
scale and crash), so it does not go through the configuration at all: each app's route uses
Caddy's ``srv`` dynamic upstreams, looked up (at most every ``refresh``) from this small
resolver. Host names go the same way: the router has one route for every app, whose
upstream name is the request's host under ``h.roost.``, so a new app, a new domain or an app
going to or from zero processes changes no configuration and reloads nothing.

The responder runs in a small process of its own (``python -m roost.runtime.upstreams``):
Caddy refreshes a list while holding a lock that every request to the app waits on, so the
answer must come at once, never behind the busy supervisor's GIL. The parent sends it each
list change as a JSON line on its stdin and waits for the acknowledgement. That pipe is the
only way to change the records: the UDP port only answers queries, so an app may look names
up (harmless) but never change them. When Roost runs as root the responder binds its port,
then gives up root for the router's user before it reads anything. When the parent
goes away (stdin closes), the responder goes on answering with the last lists for as long as
the Caddy it serves runs, so a crash of Roost does not take the apps offline; the next start
of Roost stops both (runtime/service.py). Caddy also keeps its last lists if lookups fail
(``grace_period`` in router.py).

Names: ``<host>.h.roost.`` answers the SRV records of the app serving that host name: its
processes, the router's "unavailable" page when it has none, or the router's "no app here"
page for a host no app serves (the two fallbacks are loopback servers of Caddy's own).
``<app label>.up.roost.`` answers an app's SRV records directly. SRV targets are
``<a-b-c-d>.ip.roost.``, which answer A records for the address a.b.c.d. Anything else
is NXDOMAIN; AAAA queries for our names get an empty answer so dialing stays on IPv4.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import selectors
import socket
import struct
import subprocess
import sys
import threading

from roost.errors import RuntimeFailure

log = logging.getLogger("roost.router")
ZONE = "roost"
SRV, A, AAAA = 33, 1, 28
HOSTS = "h." + ZONE
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def app_name(app: str) -> str:
    """The SRV name Caddy looks up for an app (without the final dot)."""
    label = app.lower()
    if not _LABEL.fullmatch(label):
        label = "x" + app.encode().hex()[:60]
    return f"{label}.up.{ZONE}"


def host_lookup_name(host_placeholder: str) -> str:
    """The SRV name Caddy looks up for a request's host (``host_placeholder`` is Caddy's
    placeholder for it, or a literal host name)."""
    return f"{host_placeholder}.{HOSTS}"


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


class UpstreamTable:
    """The records, and the DNS answers built from them."""

    def __init__(self) -> None:
        self.records: dict[str, list[tuple[str, int]]] = {}
        self.hosts: dict[str, str] = {}  # host name -> app name (as in ``records``)
        self.fallback: dict[str, tuple[str, int]] = {}  # "unknown" / "unavailable" servers

    def apply(self, command: dict[str, object]) -> None:
        """Apply one change: ``{"set": name, "records": [[ip, port], ...]}``,
        ``{"hosts": name, "names": [host, ...]}``, ``{"remove": name}`` or
        ``{"fallback": {"unknown": [ip, port], "unavailable": [ip, port]}}``."""
        if "set" in command:
            rows = command.get("records") or []
            assert isinstance(rows, list)
            self.records[str(command["set"])] = [(str(ip), int(port)) for ip, port in rows]
        elif "hosts" in command:
            name, names = str(command["hosts"]), command.get("names") or []
            assert isinstance(names, list)
            self.hosts = {h: a for h, a in self.hosts.items() if a != name}
            self.hosts.update({str(host).lower(): name for host in names})
        elif "fallback" in command:
            pages = command["fallback"]
            assert isinstance(pages, dict)
            self.fallback = {str(k): (str(v[0]), int(v[1])) for k, v in pages.items()}
        else:
            name = str(command.get("remove"))
            self.records.pop(name, None)
            self.hosts = {h: a for h, a in self.hosts.items() if a != name}

    def lookup(self, name: str) -> list[tuple[str, int]] | None:
        """The SRV targets (ip, port) of ``name``; None when the name does not exist."""
        if name.endswith("." + HOSTS):
            app = self.hosts.get(name.removesuffix("." + HOSTS))
            records = self.records.get(app) if app is not None else None
            page = self.fallback.get("unknown" if app is None else "unavailable")
            if records:
                return records
            return [page] if page is not None else None
        return self.records.get(name)

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
            records = self.lookup(name)
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


class UpstreamResolver:
    """Runs the responder process and sends it every upstream list change."""

    def __init__(self, host: str = "127.0.0.1", ids: tuple[int, int] | None = None) -> None:
        argv = [sys.executable, "-m", "roost.runtime.upstreams", host]
        if ids is not None:  # (uid, gid) to switch to once bound
            argv.append(f"{ids[0]}:{ids[1]}")
        self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      start_new_session=True)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in, self._out = self._proc.stdin, self._proc.stdout
        first = self._out.readline().decode().strip()
        if not first.isdigit():
            raise RuntimeFailure(f"the router's upstream resolver did not start ({first!r})")
        self._address = f"udp/{host}:{first}"
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        """``udp/host:port`` as Caddy's resolver settings want it."""
        return self._address

    @property
    def pid(self) -> int:
        """The responder process's id (it leads its own session)."""
        return self._proc.pid

    def watch(self, pid: int) -> None:
        """Keep answering after Roost is gone for as long as process ``pid`` (Caddy) runs."""
        self._send({"watch": pid})

    def set(self, app: str, upstreams: list[str]) -> None:
        """Publish ``upstreams`` (host:port, IPv4) for ``app``; served once this returns."""
        parsed = []
        for upstream in upstreams:
            host, _, port = upstream.rpartition(":")
            parsed.append([str(ipaddress.IPv4Address(host)), int(port)])
        self._send({"set": app_name(app), "records": parsed})

    def set_hosts(self, app: str, hosts: list[str]) -> None:
        """Serve ``hosts`` (host names) from ``app``; served once this returns."""
        self._send({"hosts": app_name(app), "names": sorted({h.lower() for h in hosts})})

    def set_fallback(self, unknown: str, unavailable: str) -> None:
        """Where host names no app serves (``unknown``) and apps without processes
        (``unavailable``) are sent: the router's own pages, as ``ip:port``."""
        pages = {}
        for kind, address in (("unknown", unknown), ("unavailable", unavailable)):
            host, _, port = address.rpartition(":")
            pages[kind] = [str(ipaddress.IPv4Address(host)), int(port)]
        self._send({"fallback": pages})

    def remove(self, app: str) -> None:
        """Forget an app's records and host names."""
        self._send({"remove": app_name(app)})

    def close(self) -> None:
        """Stop answering."""
        with self._lock:
            if self._proc.poll() is None:
                self._in.close()
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._out.close()

    def _send(self, command: dict[str, object]) -> None:
        with self._lock:
            try:
                self._in.write(json.dumps(command).encode() + b"\n")
                self._in.flush()
                ack = self._out.readline()
            except (OSError, ValueError) as exc:
                raise RuntimeFailure(f"the router's upstream resolver is gone: {exc}") from exc
            if ack != b"ok\n":
                raise RuntimeFailure("the router's upstream resolver stopped answering")


def serve(sock: socket.socket, commands: int, out: int) -> None:
    """Answer queries on ``sock`` and apply the JSON-line changes read from fd ``commands``
    (acknowledging each on fd ``out``); once ``commands`` closes, go on only while the
    watched process runs."""
    table = UpstreamTable()
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(commands, selectors.EVENT_READ)
    pending = b""
    watched: int | None = None
    orphaned = False
    while not orphaned or _alive(watched):
        for key, _ in selector.select(timeout=1.0 if orphaned else None):
            if key.fileobj is sock:
                _reply(sock, table)
                continue
            chunk = os.read(commands, 65536)
            if not chunk:
                selector.unregister(commands)
                orphaned = True
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                command = json.loads(line)
                if "watch" in command:
                    watched = int(command["watch"])
                else:
                    table.apply(command)
                os.write(out, b"ok\n")


def _reply(sock: socket.socket, table: UpstreamTable) -> None:
    try:
        packet, peer = sock.recvfrom(512)
        reply = table.answer(packet)
        if reply is not None:
            sock.sendto(reply, peer)
    except Exception:  # one bad packet must not stop the resolver
        log.exception("upstream resolver failed on a query")


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def drop_to(uid: int, gid: int) -> None:
    """Give up root for ``uid``/``gid`` for good (no supplementary groups)."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise RuntimeFailure(f"the upstream resolver could not switch to uid {uid}")


def main() -> None:
    """Entry point of the responder process: bind, drop root if asked, print the port, serve."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1", 0))
    if len(sys.argv) > 2:
        uid, _, gid = sys.argv[2].partition(":")
        drop_to(int(uid), int(gid))
    os.write(1, f"{sock.getsockname()[1]}\n".encode())
    serve(sock, 0, 1)


if __name__ == "__main__":
    main()
