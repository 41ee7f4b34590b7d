"""Real servers the mail tests talk to: an SMTP sink (aiosmtpd), a webhook receiver and a
small DNS server (dnspython), all on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dns.message
import dns.rcode
import dns.rrset
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.conftest import free_port


@dataclass
class Received:
    """One message the sink took."""

    mail_from: str
    rcpt: str
    data: bytes


class Sink:
    """An SMTP server that keeps what it is sent; ``refuse*@`` gets 550, ``busy*@`` 451."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        local = address.partition("@")[0]
        if local.startswith("refuse"):
            return "550 5.1.1 no such user here"
        if local.startswith("busy"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append(Received(str(envelope.mail_from), rcpt, bytes(data)))
        return "250 OK"

    def start(self) -> Sink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def to(self, address: str) -> list[Received]:
        """What the sink took for ``address``."""
        with self.lock:
            return [r for r in self.received if r.rcpt == address]


@dataclass
class Hooks:
    """A webhook receiver: answers each POST with ``statuses`` in turn (then 200)."""

    statuses: list[int] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def start(self) -> Hooks:
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                hooks.bodies.append(json.loads(self.rfile.read(length)))
                status = hooks.statuses.pop(0) if hooks.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Dns:
    """A UDP DNS server answering from ``records`` ({(name, type): [values]})."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.running = True

    def serve(self) -> None:
        while self.running:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(wire)
            answer = dns.message.make_response(query)
            question = query.question[0]
            name = str(question.name).rstrip(".").lower()
            kind = dns.rdatatype.to_text(question.rdtype)
            values = self.records.get((name, kind))
            if values:
                answer.answer.append(dns.rrset.from_text(question.name, 60, "IN", kind,
                                                         *values))
            elif not any(n == name for n, _ in self.records):
                answer.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(answer.to_wire(), peer)

    def start(self) -> Dns:
        threading.Thread(target=self.serve, daemon=True).start()
        return self

    def stop(self) -> None:
        self.running = False
        self.sock.close()
