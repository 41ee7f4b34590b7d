"""Local stand-ins for providers at their wire format: Twilio's Messages API, Apprise json://."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.conftest import free_port

SID, TOKEN, SENDER = "AC0123456789abcdef", "secret-token", "+15550000000"


@dataclass
class Receiver:
    """Records Twilio messages (form POSTs) and JSON posts; can fail for a while or hang."""

    port: int = field(default_factory=free_port)
    sms: list[dict[str, str]] = field(default_factory=list)  # accepted (201) messages
    attempts: list[dict[str, str]] = field(default_factory=list)  # every Twilio POST
    json_posts: list[dict[str, Any]] = field(default_factory=list)
    fail_until: float = 0.0  # answer 500 until this monotonic time
    fail_status: int = 500
    hang: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def sms_url(self) -> str:
        """ROOST_SMS_URL pointing Twilio's API at this receiver."""
        return f"twilio://{SID}:{TOKEN}@{SENDER}?api=http://127.0.0.1:{self.port}"

    def json_url(self, path: str = "hook") -> str:
        """An Apprise json:// URL that posts to this receiver."""
        return f"json://127.0.0.1:{self.port}/{path}"

    def to(self, phone: str) -> list[str]:
        """Bodies of accepted messages to ``phone``."""
        with self.lock:
            return [m["Body"] for m in self.sms if m["To"] == phone]

    def start(self) -> Receiver:
        """Serve on 127.0.0.1 in a thread."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.startswith("/2010-04-01/Accounts/"):
                    self._twilio(raw)
                else:
                    with receiver.lock:
                        receiver.json_posts.append({"path": self.path, **json.loads(raw)})
                    self._answer(200, b"{}")

            def _twilio(self, raw: bytes) -> None:
                expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self._answer(401, b'{"code": 20003, "message": "Authenticate"}')
                    return
                if self.path != f"/2010-04-01/Accounts/{SID}/Messages.json":
                    self._answer(404, b'{"message": "not found"}')
                    return
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                with receiver.lock:
                    receiver.attempts.append(form)
                    hang = receiver.hang
                    failing = time.monotonic() < receiver.fail_until
                if hang:
                    receiver.stopped.wait(3600)  # hangs like a stuck provider until stop()
                if failing:
                    self._answer(receiver.fail_status, b'{"message": "provider trouble"}')
                    return
                with receiver.lock:
                    receiver.sms.append(form)
                    sid = f"SM{len(receiver.sms):032d}"
                self._answer(201, json.dumps({"sid": sid, "status": "queued"}).encode())

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()
