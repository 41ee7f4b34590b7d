"""A real HTTP target on 127.0.0.1 that a test can make slow, fail, flap or stop."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.conftest import free_port


@dataclass
class Target:
    """Answers 200 "ok" unless told otherwise; counts requests."""

    port: int = field(default_factory=free_port)
    status: int = 200
    delay: float = 0.0
    fail_next: int = 0  # answer 500 to this many requests, then recover
    alternate: bool = False  # 500 and 200 by turns (a flapping app)
    fail_agents: tuple[str, ...] = ()  # answer 500 to user agents containing these
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The health URL."""
        return f"http://127.0.0.1:{self.port}/health"

    def start(self) -> Target:
        """Serve on 127.0.0.1 in a thread (again after stop, on the same port)."""
        target = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with target.lock:
                    target.requests += 1
                    status = target.status
                    if target.fail_next > 0:
                        target.fail_next -= 1
                        status = 500
                    if target.alternate and target.requests % 2:
                        status = 500
                    agent = self.headers.get("User-Agent", "")
                    if any(a in agent for a in target.fail_agents):
                        status = 500
                    delay = target.delay
                if delay:
                    time.sleep(delay)
                body = b"ok" if status < 400 else b"broken: database unreachable"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving: connections are refused from now on."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
